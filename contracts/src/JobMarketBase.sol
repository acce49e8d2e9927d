// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IBidBook} from "./interfaces/IBidBook.sol";
import {IJobMarketTypes} from "./interfaces/IJobMarket.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {JobProofs} from "./libraries/JobProofs.sol";

/// @title JobMarketBase
/// @notice Storage layout and shared rules of the job market. JobMarket (hot path) and
/// JobMarketExtension (cold path, reached by delegatecall) both inherit it, so they read and write the
/// same storage with the same code; only JobMarket's storage is ever used. Roles live in the extension
/// only (OpenZeppelin's namespaced storage): the hot path checks none, and its code stays under the limit.
/// @dev Storage per job: two packed words at submission, one `record` word at assignment (the hash of
/// the assignee list, see JobProofs), and the result digest at finalization, written over `record`
/// when every assignee is settled in that call. Seals committed alone take one word each. Callers
/// present the assignee list from events (`Proof`) instead of the contract storing a word per worker.
/// Budget accounting: a job deposits `replicas * maxPrice`; each replica's share is released exactly
/// once: refunded when the replica goes unassigned, or when its worker is settled (price to the worker
/// and `maxPrice - price` back if it agreed, all of it back otherwise).
abstract contract JobMarketBase is IJobMarketTypes, Pausable, ReentrancyGuardTransient {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint8 public constant MAX_REPLICAS = 16;
    uint256 internal constant BPS = 10_000;
    uint8 internal constant FLAG_TOKEN = 1;
    uint8 internal constant FLAG_REFUNDED = 2;
    uint8 internal constant FLAG_AGGREGATED = 4;
    uint8 internal constant FLAG_DIGEST_IN_RECORD = 8;
    uint8 internal constant FLAG_DISPUTABLE = 16;
    uint8 internal constant FLAG_OVERTURNED = 32;

    /// @dev Per job, off the hot path: written only by disputable jobs, reveals and disputes.
    struct Cold {
        uint32 disputeWindow; // set iff FLAG_DISPUTABLE
        uint16 revealedMask; // assignees that revealed on-chain (their digests are in `_revealed`)
        uint16 agreedMask; // agreeing assignees from `finalize` while payouts were held
        uint16 bondMask; // assignees owed a bond share: those agreeing when an upheld ruling was made
        uint32 disputedAt;
        uint32 ruledAt;
        uint96 bond; // the bond while Disputed; one share once Resolved
    }

    IProviderRegistry public immutable registry;
    IPaymentEscrow public immutable escrow;
    IBidBook public immutable bidBook;

    /// @notice The current version of the governed parameters (see `paramsAt`).
    uint16 public paramsVersion;
    uint256 public jobCount;

    // Written by JobMarket or by JobMarketExtension (on the same storage), hence slither's
    // "uninitialized-state" on the ones one half only reads.
    mapping(uint256 jobId => Job) internal _jobs;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 version => MarketParams) internal _paramsAt;
    /// @dev Only for ERC-20 jobs (FLAG_TOKEN): native jobs spend no storage on their token.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => address) internal _jobTokens;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(uint256 index => bytes32)) internal _seals;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(uint256 index => bytes32)) internal _revealed;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(bytes32 digest => uint256)) internal _revealCount;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => Cold) internal _cold;

    constructor(IProviderRegistry registry_, IPaymentEscrow escrow_, IBidBook bidBook_) {
        if (address(registry_) == address(0) || address(escrow_) == address(0) || address(bidBook_) == address(0)) {
            revert ZeroAddress();
        }
        registry = registry_;
        escrow = escrow_;
        bidBook = bidBook_;
    }

    // ------------------------------------------------------------------ proofs and phases

    function _job(uint256 jobId) internal view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
    }

    /// @dev Checks the presented assignee list and aggregated seals against the stored record.
    function _verify(uint256 jobId, Job storage job, Proof calldata proof) internal view {
        bool aggregated = job.flags & FLAG_AGGREGATED != 0;
        if (aggregated != (proof.sealsMask != 0)) revert RecordMismatch(jobId);
        if (aggregated && JobProofs.popcount(proof.sealsMask) != proof.seals.length) revert RecordMismatch(jobId);
        if (JobProofs.record(proof) != job.record) revert RecordMismatch(jobId);
    }

    /// @dev Assignee `index` of a verified proof, if it is not settled yet.
    function _assignee(uint256 jobId, Job storage job, Proof calldata proof, uint256 index)
        internal
        view
        returns (Assignee calldata)
    {
        if (index >= job.assigned) revert BadIndex(jobId, index);
        if (job.settledMask & (1 << index) != 0) revert AlreadySettled(jobId, index);
        return proof.assignees[index];
    }

    function _committed(uint256 jobId, uint16 sealsMask, uint256 index) internal view returns (bool) {
        return sealsMask & (1 << index) != 0 || _seals[jobId][index] != 0;
    }

    /// @dev True if `salt` opens assignee `index`'s committed seal to `resultDigest`.
    function _opens(
        uint256 jobId,
        Proof calldata proof,
        uint256 index,
        address worker,
        bytes32 resultDigest,
        bytes32 salt
    ) internal view returns (bool) {
        bytes32 committedSeal = proof.sealsMask & (1 << index) != 0
            ? proof.seals[JobProofs.rank(proof.sealsMask, index)]
            : _seals[jobId][index];
        return committedSeal != 0 && committedSeal == JobProofs.seal(jobId, worker, resultDigest, salt);
    }

    /// @dev Opening a seal reveals the digest, so it is allowed only when no one can still commit:
    /// every assignee has committed (and no more can be assigned) or the commit deadline has passed.
    function _requireOpeningPhase(uint256 jobId, Job storage job) internal view {
        if (block.timestamp > job.revealDeadline) revert RevealDeadlinePassed(jobId, job.revealDeadline);
        bool assignmentFinal = job.bidDeadline != 0 || job.assigned == job.replicas;
        bool allCommitted = assignmentFinal && job.committed == job.assigned;
        if (!allCommitted && block.timestamp < job.commitDeadline) revert OpeningNotYetAllowed(jobId);
    }

    function _recordResult(uint256 jobId, Job storage job, bytes32 resultDigest) internal {
        job.finalizedAt = uint32(block.timestamp);
        job.status = JobStatus.Finalized;
        emit JobFinalized(jobId, resultDigest);
        // A zero bid deadline marks instant mode; it is not a time comparison.
        // slither-disable-next-line incorrect-equality
        if (job.bidDeadline == 0) _refundUnassigned(jobId, job); // instant mode: claims ended
    }

    /// @dev Once every assignee is settled nothing needs the record again: the digest takes its word
    /// (5,000 gas) instead of a fresh one (22,100 gas).
    function _storeDigest(Job storage job, bytes32 resultDigest) internal {
        if (job.settledMask == (1 << job.assigned) - 1) {
            job.record = resultDigest;
            job.flags |= FLAG_DIGEST_IN_RECORD;
        } else {
            job.resultDigest = resultDigest;
        }
    }

    function _digestOf(Job storage job) internal view returns (bytes32) {
        return job.flags & FLAG_DIGEST_IN_RECORD != 0 ? job.record : job.resultDigest;
    }

    /// @dev True if assignee `index` revealed `digest` on-chain. A bit says "revealed", never the digest
    /// itself: no digest value (zero included) can stand for "not revealed".
    function _revealedAs(uint256 jobId, uint256 index, bytes32 digest) internal view returns (bool) {
        return _cold[jobId].revealedMask & (1 << index) != 0 && _revealed[jobId][index] == digest;
    }

    /// @dev Agreed with the recorded result: opened it in `finalize` while payouts were held, or revealed it.
    function _agreed(uint256 jobId, Job storage job, uint256 index) internal view returns (bool) {
        if (job.finalizedAt == 0) return false; // no result was ever recorded
        return _cold[jobId].agreedMask & (1 << index) != 0 || _revealedAs(jobId, index, _digestOf(job));
    }

    function _disputeWindow(uint256 jobId, Job storage job) internal view returns (uint256) {
        return job.flags & FLAG_DISPUTABLE == 0 ? 0 : _cold[jobId].disputeWindow;
    }

    /// @dev Payouts wait while a dispute is possible or open.
    function _held(uint256 jobId, Job storage job) internal view returns (bool) {
        JobStatus status = job.status;
        return status == JobStatus.Disputed
            || (status == JobStatus.Finalized && block.timestamp < uint256(job.finalizedAt) + _disputeWindow(jobId, job));
    }

    function _requireNotHeld(uint256 jobId, Job storage job) internal view {
        if (_held(jobId, job)) revert PayoutHeld(jobId, uint256(job.finalizedAt) + _disputeWindow(jobId, job));
    }

    /// @dev Until when assignees may still reveal: the reveal deadline, extended by the reveal grace after
    /// finalization (a finalizer that leaves agreeing workers out cannot get them slashed) and after an
    /// overturning ruling (dissenting workers can show their digest).
    function _revealEnd(uint256 jobId, Job storage job) internal view returns (uint256 end) {
        end = job.revealDeadline;
        uint256 grace = _paramsOf(job).revealGrace;
        if (job.finalizedAt != 0 && job.finalizedAt + grace > end) end = job.finalizedAt + grace;
        uint256 ruledAt = _cold[jobId].ruledAt;
        if (job.flags & FLAG_OVERTURNED != 0 && ruledAt + grace > end) end = ruledAt + grace;
    }

    function _paramsOf(Job storage job) internal view returns (MarketParams storage) {
        return _paramsAt[job.paramsVersion];
    }

    // ------------------------------------------------------------------ money

    /// @dev Pays agreeing assignees (already marked settled): one escrow call, one registry call.
    function _payMany(uint256 jobId, Job storage job, address[] memory workers, uint256[] memory prices) internal {
        if (workers.length == 0) return;
        uint256 unused = 0;
        uint256 maxPrice = job.maxPrice;
        for (uint256 i; i < prices.length; ++i) {
            unused += maxPrice - prices[i];
        }
        escrow.pay(jobId, _token(jobId, job), workers, prices, _paramsOf(job).feeBps);
        _refund(jobId, job, unused);
        _releaseAgreeing(jobId, job, workers);
    }

    /// @dev Releases agreeing workers' collateral with the reputation reward, which only a job worth it
    /// earns: paid in the native token (the one unit the threshold is in), at least `minRewardedPrice` per
    /// replica, and never for a worker that is the job's own requester (self-dealt 1-wei jobs farm nothing).
    function _releaseAgreeing(uint256 jobId, Job storage job, address[] memory workers) private {
        (address token, uint96 collateral) = (_token(jobId, job), _collateral(job));
        MarketParams storage p = _paramsOf(job);
        int32 reward = token == address(0) && job.maxPrice >= p.minRewardedPrice ? int32(uint32(p.reputationReward)) : int32(0);
        address requester = job.requester;
        uint256 own = 0;
        for (uint256 i; i < workers.length; ++i) {
            if (workers[i] == requester) ++own;
        }
        if (reward == 0 || own == 0) {
            registry.releaseCollateral(workers, jobId, token, collateral, reward, "AGREED");
            return;
        }
        for (uint256 i; i < workers.length; ++i) { // rare: one release per worker
            bool self = workers[i] == requester;
            registry.releaseCollateral(
                _one(workers[i]), jobId, token, collateral, self ? int32(0) : reward, self ? bytes32("AGREED_OWN_JOB") : bytes32("AGREED")
            );
        }
    }

    /// @dev Pays one agreeing assignee; after an upheld dispute, one bond share too if it was counted at
    /// the ruling (state first, then the trusted escrow credits it).
    function _payOne(uint256 jobId, Job storage job, uint256 index, Assignee calldata a) internal {
        job.settledMask |= uint16(1 << index);
        (address[] memory workers, uint256[] memory prices) = (new address[](1), new uint256[](1));
        (workers[0], prices[0]) = (a.worker, a.price);
        _payMany(jobId, job, workers, prices);
        Cold storage cold = _cold[jobId];
        if (job.status != JobStatus.Resolved || cold.bondMask & (1 << index) == 0) return;
        cold.bondMask &= ~uint16(1 << index);
        uint256 share = cold.bond;
        // slither-disable-next-line arbitrary-send-eth,reentrancy-eth
        if (share != 0) escrow.creditNative{value: share}(a.worker);
    }

    function _release(uint256 jobId, Job storage job, uint256 index, address worker) internal {
        job.settledMask |= uint16(1 << index);
        emit WorkerSettled(jobId, worker, WorkerOutcome.Released, 0);
        registry.releaseCollateral(_one(worker), jobId, _token(jobId, job), _collateral(job), 0, "RELEASED");
        _refundUnpaidShare(jobId, job);
    }

    function _slash(uint256 jobId, Job storage job, uint256 index, address worker, bool mismatch) internal {
        job.settledMask |= uint16(1 << index);
        MarketParams storage p = _paramsOf(job);
        uint96 collateral = _collateral(job);
        uint96 amount = uint96(uint256(collateral) * (mismatch ? p.mismatchSlashBps : p.noShowSlashBps) / BPS);
        int32 penalty = -int32(uint32(mismatch ? p.mismatchPenalty : p.noShowPenalty));
        bytes32 reason = mismatch ? bytes32("MISMATCH") : bytes32("NO_SHOW");
        emit WorkerSettled(
            jobId, worker, mismatch ? WorkerOutcome.SlashedMismatch : WorkerOutcome.SlashedNoShow, amount
        );
        address token = _token(jobId, job);
        registry.releaseCollateral(_one(worker), jobId, token, collateral, penalty, reason);
        // All to the treasury: nobody who can cause a slash (a requester's deadlines or finalize timing,
        // a finalizer's choice of openings) is paid by it.
        if (amount != 0) registry.slash(worker, jobId, token, amount, reason);
        _refundUnpaidShare(jobId, job);
    }

    /// @dev A replica whose worker is not paid returns its whole share, unless a dispute refunded it.
    function _refundUnpaidShare(uint256 jobId, Job storage job) internal {
        if (job.flags & FLAG_REFUNDED == 0) _refund(jobId, job, job.maxPrice);
    }

    function _refundUnassigned(uint256 jobId, Job storage job) internal {
        _refund(jobId, job, uint256(job.replicas - job.assigned) * job.maxPrice);
    }

    function _refund(uint256 jobId, Job storage job, uint256 amount) internal {
        if (amount != 0) escrow.refund(jobId, _token(jobId, job), job.requester, amount);
    }

    function _token(uint256 jobId, Job storage job) internal view returns (address) {
        return job.flags & FLAG_TOKEN == 0 ? address(0) : _jobTokens[jobId];
    }

    function _collateral(Job storage job) internal view returns (uint96) {
        return uint96(uint256(job.maxPrice) * _paramsOf(job).collateralBps / BPS);
    }

    function _one(address worker) private pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = worker;
    }

    // ------------------------------------------------------------------ governance

    function _setParams(MarketParams memory p) internal {
        _bound(0, p.collateralBps, 1_000, 50_000);
        _bound(1, p.mismatchSlashBps, 1_000, BPS);
        _bound(2, p.noShowSlashBps, 0, BPS);
        _bound(3, p.reputationReward, 0, 1_000);
        _bound(4, p.mismatchPenalty, 0, 10_000);
        _bound(5, p.noShowPenalty, 0, 10_000);
        _bound(6, p.feeBps, 0, 1_000);
        _bound(7, p.minCommitWindow, 1, 1 days);
        _bound(8, p.minRewardedPrice, 1, 1e24);
        _bound(9, p.minRevealWindow, 1, 1 days);
        _bound(10, p.revealGrace, 1, 7 days);
        _bound(11, p.rulingPeriod, 1 hours, 30 days);
        _bound(12, p.maxBidWindow, 60, 7 days);
        _bound(13, p.maxJobDuration, 1 hours, 90 days);
        // A bid window must leave time for the job: it counts against the job's duration.
        _bound(12, p.maxBidWindow, 60, p.maxJobDuration - 1);
        _bound(14, p.maxDisputeWindow, 0, 30 days);
        _bound(15, p.disputeBond, 0, 1e24);
        uint16 version = paramsVersion + 1; // reverts once 65,535 versions exist
        paramsVersion = version;
        _paramsAt[version] = p;
        emit ParamsUpdated(version, p);
    }

    function _bound(uint8 field, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert ParameterOutOfBounds(field, value, min, max);
    }
}
