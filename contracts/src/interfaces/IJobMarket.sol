// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IJobMarketTypes
/// @notice Types, events and errors of the PolkaCompute job market.
interface IJobMarketTypes {
    /// @notice Open (bidding) -> Assigned -> InProgress (first commit) -> Finalized | Failed | Cancelled;
    /// Finalized -> Disputed -> Resolved (result upheld) | Failed (result overturned, requester refunded).
    enum JobStatus {
        None,
        Open,
        Assigned,
        InProgress,
        Finalized,
        Failed,
        Cancelled,
        Disputed,
        Resolved
    }

    /// @notice What happened to one assigned worker that was not paid (payouts are PaymentEscrow.Paid).
    enum WorkerOutcome {
        Held,
        SlashedMismatch,
        SlashedNoShow,
        Released
    }

    /// @notice What a requester asks for. Deadlines are unix seconds; durations are seconds.
    struct JobSpec {
        bytes32 programDigest; // sha2-256 digest of the program (the multihash digest of its CIDv1)
        bytes32 inputDigest; // sha2-256 digest of the input
        bytes32 runtimeId; // e.g. "wasi", "python", "onnx" as bytes32 (part of the job's identity)
        uint32 requiredCapabilities; // bitmask every assignee must have
        uint8 replicas; // M: workers assigned
        uint8 quorum; // N: identical results needed (N > M/2)
        uint64 fuelLimit; // sandbox fuel limit
        uint32 timeLimit; // sandbox wall-clock limit, seconds
        uint80 maxPricePerReplica; // the budget is replicas * maxPricePerReplica
        address paymentToken; // address(0): native token
        uint32 bidWindow; // seconds of bidding; 0 = instant mode (first eligible claimers at max price)
        uint32 commitDeadline; // seals must be on-chain by this time
        uint32 revealDeadline; // openings must be on-chain by this time
        uint32 disputeWindow; // seconds after finalization during which the requester may dispute
        bool confidential; // inputs are encrypted to the workers (TEE jobs)
        bytes32 encryptionPubKey; // requester's X25519 key for encrypted outputs; required iff confidential
        uint256 dataRef; // data-NFT token id used by the job; 0 = none (data registry not wired yet)
    }

    /// @notice A job as stored: two packed words written at submission, the assignment record written
    /// at assignment, the result digest written at finalization (`getJob` returns it as a `JobInfo`).
    /// @dev The rest of the spec (digests, runtime, fuel, keys) lives in the JobSubmitted event only.
    /// Assignees are not stored one by one: `record` commits to the ordered assignee list (and to the
    /// seals of an aggregated commit), which callers present again from the JobAssigned and
    /// SealsCommitted events (see `Proof`). Assignee `i` is bit `i` of the masks. What only reveals and
    /// disputes need (the dispute window, who revealed, the bond) is kept apart, off the hot path.
    struct Job {
        address requester;
        JobStatus status;
        uint8 replicas;
        uint8 quorum;
        uint8 assigned; // assignees so far
        uint8 committed; // seals committed so far
        uint16 settledMask; // assignees already paid, released or slashed
        uint8 flags; // bit 0: paid in an ERC-20 (see paymentTokenOf); bit 1: budget refunded by a dispute;
        // bit 2: seals committed in aggregate (part of `record`); bit 3: `record` holds the result digest;
        // bit 4: a dispute window is set; bit 5: the result was overturned by a dispute
        uint32 finalizedAt;
        uint80 maxPrice;
        uint32 capabilities;
        uint32 bidDeadline; // 0 in instant mode
        uint32 commitDeadline;
        uint32 revealDeadline;
        uint32 timeLimit; // the sandbox's wall-clock limit: every assignee gets at least this to commit
        uint16 paramsVersion; // the governed parameters in force at submission apply to the whole job
        bytes32 record; // see above; once every assignee is settled at finalization, the result digest
        bytes32 resultDigest; // when assignees are still pending at finalization (use `resultOf`)
    }

    /// @notice What `getJob` returns: the stored job with its dispute window and collateral rate spelled out.
    struct JobInfo {
        address requester;
        JobStatus status;
        uint8 replicas;
        uint8 quorum;
        uint8 assigned;
        uint8 committed;
        uint16 settledMask;
        uint8 flags;
        uint32 finalizedAt;
        uint80 maxPrice;
        uint32 capabilities;
        uint32 bidDeadline;
        uint32 commitDeadline;
        uint32 revealDeadline;
        uint32 disputeWindow;
        uint16 collateralBps; // of the job's parameter version
        bytes32 record;
        bytes32 resultDigest; // zero until finalized
        uint32 timeLimit;
        uint16 paramsVersion;
        uint16 revealedMask; // assignees that revealed on-chain (`workOf` gives each one's digest)
    }

