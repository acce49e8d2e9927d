// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";

/// @title PaymentEscrow
/// @notice Holds every job budget (native token or ERC-20) and a pull-payment ledger of credited
/// balances. Only the job market moves budgets; owners take their balances out with `withdraw`.
/// @dev Accounting rule, per token: balance of this contract == totalLocked + sum of credits + sum of
/// providers' token bonds (collateral for jobs paid in that token, see `depositBond`).
/// Tokens whose transfer delivers a different amount than requested (fee-on-transfer, rebasing on
/// transfer) are rejected at deposit instead of being accounted by balance delta: a budget is then
/// exactly what the requester approved, and payouts can never exceed what arrived.
/// The escrow keeps one total per token, not one record per job: the market releases each replica's
/// share once, and a per-job record would cost every job a fresh storage slot (22,100 gas).
contract PaymentEscrow is IPaymentEscrow, AccessControlDefaultAdminRules, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Moves job budgets (the JobMarket).
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");
    /// @notice Credits native value to the ledger (the ProviderRegistry for slashes, the market for bonds).
    bytes32 public constant FUNDER_ROLE = keccak256("FUNDER_ROLE");
    /// @notice Locks, releases and slashes providers' token bonds (the ProviderRegistry).
    bytes32 public constant COLLATERAL_ROLE = keccak256("COLLATERAL_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @dev Admin of the contract-to-contract roles: held by nobody, so once `bind` wired them at
    /// deployment nobody (the default admin included) can grant or revoke them.
    bytes32 private constant NOBODY = keccak256("NOBODY");

    uint16 public constant MAX_FEE_BPS = 1_000;
    uint16 private constant BPS = 10_000;

    address public treasury;

    /// @dev Stored plus one: the slot never returns to zero, so the first deposit after the escrow
    /// empties does not pay 20,000 gas to re-create it.
    mapping(address token => uint256) private _lockedPlusOne;
    mapping(address token => mapping(address owner => uint256)) private _balances;
    mapping(address token => mapping(address provider => Bond)) private _bonds;

    /// @dev A provider's collateral in one ERC-20: `locked` of `total` is held for assigned jobs.
    struct Bond {
        uint128 total;
        uint128 locked;
    }

    address private immutable _binder;
    bool private _bound;

    /// @param admin Governance (a TimelockController): DEFAULT_ADMIN_ROLE, transferred only in two steps
    /// `adminDelay` apart, and GOVERNOR_ROLE.
    /// @param guardian PAUSER_ROLE: may stop deposits at once (withdrawals keep working).
    /// The deployer (`msg.sender`) may call `bind` once.
    constructor(address admin, uint48 adminDelay, address guardian, address treasury_)
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        if (admin == address(0) || guardian == address(0)) revert ZeroAddress();
        _binder = msg.sender;
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(PAUSER_ROLE, guardian);
        _setRoleAdmin(MARKET_ROLE, NOBODY);
        _setRoleAdmin(FUNDER_ROLE, NOBODY);
        _setRoleAdmin(COLLATERAL_ROLE, NOBODY);
        _setRoleAdmin(NOBODY, NOBODY);
        _setTreasury(treasury_);
    }

    /// @notice Wires the contracts that move money here, once, at deployment: the market (budgets, bond
    /// shares) and the registry (slashed stake, token bonds). Nobody can change them afterwards.
    function bind(address market, address registry) external {
        if (msg.sender != _binder) revert AccessControlUnauthorizedAccount(msg.sender, NOBODY);
        if (_bound) revert AlreadyBound();
        if (market == address(0) || registry == address(0)) revert ZeroAddress();
        _bound = true;
        _grantRole(MARKET_ROLE, market);
        _grantRole(FUNDER_ROLE, market);
        _grantRole(FUNDER_ROLE, registry);
        _grantRole(COLLATERAL_ROLE, registry);
    }

    /// @notice Takes the budget of `jobs` jobs from `payer` (or `msg.value` for the native token).
    /// @dev ERC-20 deposits pull from `payer`, who must have approved this contract.
    function deposit(uint256 firstJobId, uint256 jobs, address token, address payer, uint256 amount)
        external
        payable
        onlyRole(MARKET_ROLE)
        nonReentrant
        whenNotPaused
    {
        if (amount == 0) revert ZeroAmount();
        uint256 stored = _lockedPlusOne[token];
        _lockedPlusOne[token] = (stored == 0 ? 1 : stored) + amount;
        emit Deposited(firstJobId, token, payer, amount, jobs);
        if (token == address(0)) {
            if (msg.value != amount) revert NativeAmountMismatch(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert UnexpectedNativeValue(msg.value);
        if (token.code.length == 0) revert NotAContract(token);
        uint256 before = IERC20(token).balanceOf(address(this));
        // `payer` is always the JobMarket's own msg.sender (the requester): only MARKET_ROLE gets here.
        // slither-disable-next-line arbitrary-send-erc20
        IERC20(token).safeTransferFrom(payer, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(token, amount, received);
    }

    /// @notice Credits `amounts[i]` of locked budget to `payees[i]`, each less the protocol fee of `feeBps`
    /// (credited to the treasury in one sum). One call per job settles all its agreeing workers; the fee is
    /// the job's own (the market's parameters at its submission), so governance cannot change it mid-job.
    function pay(uint256 jobId, address token, address[] calldata payees, uint256[] calldata amounts, uint16 bps)
        external
        onlyRole(MARKET_ROLE)
    {
        if (payees.length != amounts.length) revert LengthMismatch();
        if (bps > MAX_FEE_BPS) revert FeeTooHigh(bps, MAX_FEE_BPS);
        uint256 total = 0;
        uint256 fees = 0;
        for (uint256 i; i < payees.length; ++i) {
            address payee = payees[i];
            if (payee == address(0)) revert ZeroAddress();
            uint256 amount = amounts[i];
            uint256 fee = amount * bps / BPS;
            _balances[token][payee] += amount - fee;
            total += amount;
            fees += fee;
        }
        _unlock(token, total);
        if (fees != 0) _balances[token][treasury] += fees;
        emit Paid(jobId, token, payees, amounts, bps, fees);
    }

    /// @notice Credits `amount` of locked budget back to `to` (no fee).
    function refund(uint256 jobId, address token, address to, uint256 amount) external onlyRole(MARKET_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        _unlock(token, amount);
        _balances[token][to] += amount;
        emit Refunded(jobId, to, token, amount);
    }

    /// @notice Credits `msg.value` of the native token to `to` (slashed stake, dispute bonds).
    function creditNative(address to) external payable onlyRole(FUNDER_ROLE) {
        if (msg.value == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        _balances[address(0)][to] += msg.value;
        emit NativeCredited(to, msg.value);
    }

    // ------------------------------------------------------------------ token bonds

    /// @notice Adds `amount` of `token` to the caller's bond: the collateral it posts for jobs paid in
    /// that token (the caller approved this contract). Collateral is in the job's own token, so what a
    /// provider risks stays a fixed multiple of the job's price whatever the exchange rate.
    function depositBond(address token, uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        if (token == address(0)) revert NativeBondNotSupported();
        if (token.code.length == 0) revert NotAContract(token);
        Bond storage b = _bonds[token][msg.sender];
        uint256 total = uint256(b.total) + amount;
        if (total > type(uint128).max) revert BondOverflow();
        b.total = uint128(total);
        emit BondDeposited(token, msg.sender, amount, total);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(token, amount, received);
    }

    /// @notice Withdraws `amount` of the caller's unlocked bond in `token` (also while paused).
    function withdrawBond(address token, uint256 amount) external nonReentrant {
        Bond storage b = _bonds[token][msg.sender];
        uint256 free = b.total - b.locked;
        if (amount == 0 || amount > free) revert InsufficientFreeBond(token, msg.sender, amount, free);
        b.total -= uint128(amount);
        emit BondWithdrawn(token, msg.sender, amount, b.total);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @notice Locks `amount` of the provider's free bond in `token`; false (and nothing changes) if there
    /// is not enough.
    function lockBond(address provider, address token, uint256 amount)
        external
        onlyRole(COLLATERAL_ROLE)
        returns (bool)
    {
        Bond storage b = _bonds[token][provider];
        if (amount > b.total - b.locked) return false;
        b.locked += uint128(amount);
        emit BondLocked(token, provider, amount, b.locked);
        return true;
    }

    /// @notice Releases up to `amount` of the provider's locked bond in `token`.
    function releaseBond(address provider, address token, uint256 amount) external onlyRole(COLLATERAL_ROLE) {
        Bond storage b = _bonds[token][provider];
        uint256 released = amount < b.locked ? amount : b.locked;
        b.locked -= uint128(released);
        emit BondReleased(token, provider, released, b.locked);
    }

    /// @notice Moves up to `amount` of the provider's bond in `token` to the treasury's balance (the
    /// registry releases the job's lock first, as it does for native stake); the lock shrinks with it.
    function slashBond(address provider, address token, uint256 amount)
        external
        onlyRole(COLLATERAL_ROLE)
        returns (uint256 taken)
    {
        Bond storage b = _bonds[token][provider];
        taken = amount < b.total ? amount : b.total;
        if (taken == 0) return 0;
        b.total -= uint128(taken);
        if (b.locked > b.total) b.locked = b.total;
        _balances[token][treasury] += taken;
        emit BondSlashed(token, provider, taken, treasury);
    }

    /// @notice A provider's bond in `token`: everything posted, and the part locked for jobs.
    function bondOf(address token, address provider) external view returns (uint256 total, uint256 locked) {
        Bond storage b = _bonds[token][provider];
        return (b.total, b.locked);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Sends the caller its whole credited balance of `token` (`address(0)`: native). Works while
    /// paused: a pause stops money entering, never owners taking out what they were credited.
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = _balances[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw(token, msg.sender);
        _balances[token][msg.sender] = 0;
        emit Withdrawn(token, msg.sender, amount);
        if (token == address(0)) Address.sendValue(payable(msg.sender), amount);
        else IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @notice Sets the treasury that receives fees and the treasury share of slashes.
    /// @dev Credits already made stay with the previous treasury address.
    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        _setTreasury(treasury_);
    }

    /// @notice Emergency stop of deposits (budgets and bonds); withdrawals keep working.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the emergency stop.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Credited balance of `owner` in `token`.
    function balanceOf(address token, address owner) external view returns (uint256) {
        return _balances[token][owner];
    }

    /// @notice Budget of unsettled replicas held in `token`.
    function totalLocked(address token) public view returns (uint256) {
        uint256 stored = _lockedPlusOne[token];
        return stored == 0 ? 0 : stored - 1;
    }

    function _unlock(address token, uint256 amount) private {
        uint256 locked = totalLocked(token);
        if (amount > locked) revert InsufficientLocked(token, locked, amount);
        _lockedPlusOne[token] = locked - amount + 1;
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryUpdated(treasury_);
    }
}
