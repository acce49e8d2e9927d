// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IBidBook} from "./interfaces/IBidBook.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {IJobMarketTypes} from "./interfaces/IJobMarket.sol";
import {JobMarketBase} from "./JobMarketBase.sol";
import {JobProofs} from "./libraries/JobProofs.sol";

/// @dev The extension's one-time setup, run by the market's constructor on the market's storage.
interface IMarketSetup {
    function initialize(IJobMarketTypes.Roles calldata roles) external;
}

/// @title JobMarket
/// @notice The PolkaCompute job queue: requesters submit replicated jobs with their budget in escrow,
/// staked providers are assigned, each worker commits a sealed result, and N identical openings
/// finalize the job, pay the agreeing workers, refund the rest and slash the dishonest or absent.
/// @dev This contract serves the hot path (submit, assign, commit, finalize and their batches). Every
/// other function of IJobMarket (reveal, claims, settlement, disputes, governance) lives in
/// JobMarketExtension and runs here by delegatecall through `fallback`, on this contract's storage:
/// together they exceed the 24,576-byte code limit of Polkadot Hub (and Ethereum).
contract JobMarket is JobMarketBase, EIP712 {
    bytes32 public constant SEALS_TYPEHASH = keccak256("Seals(bytes32 seals)");

    /// @notice Where the functions not declared here are implemented (same storage layout).
    address public immutable extension;

    /// @param roles Who governs (see `Roles`); set up by the extension's `initialize`, run here.
    constructor(
        Roles memory roles,
        IProviderRegistry registry_,
        IPaymentEscrow escrow_,
        IBidBook bidBook_,
        address extension_,
        MarketParams memory params_
    ) JobMarketBase(registry_, escrow_, bidBook_) EIP712("PolkaCompute JobMarket", "1") {
        if (extension_.code.length == 0) revert ZeroAddress();
        extension = extension_;
        // The deployer names the extension; its one-time setup runs here, on this contract's storage.
        // slither-disable-next-line controlled-delegatecall
        (bool ok, bytes memory reason) = extension_.delegatecall(abi.encodeCall(IMarketSetup.initialize, (roles)));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
        _setParams(params_);
    }

    /// @dev Runs JobMarketExtension's code on this contract's storage and returns what it returns.
    fallback() external payable {
        address target = extension;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ================================================================== submission

    /// @notice Submits a job and escrows its budget (`replicas * maxPricePerReplica`) in the same call:
    /// as `msg.value` for the native token, or pulled from the caller (who approved the escrow) for an ERC-20.
    /// @return jobId The new job's id (sequential, from 1).
    function submitJob(JobSpec calldata spec) external payable nonReentrant whenNotPaused returns (uint256 jobId) {
        jobId = _store(spec);
        address token = spec.paymentToken;
        uint256 budget = _budget(spec);
        uint256 value = token == address(0) ? budget : 0;
        if (msg.value != value) revert NativeValueMismatch(value, msg.value);
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
        firstJobId = jobCount + 1;
        uint256 native = 0;
        for (uint256 i; i < specs.length; ++i) {
            _store(specs[i]);
            if (specs[i].paymentToken == address(0)) native += _budget(specs[i]);
        }
        if (msg.value != native) revert NativeValueMismatch(native, msg.value);
        // Effects above, deposits below. One deposit for all native budgets: one value transfer.
        if (native != 0) escrow.deposit{value: native}(firstJobId, specs.length, address(0), msg.sender, native);
        for (uint256 i; i < specs.length; ++i) {
            address token = specs[i].paymentToken;
            if (token != address(0)) escrow.deposit(firstJobId + i, 1, token, msg.sender, _budget(specs[i]));
        }
    }

    // ================================================================== assignment

    /// @notice Assigns the best on-chain bids (BidBook) once the bid window has closed. Anyone may call;
    /// workers call it as the first action after the window.
    function assign(uint256 jobId) external nonReentrant whenNotPaused {
        _assign(jobId, _noBids());
    }

    /// @notice Assigns the best of the on-chain bids and the given EIP-712 signed bids in one call.
    /// @dev Bid mode: after the bid window. Instant mode: before anyone claimed. Anyone may call; on-chain
    /// bids always take part, so a caller can add offers but not exclude bids already on-chain.
    function assignWithSignedBids(uint256 jobId, SignedBid[] calldata bids) external nonReentrant whenNotPaused {
        _assign(jobId, bids);
    }

    /// @notice Assigns a batch of jobs with the same terms (replicas, quorum, max price, capabilities,
    /// collateral) to the same providers: each signed bid covers every job of `jobIds`, the ranking is
    /// made once, and each winner's collateral for the whole batch is locked in one call. Jobs with
    /// on-chain bids are assigned one by one instead (their bids must take part).
    function assignBatch(uint256[] calldata jobIds, SignedBid[] calldata bids) external nonReentrant whenNotPaused {
        if (jobIds.length == 0) revert EmptyBatch();
        Job storage first = _job(jobIds[0]);
        address token = _token(jobIds[0], first);
        for (uint256 i; i < jobIds.length; ++i) {
            if (i != 0 && jobIds[i] <= jobIds[i - 1]) revert JobIdsNotAscending();
            Job storage job = _job(jobIds[i]);
            _requireAssignable(jobIds[i], job);
            if (
                job.replicas != first.replicas || job.quorum != first.quorum || job.maxPrice != first.maxPrice
                    || job.capabilities != first.capabilities || job.paramsVersion != first.paramsVersion
                    || _token(jobIds[i], job) != token
            ) revert BatchTermsDiffer(jobIds[i]);
        }
        uint96 collateral = _collateral(first);
        Bid[] memory candidates = bidBook.rankBatch(
            jobIds, first.maxPrice, first.capabilities, _nativeOf(token, collateral), first.replicas, bids
        );
        (address[] memory workers, uint80[] memory prices, bytes32 h) =
            _lockBest(jobIds, first.replicas, Lock(token, collateral, first.capabilities), candidates, 0);
        if (workers.length < first.quorum) revert NotEnoughEligibleBids(jobIds[0], workers.length, first.quorum);
        for (uint256 i; i < jobIds.length; ++i) {
            Job storage job = _jobs[jobIds[i]];
            (job.record, job.assigned, job.status) = (h, uint8(workers.length), JobStatus.Assigned);
            if (job.bidDeadline != 0) _refundUnassigned(jobIds[i], job);
        }
        emit BatchAssigned(jobIds, workers, prices);
    }

    /// @notice Instant mode (bid window 0): an eligible provider claims a replica at the max price.
    /// @param current The assignee list so far (from JobAssigned events), to rule out a second claim.
    function claimJob(uint256 jobId, Assignee[] calldata current) external nonReentrant whenNotPaused {
        _claim(jobId, current);
    }

    /// @notice `claimJob` for many jobs in one call.
    function claimJobs(uint256[] calldata jobIds, Assignee[][] calldata current) external nonReentrant whenNotPaused {
        if (jobIds.length == 0) revert EmptyBatch();
        if (jobIds.length != current.length) revert LengthMismatch();
        for (uint256 i; i < jobIds.length; ++i) {
            _claim(jobIds[i], current[i]);
        }
    }

    // ================================================================== sealed results

    /// @notice An assignee commits its own seal `keccak256(abi.encode(jobId, worker, resultDigest, salt))`.
    /// @param proof The job's assignee list (and aggregated seals, if any) from its events.
    /// @param index The caller's position in the assignee list.
    function commit(uint256 jobId, Proof calldata proof, uint8 index, bytes32 seal) external nonReentrant {
        if (seal == 0) revert EmptySeal();
        Job storage job = _job(jobId);
        _requireCommitPhase(jobId, job);
        _verify(jobId, job, proof);
        address worker = _assignee(jobId, job, proof, index).worker;
        if (worker != msg.sender) revert NotYourIndex(jobId, index, msg.sender);
        if (_committed(jobId, proof.sealsMask, index)) revert AlreadyCommitted(jobId, index);
        _seals[jobId][index] = seal;
        ++job.committed;
        job.status = JobStatus.InProgress;
        emit SealCommitted(jobId, index, worker, seal);
    }

    /// @notice Commits the seals of several assignees of one or many jobs in one call. Every worker other
    /// than the caller authorizes all its seals in the call with one EIP-712 signature (`SealSignature`).
    /// Once per job, before any of its seals was committed alone; assignees left out commit alone. A job
    /// whose record already holds exactly the item's seals (someone sent the same item first) is skipped,
    /// so a front-run item does not revert the batch; any other earlier commit reverts.
    function commitSeals(SealBatch[] calldata items, SealSignature[] calldata signatures) external nonReentrant {
        if (items.length == 0) revert EmptyBatch();
        bytes32[] memory chains = new bytes32[](signatures.length);
        for (uint256 i; i < items.length; ++i) {
            _commitSeals(items[i], signatures, chains);
        }
        for (uint256 k; k < signatures.length; ++k) {
            SealSignature calldata sig = signatures[k];
            // slither-disable-next-line unused-return
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(sealsDigest(chains[k]), sig.r, sig.vs);
            if (chains[k] == 0 || err != ECDSA.RecoverError.NoError || signer != sig.worker) {
                revert InvalidSealSignature(sig.worker);
            }
        }
    }

    /// @notice Aggregated opening: at least `quorum` openings of the same digest finalize the job in one
    /// call, once all assignees have committed or the commit deadline has passed. Anyone may call; the
    /// listed assignees are paid in this call (or held for the dispute window).
    /// @param openings Strictly ascending by index. An assignee that already revealed on-chain may be
    /// listed with any salt.
    function finalize(uint256 jobId, bytes32 resultDigest, Proof calldata proof, Opening[] calldata openings)
        external
        nonReentrant
    {
        _finalize(jobId, resultDigest, proof, openings);
    }

    /// @notice `finalize` for many jobs in one call. Jobs already finalized (or ended) are skipped, so one
    /// front-run item does not revert the batch.
    function finalizeMany(Finalization[] calldata items) external nonReentrant {
        if (items.length == 0) revert EmptyBatch();
        for (uint256 i; i < items.length; ++i) {
            JobStatus status = _job(items[i].jobId).status;
            if (status != JobStatus.Open && status != JobStatus.Assigned && status != JobStatus.InProgress) continue;
            _finalize(items[i].jobId, items[i].resultDigest, items[i].proof, items[i].openings);
        }
    }

    // ================================================================== views

    /// @notice The stored job (the full spec is in its JobSubmitted event).
    function getJob(uint256 jobId) external view returns (JobInfo memory info) {
        Job storage job = _jobs[jobId];
        (info.requester, info.status, info.replicas, info.quorum) = (job.requester, job.status, job.replicas, job.quorum);
        (info.assigned, info.committed, info.settledMask, info.flags) =
            (job.assigned, job.committed, job.settledMask, job.flags);
        (info.finalizedAt, info.maxPrice, info.capabilities) = (job.finalizedAt, job.maxPrice, job.capabilities);
        (info.bidDeadline, info.commitDeadline, info.revealDeadline) =
            (job.bidDeadline, job.commitDeadline, job.revealDeadline);
        (info.disputeWindow, info.collateralBps) = (uint32(_disputeWindow(jobId, job)), _paramsOf(job).collateralBps);
        (info.record, info.resultDigest) = (job.record, job.resultDigest);
        if (job.flags & FLAG_DIGEST_IN_RECORD != 0) (info.resultDigest, info.record) = (job.record, 0);
        (info.timeLimit, info.paramsVersion, info.revealedMask) =
            (job.timeLimit, job.paramsVersion, _cold[jobId].revealedMask);
    }

    /// @notice The finalized result digest (zero until finalized).
    function resultOf(uint256 jobId) external view returns (bytes32) {
        return _digestOf(_jobs[jobId]);
    }

    /// @notice Collateral locked per assignee of `jobId`.
    function collateralOf(uint256 jobId) external view returns (uint96) {
        return _collateral(_jobs[jobId]);
    }

    /// @notice The EIP-712 digest a worker signs to let someone else commit its seals (see SealSignature).
    function sealsDigest(bytes32 seals) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SEALS_TYPEHASH, seals)));
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
        job.timeLimit = spec.timeLimit;
        job.paramsVersion = paramsVersion;
        uint8 flags = 0;
        if (spec.paymentToken != address(0)) {
            flags = FLAG_TOKEN;
            _jobTokens[jobId] = spec.paymentToken;
        }
        if (spec.disputeWindow != 0) {
            flags |= FLAG_DISPUTABLE;
            _cold[jobId].disputeWindow = spec.disputeWindow;
        }
        job.flags = flags;
        emit JobSubmitted(jobId, msg.sender, spec);
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
        MarketParams storage p = _paramsAt[paramsVersion];
        if (spec.bidWindow > p.maxBidWindow) revert BidWindowTooLong(spec.bidWindow, p.maxBidWindow);
        // Assigned at the end of the bid window at the earliest, an assignee must have time to run the job.
        uint256 earliest = block.timestamp + spec.bidWindow + spec.timeLimit + p.minCommitWindow;
        if (spec.commitDeadline < earliest) revert CommitDeadlineTooEarly(spec.commitDeadline, earliest);
        uint256 earliestReveal = uint256(spec.commitDeadline) + p.minRevealWindow;
        if (spec.revealDeadline < earliestReveal) revert RevealDeadlineTooEarly(spec.revealDeadline, earliestReveal);
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

    function _assign(uint256 jobId, SignedBid[] calldata signed) private {
        Job storage job = _job(jobId);
        _requireAssignable(jobId, job);
        uint96 collateral = _collateral(job);
        address token = _token(jobId, job);
        (Bid[] memory candidates, uint256 booked) = bidBook.rank(
            jobId, job.maxPrice, job.capabilities, _nativeOf(token, collateral), job.replicas, signed
        );
        (address[] memory workers, uint80[] memory prices, bytes32 h) =
            _lockBest(_single(jobId), job.replicas, Lock(token, collateral, job.capabilities), candidates, booked);
        uint256 n = workers.length;
        if (n < job.quorum) revert NotEnoughEligibleBids(jobId, n, job.quorum);
        job.record = h;
        job.assigned = uint8(n);
        job.status = JobStatus.Assigned;
        emit JobAssigned(jobId, workers, prices);
        if (job.bidDeadline != 0) _refundUnassigned(jobId, job); // bid mode: the assignment is final
    }

    /// @dev Open, with its bid window closed (bid mode) or nobody claimed yet (instant mode).
    function _requireAssignable(uint256 jobId, Job storage job) private view {
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        uint32 bidDeadline = job.bidDeadline;
        if (bidDeadline != 0 && block.timestamp < bidDeadline) revert BiddingStillOpen(jobId, bidDeadline);
        _requireTimeToCommit(jobId, job);
    }

    /// @dev Nobody is assigned a job it cannot finish: from now, the time limit plus the minimum commit
    /// window must fit before the commit deadline.
    function _requireTimeToCommit(uint256 jobId, Job storage job) private view {
        uint256 needed = uint256(job.timeLimit) + _paramsOf(job).minCommitWindow;
        uint256 commitDeadline = job.commitDeadline;
        if (block.timestamp + needed > commitDeadline) {
            revert AssignmentTooLate(jobId, commitDeadline > needed ? commitDeadline - needed : 0);
        }
    }

    function _single(uint256 jobId) private pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = jobId;
    }

    /// @dev What an assignment locks: `collateral` in `token` from providers with `capabilities`.
    struct Lock {
        address token;
        uint96 collateral;
        uint32 capabilities;
    }

    /// @dev Takes candidates down the ranking until `wanted` providers are in; returns them and the hash
    /// chain of the list. On-chain bids (`booked` bit i: candidates[i]) are binding, their collateral
    /// locked when they were placed: taken as they are, and released if they lose. Signed bids are locked
    /// now, which re-checks eligibility (a signer may have lost its stake).
    function _lockBest(
        uint256[] memory jobIds,
        uint256 wanted,
        Lock memory lock,
        Bid[] memory candidates,
        uint256 booked
    ) private returns (address[] memory workers, uint80[] memory prices, bytes32 h) {
        workers = new address[](wanted);
        prices = new uint80[](wanted);
        uint256 n = 0;
        uint256 taken = 0;
        for (uint256 i; i < candidates.length && n < wanted; ++i) {
            Bid memory c = candidates[i];
            if (booked & (1 << i) != 0) {
                taken |= 1 << i;
            } else if (!registry.tryLockCollateral(c.provider, jobIds, lock.token, lock.collateral, lock.capabilities)) {
                continue;
            }
            h = JobProofs.append(h, c.provider, c.price);
            (workers[n], prices[n]) = (c.provider, c.price);
            ++n;
        }
        assembly ("memory-safe") {
            mstore(workers, n)
            mstore(prices, n)
        }
        if (booked != taken) _releaseBids(jobIds[0], lock, candidates, booked & ~taken);
    }

    /// @dev Releases the collateral of the on-chain bids in `mask` (they lost).
    function _releaseBids(uint256 jobId, Lock memory lock, Bid[] memory candidates, uint256 mask) private {
        address[] memory losers = new address[](JobProofs.popcount256(mask));
        uint256 k = 0;
        for (uint256 i; i < candidates.length; ++i) {
            if (mask & (1 << i) != 0) losers[k++] = candidates[i].provider;
        }
        registry.releaseCollateral(losers, jobId, lock.token, lock.collateral, 0, "BID_LOST");
    }

    /// @dev The collateral the bid book checks against native stake: none for ERC-20 jobs (their token
    /// bond is checked when it is locked).
    function _nativeOf(address token, uint96 collateral) private pure returns (uint96) {
        return token == address(0) ? collateral : 0;
    }

    function _claim(uint256 jobId, Assignee[] calldata current) private {
        Job storage job = _job(jobId);
        if (job.bidDeadline != 0) revert NotInstantJob(jobId);
        JobStatus status = job.status;
        if (status != JobStatus.Open && status != JobStatus.Assigned && status != JobStatus.InProgress) {
            revert WrongStatus(jobId, status);
        }
        _requireTimeToCommit(jobId, job);
        if (job.assigned == job.replicas) revert JobFull(jobId);
        bytes32 h = JobProofs.listHash(current);
        if (h != job.record) revert RecordMismatch(jobId);
        for (uint256 i; i < current.length; ++i) {
            if (current[i].worker == msg.sender) revert AlreadyAssigned(jobId, msg.sender);
        }
        uint80 price = job.maxPrice;
        job.record = JobProofs.append(h, msg.sender, price);
        ++job.assigned;
        if (status == JobStatus.Open) job.status = JobStatus.Assigned;
        address[] memory workers = new address[](1);
        uint80[] memory prices = new uint80[](1);
        (workers[0], prices[0]) = (msg.sender, price);
        emit JobAssigned(jobId, workers, prices);
        if (!registry.tryLockCollateral(msg.sender, _single(jobId), _token(jobId, job), _collateral(job), job.capabilities)) {
            revert NotEligible(jobId, msg.sender);
        }
    }

    function _noBids() private pure returns (SignedBid[] calldata bids) {
        assembly ("memory-safe") {
            bids.offset := 0
            bids.length := 0
        }
    }

    // ================================================================== internals: commit and open

    function _requireCommitPhase(uint256 jobId, Job storage job) private view {
        JobStatus status = job.status;
        if (status != JobStatus.Assigned && status != JobStatus.InProgress) revert WrongStatus(jobId, status);
        if (block.timestamp >= job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
    }

    /// @dev Commits one job's seals; folds each other worker's seals into its signature chain. A job whose
    /// record already holds exactly these seals (the same call, front-run) is skipped; any other earlier
    /// commit reverts, so a caller never mistakes seals it did not get committed for committed ones.
    function _commitSeals(SealBatch calldata item, SealSignature[] calldata signatures, bytes32[] memory chains)
        private
    {
        uint256 jobId = item.jobId;
        Job storage job = _job(jobId);
        uint256 count = item.seals.length;
        if (count == 0) revert EmptyBatch();
        bool fresh = job.committed == 0;
        if (fresh) {
            _requireCommitPhase(jobId, job);
            if (job.bidDeadline == 0 && job.assigned != job.replicas) revert AssignmentNotFinal(jobId);
        }
        bytes32 h = JobProofs.listHash(item.assignees);
        uint256 mask = 0;
        bytes32[] memory seals = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            IndexedSeal calldata s = item.seals[i];
            uint256 index = s.index;
            if (index >= item.assignees.length) revert BadIndex(jobId, index);
            if (mask >> index != 0) revert IndicesNotSorted(jobId); // ascending, no repeats
            if (s.seal == 0) revert EmptySeal();
            address worker = item.assignees[index].worker;
            if (worker != msg.sender) _chainSeal(signatures, chains, worker, jobId, index, s.seal);
            mask |= 1 << index;
            seals[i] = s.seal;
        }
        bytes32 committedRecord = JobProofs.withSeals(h, uint16(mask), seals);
        if (!fresh) {
            if (job.flags & FLAG_AGGREGATED != 0 && job.record == committedRecord) return; // these very seals: done
            revert AlreadyCommitted(jobId, 0);
        }
        if (h != job.record) revert RecordMismatch(jobId);
        job.record = committedRecord;
        job.committed = uint8(count);
        job.flags |= FLAG_AGGREGATED;
        job.status = JobStatus.InProgress;
        emit SealsCommitted(jobId, uint16(mask), seals);
    }

    function _chainSeal(
        SealSignature[] calldata signatures,
        bytes32[] memory chains,
        address worker,
        uint256 jobId,
        uint256 index,
        bytes32 seal
    ) private pure {
        for (uint256 k; k < signatures.length; ++k) {
            if (signatures[k].worker == worker) {
                chains[k] = keccak256(abi.encode(chains[k], jobId, seal));
                return;
            }
        }
        revert MissingSealSignature(jobId, index);
    }

    function _finalize(uint256 jobId, bytes32 resultDigest, Proof calldata proof, Opening[] calldata openings)
        private
    {
        if (resultDigest == 0) revert EmptyResultDigest();
        Job storage job = _job(jobId);
        if (job.status != JobStatus.InProgress) revert WrongStatus(jobId, job.status);
        _requireOpeningPhase(jobId, job);
        if (openings.length < job.quorum) revert QuorumNotReached(jobId, openings.length, job.quorum);
        _verify(jobId, job, proof);
        _recordResult(jobId, job, resultDigest);
        address[] memory workers = new address[](openings.length);
        uint256[] memory prices = new uint256[](openings.length);
        uint256 agreedMask = 0;
        for (uint256 i; i < openings.length; ++i) {
            Assignee calldata a = _opened(jobId, job, proof, openings[i], resultDigest);
            uint256 bit = 1 << openings[i].index;
            if (agreedMask >= bit) revert IndicesNotSorted(jobId); // ascending, no repeats
            agreedMask |= bit;
            (workers[i], prices[i]) = (a.worker, a.price);
        }
        if (job.flags & FLAG_DISPUTABLE != 0) {
            _hold(jobId, workers, prices, agreedMask);
        } else {
            job.settledMask |= uint16(agreedMask);
            _payMany(jobId, job, workers, prices);
        }
        _storeDigest(job, resultDigest);
    }

    /// @dev Payouts wait for the dispute window: remember who agreed (assignees that revealed the digest
    /// on-chain before finalization are known by their reveal).
    function _hold(uint256 jobId, address[] memory workers, uint256[] memory prices, uint256 agreedMask) private {
        _cold[jobId].agreedMask = uint16(agreedMask);
        for (uint256 i; i < workers.length; ++i) {
            emit WorkerSettled(jobId, workers[i], WorkerOutcome.Held, prices[i]);
        }
    }

    /// @dev The assignee an opening names, if its salt opens the committed seal to `resultDigest` (or it
    /// already revealed that digest on-chain).
    function _opened(uint256 jobId, Job storage job, Proof calldata proof, Opening calldata o, bytes32 resultDigest)
        private
        view
        returns (Assignee calldata a)
    {
        a = _assignee(jobId, job, proof, o.index);
        if (!_opens(jobId, proof, o.index, a.worker, resultDigest, o.salt) && !_revealedAs(jobId, o.index, resultDigest)) {
            revert InvalidOpening(jobId, o.index);
        }
    }
}