    /// @notice Who governs the market. `admin` (a TimelockController) gets DEFAULT_ADMIN_ROLE (transferred
    /// only in two steps `adminDelay` apart) and GOVERNOR_ROLE; `guardian` PAUSER_ROLE; `arbiter`
    /// ARBITER_ROLE (rules disputes within the ruling period, nothing else).
    struct Roles {
        address admin;
        uint48 adminDelay;
        address guardian;
        address arbiter;
    }

    /// @notice One assigned worker and the price it is paid if it agrees.
    struct Assignee {
        address worker;
        uint80 price;
    }

    /// @notice What a caller presents so the market can check it against `Job.record`: the assignee list
    /// in assignment order, and the aggregated seals (`sealsMask` bit i set: `seals` holds assignee i's
    /// seal, in index order). Both come from the job's JobAssigned and SealsCommitted events.
    struct Proof {
        Assignee[] assignees;
        uint16 sealsMask;
        bytes32[] seals;
    }

    /// @notice A ranked bid: an entry of a job's on-chain bid book (reputation read when the bid entered).
    struct Bid {
        address provider;
        uint80 price;
        uint16 reputation;
    }

    /// @notice An off-chain EIP-712 bid
    /// `Bid(bytes32 jobs,address provider,uint80 price,uint32 sla,uint32 expiry,uint64 nonce)` in the
    /// BidBook's domain, where `jobs = keccak256(abi.encodePacked(jobIds))`: one signature bids the same
    /// price on one job or on every job of a batch. `nonce` is the provider's bid nonce when it signed
    /// (`ProviderRegistry.revokeSignedBids` revokes every bid signed before). `vs` is the EIP-2098 compact form.
    struct SignedBid {
        address provider;
        uint80 price;
        uint32 sla;
        uint32 expiry;
        uint64 nonce;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Assignee `index`'s seal.
    struct IndexedSeal {
        uint8 index;
        bytes32 seal;
    }

    /// @notice Seals of one job's assignees, for `commitSeals` (strictly ascending by index).
    struct SealBatch {
        uint256 jobId;
        Assignee[] assignees;
        IndexedSeal[] seals;
    }

    /// @notice A worker's EIP-712 signature `Seals(bytes32 seals)` authorizing every seal of its in one
    /// `commitSeals` call: `seals` chains `keccak256(abi.encode(previous, jobId, seal))` from zero over the
    /// worker's seals in call order. `vs` is the EIP-2098 compact form of s and v.
    struct SealSignature {
        address worker;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Assignee `index` opens its seal `keccak256(abi.encode(jobId, worker, digest, salt))`.
    struct Opening {
        uint8 index;
        bytes32 salt;
    }

    /// @notice One job's aggregated openings, for `finalizeMany`.
    struct Finalization {
        uint256 jobId;
        bytes32 resultDigest;
        Proof proof;
        Opening[] openings;
    }

    /// @notice Governed parameters (bounds in `JobMarketBase._setParams`). Each change is a new version;
    /// a job keeps the version in force at its submission for its whole life.
    /// @dev Packed so that each hot path reads one storage word: assignment and payment read the first
    /// (fields 0 to 8), submission the second.
    struct MarketParams {
        uint16 collateralBps; // collateral locked per assignment, in bps of maxPricePerReplica
        uint16 mismatchSlashBps; // share of collateral slashed for a wrong or unopened result
        uint16 noShowSlashBps; // share of collateral slashed for never committing
        uint16 reputationReward; // reputation gained by an agreeing worker
        uint16 mismatchPenalty; // reputation lost for a wrong or unopened result
        uint16 noShowPenalty; // reputation lost for never committing
        uint16 feeBps; // protocol fee on each worker payment (at most PaymentEscrow.MAX_FEE_BPS)
        uint32 minCommitWindow; // an assignee has at least timeLimit + this from its assignment to commit
        uint96 minRewardedPrice; // a job earns its workers reputation only if native and at least this per replica
        uint32 minRevealWindow; // revealDeadline is at least this after commitDeadline
        uint32 revealGrace; // after finalization (or an overturn), time for left-out assignees to reveal
        uint32 rulingPeriod; // the arbiter's time to rule; then anyone applies the default (result upheld)
        uint32 maxBidWindow;
        uint32 maxJobDuration; // revealDeadline may be at most this far in the future at submission
        uint32 maxDisputeWindow;
        uint96 disputeBond; // native value a requester posts to dispute
    }

