// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IJobMarket
/// @notice Types, events and errors of the PolkaCompute job market.
interface IJobMarket {
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

    /// @notice What happened to one assigned worker.
    enum WorkerOutcome {
        Paid,
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

    /// @notice A job as stored: two packed slots written at submission plus the result digest.
    /// @dev The rest of the spec (digests, runtime, limits, keys) lives in the JobSubmitted event only.
    struct Job {
        address requester;
        JobStatus status;
        uint8 replicas;
        uint8 quorum;
        uint8 assigned; // workers assigned so far
        uint8 committed; // seals committed so far
        uint8 pending; // assignees not yet paid, released or slashed
        uint8 agreeing; // workers whose opening matched the result
        uint8 flags; // bit 0: paid in an ERC-20 (see paymentTokenOf); bit 1: budget refunded by a dispute
        uint32 finalizedAt;
        uint80 maxPrice;
        uint32 capabilities;
        uint32 bidDeadline; // 0 in instant mode
        uint32 commitDeadline;
        uint32 revealDeadline;
        uint32 disputeWindow;
        uint16 collateralBps; // snapshot of the governed parameter at submission
        bytes32 resultDigest;
    }

    /// @notice A ranked bid: an entry of a job's on-chain bid book (reputation read when the bid entered).
    struct Bid {
        address provider;
        uint80 price;
        uint16 reputation;
    }

    /// @notice An off-chain EIP-712 bid (`vs` is the EIP-2098 compact form of the signature's s and v).
    struct SignedBid {
        address provider;
        uint80 price;
        uint32 sla;
        uint32 expiry;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice One worker's opening of its seal: `seal = keccak256(abi.encode(jobId, worker, digest, salt))`.
    /// @dev `price` is the worker's assigned price, which the stored commitment binds.
    struct Opening {
        address worker;
        uint80 price;
        bytes32 salt;
    }

    /// @notice One job's aggregated openings, for `finalizeMany`.
    struct Finalization {
        uint256 jobId;
        bytes32 resultDigest;
        Opening[] openings;
    }

    /// @notice Governed parameters (bounds in `JobMarket.setParams`).
    struct MarketParams {
        uint16 collateralBps; // collateral locked per assignment, in bps of maxPricePerReplica
        uint16 mismatchSlashBps; // share of collateral slashed for a wrong or unopened result
        uint16 noShowSlashBps; // share of collateral slashed for never committing
        uint16 requesterShareBps; // share of a slash credited to the requester (rest: treasury)
        uint16 reputationReward; // reputation gained by an agreeing worker
        uint16 mismatchPenalty; // reputation lost for a wrong or unopened result
        uint16 noShowPenalty; // reputation lost for never committing
        uint32 maxBidWindow;
        uint32 maxJobDuration; // revealDeadline may be at most this far in the future at submission
        uint32 maxDisputeWindow;
        uint96 disputeBond; // native value a requester posts to dispute
    }

    // One event per status transition (no generic status event, to keep the hot path cheap):
    // Open: JobSubmitted. Assigned: the first JobAssigned. InProgress: the first SealCommitted.
    // Finalized: JobFinalized. Failed: JobFailed, or DisputeResolved(upheld = false). Cancelled: JobCancelled.
    // Disputed: DisputeOpened. Resolved: DisputeResolved(upheld = true).
    event JobSubmitted(uint256 indexed jobId, address indexed requester, JobSpec spec);
    event JobAssigned(uint256 indexed jobId, address[] workers, uint80[] prices);
    event SealCommitted(uint256 indexed jobId, address indexed worker, bytes32 seal);
    event ResultRevealed(uint256 indexed jobId, address indexed worker, bytes32 resultDigest);
    event JobFinalized(uint256 indexed jobId, bytes32 resultDigest);
    event JobFailed(uint256 indexed jobId);
    event JobCancelled(uint256 indexed jobId);
    event WorkerSettled(uint256 indexed jobId, address indexed worker, WorkerOutcome outcome, uint256 amount);
    event DisputeOpened(uint256 indexed jobId, uint96 bond);
    event DisputeResolved(uint256 indexed jobId, bool resultUpheld);
    event ParamsUpdated(MarketParams params);

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
    error RevealDeadlineTooEarly(uint32 revealDeadline, uint32 commitDeadline);
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
    error NotAssigned(uint256 jobId, address worker);
    error AlreadyCommitted(uint256 jobId, address worker);
    error EmptySeal();
    error CommitDeadlinePassed(uint256 jobId, uint32 commitDeadline);
    error OpeningNotYetAllowed(uint256 jobId);
    error RevealDeadlinePassed(uint256 jobId, uint32 revealDeadline);
    error InvalidOpening(uint256 jobId, address worker);
    error OpeningsNotSorted(uint256 jobId);
    error QuorumNotReached(uint256 jobId, uint256 matching, uint8 quorum);
    error PayoutHeld(uint256 jobId, uint256 releasedAt);
    error SettlementTooEarly(uint256 jobId, uint256 allowedAt);
    error IncompleteSettlement(uint256 jobId, uint8 pending);
    error NothingToSettle(uint256 jobId);
    error DisputeNotAllowed(uint256 jobId);
    error DisputeWindowClosed(uint256 jobId, uint256 closedAt);
    error WrongBond(uint96 expected, uint256 received);
    error ParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    error ZeroAddress();

    function getJob(uint256 jobId) external view returns (Job memory);
    function paymentTokenOf(uint256 jobId) external view returns (address);
    function collateralOf(uint256 jobId) external view returns (uint96);
}
