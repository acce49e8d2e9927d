// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IProviderRegistry
/// @notice Staked compute providers, their locked job collateral and their reputation.
interface IProviderRegistry {
    /// @notice Lifecycle of a provider record.
    enum ProviderStatus {
        None,
        Active,
        Deregistered
    }

    /// @notice Everything the chain knows about a provider (the peer id is returned separately).
    struct ProviderInfo {
        ProviderStatus status;
        uint96 stake;
        uint96 locked;
        uint16 reputation;
        uint32 capabilities;
        uint96 unbonding;
        uint40 unbondingReleaseAt;
        bytes8 region;
        bytes32 metadataDigest;
    }

    event ProviderRegistered(
        address indexed provider, uint32 capabilities, bytes32 metadataDigest, bytes peerId, bytes8 region, uint96 stake
    );
    event ProviderUpdated(address indexed provider, uint32 capabilities, bytes32 metadataDigest, bytes peerId, bytes8 region);
    event ProviderDeregistered(address indexed provider);
    event StakeAdded(address indexed provider, uint96 amount, uint96 stake);
    event UnbondRequested(address indexed provider, uint96 amount, uint96 unbonding, uint40 releaseAt);
    event UnbondedWithdrawn(address indexed provider, uint96 amount);
    /// @notice `amountEach` of collateral in `token` was locked for each of `jobIds`; the provider now has
    /// `locked` native stake locked in total (an ERC-20 bond's total is in PaymentEscrow.BondLocked).
    event CollateralLocked(address indexed provider, uint256[] jobIds, address token, uint96 amountEach, uint96 locked);
    /// @notice `amount` of collateral locked for `jobId` was released for each of `providers` (at most
    /// what each still had locked); the job's outcome moved each one's reputation by `reputationDelta`
    /// (clamped to [0, 10,000]) to `reputations[i]`, for `reason`. With ReputationChanged, this is the
    /// reputation history.
    event CollateralReleased(
        uint256 indexed jobId,
        address[] providers,
        address token,
        uint96 amount,
        uint16[] reputations,
        int32 reputationDelta,
        bytes32 reason
    );
    /// @notice `amount` of the provider's collateral in `token` (address(0): native stake) went to `beneficiary`.
    event Slashed(
        address indexed provider, uint256 indexed jobId, address token, uint96 amount, address beneficiary, bytes32 reason
    );
    event ReputationChanged(address indexed provider, uint256 indexed jobId, uint16 previous, uint16 current, bytes32 reason);
    event MinStakeUpdated(uint96 minStake);
    /// @notice Every bid `provider` signed before is revoked; new ones carry `nonce`.
    event SignedBidsRevoked(address indexed provider, uint8 nonce);
    event UnbondingPeriodUpdated(uint32 unbondingPeriod);

    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error StakeBelowMinimum(uint256 stake, uint96 minStake);
    error PeerIdTooLong(uint256 length, uint256 maxLength);
    error ZeroAmount();
    error StakeOverflow();
    error InsufficientFreeStake(address provider, uint96 requested, uint96 free);
    error CollateralStillLocked(address provider, uint96 locked);
    error NothingUnbonding(address provider);
    error UnbondingNotReleased(address provider, uint40 releaseAt);
    error ParameterOutOfBounds(uint256 value, uint256 min, uint256 max);
    error ZeroAddress();
    error AlreadyBound();

    function tryLockCollateral(
        address provider,
        uint256[] calldata jobIds,
        address token,
        uint96 amountEach,
        uint32 requiredCapabilities
    ) external returns (bool locked);
    function releaseCollateral(
        address[] calldata providers,
        uint256 jobId,
        address token,
        uint96 amount,
        int32 reputationDelta,
        bytes32 reason
    ) external;
    function slash(address provider, uint256 jobId, address token, uint96 amount, bytes32 reason) external;
    function bind(address market, address bidBook) external;
    function isEligible(address provider, uint32 requiredCapabilities, uint96 collateral) external view returns (bool);
    function reputationOf(address provider) external view returns (uint16);
    function eligibleReputation(address provider, uint32 requiredCapabilities, uint96 collateral)
        external
        view
        returns (bool eligible, uint16 reputation);
    function providerInfo(address provider) external view returns (ProviderInfo memory);
    function bidTerms(address provider, uint32 requiredCapabilities, uint96 collateral)
        external
        view
        returns (bool eligible, uint16 reputation, uint8 bidNonce);
    function bidNonceOf(address provider) external view returns (uint8);
    function revokeSignedBids() external;
}