    // One event per status transition (no generic status event, to keep the hot path cheap):
    // Open: JobSubmitted. Assigned: the first JobAssigned. InProgress: the first SealCommitted(s).
    // Finalized: JobFinalized. Failed: JobFailed, or DisputeResolved(upheld = false). Cancelled: JobCancelled.
    // Disputed: DisputeOpened. Resolved: DisputeResolved(upheld = true).
    event JobSubmitted(uint256 indexed jobId, address indexed requester, JobSpec spec);
    /// @notice Assignees appended to the job's list, in order (instant mode appends one per claim).
    event JobAssigned(uint256 indexed jobId, address[] workers, uint80[] prices);
    /// @notice The same assignee list given to every job of a batch (JobAssigned for each of them).
    event BatchAssigned(uint256[] jobIds, address[] workers, uint80[] prices);
    event SealCommitted(uint256 indexed jobId, uint8 index, address indexed worker, bytes32 seal);
    /// @notice Seals of several assignees committed in one call (`mask` bit i: assignee i).
    event SealsCommitted(uint256 indexed jobId, uint16 mask, bytes32[] seals);
    event ResultRevealed(uint256 indexed jobId, uint8 index, address indexed worker, bytes32 resultDigest);
    event JobFinalized(uint256 indexed jobId, bytes32 resultDigest);
    event JobFailed(uint256 indexed jobId);
    event JobCancelled(uint256 indexed jobId);
    event WorkerSettled(uint256 indexed jobId, address indexed worker, WorkerOutcome outcome, uint256 amount);
    event DisputeOpened(uint256 indexed jobId, uint96 bond);
    event DisputeResolved(uint256 indexed jobId, bool resultUpheld);
    /// @notice The arbiter did not rule within the ruling period: the default ruling (result upheld) applied.
    event DisputeDefaulted(uint256 indexed jobId);
    event ParamsUpdated(uint16 indexed version, MarketParams params);

