// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IPaymentEscrow
/// @notice Custody of job budgets and the pull-payment ledger of PolkaCompute.
/// @dev `address(0)` denotes the chain's native token everywhere in this interface. Budgets are held
/// per token (`totalLocked`); which job a unit belongs to is the JobMarket's accounting, which releases
/// every replica's share exactly once (paid to the worker or refunded).
interface IPaymentEscrow {
    /// @notice Budget was deposited for `jobs` consecutive jobs starting at `firstJobId`.
    event Deposited(uint256 indexed firstJobId, address indexed token, address indexed payer, uint256 amount, uint256 jobs);
    /// @notice Budget of a job was credited to its workers: `payees[i]` got `amounts[i]` less the fee at
    /// the job's `feeBps` (rounded down); `fees` in total went to the treasury.
    event Paid(uint256 indexed jobId, address token, address[] payees, uint256[] amounts, uint16 feeBps, uint256 fees);
    /// @notice `amount` of a job's budget was credited back to `to`.
    event Refunded(uint256 indexed jobId, address indexed to, address token, uint256 amount);
    /// @notice Native value (slashed stake or a dispute bond) was credited to `to`.
    event NativeCredited(address indexed to, uint256 amount);
    /// @notice `owner` withdrew its credited balance of `token`.
    event Withdrawn(address indexed token, address indexed owner, uint256 amount);
    /// @notice The treasury address changed.
    event TreasuryUpdated(address treasury);
    /// @notice A provider's bond (collateral for jobs paid in `token`) grew by `amount` to `total`.
    event BondDeposited(address indexed token, address indexed provider, uint256 amount, uint256 total);
    event BondWithdrawn(address indexed token, address indexed provider, uint256 amount, uint256 total);
    event BondLocked(address indexed token, address indexed provider, uint256 amount, uint256 locked);
    event BondReleased(address indexed token, address indexed provider, uint256 amount, uint256 locked);
    /// @notice `amount` of a provider's locked bond went to `treasury`'s balance.
    event BondSlashed(address indexed token, address indexed provider, uint256 amount, address treasury);

    error ZeroAmount();
    error LengthMismatch();
    error ZeroAddress();
    error NativeAmountMismatch(uint256 expected, uint256 received);
    error UnexpectedNativeValue(uint256 value);
    error NotAContract(address token);
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    error InsufficientLocked(address token, uint256 locked, uint256 requested);
    error NothingToWithdraw(address token, address owner);
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error AlreadyBound();
    error NativeBondNotSupported();
    error BondOverflow();
    error InsufficientFreeBond(address token, address provider, uint256 requested, uint256 free);

    function deposit(uint256 firstJobId, uint256 jobs, address token, address payer, uint256 amount) external payable;
    function pay(uint256 jobId, address token, address[] calldata payees, uint256[] calldata amounts, uint16 feeBps)
        external;
    function refund(uint256 jobId, address token, address to, uint256 amount) external;
    function creditNative(address to) external payable;
    function withdraw(address token) external returns (uint256 amount);
    function balanceOf(address token, address owner) external view returns (uint256);
    function totalLocked(address token) external view returns (uint256);
    function treasury() external view returns (address);
    function bind(address market, address registry) external;
    function depositBond(address token, uint256 amount) external;
    function withdrawBond(address token, uint256 amount) external;
    function lockBond(address provider, address token, uint256 amount) external returns (bool);
    function releaseBond(address provider, address token, uint256 amount) external;
    function slashBond(address provider, address token, uint256 amount) external returns (uint256 taken);
    function bondOf(address token, address provider) external view returns (uint256 total, uint256 locked);
}
