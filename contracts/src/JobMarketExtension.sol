// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRulesUpgradeable} from
    "@openzeppelin/contracts-upgradeable/access/extensions/AccessControlDefaultAdminRulesUpgradeable.sol";
import {ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/ContextUpgradeable.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IBidBook} from "./interfaces/IBidBook.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {JobMarketBase} from "./JobMarketBase.sol";
import {JobProofs} from "./libraries/JobProofs.sol";

/// @title JobMarketExtension
/// @notice The job market's cold path: cancellation, on-chain reveals, payout claims, settlement after
/// deadlines, disputes and governance.
/// @dev Runs only by delegatecall from JobMarket (its fallback), on JobMarket's storage; its own storage
/// is never used. Calling it directly reverts, so it cannot be confused with the market.
contract JobMarketExtension is JobMarketBase, AccessControlDefaultAdminRulesUpgradeable {
    address private immutable _self;

    error DirectCall();

    constructor(IProviderRegistry registry_, IPaymentEscrow escrow_, IBidBook bidBook_)
        JobMarketBase(registry_, escrow_, bidBook_)
    {
        _self = address(this);
        _disableInitializers(); // its own storage is never used
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert DirectCall();
        _;
    }

    /// @notice The market's roles, set once by JobMarket's constructor (see `Roles`). Role storage is
    /// OpenZeppelin's namespaced (ERC-7201) layout, so it cannot collide with the market's own.
    function initialize(Roles calldata roles) external onlyDelegated initializer {
        if (roles.admin == address(0) || roles.guardian == address(0) || roles.arbiter == address(0)) {
            revert ZeroAddress();
        }
        __AccessControlDefaultAdminRules_init(roles.adminDelay, roles.admin);
        _grantRole(GOVERNOR_ROLE, roles.admin);
        _grantRole(PAUSER_ROLE, roles.guardian);
        _grantRole(ARBITER_ROLE, roles.arbiter);
    }

    /// @notice Cancels an Open job that has no assignee yet; the whole budget is refunded. Requester only.
    function cancel(uint256 jobId) external onlyDelegated nonReentrant whenNotPaused {
        Job storage job = _job(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        job.status = JobStatus.Cancelled;
        emit JobCancelled(jobId);
        _refund(jobId, job, uint256(job.replicas) * job.maxPrice);
        _releaseBook(jobId, job);
    }

    /// @notice Fallback opening by the assignee itself. Before finalization (until the reveal deadline) it
    /// records the digest, and the quorum-th matching reveal finalizes the job. After finalization (until
    /// the reveal deadline or the reveal grace after finalization, whichever is later) a matching reveal
    /// is paid (or held during the dispute window); a different digest is slashed, unless a dispute is
    /// still possible or open: then it is recorded and settled by the ruling. After an overturning ruling,
    /// reveals are recorded for the reveal grace, so dissenting workers are released rather than slashed.
    function reveal(uint256 jobId, Proof calldata proof, uint8 index, bytes32 resultDigest, bytes32 salt)
        external
        onlyDelegated
        nonReentrant
    {
        if (resultDigest == 0) revert EmptyResultDigest();
        Job storage job = _job(jobId);
        Assignee calldata a = _provenAssignee(jobId, job, proof, index);
        if (a.worker != msg.sender) revert NotYourIndex(jobId, index, msg.sender);
        if (!_opens(jobId, proof, index, a.worker, resultDigest, salt)) revert InvalidOpening(jobId, index);
        Cold storage cold = _cold[jobId];
        uint16 bit = uint16(1 << index);
        if (cold.revealedMask & bit != 0 || cold.agreedMask & bit != 0) revert AlreadyRevealed(jobId, index);
        JobStatus status = job.status;
        if (status == JobStatus.InProgress) {
            _requireOpeningPhase(jobId, job);
        } else if (
            status == JobStatus.Finalized || status == JobStatus.Disputed || status == JobStatus.Resolved
                || (status == JobStatus.Failed && job.flags & FLAG_OVERTURNED != 0)
        ) {
            uint256 end = _revealEnd(jobId, job);
            if (block.timestamp > end) revert RevealDeadlinePassed(jobId, uint32(end));
        } else {
            revert WrongStatus(jobId, status);
        }
        cold.revealedMask |= bit;
        _revealed[jobId][index] = resultDigest;
        emit ResultRevealed(jobId, index, a.worker, resultDigest);
        if (status == JobStatus.InProgress) {
            uint256 count = ++_revealCount[jobId][resultDigest];
            if (count < job.quorum) return;
            // The earlier matching revealers are paid by claimPayout.
            _recordResult(jobId, job, resultDigest);
            _agree(jobId, job, index, a);
            _storeDigest(job, resultDigest);
        } else if (status == JobStatus.Failed) {
            return; // overturned: `settle` releases dissenters and slashes those who agreed
        } else if (resultDigest == _digestOf(job)) {
            _agree(jobId, job, index, a);
        } else if (!_held(jobId, job)) {
            _slash(jobId, job, index, a.worker, true);
        } // else: a dissent while a dispute is possible or open, settled after the ruling
    }

    /// @notice Pays an agreeing assignee whose payout was held (dispute window) or who revealed on-chain
    /// before the job finalized. Anyone may call; the money is credited to the worker.
    function claimPayout(uint256 jobId, Proof calldata proof, uint8 index) external onlyDelegated nonReentrant {
        Job storage job = _job(jobId);
        JobStatus status = job.status;
        if (status != JobStatus.Finalized && status != JobStatus.Resolved) revert WrongStatus(jobId, status);
        _requireNotHeld(jobId, job);
        Assignee calldata a = _provenAssignee(jobId, job, proof, index);
        if (!_agreed(jobId, job, index)) revert NotAgreed(jobId, index);
        _payOne(jobId, job, index, a);
    }

    /// @notice Settles a job after its deadlines: a job without quorum fails (full refund); every
    /// assignee not yet settled is paid (agreed), released (opened a digest of a failed job) or slashed
    /// (no-show, or a wrong or withheld result). Anyone may call; workers act as keepers. A finalized job
    /// is settled only after the reveal grace, so agreeing workers left out of `finalize` can reveal.
    function settle(uint256 jobId, Proof calldata proof) external onlyDelegated nonReentrant {
        Job storage job = _job(jobId);
        JobStatus status = job.status;
        if (status == JobStatus.Open) {
            if (block.timestamp < job.commitDeadline) revert SettlementTooEarly(jobId, job.commitDeadline);
            _fail(jobId, job);
            _releaseBook(jobId, job);
            return;
        } else if (status == JobStatus.Assigned || status == JobStatus.InProgress) {
            if (block.timestamp <= job.revealDeadline) revert SettlementTooEarly(jobId, uint256(job.revealDeadline) + 1);
            _fail(jobId, job);
        } else if (status == JobStatus.Finalized || status == JobStatus.Resolved || status == JobStatus.Failed) {
            uint256 end = _revealEnd(jobId, job);
            if (block.timestamp <= end) revert SettlementTooEarly(jobId, end + 1);
            _requireNotHeld(jobId, job);
        } else {
            revert WrongStatus(jobId, status);
        }
        uint256 unsettled = ((1 << job.assigned) - 1) & ~uint256(job.settledMask);
        if (unsettled == 0) revert NothingToSettle(jobId);
        _verify(jobId, job, proof);
        bool success = job.status != JobStatus.Failed;
        uint16 revealedMask = _cold[jobId].revealedMask;
        for (uint256 i; i < job.assigned; ++i) {
            if (unsettled & (1 << i) == 0) continue;
            Assignee calldata a = proof.assignees[i];
            if (!_committed(jobId, proof.sealsMask, i)) {
                _slash(jobId, job, i, a.worker, false); // no-show
            } else if (_agreed(jobId, job, i)) {
                if (success) _payOne(jobId, job, i, a);
                else _slash(jobId, job, i, a.worker, true); // agreed with an overturned result
            } else if (success) {
                _slash(jobId, job, i, a.worker, true); // wrong or withheld result
            } else if (revealedMask & (1 << i) != 0) {
                _release(jobId, job, i, a.worker); // opened: no quorum, or dissented from an overturned result
            } else {
                _slash(jobId, job, i, a.worker, false); // committed but never opened
            }
        }
    }

    /// @notice The requester disputes a finalized result within the dispute window, posting the bond.
    /// Payouts stay held until the ruling. Allowed while the market is paused: the window keeps running.
    function dispute(uint256 jobId) external payable onlyDelegated nonReentrant {
        Job storage job = _job(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (job.status != JobStatus.Finalized) revert WrongStatus(jobId, job.status);
        if (job.flags & FLAG_DISPUTABLE == 0) revert DisputeNotAllowed(jobId);
        uint256 closesAt = uint256(job.finalizedAt) + _cold[jobId].disputeWindow;
        if (block.timestamp >= closesAt) revert DisputeWindowClosed(jobId, closesAt);
        uint96 bond = _paramsOf(job).disputeBond;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        Cold storage cold = _cold[jobId];
        (cold.bond, cold.disputedAt) = (bond, uint32(block.timestamp));
        job.status = JobStatus.Disputed;
        emit DisputeOpened(jobId, bond);
    }

    /// @notice Arbiter's ruling, within the ruling period. Upheld: the job is Resolved and the bond is
    /// shared by the workers agreeing at the ruling, with their payouts. Overturned: the job Fails, the
    /// requester gets the bond and the budget back; after the reveal grace, workers that agreed with the
    /// overturned result are slashed and workers that revealed a different digest are released.
    function resolveDispute(uint256 jobId, bool resultUpheld) external onlyDelegated onlyRole(ARBITER_ROLE) nonReentrant {
        Job storage job = _job(jobId);
        uint256 endsAt = uint256(_cold[jobId].disputedAt) + _paramsOf(job).rulingPeriod;
        // After the ruling period only the default applies: at any moment exactly one of the two can.
        if (job.status == JobStatus.Disputed && block.timestamp >= endsAt) revert RulingPeriodOver(jobId, endsAt);
        _rule(jobId, resultUpheld);
    }

    /// @notice Anyone applies the default ruling once the arbiter let the ruling period pass: the result is
    /// upheld (as if the arbiter had), so an absent arbiter cannot keep budget, bond and collateral locked.
    function applyDefaultRuling(uint256 jobId) external onlyDelegated nonReentrant {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Disputed) revert WrongStatus(jobId, job.status);
        uint256 endsAt = uint256(_cold[jobId].disputedAt) + _paramsOf(job).rulingPeriod;
        if (block.timestamp < endsAt) revert RulingPeriodNotOver(jobId, endsAt);
        emit DisputeDefaulted(jobId);
        _rule(jobId, true);
    }

    /// @notice Sets every governed parameter at once (bounds checked per field; see `_setParams`).
    function setParams(MarketParams calldata params_) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    /// @notice Emergency stop of new work: submissions, cancellations, assignments and claims.
    /// @dev Jobs already assigned run to completion (commit, open, settle): their deadlines keep running,
    /// and stopping them would slash workers for the pause. Payouts stay in the escrow ledger, whose own
    /// pause stops withdrawals.
    function pause() external onlyDelegated onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the emergency stop.
    function unpause() external onlyDelegated onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice The governed parameters in force now (new jobs get them).
    function params() external view returns (MarketParams memory) {
        return _paramsAt[paramsVersion];
    }

    /// @notice The governed parameters of `version` (a job's version is in `getJob`).
    function paramsAt(uint16 version) external view returns (MarketParams memory) {
        return _paramsAt[version];
    }

    /// @notice A seal committed alone, and whether (and what) assignee `index` revealed on-chain.
    function workOf(uint256 jobId, uint256 index)
        external
        view
        returns (bytes32 seal, bool revealed, bytes32 revealedDigest)
    {
        revealed = index < 16 && _cold[jobId].revealedMask & (1 << index) != 0;
        return (_seals[jobId][index], revealed, _revealed[jobId][index]);
    }

    /// @notice The job's payment token (`address(0)`: native).
    function paymentTokenOf(uint256 jobId) external view returns (address) {
        return _token(jobId, _jobs[jobId]);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Settled check first, so a settled assignee gets AlreadySettled rather than RecordMismatch
    /// (once all are settled the record word holds the digest).
    function _provenAssignee(uint256 jobId, Job storage job, Proof calldata proof, uint256 index)
        private
        view
        returns (Assignee calldata a)
    {
        if (index < job.assigned && job.settledMask & (1 << index) != 0) revert AlreadySettled(jobId, index);
        _verify(jobId, job, proof);
        a = _assignee(jobId, job, proof, index);
    }

    /// @dev A revealing assignee that agrees: paid now, or held while a dispute is possible or open (its
    /// reveal counts it as agreeing at the ruling).
    function _agree(uint256 jobId, Job storage job, uint256 index, Assignee calldata a) private {
        if (_held(jobId, job)) emit WorkerSettled(jobId, a.worker, WorkerOutcome.Held, a.price);
        else _payOne(jobId, job, index, a);
    }

    /// @dev Applies a ruling on a Disputed job (see `resolveDispute`).
    function _rule(uint256 jobId, bool resultUpheld) private {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Disputed) revert WrongStatus(jobId, job.status);
        Cold storage cold = _cold[jobId];
        uint256 bond = cold.bond;
        cold.ruledAt = uint32(block.timestamp);
        emit DisputeResolved(jobId, resultUpheld);
        if (resultUpheld) {
            job.status = JobStatus.Resolved;
            // The bond is owed to the workers agreeing now; later reveals are paid but share no bond.
            uint256 mask = cold.agreedMask;
            bytes32 digest = _digestOf(job);
            for (uint256 i; i < job.assigned; ++i) {
                if (_revealedAs(jobId, i, digest)) mask |= 1 << i;
            }
            uint256 agreeing = JobProofs.popcount(uint16(mask));
            // Equal shares; the rounding remainder (`dust`) goes to the treasury, so nothing is lost.
            // slither-disable-next-line divide-before-multiply
            uint256 share = bond / agreeing;
            (cold.bond, cold.bondMask) = (uint96(share), uint16(mask));
            uint256 dust = bond - share * agreeing;
            if (dust != 0) escrow.creditNative{value: dust}(escrow.treasury());
        } else {
            job.status = JobStatus.Failed;
            cold.bond = 0;
            // Every unsettled replica's share goes back now; settling those workers later refunds nothing.
            job.flags |= FLAG_REFUNDED | FLAG_OVERTURNED;
            uint256 unsettled = job.assigned - JobProofs.popcount(job.settledMask);
            _refund(jobId, job, unsettled * job.maxPrice);
            if (bond != 0) escrow.creditNative{value: bond}(job.requester);
        }
    }

    /// @dev A job that ends unassigned releases the collateral its on-chain bids locked.
    function _releaseBook(uint256 jobId, Job storage job) private {
        if (job.bidDeadline == 0) return; // instant mode has no book
        address[] memory bidders = bidBook.bidders(jobId);
        if (bidders.length == 0) return;
        registry.releaseCollateral(bidders, jobId, _token(jobId, job), _collateral(job), 0, "BID_RELEASED");
    }

    function _msgSender() internal view override(Context, ContextUpgradeable) returns (address) {
        return msg.sender;
    }

    function _msgData() internal pure override(Context, ContextUpgradeable) returns (bytes calldata) {
        return msg.data;
    }

    function _contextSuffixLength() internal pure override(Context, ContextUpgradeable) returns (uint256) {
        return 0;
    }

    function _fail(uint256 jobId, Job storage job) private {
        job.status = JobStatus.Failed;
        emit JobFailed(jobId);
        // Unassigned replicas (never assigned, or instant-mode claims that did not come) go back now.
        if (job.assigned == 0 || job.bidDeadline == 0) _refundUnassigned(jobId, job);
    }
}
