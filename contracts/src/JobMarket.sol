// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IBidBook} from "./interfaces/IBidBook.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {WorkSlot} from "./libraries/WorkSlot.sol";

/// @title JobMarket
/// @notice The PolkaCompute job queue: requesters submit replicated jobs with their budget in escrow,
/// staked providers bid and are assigned, each worker commits a sealed result, and N identical openings
/// finalize the job, pay the agreeing workers, refund the rest and slash the dishonest or absent.
/// @dev Storage per job: two packed words at submission, one word per assigned worker (see WorkSlot),
/// the result digest at finalization. Everything else an indexer needs is in events. External calls go
/// only to the registry, the bid book and the escrow (trusted, deployed together) after state and events
/// are written.
/// Budget accounting: a job deposits `replicas * maxPrice`. Each replica's share is released exactly
/// once: refunded when the replica goes unassigned, or when its worker is settled (price to the worker
/// and `maxPrice - price` back to the requester if it agreed, all of it back to the requester otherwise).
contract JobMarket is IJobMarket, AccessControl, Pausable, ReentrancyGuardTransient {
    using WorkSlot for bytes32;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint8 public constant MAX_REPLICAS = 16;
    uint256 private constant BPS = 10_000;
    uint8 private constant FLAG_TOKEN = 1;
    uint8 private constant FLAG_REFUNDED = 2;

    IProviderRegistry public immutable registry;
    IPaymentEscrow public immutable escrow;
    IBidBook public immutable bidBook;

    MarketParams private _params;
    uint256 public jobCount;

    mapping(uint256 jobId => Job) private _jobs;
    /// @dev Only for ERC-20 jobs (FLAG_TOKEN): native jobs spend no storage on their token.
    mapping(uint256 jobId => address) private _jobTokens;
    mapping(uint256 jobId => mapping(address worker => bytes32)) private _work;
    mapping(uint256 jobId => mapping(address worker => bytes32)) private _revealed;
    mapping(uint256 jobId => mapping(bytes32 digest => uint256)) private _revealCount;
    /// @dev A dispute's bond while Disputed; once Resolved (upheld), one share per agreeing worker.
    struct Bond {
        uint128 amount;
        uint8 sharesLeft;
    }

    mapping(uint256 jobId => Bond) private _bonds;

    /// @param admin Receives DEFAULT_ADMIN_ROLE, GOVERNOR_ROLE, ARBITER_ROLE and PAUSER_ROLE.
    constructor(
        address admin,
        IProviderRegistry registry_,
        IPaymentEscrow escrow_,
        IBidBook bidBook_,
        MarketParams memory params_
    ) {
        if (
            admin == address(0) || address(registry_) == address(0) || address(escrow_) == address(0)
                || address(bidBook_) == address(0)
        ) revert ZeroAddress();
        registry = registry_;
        escrow = escrow_;
        bidBook = bidBook_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(ARBITER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _setParams(params_);
    }

    // ================================================================== submission

    /// @notice Submits a job and escrows its budget (`replicas * maxPricePerReplica`) in the same call:
    /// as `msg.value` for the native token, or pulled from the caller (who approved the escrow) for an ERC-20.
    /// @return jobId The new job's id (sequential, from 1).
    function submitJob(JobSpec calldata spec) external payable nonReentrant whenNotPaused returns (uint256 jobId) {
        uint256 budget = _budget(spec);
        address token = spec.paymentToken;
        uint256 value = token == address(0) ? budget : 0;
        if (msg.value != value) revert NativeValueMismatch(value, msg.value);
        jobId = _store(spec);
        escrow.deposit{value: value}(jobId, 1, token, msg.sender, budget);
    }

    /// @notice Submits several jobs in one call; `msg.value` must equal the native budgets' sum.
    function submitJobs(JobSpec[] calldata specs)
        external
        payable
        nonReentrant
        whenNotPaused
        returns (uint256 firstJobId)
    {
        if (specs.length == 0) revert EmptyBatch();
        uint256 native = 0;
        for (uint256 i; i < specs.length; ++i) {
            if (specs[i].paymentToken == address(0)) native += _budget(specs[i]);
        }
        if (msg.value != native) revert NativeValueMismatch(native, msg.value);
        firstJobId = jobCount + 1;
        for (uint256 i; i < specs.length; ++i) {
            _store(specs[i]);
        }
        // Effects above, deposits below. One deposit for all native budgets: one value transfer.
        if (native != 0) escrow.deposit{value: native}(firstJobId, specs.length, address(0), msg.sender, native);
        for (uint256 i; i < specs.length; ++i) {
            address token = specs[i].paymentToken;
            if (token != address(0)) escrow.deposit(firstJobId + i, 1, token, msg.sender, _budget(specs[i]));
        }
    }

    /// @notice Cancels an Open job that has no assignee yet; the whole budget is refunded. Requester only.
    function cancel(uint256 jobId) external nonReentrant whenNotPaused {
        Job storage job = _job(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        _setStatus(job, JobStatus.Cancelled);
        emit JobCancelled(jobId);
        _refund(jobId, job, uint256(job.replicas) * job.maxPrice);
    }

    // ================================================================== bidding and assignment

    /// @notice Assigns the best on-chain bids (BidBook) once the bid window has closed. Anyone may call.
    function assign(uint256 jobId) external nonReentrant whenNotPaused {
        _assign(jobId, new SignedBid[](0));
    }

    /// @notice Assigns the best of the on-chain bids and the given EIP-712 signed bids in one call.
    /// @dev Bid mode: after the bid window. Instant mode: before anyone claimed. Anyone may call; on-chain
    /// bids always take part, so a caller can add offers but not exclude bids already on-chain.
    function assignWithSignedBids(uint256 jobId, SignedBid[] calldata bids) external nonReentrant whenNotPaused {
        _assign(jobId, bids);
    }

    /// @notice `assignWithSignedBids` for many jobs in one call.
    function assignBatch(uint256[] calldata jobIds, SignedBid[][] calldata bids) external nonReentrant whenNotPaused {
        if (jobIds.length == 0) revert EmptyBatch();
        if (jobIds.length != bids.length) revert LengthMismatch();
        for (uint256 i; i < jobIds.length; ++i) {
            _assign(jobIds[i], bids[i]);
        }
    }

    /// @notice Instant mode (bid window 0): an eligible provider claims a replica at the max price.
    function claimJob(uint256 jobId) external nonReentrant whenNotPaused {
        Job storage job = _job(jobId);
        if (job.bidDeadline != 0) revert NotInstantJob(jobId);
        JobStatus status = job.status;
        if (status != JobStatus.Open && status != JobStatus.Assigned && status != JobStatus.InProgress) {
            revert WrongStatus(jobId, status);
        }
        if (block.timestamp >= job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
        if (job.assigned == job.replicas) revert JobFull(jobId);
        if (_work[jobId][msg.sender] != 0) revert AlreadyAssigned(jobId, msg.sender);
        _assignWorker(jobId, job, msg.sender, job.maxPrice);
        if (status == JobStatus.Open) _setStatus(job, JobStatus.Assigned);
        address[] memory workers = new address[](1);
        uint80[] memory prices = new uint80[](1);
        (workers[0], prices[0]) = (msg.sender, job.maxPrice);
        emit JobAssigned(jobId, workers, prices);
        if (!registry.tryLockCollateral(msg.sender, jobId, _collateral(job), job.capabilities)) {
            revert NotEligible(jobId, msg.sender);
        }
    }

    // ================================================================== sealed results

    /// @notice Commits the caller's seal `keccak256(abi.encode(jobId, worker, resultDigest, salt))`.
    /// @dev If the job still waits for assignment after its bid window, this call assigns it first.
    function commit(uint256 jobId, bytes32 seal) external nonReentrant {
        _commit(jobId, seal);
    }

    /// @notice Commits seals for many jobs in one call.
    function commitMany(uint256[] calldata jobIds, bytes32[] calldata seals) external nonReentrant {
        if (jobIds.length == 0) revert EmptyBatch();
        if (jobIds.length != seals.length) revert LengthMismatch();
        for (uint256 i; i < jobIds.length; ++i) {
            _commit(jobIds[i], seals[i]);
        }
    }

    /// @notice Aggregated opening: at least `quorum` openings of the same digest finalize the job in one
    /// call, once all assignees have committed or the commit deadline has passed. Anyone may call.
    /// @param openings Sorted by worker address, strictly ascending. A worker that already revealed
    /// on-chain may be listed with any salt.
    function finalize(uint256 jobId, bytes32 resultDigest, Opening[] calldata openings) external nonReentrant {
        _finalize(jobId, resultDigest, openings);
    }

    /// @notice `finalize` for many jobs in one call.
    function finalizeMany(Finalization[] calldata items) external nonReentrant {
        if (items.length == 0) revert EmptyBatch();
        for (uint256 i; i < items.length; ++i) {
            _finalize(items[i].jobId, items[i].resultDigest, items[i].openings);
        }
    }

    /// @notice Fallback opening by the worker itself, until the reveal deadline. Before finalization it
    /// records the digest (the quorum-th matching reveal finalizes the job); after finalization a matching
    /// reveal is paid (or held during the dispute window) and a different digest is slashed.
    function reveal(uint256 jobId, bytes32 resultDigest, bytes32 salt, uint80 price) external nonReentrant {
        Job storage job = _job(jobId);
        bytes32 word = _work[jobId][msg.sender];
        if (word != WorkSlot.committed(WorkSlot.seal(jobId, msg.sender, resultDigest, salt), price)) {
            revert InvalidOpening(jobId, msg.sender);
        }
        JobStatus status = job.status;
        if (status == JobStatus.InProgress) {
            _requireOpeningPhase(jobId, job);
            emit ResultRevealed(jobId, msg.sender, resultDigest);
            uint256 count = ++_revealCount[jobId][resultDigest];
            if (count < job.quorum) {
                _work[jobId][msg.sender] = WorkSlot.withPrice(price, WorkSlot.REVEALED);
                _revealed[jobId][msg.sender] = resultDigest;
                return;
            }
            // The earlier matching revealers stay REVEALED (pending) and are paid by claimPayout.
            _recordResult(jobId, job, resultDigest, uint8(count - 1));
            _agree(jobId, job, msg.sender, price);
        } else if (status == JobStatus.Finalized || status == JobStatus.Disputed || status == JobStatus.Resolved) {
            if (block.timestamp > job.revealDeadline) revert RevealDeadlinePassed(jobId, job.revealDeadline);
            emit ResultRevealed(jobId, msg.sender, resultDigest);
            if (resultDigest == job.resultDigest) _agree(jobId, job, msg.sender, price);
            else _slash(jobId, job, msg.sender, WorkerOutcome.SlashedMismatch);
        } else {
            revert WrongStatus(jobId, status);
        }
    }

    // ================================================================== payouts and settlement

    /// @notice Pays an agreeing worker whose payout was held (dispute window) or who revealed on-chain
    /// before the job finalized. Anyone may call; the money is credited to the worker.
    function claimPayout(uint256 jobId, address worker) external nonReentrant {
        Job storage job = _job(jobId);
        JobStatus status = job.status;
        if (status != JobStatus.Finalized && status != JobStatus.Resolved) revert WrongStatus(jobId, status);
        _requireNotHeld(jobId, job);
        bytes32 word = _work[jobId][worker];
        uint8 tag = word.tag();
        bool matching = tag == WorkSlot.HELD
            || (tag == WorkSlot.REVEALED && _revealed[jobId][worker] == job.resultDigest);
        if (!matching) revert InvalidOpening(jobId, worker);
        _pay(jobId, job, worker, word.price());
    }

    /// @notice Settles a job after its deadlines: a job without quorum fails (full refund); every listed
    /// assignee still pending is paid (matching result), released (failed job) or slashed (no-show, wrong
    /// or unopened result). `workers` must name every pending assignee (from JobAssigned events).
    /// Anyone may call; workers act as keepers.
    function settle(uint256 jobId, address[] calldata workers) external nonReentrant {
        Job storage job = _job(jobId);
        JobStatus status = job.status;
        if (status == JobStatus.Open) {
            if (block.timestamp < job.commitDeadline) revert SettlementTooEarly(jobId, job.commitDeadline);
            _setStatus(job, JobStatus.Failed);
            emit JobFailed(jobId);
            _refundUnassigned(jobId, job);
        } else if (status == JobStatus.Assigned || status == JobStatus.InProgress) {
            if (block.timestamp <= job.revealDeadline) revert SettlementTooEarly(jobId, uint256(job.revealDeadline) + 1);
            _setStatus(job, JobStatus.Failed);
            emit JobFailed(jobId);
            if (job.bidDeadline == 0) _refundUnassigned(jobId, job); // instant mode: claims ended
        } else if (status == JobStatus.Finalized || status == JobStatus.Resolved) {
            if (job.pending == 0) revert NothingToSettle(jobId);
            if (block.timestamp <= job.revealDeadline) revert SettlementTooEarly(jobId, uint256(job.revealDeadline) + 1);
            _requireNotHeld(jobId, job);
        } else if (status == JobStatus.Failed) {
            if (job.pending == 0) revert NothingToSettle(jobId);
        } else {
            revert WrongStatus(jobId, status);
        }
        bool success = job.status != JobStatus.Failed;
        for (uint256 i; i < workers.length; ++i) {
            _settleWorker(jobId, job, workers[i], success);
        }
        if (job.pending != 0) revert IncompleteSettlement(jobId, job.pending);
    }

    // ================================================================== disputes

    /// @notice The requester disputes a finalized result within the dispute window, posting the bond.
    /// Payouts stay held until the arbiter resolves.
    function dispute(uint256 jobId) external payable nonReentrant whenNotPaused {
        Job storage job = _job(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (job.status != JobStatus.Finalized) revert WrongStatus(jobId, job.status);
        if (job.disputeWindow == 0) revert DisputeNotAllowed(jobId);
        uint256 closesAt = uint256(job.finalizedAt) + job.disputeWindow;
        if (block.timestamp >= closesAt) revert DisputeWindowClosed(jobId, closesAt);
        uint96 bond = _params.disputeBond;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        _bonds[jobId] = Bond(bond, 0);
        _setStatus(job, JobStatus.Disputed);
        emit DisputeOpened(jobId, bond);
    }

    /// @notice Arbiter's ruling. Upheld: the job is Resolved and the bond is shared by the agreeing
    /// workers with their payouts. Overturned: the job Fails, the requester gets the bond and the budget
    /// back, and the agreeing workers are slashed when settled.
    function resolveDispute(uint256 jobId, bool resultUpheld) external onlyRole(ARBITER_ROLE) nonReentrant {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Disputed) revert WrongStatus(jobId, job.status);
        uint256 bond = _bonds[jobId].amount;
        emit DisputeResolved(jobId, resultUpheld);
        if (resultUpheld) {
            _setStatus(job, JobStatus.Resolved);
            uint8 agreeing = job.agreeing;
            uint256 share = bond / agreeing;
            _bonds[jobId] = Bond(uint128(share), agreeing);
            uint256 dust = bond - share * agreeing;
            if (dust != 0) escrow.creditNative{value: dust}(escrow.treasury());
        } else {
            _setStatus(job, JobStatus.Failed);
            delete _bonds[jobId];
            // Every pending replica's share goes back now; settling those workers later refunds nothing.
            job.flags |= FLAG_REFUNDED;
            _refund(jobId, job, uint256(job.pending) * job.maxPrice);
            if (bond != 0) escrow.creditNative{value: bond}(job.requester);
        }
    }

    // ================================================================== governance

    /// @notice Sets every governed parameter at once (bounds checked per field; see `_setParams`).
    function setParams(MarketParams calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    /// @notice Emergency stop of new work: submissions, cancellations, assignments, claims and disputes.
    /// @dev Jobs already assigned run to completion (commit, open, settle): their deadlines keep running,
    /// and stopping them would slash workers for the pause. Payouts stay in the escrow ledger, whose own
    /// pause stops withdrawals.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the emergency stop.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ================================================================== views

    /// @notice The stored job (the full spec is in its JobSubmitted event).
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @notice One worker's state word (see WorkSlot) and, if revealed on-chain, its digest.
    function workOf(uint256 jobId, address worker) external view returns (bytes32 word, bytes32 revealedDigest) {
        return (_work[jobId][worker], _revealed[jobId][worker]);
    }

    /// @notice The job's payment token (`address(0)`: native).
    function paymentTokenOf(uint256 jobId) external view returns (address) {
        return _token(jobId, _jobs[jobId]);
    }

    /// @notice Collateral locked per assignee of `jobId`.
    function collateralOf(uint256 jobId) external view returns (uint96) {
        return _collateral(_jobs[jobId]);
    }

    /// @notice The governed parameters.
    function params() external view returns (MarketParams memory) {
        return _params;
    }

    // ================================================================== internals: submission

    function _budget(JobSpec calldata spec) private pure returns (uint256) {
        return uint256(spec.replicas) * spec.maxPricePerReplica;
    }

    /// @dev Validates and stores a job; the caller collects its budget.
    function _store(JobSpec calldata spec) private returns (uint256 jobId) {
        _validate(spec);
        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        job.requester = msg.sender;
        job.status = JobStatus.Open;
        job.replicas = spec.replicas;
        job.quorum = spec.quorum;
        job.maxPrice = spec.maxPricePerReplica;
        job.capabilities = spec.requiredCapabilities;
        job.bidDeadline = spec.bidWindow == 0 ? 0 : uint32(block.timestamp + spec.bidWindow);
        job.commitDeadline = spec.commitDeadline;
        job.revealDeadline = spec.revealDeadline;
        job.disputeWindow = spec.disputeWindow;
        job.collateralBps = _params.collateralBps;
        if (spec.paymentToken != address(0)) {
            job.flags = FLAG_TOKEN;
            _jobTokens[jobId] = spec.paymentToken;
        }
        emit JobSubmitted(jobId, msg.sender, spec); // status Open
    }

    function _validate(JobSpec calldata spec) private view {
        if (spec.programDigest == 0) revert EmptyProgramDigest();
        if (spec.inputDigest == 0) revert EmptyInputDigest();
        if (spec.runtimeId == 0) revert EmptyRuntime();
        uint8 m = spec.replicas;
        if (m == 0 || m > MAX_REPLICAS) revert InvalidReplicas(m);
        uint8 n = spec.quorum;
        if (n == 0 || n > m || 2 * uint256(n) <= m) revert InvalidQuorum(n, m);
        if (spec.fuelLimit == 0) revert ZeroFuelLimit();
        if (spec.timeLimit == 0) revert ZeroTimeLimit();
        if (spec.maxPricePerReplica == 0) revert ZeroPrice();
        MarketParams storage p = _params;
        if (spec.bidWindow > p.maxBidWindow) revert BidWindowTooLong(spec.bidWindow, p.maxBidWindow);
        uint256 earliest = block.timestamp + spec.bidWindow;
        if (spec.commitDeadline <= earliest) revert CommitDeadlineTooEarly(spec.commitDeadline, earliest + 1);
        if (spec.revealDeadline <= spec.commitDeadline) {
            revert RevealDeadlineTooEarly(spec.revealDeadline, spec.commitDeadline);
        }
        uint256 latest = block.timestamp + p.maxJobDuration;
        if (spec.revealDeadline > latest) revert DeadlineTooFar(spec.revealDeadline, latest);
        if (spec.disputeWindow > p.maxDisputeWindow) {
            revert DisputeWindowTooLong(spec.disputeWindow, p.maxDisputeWindow);
        }
        if (spec.confidential && spec.encryptionPubKey == 0) revert MissingEncryptionKey();
        if (!spec.confidential && spec.encryptionPubKey != 0) revert UnexpectedEncryptionKey();
        if (spec.dataRef != 0) revert DataRefUnsupported(spec.dataRef);
    }

    // ================================================================== internals: assignment

    function _assign(uint256 jobId, SignedBid[] memory signed) private {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        uint32 bidDeadline = job.bidDeadline;
        if (bidDeadline != 0 && block.timestamp < bidDeadline) revert BiddingStillOpen(jobId, bidDeadline);
        if (block.timestamp >= job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
        uint96 collateral = _collateral(job);
        Bid[] memory candidates =
            bidBook.rank(jobId, job.maxPrice, job.capabilities, collateral, job.replicas, signed);
        uint256 wanted = job.replicas;
        address[] memory workers = new address[](wanted);
        uint80[] memory prices = new uint80[](wanted);
        uint256 n;
        for (uint256 i; i < candidates.length && n < wanted; ++i) {
            Bid memory c = candidates[i];
            // Locking re-checks eligibility now: an on-chain bid may have lost its stake since.
            if (registry.tryLockCollateral(c.provider, jobId, collateral, job.capabilities)) {
                _assignWorker(jobId, job, c.provider, c.price);
                (workers[n], prices[n]) = (c.provider, c.price);
                ++n;
            }
        }
        if (n < job.quorum) revert NotEnoughEligibleBids(jobId, n, job.quorum);
        assembly ("memory-safe") {
            mstore(workers, n)
            mstore(prices, n)
        }
        _setStatus(job, JobStatus.Assigned);
        emit JobAssigned(jobId, workers, prices);
        if (bidDeadline != 0) _refundUnassigned(jobId, job); // bid mode: the assignment is final
    }

    function _assignWorker(uint256 jobId, Job storage job, address worker, uint80 price) private {
        _work[jobId][worker] = WorkSlot.withPrice(price, WorkSlot.ASSIGNED);
        ++job.assigned;
        ++job.pending;
    }

    // ================================================================== internals: commit and open

    function _commit(uint256 jobId, bytes32 seal) private {
        if (seal == 0) revert EmptySeal();
        Job storage job = _job(jobId);
        if (job.status == JobStatus.Open && job.bidDeadline != 0 && block.timestamp >= job.bidDeadline) {
            _assign(jobId, new SignedBid[](0));
        }
        JobStatus status = job.status;
        if (status != JobStatus.Assigned && status != JobStatus.InProgress) revert WrongStatus(jobId, status);
        if (block.timestamp >= job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
        bytes32 word = _work[jobId][msg.sender];
        if (word == 0) revert NotAssigned(jobId, msg.sender);
        if (word.tag() != WorkSlot.ASSIGNED) revert AlreadyCommitted(jobId, msg.sender);
        _work[jobId][msg.sender] = WorkSlot.committed(seal, word.price());
        ++job.committed;
        emit SealCommitted(jobId, msg.sender, seal);
        if (status == JobStatus.Assigned) _setStatus(job, JobStatus.InProgress);
    }

    function _finalize(uint256 jobId, bytes32 resultDigest, Opening[] calldata openings) private {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.InProgress) revert WrongStatus(jobId, job.status);
        _requireOpeningPhase(jobId, job);
        if (openings.length < job.quorum) revert QuorumNotReached(jobId, openings.length, job.quorum);
        _recordResult(jobId, job, resultDigest, 0);
        address previous = address(0);
        for (uint256 i; i < openings.length; ++i) {
            Opening calldata o = openings[i];
            if (o.worker <= previous) revert OpeningsNotSorted(jobId);
            previous = o.worker;
            bytes32 word = _work[jobId][o.worker];
            uint80 price = o.price;
            if (word.tag() == WorkSlot.REVEALED && _revealed[jobId][o.worker] == resultDigest) {
                price = word.price();
            } else if (word != WorkSlot.committed(WorkSlot.seal(jobId, o.worker, resultDigest, o.salt), price)) {
                revert InvalidOpening(jobId, o.worker);
            }
            _agree(jobId, job, o.worker, price);
        }
    }

    /// @dev Opening a seal reveals the digest, so it is allowed only when no one can still commit:
    /// every assignee has committed (and no more can be assigned) or the commit deadline has passed.
    function _requireOpeningPhase(uint256 jobId, Job storage job) private view {
        if (block.timestamp > job.revealDeadline) revert RevealDeadlinePassed(jobId, job.revealDeadline);
        bool assignmentFinal = job.bidDeadline != 0 || job.assigned == job.replicas;
        bool allCommitted = assignmentFinal && job.committed == job.assigned;
        if (!allCommitted && block.timestamp < job.commitDeadline) revert OpeningNotYetAllowed(jobId);
    }

    /// @param agreeing Matching openings already on-chain; each `_agree` that follows adds one.
    function _recordResult(uint256 jobId, Job storage job, bytes32 resultDigest, uint8 agreeing) private {
        job.resultDigest = resultDigest;
        job.finalizedAt = uint32(block.timestamp);
        job.agreeing = agreeing;
        _setStatus(job, JobStatus.Finalized);
        emit JobFinalized(jobId, resultDigest);
        if (job.bidDeadline == 0) _refundUnassigned(jobId, job); // instant mode: claims ended
    }

    // ================================================================== internals: settlement

    /// @dev An agreeing worker: paid now, or marked HELD while a dispute is possible or open.
    function _agree(uint256 jobId, Job storage job, address worker, uint80 price) private {
        ++job.agreeing;
        if (_held(job)) {
            _work[jobId][worker] = WorkSlot.withPrice(price, WorkSlot.HELD);
            emit WorkerSettled(jobId, worker, WorkerOutcome.Held, price);
        } else {
            _pay(jobId, job, worker, price);
        }
    }

    function _pay(uint256 jobId, Job storage job, address worker, uint80 price) private {
        _clearWork(jobId, job, worker);
        emit WorkerSettled(jobId, worker, WorkerOutcome.Paid, price);
        escrow.pay(jobId, _token(jobId, job), worker, price);
        _refund(jobId, job, job.maxPrice - price);
        registry.releaseCollateral(worker, jobId, _collateral(job), int32(uint32(_params.reputationReward)), "AGREED");
        if (job.status == JobStatus.Resolved) {
            Bond storage b = _bonds[jobId];
            if (b.sharesLeft != 0) {
                --b.sharesLeft;
                if (b.amount != 0) escrow.creditNative{value: b.amount}(worker);
            }
        }
    }

    function _settleWorker(uint256 jobId, Job storage job, address worker, bool success) private {
        bytes32 word = _work[jobId][worker];
        uint8 tag = word.tag();
        if (word == 0) revert NotAssigned(jobId, worker);
        if (tag == WorkSlot.ASSIGNED) {
            _slash(jobId, job, worker, WorkerOutcome.SlashedNoShow);
        } else if (tag == WorkSlot.COMMITTED) {
            // Committed but never opened: withholding a result counts as a wrong one once a result exists.
            _slash(jobId, job, worker, success ? WorkerOutcome.SlashedMismatch : WorkerOutcome.SlashedNoShow);
        } else if (tag == WorkSlot.REVEALED) {
            // A failed job's result digest is zero unless a dispute overturned it.
            bool agreed = _revealed[jobId][worker] == job.resultDigest;
            if (success && agreed) _pay(jobId, job, worker, word.price());
            else if (success || agreed) _slash(jobId, job, worker, WorkerOutcome.SlashedMismatch);
            else _release(jobId, job, worker);
        } else {
            // HELD: agreed with a result that was upheld (paid) or overturned (slashed).
            if (success) _pay(jobId, job, worker, word.price());
            else _slash(jobId, job, worker, WorkerOutcome.SlashedMismatch);
        }
    }

    function _release(uint256 jobId, Job storage job, address worker) private {
        _clearWork(jobId, job, worker);
        emit WorkerSettled(jobId, worker, WorkerOutcome.Released, 0);
        registry.releaseCollateral(worker, jobId, _collateral(job), 0, "RELEASED");
        _refundUnpaidShare(jobId, job);
    }

    function _slash(uint256 jobId, Job storage job, address worker, WorkerOutcome outcome) private {
        _clearWork(jobId, job, worker);
        MarketParams storage p = _params;
        bool mismatch = outcome == WorkerOutcome.SlashedMismatch;
        uint96 collateral = _collateral(job);
        uint96 amount = uint96(uint256(collateral) * (mismatch ? p.mismatchSlashBps : p.noShowSlashBps) / BPS);
        uint96 toRequester = uint96(uint256(amount) * p.requesterShareBps / BPS);
        int32 penalty = -int32(uint32(mismatch ? p.mismatchPenalty : p.noShowPenalty));
        bytes32 reason = mismatch ? bytes32("MISMATCH") : bytes32("NO_SHOW");
        emit WorkerSettled(jobId, worker, outcome, amount);
        registry.releaseCollateral(worker, jobId, collateral, penalty, reason);
        if (toRequester != 0) registry.slash(worker, jobId, toRequester, job.requester, reason);
        if (amount != toRequester) registry.slash(worker, jobId, amount - toRequester, address(0), reason);
        _refundUnpaidShare(jobId, job);
    }

    /// @dev Settles a worker's word: the digest beside it exists only after an on-chain reveal.
    function _clearWork(uint256 jobId, Job storage job, address worker) private {
        if (_work[jobId][worker].tag() == WorkSlot.REVEALED) delete _revealed[jobId][worker];
        delete _work[jobId][worker];
        --job.pending;
    }

    /// @dev A replica whose worker is not paid returns its whole share, unless a dispute refunded it.
    function _refundUnpaidShare(uint256 jobId, Job storage job) private {
        if (job.flags & FLAG_REFUNDED == 0) _refund(jobId, job, job.maxPrice);
    }

    function _refundUnassigned(uint256 jobId, Job storage job) private {
        _refund(jobId, job, uint256(job.replicas - job.assigned) * job.maxPrice);
    }

    function _refund(uint256 jobId, Job storage job, uint256 amount) private {
        if (amount != 0) escrow.refund(jobId, _token(jobId, job), job.requester, amount);
    }

    function _token(uint256 jobId, Job storage job) private view returns (address) {
        return job.flags & FLAG_TOKEN == 0 ? address(0) : _jobTokens[jobId];
    }

    function _requireNotHeld(uint256 jobId, Job storage job) private view {
        if (_held(job)) revert PayoutHeld(jobId, uint256(job.finalizedAt) + job.disputeWindow);
    }

    function _held(Job storage job) private view returns (bool) {
        JobStatus status = job.status;
        return status == JobStatus.Disputed
            || (status == JobStatus.Finalized && block.timestamp < uint256(job.finalizedAt) + job.disputeWindow);
    }

    // ================================================================== internals: misc

    function _job(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
    }

    /// @dev Status changes emit no generic event: each transition has its own (see IJobMarket).
    function _setStatus(Job storage job, JobStatus status) private {
        job.status = status;
    }

    function _collateral(Job storage job) private view returns (uint96) {
        return uint96(uint256(job.maxPrice) * job.collateralBps / BPS);
    }

    function _setParams(MarketParams memory p) private {
        _bound("collateralBps", p.collateralBps, 1_000, 50_000);
        _bound("mismatchSlashBps", p.mismatchSlashBps, 1_000, BPS);
        _bound("noShowSlashBps", p.noShowSlashBps, 0, BPS);
        _bound("requesterShareBps", p.requesterShareBps, 0, BPS);
        _bound("reputationReward", p.reputationReward, 0, 1_000);
        _bound("mismatchPenalty", p.mismatchPenalty, 0, 10_000);
        _bound("noShowPenalty", p.noShowPenalty, 0, 10_000);
        _bound("maxBidWindow", p.maxBidWindow, 60, 7 days);
        _bound("maxJobDuration", p.maxJobDuration, 1 hours, 90 days);
        _bound("maxDisputeWindow", p.maxDisputeWindow, 0, 30 days);
        _bound("disputeBond", p.disputeBond, 0, 1e30);
        _params = p;
        emit ParamsUpdated(p);
    }

    function _bound(string memory name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert ParameterOutOfBounds(name, value, min, max);
    }
}