    // submission
    error EmptyProgramDigest();
    error EmptyInputDigest();
    error EmptyRuntime();
    error InvalidReplicas(uint8 replicas);
    error InvalidQuorum(uint8 quorum, uint8 replicas);
    error ZeroFuelLimit();
    error ZeroTimeLimit();
    error ZeroPrice();
    error BidWindowTooLong(uint32 bidWindow, uint32 maxBidWindow);
    error CommitDeadlineTooEarly(uint32 commitDeadline, uint256 earliest);
    error RevealDeadlineTooEarly(uint32 revealDeadline, uint256 earliest);
    error DeadlineTooFar(uint32 revealDeadline, uint256 latest);
    error DisputeWindowTooLong(uint32 disputeWindow, uint32 maxDisputeWindow);
    error MissingEncryptionKey();
    error UnexpectedEncryptionKey();
    error DataRefUnsupported(uint256 dataRef);
    error NativeValueMismatch(uint256 expected, uint256 received);
    error EmptyBatch();
    error LengthMismatch();
    // lifecycle
    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, JobStatus status);
    error NotRequester(uint256 jobId, address caller);
    error BiddingStillOpen(uint256 jobId, uint32 bidDeadline);
    error NotInstantJob(uint256 jobId);
    error NotEligible(uint256 jobId, address provider);
    error NotEnoughEligibleBids(uint256 jobId, uint256 eligible, uint8 quorum);
    error JobFull(uint256 jobId);
    error AlreadyAssigned(uint256 jobId, address provider);
    error RecordMismatch(uint256 jobId);
    error BadIndex(uint256 jobId, uint256 index);
    error NotYourIndex(uint256 jobId, uint256 index, address caller);
    error AssignmentNotFinal(uint256 jobId);
    error InvalidSealSignature(address worker);
    error MissingSealSignature(uint256 jobId, uint256 index);
    error BatchTermsDiffer(uint256 jobId);
    error JobIdsNotAscending();
    error AlreadySettled(uint256 jobId, uint256 index);
    error NotAgreed(uint256 jobId, uint256 index);
    error AlreadyCommitted(uint256 jobId, uint256 index);
    error EmptySeal();
    error EmptyResultDigest();
    error AssignmentTooLate(uint256 jobId, uint256 latest);
    error RulingPeriodNotOver(uint256 jobId, uint256 endsAt);
    error RulingPeriodOver(uint256 jobId, uint256 endedAt);
    error CommitDeadlinePassed(uint256 jobId, uint32 commitDeadline);
    error OpeningNotYetAllowed(uint256 jobId);
    error RevealDeadlinePassed(uint256 jobId, uint32 revealDeadline);
    error InvalidOpening(uint256 jobId, uint256 index);
    error AlreadyRevealed(uint256 jobId, uint256 index);
    error IndicesNotSorted(uint256 jobId);
    error QuorumNotReached(uint256 jobId, uint256 matching, uint8 quorum);
    error PayoutHeld(uint256 jobId, uint256 releasedAt);
    error SettlementTooEarly(uint256 jobId, uint256 allowedAt);
    error NothingToSettle(uint256 jobId);
    error DisputeNotAllowed(uint256 jobId);
    error DisputeWindowClosed(uint256 jobId, uint256 closedAt);
    error WrongBond(uint96 expected, uint256 received);
    /// @param field Index of the field in MarketParams (0 = collateralBps ... 15 = disputeBond).
    error ParameterOutOfBounds(uint8 field, uint256 value, uint256 min, uint256 max);
    error ZeroAddress();
}

/// @title IJobMarket
/// @notice The whole job market API: JobMarket serves the hot path itself and forwards the rest to
/// JobMarketExtension (same storage, see JobMarket's fallback). Clients use this ABI.
interface IJobMarket is IJobMarketTypes {
    // submission and assignment
    function submitJob(JobSpec calldata spec) external payable returns (uint256 jobId);
    function submitJobs(JobSpec[] calldata specs) external payable returns (uint256 firstJobId);
    function assign(uint256 jobId) external;
    function assignWithSignedBids(uint256 jobId, SignedBid[] calldata bids) external;
    function assignBatch(uint256[] calldata jobIds, SignedBid[] calldata bids) external;
    function claimJob(uint256 jobId, Assignee[] calldata current) external;
    function claimJobs(uint256[] calldata jobIds, Assignee[][] calldata current) external;
    function cancel(uint256 jobId) external;
    // sealed results
    function commit(uint256 jobId, Proof calldata proof, uint8 index, bytes32 seal) external;
    function commitSeals(SealBatch[] calldata items, SealSignature[] calldata signatures) external;
    function finalize(uint256 jobId, bytes32 resultDigest, Proof calldata proof, Opening[] calldata openings)
        external;
    function finalizeMany(Finalization[] calldata items) external;
    function reveal(uint256 jobId, Proof calldata proof, uint8 index, bytes32 resultDigest, bytes32 salt) external;
    // settlement and disputes
    function claimPayout(uint256 jobId, Proof calldata proof, uint8 index) external;
    function settle(uint256 jobId, Proof calldata proof) external;
    function dispute(uint256 jobId) external payable;
    function resolveDispute(uint256 jobId, bool resultUpheld) external;
    function applyDefaultRuling(uint256 jobId) external;
    // governance
    function setParams(MarketParams calldata params_) external;
    function pause() external;
    function unpause() external;
    // views
    function getJob(uint256 jobId) external view returns (JobInfo memory);
    function resultOf(uint256 jobId) external view returns (bytes32);
    function workOf(uint256 jobId, uint256 index)
        external
        view
        returns (bytes32 seal, bool revealed, bytes32 revealedDigest);
    function paymentTokenOf(uint256 jobId) external view returns (address);
    function collateralOf(uint256 jobId) external view returns (uint96);
    function params() external view returns (MarketParams memory);
    function paramsAt(uint16 version) external view returns (MarketParams memory);
    function paramsVersion() external view returns (uint16);
    function sealsDigest(bytes32 seals) external view returns (bytes32);
    function jobCount() external view returns (uint256);
    function paused() external view returns (bool);
    function hasRole(bytes32 role, address account) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function defaultAdmin() external view returns (address);
    function defaultAdminDelay() external view returns (uint48);
    function beginDefaultAdminTransfer(address newAdmin) external;
    function acceptDefaultAdminTransfer() external;
    function GOVERNOR_ROLE() external view returns (bytes32);
    function ARBITER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
}
