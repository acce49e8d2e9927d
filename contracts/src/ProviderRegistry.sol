// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";

/// @title ProviderRegistry
/// @notice Providers stake the native token to be eligible for jobs. The job market locks collateral for
/// every assignment (and the bid book for every on-chain bid), releases it on settlement, changes
/// reputation and slashes. Collateral is in the job's payment token: native stake for native jobs, the
/// provider's token bond in the PaymentEscrow for ERC-20 jobs.
/// @dev Listings come from events: nothing here iterates over providers. Slashed value is credited to
/// the treasury in the PaymentEscrow ledger (pull payment), never pushed to an arbitrary address.
contract ProviderRegistry is IProviderRegistry, AccessControlDefaultAdminRules, Pausable, ReentrancyGuardTransient {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Locks, releases and slashes collateral and changes reputation (the JobMarket).
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");
    /// @notice Locks and releases the collateral of on-chain bids (the BidBook).
    bytes32 public constant BIDBOOK_ROLE = keccak256("BIDBOOK_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @dev Admin of the contract-to-contract roles: held by nobody, so once `bind` wired them at
    /// deployment nobody (the default admin included) can grant or revoke them.
    bytes32 private constant NOBODY = keccak256("NOBODY");

    /// @notice Reputation is an integer in [0, MAX_REPUTATION]; new providers start at INITIAL_REPUTATION,
    /// a quarter of the scale: below the middle, so a fresh identity (a Sybil's, say) ranks behind
    /// providers with a record, and reputation is earned on paid work (see `minRewardedPrice`).
    uint16 public constant MAX_REPUTATION = 10_000;
    uint16 public constant INITIAL_REPUTATION = 2_500;
    uint256 public constant MAX_PEER_ID_LENGTH = 128;
    uint32 public constant MIN_UNBONDING_PERIOD = 60;
    uint32 public constant MAX_UNBONDING_PERIOD = 90 days;

    /// @dev Two slots: the hot one (read and written by the market on every job) and the cold one.
    struct Provider {
        uint96 stake;
        uint96 locked;
        uint16 reputation;
        uint32 capabilities;
        ProviderStatus status;
        uint8 bidNonce; // signed bids carrying another nonce are revoked (in the hot word: read for free)
        uint96 unbonding;
        uint40 unbondingReleaseAt;
        bytes8 region;
    }

    IPaymentEscrow public immutable escrow;
    uint96 public minStake;
    uint32 public unbondingPeriod;

    mapping(address provider => Provider) private _providers;
    mapping(address provider => bytes32) private _metadata;
    mapping(address provider => bytes) private _peerIds;

    address private immutable _binder;
    bool private _bound;

    /// @param admin Governance (a TimelockController): DEFAULT_ADMIN_ROLE, transferred only in two steps
    /// `adminDelay` apart, and GOVERNOR_ROLE.
    /// @param guardian PAUSER_ROLE: may stop new stake and commitments at once (withdrawals keep working).
    /// @param escrow_ Ledger credited with slashed stake; holds the providers' token bonds.
    /// The deployer (`msg.sender`) may call `bind` once.
    constructor(
        address admin,
        uint48 adminDelay,
        address guardian,
        IPaymentEscrow escrow_,
        uint96 minStake_,
        uint32 unbondingPeriod_
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (admin == address(0) || guardian == address(0) || address(escrow_) == address(0)) revert ZeroAddress();
        escrow = escrow_;
        _binder = msg.sender;
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(PAUSER_ROLE, guardian);
        _setRoleAdmin(MARKET_ROLE, NOBODY);
        _setRoleAdmin(BIDBOOK_ROLE, NOBODY);
        _setRoleAdmin(NOBODY, NOBODY);
        _setMinStake(minStake_);
        _setUnbondingPeriod(unbondingPeriod_);
    }

    /// @notice Wires the job market and the bid book, once, at deployment. Nobody can change them afterwards.
    function bind(address market, address bidBook) external {
        if (msg.sender != _binder) revert AccessControlUnauthorizedAccount(msg.sender, NOBODY);
        if (_bound) revert AlreadyBound();
        if (market == address(0) || bidBook == address(0)) revert ZeroAddress();
        _bound = true;
        _grantRole(MARKET_ROLE, market);
        _grantRole(BIDBOOK_ROLE, bidBook);
    }

    // ------------------------------------------------------------------ provider actions

    /// @notice Registers the caller as a provider, staking `msg.value` (at least `minStake`).
    /// @dev A deregistered provider may register again and keeps its reputation.
    /// @param capabilities Bitmask of what the provider can run (runtimes, TEE, GPU, ...).
    /// @param metadataDigest Content digest of the provider's off-chain metadata document.
    /// @param peerId libp2p peer id bytes, at most MAX_PEER_ID_LENGTH.
    /// @param region Free-form short region code, e.g. "eu-west".
    function register(uint32 capabilities, bytes32 metadataDigest, bytes calldata peerId, bytes8 region)
        external
        payable
        whenNotPaused
    {
        Provider storage p = _providers[msg.sender];
        if (p.status == ProviderStatus.Active) revert AlreadyRegistered(msg.sender);
        if (peerId.length > MAX_PEER_ID_LENGTH) revert PeerIdTooLong(peerId.length, MAX_PEER_ID_LENGTH);
        uint96 stake = _toUint96(uint256(p.stake) + msg.value);
        if (stake < minStake) revert StakeBelowMinimum(stake, minStake);
        bool fresh = p.status == ProviderStatus.None;
        p.stake = stake;
        p.capabilities = capabilities;
        p.status = ProviderStatus.Active;
        p.region = region;
        _metadata[msg.sender] = metadataDigest;
        _peerIds[msg.sender] = peerId;
        emit ProviderRegistered(msg.sender, capabilities, metadataDigest, peerId, region, stake);
        if (fresh) {
            p.reputation = INITIAL_REPUTATION;
            emit ReputationChanged(msg.sender, 0, 0, INITIAL_REPUTATION, "REGISTERED");
        }
    }

    /// @notice Updates the caller's advertised capabilities and metadata.
    function updateProfile(uint32 capabilities, bytes32 metadataDigest, bytes calldata peerId, bytes8 region)
        external
        whenNotPaused
    {
        Provider storage p = _activeProvider(msg.sender);
        if (peerId.length > MAX_PEER_ID_LENGTH) revert PeerIdTooLong(peerId.length, MAX_PEER_ID_LENGTH);
        p.capabilities = capabilities;
        p.region = region;
        _metadata[msg.sender] = metadataDigest;
        _peerIds[msg.sender] = peerId;
        emit ProviderUpdated(msg.sender, capabilities, metadataDigest, peerId, region);
    }

    /// @notice Adds `msg.value` to the caller's stake.
    function addStake() external payable whenNotPaused {
        if (msg.value == 0) revert ZeroAmount();
        Provider storage p = _activeProvider(msg.sender);
        uint96 stake = _toUint96(uint256(p.stake) + msg.value);
        p.stake = stake;
        emit StakeAdded(msg.sender, uint96(msg.value), stake);
    }

    /// @notice Starts unbonding `amount` of unlocked stake; it can be withdrawn after `unbondingPeriod`.
    /// @dev A new request restarts the period for everything unbonding. Stake left below `minStake`
    /// makes the provider ineligible for new jobs but keeps it registered.
    function requestUnbond(uint96 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _activeProvider(msg.sender);
        uint96 free = p.stake - p.locked;
        if (amount > free) revert InsufficientFreeStake(msg.sender, amount, free);
        p.stake -= amount;
        _startUnbonding(p, amount);
    }

    /// @notice Leaves the registry: all stake starts unbonding. Requires no locked collateral.
    function deregister() external whenNotPaused {
        Provider storage p = _activeProvider(msg.sender);
        if (p.locked != 0) revert CollateralStillLocked(msg.sender, p.locked);
        uint96 amount = p.stake;
        p.stake = 0;
        p.status = ProviderStatus.Deregistered;
        emit ProviderDeregistered(msg.sender);
        if (amount != 0) _startUnbonding(p, amount);
    }

    /// @notice Withdraws the caller's unbonded stake once its release time has passed. Works while paused:
    /// a pause stops stake entering and new commitments, never the return of stake already unbonded.
    function withdrawUnbonded() external nonReentrant returns (uint96 amount) {
        Provider storage p = _providers[msg.sender];
        amount = p.unbonding;
        if (amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < p.unbondingReleaseAt) revert UnbondingNotReleased(msg.sender, p.unbondingReleaseAt);
        p.unbonding = 0;
        emit UnbondedWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ------------------------------------------------------------------ market hooks

    /// @notice Locks `amountEach` of collateral for each of `jobIds`, if the provider is eligible for all
    /// of them at once (one call assigns a provider to a whole batch): native stake for native jobs
    /// (`token == address(0)`), the provider's bond in `token` (PaymentEscrow) for ERC-20 jobs.
    /// @dev Returns false (and changes nothing) unless the provider is active, meets `minStake`, has the
    /// required capabilities and enough free collateral, so the caller can move on to the next bid.
    function tryLockCollateral(
        address provider,
        uint256[] calldata jobIds,
        address token,
        uint96 amountEach,
        uint32 requiredCapabilities
    ) external returns (bool) {
        _requireLocker();
        Provider storage p = _providers[provider];
        uint256 total = uint256(amountEach) * jobIds.length;
        if (total > type(uint96).max) return false;
        uint96 native = token == address(0) ? uint96(total) : 0;
        if (!_eligible(p, requiredCapabilities, native)) return false;
        if (token != address(0) && !escrow.lockBond(provider, token, total)) return false;
        uint96 locked = p.locked + native;
        p.locked = locked;
        emit CollateralLocked(provider, jobIds, token, amountEach, locked);
        return true;
    }

    /// @notice Releases the collateral each provider locked for `jobId` and applies the same reputation
    /// change to each (one call settles all agreeing workers of a job). The bid book only releases.
    /// @dev Releases at most what is still locked (a slash may have consumed collateral).
    function releaseCollateral(
        address[] calldata providers,
        uint256 jobId,
        address token,
        uint96 amount,
        int32 reputationDelta,
        bytes32 reason
    ) external {
        _requireLocker();
        if (reputationDelta != 0) _checkRole(MARKET_ROLE);
        uint16[] memory reputations = new uint16[](providers.length);
        for (uint256 i; i < providers.length; ++i) {
            Provider storage p = _providers[providers[i]];
            if (token == address(0)) {
                uint96 locked = p.locked;
                p.locked = amount > locked ? 0 : locked - amount;
            }
            uint16 reputation = p.reputation;
            if (reputationDelta != 0) {
                int256 next = int256(uint256(reputation)) + reputationDelta;
                if (next < 0) next = 0;
                if (next > int256(uint256(MAX_REPUTATION))) next = int256(uint256(MAX_REPUTATION));
                reputation = uint16(uint256(next));
                p.reputation = reputation;
            }
            reputations[i] = reputation;
        }
        emit CollateralReleased(jobId, providers, token, amount, reputations, reputationDelta, reason);
        if (token == address(0)) return;
        for (uint256 i; i < providers.length; ++i) { // state above, calls to the escrow below
            escrow.releaseBond(providers[i], token, amount);
        }
    }

    /// @notice Slashes up to `amount` of the provider's collateral in `token` for `jobId` and credits it to
    /// the treasury in the escrow ledger. Only the job market, for a job's settlement: no role can slash
    /// a provider outside a job's rules.
    /// @dev Native: from bonded stake first, then from unbonding stake; locked collateral shrinks with the
    /// stake. ERC-20: from the provider's bond in that token.
    function slash(address provider, uint256 jobId, address token, uint96 amount, bytes32 reason)
        external
        onlyRole(MARKET_ROLE)
    {
        address treasury = escrow.treasury();
        if (token != address(0)) {
            uint256 takenBond = escrow.slashBond(provider, token, amount);
            if (takenBond != 0) emit Slashed(provider, jobId, token, uint96(takenBond), treasury, reason);
            return;
        }
        Provider storage p = _providers[provider];
        uint96 fromStake = amount < p.stake ? amount : p.stake;
        uint96 rest = amount - fromStake;
        uint96 fromUnbonding = rest < p.unbonding ? rest : p.unbonding;
        uint96 taken = fromStake + fromUnbonding;
        if (taken == 0) return;
        p.stake -= fromStake;
        p.unbonding -= fromUnbonding;
        if (p.locked > p.stake) p.locked = p.stake;
        emit Slashed(provider, jobId, address(0), taken, treasury, reason);
        escrow.creditNative{value: taken}(treasury);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Sets the minimum stake for eligibility (bounds: 1 wei .. 2^96-1).
    function setMinStake(uint96 minStake_) external onlyRole(GOVERNOR_ROLE) {
        _setMinStake(minStake_);
    }

    /// @notice Sets the unbonding period (bounds: MIN_UNBONDING_PERIOD .. MAX_UNBONDING_PERIOD).
    function setUnbondingPeriod(uint32 period) external onlyRole(GOVERNOR_ROLE) {
        _setUnbondingPeriod(period);
    }

    /// @notice Emergency stop of every state-changing provider action.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the emergency stop.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @notice True if `provider` may take a job needing `requiredCapabilities` and `collateral`.
    function isEligible(address provider, uint32 requiredCapabilities, uint96 collateral) external view returns (bool) {
        return _eligible(_providers[provider], requiredCapabilities, collateral);
    }

    /// @notice Revokes every bid the caller signed so far: signed bids must carry the current nonce.
    /// @dev The nonce wraps after 256 revocations, which can only re-enable the caller's own old bids,
    /// and those still expire; kept in the provider's hot storage word so checking it costs no extra read.
    function revokeSignedBids() external {
        Provider storage p = _providers[msg.sender];
        uint8 nonce;
        unchecked {
            nonce = p.bidNonce + 1;
        }
        p.bidNonce = nonce;
        emit SignedBidsRevoked(msg.sender, nonce);
    }

    /// @notice The nonce the provider's signed bids must carry.
    function bidNonceOf(address provider) external view returns (uint8) {
        return _providers[provider].bidNonce;
    }

    /// @notice Eligibility, reputation and bid nonce in one call (what the bid book needs for a signed bid).
    function bidTerms(address provider, uint32 requiredCapabilities, uint96 collateral)
        external
        view
        returns (bool eligible, uint16 reputation, uint8 bidNonce)
    {
        Provider storage p = _providers[provider];
        return (_eligible(p, requiredCapabilities, collateral), p.reputation, p.bidNonce);
    }

    /// @notice Eligibility and reputation in one call (what the market needs to rank a bid).
    function eligibleReputation(address provider, uint32 requiredCapabilities, uint96 collateral)
        external
        view
        returns (bool eligible, uint16 reputation)
    {
        Provider storage p = _providers[provider];
        return (_eligible(p, requiredCapabilities, collateral), p.reputation);
    }

    /// @notice The provider's current reputation (0 for unknown providers).
    function reputationOf(address provider) external view returns (uint16) {
        return _providers[provider].reputation;
    }

    /// @notice The provider's on-chain record.
    function providerInfo(address provider) external view returns (ProviderInfo memory info) {
        Provider storage p = _providers[provider];
        info = ProviderInfo({
            status: p.status,
            stake: p.stake,
            locked: p.locked,
            reputation: p.reputation,
            capabilities: p.capabilities,
            unbonding: p.unbonding,
            unbondingReleaseAt: p.unbondingReleaseAt,
            region: p.region,
            metadataDigest: _metadata[provider]
        });
    }

    /// @notice The libp2p peer id the provider registered.
    function peerIdOf(address provider) external view returns (bytes memory) {
        return _peerIds[provider];
    }

    // ------------------------------------------------------------------ internals

    function _eligible(Provider storage p, uint32 requiredCapabilities, uint96 collateral) private view returns (bool) {
        uint96 stake = p.stake;
        return p.status == ProviderStatus.Active && stake >= minStake && stake - p.locked >= collateral
            && p.capabilities & requiredCapabilities == requiredCapabilities;
    }

    function _requireLocker() private view {
        if (!hasRole(MARKET_ROLE, msg.sender) && !hasRole(BIDBOOK_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, MARKET_ROLE);
        }
    }

    function _activeProvider(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (p.status != ProviderStatus.Active) revert NotRegistered(provider);
    }

    function _startUnbonding(Provider storage p, uint96 amount) private {
        uint96 unbonding = p.unbonding + amount;
        uint40 releaseAt = uint40(block.timestamp + unbondingPeriod);
        p.unbonding = unbonding;
        p.unbondingReleaseAt = releaseAt;
        emit UnbondRequested(msg.sender, amount, unbonding, releaseAt);
    }

    function _setMinStake(uint96 minStake_) private {
        if (minStake_ == 0) revert ParameterOutOfBounds(minStake_, 1, type(uint96).max);
        minStake = minStake_;
        emit MinStakeUpdated(minStake_);
    }

    function _setUnbondingPeriod(uint32 period) private {
        if (period < MIN_UNBONDING_PERIOD || period > MAX_UNBONDING_PERIOD) {
            revert ParameterOutOfBounds(period, MIN_UNBONDING_PERIOD, MAX_UNBONDING_PERIOD);
        }
        unbondingPeriod = period;
        emit UnbondingPeriodUpdated(period);
    }

    function _toUint96(uint256 value) private pure returns (uint96) {
        if (value > type(uint96).max) revert StakeOverflow();
        return uint96(value);
    }
}
