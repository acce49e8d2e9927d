// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "../utils/Vm.sol";
import {TestMath} from "../utils/TestMath.sol";
import {PaymentEscrow} from "../../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../../src/ProviderRegistry.sol";
import {BidBook} from "../../src/BidBook.sol";
import {IJobMarket, IJobMarketTypes} from "../../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../../src/interfaces/IPaymentEscrow.sol";
import {JobProofs} from "../../src/libraries/JobProofs.sol";
import {TestToken} from "../mocks/Tokens.sol";

/// @notice forge's console, without forge-std: forge decodes calls to this address.
library console {
    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory s, uint256 v) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", s, v));
        ok;
    }
}

/// @notice Drives the whole protocol (market, bid book, escrow, registry) through random, mostly valid
/// sequences for the invariant suite, and keeps the model the invariants compare the contracts with.
/// @dev Every action takes fuzzed seeds, picks an existing job or actor by index modulo the counts, and
/// returns early (no revert) when its preconditions do not hold. The market stores only a hash of each
/// assignee list, so the handler rebuilds the lists (and aggregated seals) from the events it records,
/// like an SDK does. Logs are recorded per action (`vm.recordLogs` resets the buffer) and decoded at its
/// end; logs of a call that reverted inside a try/low-level call are discarded, because forge keeps them.
contract ProtocolHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 public constant MAX_JOBS = 40;
    /// @dev New jobs wait while this many are in flight, so that jobs get through their lifecycle.
    uint256 public constant MAX_ACTIVE = 8;
    uint32 internal constant WASI = 1;
    uint32 internal constant GPU = 2;
    uint256 internal constant ACTIONS = 27;

    // action ids (counters)
    uint256 internal constant A_SUBMIT = 0;
    uint256 internal constant A_SUBMIT_BATCH = 1;
    uint256 internal constant A_BID = 2;
    uint256 internal constant A_ASSIGN = 3;
    uint256 internal constant A_ASSIGN_BATCH = 4;
    uint256 internal constant A_CLAIM = 5;
    uint256 internal constant A_COMMIT = 6;
    uint256 internal constant A_COMMIT_SEALS = 7;
    uint256 internal constant A_FINALIZE = 8;
    uint256 internal constant A_FORGE = 9;
    uint256 internal constant A_REVEAL = 10;
    uint256 internal constant A_CLAIM_PAYOUT = 11;
    uint256 internal constant A_SETTLE = 12;
    uint256 internal constant A_CANCEL = 13;
    uint256 internal constant A_DISPUTE = 14;
    uint256 internal constant A_RESOLVE = 15;
    uint256 internal constant A_WITHDRAW = 16;
    uint256 internal constant A_ADD_STAKE = 17;
    uint256 internal constant A_UNBOND = 18;
    uint256 internal constant A_WITHDRAW_UNBONDED = 19;
    uint256 internal constant A_ARBITER_SLASH = 20;
    uint256 internal constant A_WARP = 21;
    uint256 internal constant A_REGISTER = 22;
    uint256 internal constant A_DEREGISTER = 23;
    uint256 internal constant A_DEPOSIT_BOND = 24;
    uint256 internal constant A_WITHDRAW_BOND = 25;
    uint256 internal constant A_SET_FEE = 26;

    IJobMarket public immutable market;
    PaymentEscrow public immutable escrow;
    ProviderRegistry public immutable registry;
    BidBook public immutable book;
    TestToken public immutable token;
    address public immutable arbiter;
    address public immutable treasury;
    uint96 internal immutable minStake;
    uint96 public immutable disputeBond;

    address[] internal _providers;
    uint256[] internal _keys;
    address[] internal _requesters;
    /// @dev Every address the escrow can credit here: requesters (refunds, dispute bonds back), providers
    /// (payouts, bond shares), the treasury (fees, every slash in the native token or the job's token, dust).
    address[] internal _holders;

    /// @notice The handler's model of one job (ids are 1..jobCount: the handler submits every job).
    struct JobModel {
        address requester;
        address token;
        uint256 budget; // replicas * maxPrice, deposited at submission
        uint80 maxPrice;
        uint8 replicas;
        uint8 quorum;
        uint32 group; // jobs of one submitJobs batch share their terms (assignBatch candidates)
        uint16 byzMask; // assignees that compute (and commit) the byzantine digest
        uint16 committedMask; // assignees whose seal the handler committed
        uint16 aggMask; // aggregated seals (SealsCommitted)
        uint16 openedMask; // assignees opened by the finalizing `finalize` call
        bool finalized; // JobFinalized seen
        bytes32 finalDigest;
        uint8 finalCount; // assignees that had committed `finalDigest` and opened it (call or reveal)
        uint8 byzAtFinal; // byzantine assignees when the job finalized
        uint256 paidGross; // sum of PaymentEscrow.Paid amounts for the job (before fees)
        uint256 fees; // sum of PaymentEscrow.Paid fees for the job (to the treasury)
        uint16 feeBps; // the protocol fee in force at submission (the handler's own record, see `setFee`)
        uint256 refunded; // sum of PaymentEscrow.Refunded amounts for the job
        bool settled; // a handler `settle` succeeded after the deadlines
        uint256 bond; // dispute bond posted
    }

    mapping(uint256 jobId => JobModel) internal _m;
    mapping(uint256 jobId => IJobMarketTypes.Assignee[]) internal _lists;
    mapping(uint256 jobId => bytes32[]) internal _aggSeals;
    mapping(uint256 jobId => mapping(uint256 index => bytes32)) internal _revealed;
    mapping(uint256 jobId => mapping(address worker => uint256)) public paidCount;
    mapping(uint256 jobId => uint16) internal _pendingOpen;
    uint256 public jobs;
    uint32 internal _groups;
    uint256[] internal _active; // jobs not yet terminal and fully settled

    // ghost flags: each must stay zero
    uint256 public doublePaid; // a worker paid twice for one job
    uint256 public strangerPaid; // a payee that is not an assignee of the job
    uint256 public wrongRefundee; // a refund to someone else than the requester
    uint256 public wrongToken; // a payout or refund in another token than the job's
    uint256 public unknownJobMoney; // Paid/Refunded for a job the handler never submitted
    uint256 public wrongFee; // a Paid event whose fee is not the job's submission-time fee, or miscomputed
    uint256 public forgeryAccepted; // a finalize with an invalid opening, or short of the quorum, went through
    uint256 public sealMismatch; // SealCommitted with a seal the handler did not compute
    uint256 public forgeryAttempts;
    uint256 public secondOpeningAccepted; // an assignee opened by `finalize` revealed again (counted twice)
    uint256 public slashAccepted; // a registry slash by someone else than the market went through
    uint256 public lockedStakeUnbonded; // a provider unbonded (part of) its locked stake
    uint256 public lockedBondWithdrawn; // a provider withdrew (part of) its locked token bond
    uint256 public slashAttempts;
    /// @dev The protocol fee of the market's current params version, as the handler set it: the fee every
    /// job submitted now must pay, whatever governance sets later.
    uint16 public currentFeeBps;

    uint256 public currentTime;
    uint256 internal _entropy;
    uint256[ACTIONS] public calls;
    uint256[ACTIONS] public done;

    constructor(
        IJobMarket market_,
        PaymentEscrow escrow_,
        ProviderRegistry registry_,
        BidBook book_,
        TestToken token_,
        address arbiter_,
        address[] memory providers_,
        uint256[] memory keys_,
        address[] memory requesters_
    ) {
        market = market_;
        escrow = escrow_;
        registry = registry_;
        book = book_;
        token = token_;
        arbiter = arbiter_;
        treasury = escrow_.treasury();
        minStake = registry_.minStake();
        disputeBond = market_.params().disputeBond;
        currentFeeBps = market_.params().feeBps;
        _providers = providers_;
        _keys = keys_;
        _requesters = requesters_;
        for (uint256 i; i < requesters_.length; ++i) {
            _holders.push(requesters_[i]);
        }
        for (uint256 i; i < providers_.length; ++i) {
            _holders.push(providers_[i]);
        }
        _holders.push(treasury);
        currentTime = block.timestamp;
    }

    /// @dev Restores the handler's clock, records this action's logs, decodes them at the end.
    modifier act(uint256 id, uint256 seed) {
        if (block.timestamp < currentTime) vm.warp(currentTime);
        vm.recordLogs();
        _entropy = seed;
        ++calls[id];
        _;
        _drain();
    }

    // ================================================================== submission

    function submit(uint256 seed) external act(A_SUBMIT, seed) {
        if (jobs >= MAX_JOBS) return;
        _prune();
        if (_active.length >= MAX_ACTIVE) return;
        IJobMarketTypes.JobSpec memory s = _spec(seed);
        s.paymentToken = _r(seed, 10) % 3 == 0 ? address(token) : address(0);
        address who = _requesters[_r(seed, 11) % _requesters.length];
        uint256 budget = uint256(s.replicas) * s.maxPricePerReplica;
        uint256 value = s.paymentToken == address(0) ? budget : 0;
        vm.prank(who);
        uint256 id = market.submitJob{value: value}(s);
        _record(id, s, who, 0);
        ++done[A_SUBMIT];
    }

    /// @dev 2-3 jobs with the same terms (native and token mixed) in one submitJobs call.
    function submitBatch(uint256 seed) external act(A_SUBMIT_BATCH, seed) {
        uint256 k = _r(seed, 12) % 4 == 0 ? 3 : 2;
        if (jobs + k > MAX_JOBS) return;
        _prune();
        if (_active.length >= MAX_ACTIVE) return;
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](k);
        uint256 value;
        for (uint256 i; i < k; ++i) {
            specs[i] = _spec(seed);
            specs[i].paymentToken = _r(seed, 20 + i) % 3 == 0 ? address(token) : address(0);
            if (specs[i].paymentToken == address(0)) value += uint256(specs[i].replicas) * specs[i].maxPricePerReplica;
        }
        address who = _requesters[_r(seed, 11) % _requesters.length];
        vm.prank(who);
        uint256 first = market.submitJobs{value: value}(specs);
        uint32 group = ++_groups;
        for (uint256 i; i < k; ++i) {
            _record(first + i, specs[i], who, group);
        }
        ++done[A_SUBMIT_BATCH];
    }

    // ================================================================== assignment

    function bid(uint256 jobSeed, uint256 provSeed, uint256 priceSeed) external act(A_BID, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _inBiddingAlone);
        if (id == 0) return;
        uint96 collateral = market.collateralOf(id);
        address t = _m[id].token;
        uint80 price = uint80(TestMath.bound(priceSeed, j.maxPrice / 2 + 1, j.maxPrice));
        for (uint256 k; k < _providers.length; ++k) {
            address p = _providers[(provSeed % _providers.length + k) % _providers.length];
            // a bid is binding: it enters the book only if the job's collateral can be locked
            if (!_canLock(p, j.capabilities, t, collateral)) continue;
            vm.prank(p);
            try book.bid(id, price, 600) {
                ++done[A_BID];
            } catch {
                vm.recordLogs(); // drop the reverted call's logs (not competitive)
            }
            return;
        }
    }

    /// @dev `assign` (on-chain bids only) or `assignWithSignedBids` (plus signed bids), bid or instant mode.
    function assign(uint256 jobSeed, uint256 provSeed, uint256 countSeed, uint256 priceSeed)
        external
        act(A_ASSIGN, jobSeed)
    {
        // batch jobs too, one call in four (their batch may never come)
        (uint256 id, IJobMarketTypes.JobInfo memory j) =
            _pick(jobSeed, countSeed % 4 == 0 ? _assignable : _assignableAlone);
        if (id == 0) {
            // move on to the end of some bid window
            (id, j) = _pick(jobSeed, _inBidding);
            if (id == 0) return;
            _warpTo(j.bidDeadline);
        }
        (IJobMarketTypes.SignedBid[] memory bids, uint256 eligible) =
            _signedBidsFor(id, j, provSeed, countSeed, priceSeed);
        if (eligible < j.quorum) return;
        if (bids.length == 0) market.assign(id);
        else market.assignWithSignedBids(id, bids);
        ++done[A_ASSIGN];
    }

    /// @dev Jobs of one submitJobs batch (same terms, empty books) assigned together with batch bids.
    function assignBatch(uint256 jobSeed, uint256 provSeed, uint256 countSeed) external act(A_ASSIGN_BATCH, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _batchAssignable);
        if (id == 0) {
            // move on to the end of a batch's bid window
            (id, j) = _pick(jobSeed, _batchInBidding);
            if (id == 0) return;
            _warpTo(j.bidDeadline);
        }
        uint256[] memory ids = _groupMembers(id);
        if (ids.length < 2) return;
        (IJobMarketTypes.SignedBid[] memory bids, uint256 eligible) = _batchBids(ids, j, provSeed, countSeed);
        if (eligible < j.quorum) return;
        market.assignBatch(ids, bids);
        ++done[A_ASSIGN_BATCH];
    }

    /// @dev Instant mode: eligible providers claim replicas at the max price, one call each: one
    /// provider, or (one call in two) as many as it takes to reach the quorum.
    function claim(uint256 jobSeed, uint256 provSeed) external act(A_CLAIM, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _claimable);
        if (id == 0) return;
        uint96 collateral = market.collateralOf(id);
        address t = _m[id].token;
        uint256 wanted = provSeed % 2 == 0 && j.assigned < j.quorum ? j.quorum - j.assigned : 1;
        uint256 claimed;
        for (uint256 s; s < _providers.length && claimed < wanted; ++s) {
            address p = _providers[(provSeed % _providers.length + s) % _providers.length];
            IJobMarketTypes.Assignee[] memory current = _lists[id];
            if (_listed(current, p) || !_canLock(p, j.capabilities, t, collateral)) continue;
            vm.prank(p);
            market.claimJob(id, current);
            _drain(); // the new assignee joins the list before the next claim
            vm.recordLogs();
            ++claimed;
        }
        if (claimed != 0) ++done[A_CLAIM];
    }

    function cancel(uint256 jobSeed) external act(A_CANCEL, jobSeed) {
        if (jobSeed % 6 != 0) return; // keep most jobs alive
        (uint256 id,) = _pick(jobSeed >> 3, _isOpen);
        if (id == 0) return;
        vm.prank(_m[id].requester);
        market.cancel(id);
        ++done[A_CANCEL];
    }

    // ================================================================== sealed results

    /// @dev Assignees commit their own seals (honest or byzantine digest, by their role), one call each:
    /// one assignee, or (one call in two) every assignee still missing, except one in eight no-shows.
    function commit(uint256 jobSeed, uint256 idxSeed) external act(A_COMMIT, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _hasUncommitted);
        if (id == 0) return;
        bool all = idxSeed % 2 == 0;
        for (uint256 s; s < j.assigned; ++s) {
            uint256 i = (idxSeed % j.assigned + s) % j.assigned;
            if (_m[id].committedMask & (1 << i) != 0) continue;
            if (all && s != 0 && _r(idxSeed, i) % 8 == 0) continue; // a no-show
            address w = _lists[id][i].worker;
            bytes32 seal = JobProofs.seal(id, w, _digestOf(id, i), _salt(id, w));
            IJobMarketTypes.Proof memory proof = _proof(id);
            vm.prank(w);
            market.commit(id, proof, uint8(i), seal);
            _m[id].committedMask |= uint16(1 << i);
            if (!all) break;
        }
        ++done[A_COMMIT];
    }

    /// @dev Aggregated commit of one or two jobs, by one of the assignees or by a relayer (this contract);
    /// every worker other than the caller signs the chain of its seals in the call.
    function commitSeals(uint256 jobSeed, uint256 maskSeed, uint256 callerSeed) external act(A_COMMIT_SEALS, jobSeed) {
        (uint256 id1,) = _pick(jobSeed, _aggregatable);
        if (id1 == 0) return;
        uint256 id2;
        if (maskSeed % 2 == 0) {
            (id2,) = _pick(jobSeed >> 1, _aggregatable);
            if (id2 == id1) id2 = 0;
        }
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](id2 == 0 ? 1 : 2);
        items[0] = _sealBatch(id1, maskSeed);
        if (id2 != 0) items[1] = _sealBatch(id2, maskSeed >> 32);
        address caller = address(this);
        if (callerSeed % 3 != 0) caller = _lists[id1][callerSeed % _lists[id1].length].worker;
        IJobMarketTypes.SealSignature[] memory sigs = _sealSignatures(items, caller);
        if (caller == address(this)) {
            market.commitSeals(items, sigs);
        } else {
            vm.prank(caller);
            market.commitSeals(items, sigs);
        }
        ++done[A_COMMIT_SEALS];
    }

    /// @dev Aggregated opening by a relayer: a random subset (at least `quorum`) of the assignees that
    /// committed the chosen digest. The digest is the honest one, or the byzantine one when the
    /// byzantine assignees alone reach the quorum.
    function finalize(uint256 jobSeed, uint256 seed) external act(A_FINALIZE, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _finalizable);
        if (id == 0) {
            // a job whose seals already reach a quorum, waiting for its commit deadline
            (id, j) = _pick(jobSeed, _finalizableLater);
            if (id == 0) return;
            _warpTo(j.commitDeadline);
        }
        JobModel storage m = _m[id];
        bytes32 digest = _honest(id);
        uint256 byzCommitted = TestMath.popcount(m.committedMask & m.byzMask);
        if (byzCommitted >= j.quorum && seed % 2 == 0) digest = _byzantine(id);
        (IJobMarketTypes.Opening[] memory o, uint16 mask) = _openingsFor(id, j, digest, seed);
        if (o.length < j.quorum) return;
        IJobMarketTypes.Proof memory proof = _proof(id);
        _pendingOpen[id] = mask;
        if (seed % 5 == 0) {
            IJobMarketTypes.Finalization[] memory items = new IJobMarketTypes.Finalization[](1);
            items[0] = IJobMarketTypes.Finalization(id, digest, proof, o);
            market.finalizeMany(items);
        } else {
            market.finalize(id, digest, proof, o);
        }
        ++done[A_FINALIZE];
    }

    /// @dev Attack: finalize with at least one opening that does not open the claimed digest (a worker's
    /// real salt for a seal of another digest, or a wrong salt), or (one call in three) with valid
    /// openings one short of the quorum. Must revert; if it does not, the model takes it in (and
    /// `forgeryAccepted` counts it).
    function forgeFinalize(uint256 jobSeed, uint256 seed) external act(A_FORGE, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _openable);
        if (id == 0) return;
        bytes32 digest = seed % 2 == 0 ? _honest(id) : _byzantine(id);
        (IJobMarketTypes.Opening[] memory o, uint16 mask) =
            (seed >> 16) % 3 == 0 ? _shortOpenings(id, j, digest) : _forgedOpenings(id, j, digest, seed);
        if (o.length == 0) return;
        ++forgeryAttempts;
        _drain(); // keep what happened so far; the attempt's logs are decoded only if it succeeds
        _pendingOpen[id] = mask;
        (bool ok,) = address(market).call(abi.encodeCall(IJobMarket.finalize, (id, digest, _proof(id), o)));
        if (ok) {
            ++forgeryAccepted;
        } else {
            vm.recordLogs(); // drop the reverted call's logs
            _pendingOpen[id] = 0;
        }
        ++done[A_FORGE];
    }

    /// @dev Valid openings of `digest`, one fewer than the quorum (empty if the quorum is 1 or there are
    /// not that many).
    function _shortOpenings(uint256 id, IJobMarketTypes.JobInfo memory j, bytes32 digest)
        internal
        view
        returns (IJobMarketTypes.Opening[] memory o, uint16 mask)
    {
        if (j.quorum < 2) return (o, 0);
        o = new IJobMarketTypes.Opening[](j.quorum - 1);
        uint256 k;
        for (uint256 i; i < j.assigned && k < o.length; ++i) {
            if (_m[id].committedMask & (1 << i) == 0 || _digestOf(id, i) != digest) continue;
            o[k++] = IJobMarketTypes.Opening(uint8(i), _salt(id, _lists[id][i].worker));
            mask |= uint16(1 << i);
        }
        if (k < o.length) return (new IJobMarketTypes.Opening[](0), 0);
    }

    /// @dev Every committed assignee (topped up with uncommitted ones to the quorum) with its real salt;
    /// if all of them happen to open `digest`, one salt that matters is corrupted. Empty if no opening
    /// can be made invalid.
    function _forgedOpenings(uint256 id, IJobMarketTypes.JobInfo memory j, bytes32 digest, uint256 seed)
        internal
        view
        returns (IJobMarketTypes.Opening[] memory o, uint16 mask)
    {
        JobModel storage m = _m[id];
        if (j.assigned < j.quorum) return (o, 0);
        mask = m.committedMask;
        for (uint256 i; i < j.assigned && TestMath.popcount(mask) < j.quorum; ++i) {
            mask |= uint16(1 << i);
        }
        uint256 invalid = type(uint256).max;
        uint256 tamper = type(uint256).max;
        for (uint256 s; s < j.assigned; ++s) {
            uint256 i = (seed % j.assigned + s) % j.assigned;
            if (mask & (1 << i) == 0 || _revealed[id][i] == digest) continue;
            if (m.committedMask & (1 << i) == 0 || _digestOf(id, i) != digest) invalid = i;
            else tamper = i;
        }
        if (invalid == type(uint256).max && tamper == type(uint256).max) return (o, 0);
        if (invalid == type(uint256).max || (seed >> 8) % 3 == 0) {
            invalid = tamper == type(uint256).max ? invalid : tamper;
        }
        o = new IJobMarketTypes.Opening[](TestMath.popcount(mask));
        uint256 k;
        for (uint256 i; i < j.assigned; ++i) {
            if (mask & (1 << i) == 0) continue;
            bytes32 s = _salt(id, _lists[id][i].worker);
            if (i == invalid) s = keccak256(abi.encode(s, "tampered"));
            o[k++] = IJobMarketTypes.Opening(uint8(i), s);
        }
    }

    /// @dev An assignee opens its own seal on-chain (before or after finalization).
    function reveal(uint256 jobSeed, uint256 idxSeed) external act(A_REVEAL, jobSeed) {
        if (idxSeed % 8 == 0 && _revealTwice(jobSeed, idxSeed >> 3)) {
            ++done[A_REVEAL];
            return;
        }
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _revealable);
        if (id == 0) {
            (id, j) = _pick(jobSeed, _awaitingCommitDeadline);
            if (id == 0) return;
            _warpTo(j.commitDeadline);
        }
        uint256 i = _revealCandidate(id, j, idxSeed);
        if (i == type(uint256).max) return;
        address w = _lists[id][i].worker;
        bytes32 digest = _digestOf(id, i);
        bytes32 s = _salt(id, w);
        IJobMarketTypes.Proof memory proof = _proof(id);
        vm.prank(w);
        market.reveal(id, proof, uint8(i), digest, s);
        ++done[A_REVEAL];
    }

    // ================================================================== settlement and disputes

    /// @dev Pays an agreeing assignee whose payout was held or who revealed before finalization.
    function claimPayout(uint256 jobSeed, uint256 idxSeed) external act(A_CLAIM_PAYOUT, jobSeed) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _hasClaimable);
        if (id == 0) {
            (id, j) = _pick(jobSeed, _heldWithClaimable);
            if (id == 0 || idxSeed % 2 == 0) return;
            _warpTo(uint256(j.finalizedAt) + j.disputeWindow);
        }
        for (uint256 s; s < j.assigned; ++s) {
            uint256 i = (idxSeed % j.assigned + s) % j.assigned;
            if (j.settledMask & (1 << i) != 0 || !_agreedModel(id, i)) continue;
            market.claimPayout(id, _proof(id), uint8(i));
            ++done[A_CLAIM_PAYOUT];
            return;
        }
    }

    /// @dev Settles a job after its deadlines (reveal deadline, dispute window; commit deadline for a
    /// job never assigned), warping past them when needed (to the job due first, running jobs before
    /// never-assigned ones, so the warp does not kill fresh jobs).
    function settle(uint256 jobSeed) external act(A_SETTLE, jobSeed) {
        // mostly jobs already past their deadlines; one call in four warps to the next job due
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _settleableNow);
        if (id == 0) {
            if (jobSeed % 4 != 0) return;
            (id, j) = _earliestSettleable();
            if (id == 0 || _settleTime(j) > block.timestamp + 2 hours) return;
        }
        _warpTo(_settleTime(j));
        IJobMarketTypes.Proof memory proof = _proof(id);
        market.settle(id, proof);
        _m[id].settled = true;
        _prune();
        ++done[A_SETTLE];
    }

    function dispute(uint256 jobSeed) external act(A_DISPUTE, jobSeed) {
        (uint256 id,) = _pick(jobSeed, _disputable);
        if (id == 0) return;
        uint256 bond = disputeBond;
        vm.prank(_m[id].requester);
        market.dispute{value: bond}(id);
        _m[id].bond = bond;
        ++done[A_DISPUTE];
    }

    function resolveDispute(uint256 jobSeed, bool upheld) external act(A_RESOLVE, jobSeed) {
        (uint256 id,) = _pick(jobSeed, _isDisputed);
        if (id == 0) return;
        vm.prank(arbiter);
        market.resolveDispute(id, upheld);
        ++done[A_RESOLVE];
    }

    // ================================================================== escrow and registry

    function withdraw(uint256 actorSeed, uint256 tokenSeed) external act(A_WITHDRAW, actorSeed) {
        address t = tokenSeed % 2 == 0 ? address(0) : address(token);
        for (uint256 s; s < 2 * _holders.length; ++s) {
            if (s == _holders.length) t = t == address(0) ? address(token) : address(0);
            address who = _holders[(actorSeed % _holders.length + s) % _holders.length];
            if (escrow.balanceOf(t, who) == 0) continue;
            vm.prank(who);
            escrow.withdraw(t);
            ++done[A_WITHDRAW];
            return;
        }
    }

    function addStake(uint256 provSeed, uint256 amount) external act(A_ADD_STAKE, provSeed) {
        address p = _providerWith(provSeed, _active_);
        if (p == address(0)) return;
        amount = TestMath.bound(amount, 1, 20 ether);
        if (p.balance < amount) vm.deal(p, p.balance + amount);
        vm.prank(p);
        registry.addStake{value: amount}();
        ++done[A_ADD_STAKE];
    }

    /// @dev Unbonds part of a provider's free stake; one call in four, a provider with locked collateral
    /// (a bidder or an assignee) tries to unbond more than its free stake instead: must revert (a bid is
    /// binding), else `lockedStakeUnbonded` counts it.
    function requestUnbond(uint256 provSeed, uint256 amount) external act(A_UNBOND, provSeed) {
        if (amount % 4 == 0) {
            address q = _providerWith(provSeed, _hasLockedStake);
            if (q == address(0)) return;
            IProviderRegistry.ProviderInfo memory qi = registry.providerInfo(q);
            uint256 tooMuch = uint256(qi.stake - qi.locked) + TestMath.bound(amount >> 2, 1, qi.locked);
            _drain();
            vm.prank(q);
            (bool ok,) = address(registry).call(abi.encodeCall(ProviderRegistry.requestUnbond, (uint96(tooMuch))));
            if (ok) ++lockedStakeUnbonded;
            else vm.recordLogs();
            ++done[A_UNBOND];
            return;
        }
        address p = _providerWith(provSeed, _hasFreeStake);
        if (p == address(0)) return;
        IProviderRegistry.ProviderInfo memory info = registry.providerInfo(p);
        uint256 free = info.stake - info.locked;
        amount = TestMath.bound(amount, 1, free > 3 ? free / 3 : free);
        vm.prank(p);
        registry.requestUnbond(uint96(amount));
        ++done[A_UNBOND];
    }

    function withdrawUnbonded(uint256 provSeed, uint256 warpSeed) external act(A_WITHDRAW_UNBONDED, provSeed) {
        address p = _providerWith(provSeed, _isUnbonding);
        if (p == address(0)) return;
        uint256 releaseAt = registry.providerInfo(p).unbondingReleaseAt;
        if (block.timestamp < releaseAt) {
            if (warpSeed % 2 == 0) return;
            _warpTo(releaseAt);
        }
        vm.prank(p);
        registry.withdrawUnbonded();
        ++done[A_WITHDRAW_UNBONDED];
    }

    /// @dev Attack (it used to be an arbiter's power): the arbiter, a requester or a provider slashes a
    /// provider's stake or token bond directly in the registry. Must revert: only the market slashes, for a
    /// job's settlement; if it goes through, `slashAccepted` counts it (and the solvency and collateral
    /// invariants see what it did).
    function arbiterSlash(uint256 provSeed, uint256 amount, uint256 callerSeed)
        external
        act(A_ARBITER_SLASH, provSeed)
    {
        address p = _providerWith(provSeed, _hasFunds);
        if (p == address(0)) return;
        amount = TestMath.bound(amount, 1, 5 ether);
        address t = callerSeed % 2 == 0 ? address(0) : address(token);
        uint256 c = (callerSeed >> 1) % 3;
        address caller = c == 0 ? arbiter : c == 1 ? _requesters[(callerSeed >> 3) % _requesters.length] : p;
        bytes memory data = abi.encodeCall(
            ProviderRegistry.slash, (p, TestMath.bound(callerSeed >> 8, 0, jobs), t, uint96(amount), bytes32("ARBITER"))
        );
        ++slashAttempts;
        _drain();
        vm.prank(caller);
        (bool ok,) = address(registry).call(data);
        if (ok) ++slashAccepted;
        else vm.recordLogs();
        ++done[A_ARBITER_SLASH];
    }

    /// @dev A provider adds to its bond in the token (the collateral of token jobs).
    function depositBond(uint256 provSeed, uint256 amount) external act(A_DEPOSIT_BOND, provSeed) {
        address p = _providers[provSeed % _providers.length];
        amount = TestMath.bound(amount, 1, 20 ether);
        if (token.balanceOf(p) < amount) token.mint(p, amount);
        vm.prank(p);
        escrow.depositBond(address(token), amount);
        ++done[A_DEPOSIT_BOND];
    }

    /// @dev A provider withdraws part of its free bond; one call in four, one with a locked bond tries to
    /// withdraw more than its free part: must revert, else `lockedBondWithdrawn` counts it.
    function withdrawBond(uint256 provSeed, uint256 amount) external act(A_WITHDRAW_BOND, provSeed) {
        if (amount % 4 == 0) {
            address q = _providerWith(provSeed, _hasLockedBond);
            if (q == address(0)) return;
            (uint256 total, uint256 locked) = escrow.bondOf(address(token), q);
            uint256 tooMuch = total - locked + TestMath.bound(amount >> 2, 1, locked);
            _drain();
            vm.prank(q);
            (bool ok,) = address(escrow).call(abi.encodeCall(PaymentEscrow.withdrawBond, (address(token), tooMuch)));
            if (ok) ++lockedBondWithdrawn;
            else vm.recordLogs();
            ++done[A_WITHDRAW_BOND];
            return;
        }
        address p = _providerWith(provSeed, _hasFreeBond);
        if (p == address(0)) return;
        uint256 free = _freeBond(p);
        amount = TestMath.bound(amount, 1, free > 3 ? free / 3 : free);
        vm.prank(p);
        escrow.withdrawBond(address(token), amount);
        ++done[A_WITHDRAW_BOND];
    }

    function register(uint256 provSeed, uint256 stake) external act(A_REGISTER, provSeed) {
        address p = _providerWith(provSeed, _inactive);
        if (p == address(0)) return;
        stake = TestMath.bound(stake, minStake, 100 ether);
        if (p.balance < stake) vm.deal(p, p.balance + stake);
        uint32 caps = provSeed % 3 == 0 ? WASI | GPU : WASI;
        vm.prank(p);
        registry.register{value: stake}(caps, bytes32(provSeed), "peer", "eu-west");
        ++done[A_REGISTER];
    }

    function deregister(uint256 provSeed) external act(A_DEREGISTER, provSeed) {
        uint256 activeCount;
        for (uint256 i; i < _providers.length; ++i) {
            if (_active_(_providers[i])) ++activeCount;
        }
        if (activeCount <= 5) return; // providers are the market's supply
        address p = _providerWith(provSeed, _unlocked);
        if (p == address(0)) return;
        vm.prank(p);
        registry.deregister();
        ++done[A_DEREGISTER];
    }

    function warp(uint256 secs) external act(A_WARP, secs) {
        _warpTo(block.timestamp + TestMath.bound(secs, 1, 30 minutes));
        ++done[A_WARP];
    }

    /// @dev Governance changes the protocol fee (0..MAX_FEE_BPS), through `market.setParams` (a new params
    /// version, every other field unchanged): it must apply to jobs submitted afterwards only.
    function setFee(uint256 feeSeed) external act(A_SET_FEE, feeSeed) {
        IJobMarketTypes.MarketParams memory p = market.params();
        p.feeBps = uint16(TestMath.bound(feeSeed, 0, escrow.MAX_FEE_BPS()));
        vm.prank(market.defaultAdmin()); // governance holds GOVERNOR_ROLE
        market.setParams(p);
        currentFeeBps = p.feeBps;
        ++done[A_SET_FEE];
    }

    // ================================================================== views for the invariants

    function providerList() external view returns (address[] memory) {
        return _providers;
    }

    function holderList() external view returns (address[] memory) {
        return _holders;
    }

    function model(uint256 id) external view returns (JobModel memory) {
        return _m[id];
    }

    function assigneeCount(uint256 id) external view returns (uint256) {
        return _lists[id].length;
    }

    function assigneeAt(uint256 id, uint256 i) external view returns (address) {
        return _lists[id][i].worker;
    }

    function honestDigest(uint256 id) external pure returns (bytes32) {
        return _honest(id);
    }

    /// @notice Budget of `id` still locked in the escrow according to the market's rules, computed from
    /// the market's state alone: a replica's share (`maxPrice`) is released once, when it goes
    /// unassigned (bid mode: at assignment; instant mode: at finalization or failure; never-assigned
    /// jobs: at cancellation or failure), when its assignee is settled (settledMask), or for every
    /// unsettled assignee at once when a dispute is overturned (flag bit 1).
    function lockedOf(uint256 id) public view returns (uint256) {
        IJobMarketTypes.JobInfo memory j = market.getJob(id);
        IJobMarketTypes.JobStatus st = j.status;
        uint256 replicas;
        bool running = st == IJobMarketTypes.JobStatus.Open || st == IJobMarketTypes.JobStatus.Assigned
            || st == IJobMarketTypes.JobStatus.InProgress;
        if (st == IJobMarketTypes.JobStatus.Open || (running && j.bidDeadline == 0)) {
            replicas = j.replicas - j.assigned;
        }
        if (st != IJobMarketTypes.JobStatus.Cancelled && j.flags & 2 == 0) {
            replicas += j.assigned - TestMath.popcount(j.settledMask);
        }
        return replicas * j.maxPrice;
    }

    /// @notice Sum of `lockedOf` over the jobs paid in `t`.
    function expectedLocked(address t) external view returns (uint256 sum) {
        for (uint256 id = 1; id <= jobs; ++id) {
            if (_m[id].token == t) sum += lockedOf(id);
        }
    }

    /// @notice Sum of the providers' bonds in `t` (none in the native token: native collateral is stake).
    function sumBonds(address t) external view returns (uint256 sum) {
        if (t == address(0)) return 0;
        for (uint256 i; i < _providers.length; ++i) {
            (uint256 total,) = escrow.bondOf(t, _providers[i]);
            sum += total;
        }
    }

    /// @notice The collateral in `t` (address(0): native stake) the market's rules keep locked for
    /// `provider`, computed from the market's and the book's state and the handler's assignee lists: the
    /// job's collateral for each on-chain bid of an Open bid-mode job (binding until it is evicted, loses
    /// at assignment, or the job is cancelled or fails unassigned), and for each assignee not yet settled.
    function expectedCollateral(address provider, address t) external view returns (uint256 sum) {
        for (uint256 id = 1; id <= jobs; ++id) {
            if (_m[id].token != t) continue;
            IJobMarketTypes.JobInfo memory j = market.getJob(id);
            uint256 c = market.collateralOf(id);
            if (j.status == IJobMarketTypes.JobStatus.Open && j.bidDeadline != 0) {
                address[] memory bidders = book.bidders(id);
                for (uint256 k; k < bidders.length; ++k) {
                    if (bidders[k] == provider) sum += c;
                }
            }
            IJobMarketTypes.Assignee[] storage list = _lists[id];
            for (uint256 i; i < list.length; ++i) {
                if (list[i].worker == provider && j.settledMask & (1 << i) == 0) sum += c;
            }
        }
    }

    /// @notice Sum of the escrow credits of every address that can be credited.
    function sumCredits(address t) external view returns (uint256 sum) {
        for (uint256 i; i < _holders.length; ++i) {
            sum += escrow.balanceOf(t, _holders[i]);
        }
    }

    function callSummary() external view {
        string[ACTIONS] memory names = [
            "submit",
            "submitBatch",
            "bid",
            "assign",
            "assignBatch",
            "claim",
            "commit",
            "commitSeals",
            "finalize",
            "forgeFinalize",
            "reveal",
            "claimPayout",
            "settle",
            "cancel",
            "dispute",
            "resolveDispute",
            "withdraw",
            "addStake",
            "requestUnbond",
            "withdrawUnbonded",
            "arbiterSlash",
            "warp",
            "register",
            "deregister",
            "depositBond",
            "withdrawBond",
            "setFee"
        ];
        uint256 total;
        uint256 worked;
        for (uint256 i; i < ACTIONS; ++i) {
            console.log(string.concat(names[i], " calls"), calls[i]);
            console.log(string.concat(names[i], " did work"), done[i]);
            total += calls[i];
            worked += done[i];
        }
        console.log("total calls", total);
        console.log("calls that did work", worked);
        console.log("jobs", jobs);
        console.log("forgery attempts", forgeryAttempts);
        console.log("slash attempts", slashAttempts);
    }

    // ================================================================== job predicates

    function _inBidding(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Open && j.bidDeadline != 0 && block.timestamp < j.bidDeadline;
    }

    /// @dev Jobs of a submitJobs batch are left to assignBatch (which needs empty books).
    function _inBiddingAlone(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _m[id].group == 0 && _inBidding(id, j);
    }

    function _assignableAlone(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _m[id].group == 0 && _assignable(id, j);
    }

    function _assignable(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Open && block.timestamp >= j.bidDeadline
            && block.timestamp < j.commitDeadline;
    }

    function _batchAssignable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _m[id].group != 0 && j.bidDeadline != 0 && _assignable(id, j) && book.bidsOf(id).length == 0;
    }

    function _batchInBidding(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _m[id].group != 0 && _inBidding(id, j) && book.bidsOf(id).length == 0;
    }

    function _claimable(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        IJobMarketTypes.JobStatus st = j.status;
        return j.bidDeadline == 0 && block.timestamp < j.commitDeadline && j.assigned < j.replicas
            && (st == IJobMarketTypes.JobStatus.Open
                || st == IJobMarketTypes.JobStatus.Assigned
                || st == IJobMarketTypes.JobStatus.InProgress);
    }

    function _isOpen(uint256, IJobMarketTypes.JobInfo memory j) internal pure returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Open;
    }

    function _commitPhase(IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return (j.status == IJobMarketTypes.JobStatus.Assigned || j.status == IJobMarketTypes.JobStatus.InProgress)
            && block.timestamp < j.commitDeadline;
    }

    function _hasUncommitted(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _commitPhase(j) && TestMath.popcount(_m[id].committedMask) < j.assigned;
    }

    function _aggregatable(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _commitPhase(j) && j.committed == 0 && (j.bidDeadline != 0 || j.assigned == j.replicas);
    }

    function _openingPhase(IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        if (block.timestamp > j.revealDeadline) return false;
        bool assignmentFinal = j.bidDeadline != 0 || j.assigned == j.replicas;
        return (assignmentFinal && j.committed == j.assigned) || block.timestamp >= j.commitDeadline;
    }

    function _openable(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.InProgress && _openingPhase(j);
    }

    /// @dev Some digest has been committed by a quorum of the assignees (by the handler's model).
    function _quorumCommitted(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        JobModel storage m = _m[id];
        uint16 assigned = uint16((1 << j.assigned) - 1);
        return TestMath.popcount(m.committedMask & m.byzMask) >= j.quorum
            || TestMath.popcount(m.committedMask & ~m.byzMask & assigned) >= j.quorum;
    }

    function _finalizable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _openable(id, j) && _quorumCommitted(id, j);
    }

    function _finalizableLater(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _awaitingCommitDeadline(id, j) && _quorumCommitted(id, j);
    }

    function _awaitingCommitDeadline(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return
            j.status == IJobMarketTypes.JobStatus.InProgress && !_openingPhase(j) && block.timestamp < j.commitDeadline;
    }

    function _revealable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        IJobMarketTypes.JobStatus st = j.status;
        bool ok = (st == IJobMarketTypes.JobStatus.InProgress && _openingPhase(j))
            || ((st == IJobMarketTypes.JobStatus.Finalized
                    || st == IJobMarketTypes.JobStatus.Disputed
                    || st == IJobMarketTypes.JobStatus.Resolved)
                && block.timestamp <= j.revealDeadline);
        return ok && _revealCandidate(id, j, 0) != type(uint256).max;
    }

    function _held(IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Disputed
            || (j.status == IJobMarketTypes.JobStatus.Finalized
                && block.timestamp < uint256(j.finalizedAt) + j.disputeWindow);
    }

    function _anyClaimable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        if (j.status != IJobMarketTypes.JobStatus.Finalized && j.status != IJobMarketTypes.JobStatus.Resolved) {
            return false;
        }
        for (uint256 i; i < j.assigned; ++i) {
            if (j.settledMask & (1 << i) == 0 && _agreedModel(id, i)) return true;
        }
        return false;
    }

    function _hasClaimable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return !_held(j) && _anyClaimable(id, j);
    }

    function _heldWithClaimable(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Finalized && _held(j) && _anyClaimable(id, j);
    }

    function _settleable(uint256, IJobMarketTypes.JobInfo memory j) internal pure returns (bool) {
        IJobMarketTypes.JobStatus st = j.status;
        if (st == IJobMarketTypes.JobStatus.Cancelled || st == IJobMarketTypes.JobStatus.Disputed) return false;
        if (st == IJobMarketTypes.JobStatus.Open) return true;
        return j.settledMask != (1 << j.assigned) - 1
            || (st != IJobMarketTypes.JobStatus.Finalized
                && st != IJobMarketTypes.JobStatus.Resolved
                && st != IJobMarketTypes.JobStatus.Failed);
    }

    function _disputable(uint256, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Finalized && j.disputeWindow != 0
            && block.timestamp < uint256(j.finalizedAt) + j.disputeWindow;
    }

    function _isDisputed(uint256, IJobMarketTypes.JobInfo memory j) internal pure returns (bool) {
        return j.status == IJobMarketTypes.JobStatus.Disputed;
    }

    /// @dev First job in `_active` from `seed` that satisfies `ok` (id 0 if none).
    function _pick(uint256 seed, function(uint256, IJobMarketTypes.JobInfo memory) internal view returns (bool) ok)
        internal
        view
        returns (uint256 id, IJobMarketTypes.JobInfo memory j)
    {
        uint256 n = _active.length;
        if (n == 0) return (0, j);
        uint256 start = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 cand = _active[(start % n + k) % n];
            IJobMarketTypes.JobInfo memory cj = market.getJob(cand);
            if (ok(cand, cj)) return (cand, cj);
        }
    }

    function _settleTime(IJobMarketTypes.JobInfo memory j) internal pure returns (uint256 t) {
        IJobMarketTypes.JobStatus st = j.status;
        if (st == IJobMarketTypes.JobStatus.Open) return j.commitDeadline;
        if (st == IJobMarketTypes.JobStatus.Failed) return 0;
        t = uint256(j.revealDeadline) + 1;
        if (st == IJobMarketTypes.JobStatus.Finalized) {
            uint256 closes = uint256(j.finalizedAt) + j.disputeWindow;
            if (closes > t) t = closes;
        }
    }

    function _settleableNow(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        return _settleable(id, j) && _settleTime(j) <= block.timestamp;
    }

    function _earliestSettleable() internal view returns (uint256 id, IJobMarketTypes.JobInfo memory j) {
        uint256 best = type(uint256).max;
        for (uint256 k; k < _active.length; ++k) {
            uint256 cand = _active[k];
            IJobMarketTypes.JobInfo memory cj = market.getJob(cand);
            if (!_settleable(cand, cj)) continue;
            uint256 t = _settleTime(cj);
            if (cj.status == IJobMarketTypes.JobStatus.Open) t += 365 days; // rank after running jobs
            if (t < best) (best, id, j) = (t, cand, cj);
        }
    }

    /// @dev Drops jobs with nothing left to do (terminal and every assignee settled) from `_active`.
    function _prune() internal {
        for (uint256 k; k < _active.length;) {
            IJobMarketTypes.JobInfo memory j = market.getJob(_active[k]);
            IJobMarketTypes.JobStatus st = j.status;
            bool finished = st == IJobMarketTypes.JobStatus.Cancelled
                || ((st == IJobMarketTypes.JobStatus.Finalized
                        || st == IJobMarketTypes.JobStatus.Resolved
                        || st == IJobMarketTypes.JobStatus.Failed)
                    && j.settledMask == (1 << j.assigned) - 1);
            if (finished) {
                _active[k] = _active[_active.length - 1];
                _active.pop();
            } else {
                ++k;
            }
        }
    }

    // ================================================================== provider predicates

    function _providerWith(uint256 seed, function(address) internal view returns (bool) ok)
        internal
        view
        returns (address)
    {
        for (uint256 s; s < _providers.length; ++s) {
            address p = _providers[(seed % _providers.length + s) % _providers.length];
            if (ok(p)) return p;
        }
        return address(0);
    }

    function _active_(address p) internal view returns (bool) {
        return registry.providerInfo(p).status == IProviderRegistry.ProviderStatus.Active;
    }

    function _inactive(address p) internal view returns (bool) {
        return registry.providerInfo(p).status != IProviderRegistry.ProviderStatus.Active;
    }

    function _hasFreeStake(address p) internal view returns (bool) {
        IProviderRegistry.ProviderInfo memory info = registry.providerInfo(p);
        return info.status == IProviderRegistry.ProviderStatus.Active && info.stake > info.locked;
    }

    function _hasLockedStake(address p) internal view returns (bool) {
        return registry.providerInfo(p).locked != 0;
    }

    function _freeBond(address p) internal view returns (uint256) {
        (uint256 total, uint256 locked) = escrow.bondOf(address(token), p);
        return total - locked;
    }

    function _hasFreeBond(address p) internal view returns (bool) {
        return _freeBond(p) != 0;
    }

    function _hasLockedBond(address p) internal view returns (bool) {
        (, uint256 locked) = escrow.bondOf(address(token), p);
        return locked != 0;
    }

    /// @dev Whether the registry would lock `amount` of collateral in `t` for `p`: native stake for native
    /// jobs, the free token bond for token jobs (the provider must be eligible either way).
    function _canLock(address p, uint32 caps, address t, uint256 amount) internal view returns (bool) {
        if (amount > type(uint96).max) return false;
        if (t == address(0)) return registry.isEligible(p, caps, uint96(amount));
        return registry.isEligible(p, caps, 0) && _freeBond(p) >= amount;
    }

    function _isUnbonding(address p) internal view returns (bool) {
        return registry.providerInfo(p).unbonding != 0;
    }

    function _hasFunds(address p) internal view returns (bool) {
        IProviderRegistry.ProviderInfo memory info = registry.providerInfo(p);
        return info.stake != 0 || info.unbonding != 0;
    }

    function _unlocked(address p) internal view returns (bool) {
        IProviderRegistry.ProviderInfo memory info = registry.providerInfo(p);
        return info.status == IProviderRegistry.ProviderStatus.Active && info.locked == 0;
    }

    // ================================================================== building calls

    function _spec(uint256 seed) internal view returns (IJobMarketTypes.JobSpec memory s) {
        uint8 m = uint8(TestMath.bound(_r(seed, 1), 1, 5));
        uint8 n = uint8(TestMath.bound(_r(seed, 2), m / 2 + 1, m));
        uint256 pr = _r(seed, 3);
        uint80 price = uint80(pr % 4 == 0 ? TestMath.bound(pr, 1e15, 1e16) : TestMath.bound(pr, 0.01 ether, 2 ether));
        uint32 bidWindow = _r(seed, 4) % 4 == 0 ? 0 : uint32(TestMath.bound(_r(seed, 4), 60, 30 minutes));
        uint32 commitDeadline = uint32(block.timestamp + bidWindow + TestMath.bound(_r(seed, 5), 1 hours, 8 hours));
        s = IJobMarketTypes.JobSpec({
            programDigest: keccak256(abi.encode("program", seed)),
            inputDigest: keccak256(abi.encode("input", seed)),
            runtimeId: "wasi",
            requiredCapabilities: _r(seed, 6) % 16 == 0 ? WASI | GPU : WASI,
            replicas: m,
            quorum: n,
            fuelLimit: 1e9,
            timeLimit: 60,
            maxPricePerReplica: price,
            paymentToken: address(0),
            bidWindow: bidWindow,
            commitDeadline: commitDeadline,
            revealDeadline: uint32(commitDeadline + TestMath.bound(_r(seed, 7), 30 minutes, 4 hours)),
            disputeWindow: _r(seed, 8) % 3 == 0 ? 0 : uint32(TestMath.bound(_r(seed, 8), 1 minutes, 6 hours)),
            confidential: false,
            encryptionPubKey: 0,
            dataRef: 0
        });
    }

    function _record(uint256 id, IJobMarketTypes.JobSpec memory s, address who, uint32 group) internal {
        JobModel storage m = _m[id];
        m.requester = who;
        m.token = s.paymentToken;
        m.budget = uint256(s.replicas) * s.maxPricePerReplica;
        m.maxPrice = s.maxPricePerReplica;
        m.replicas = s.replicas;
        m.quorum = s.quorum;
        m.group = group;
        m.feeBps = currentFeeBps;
        jobs = id;
        _active.push(id);
    }

    function _signBid(bytes32 jobsHash, uint256 pi, uint80 price)
        internal
        view
        returns (IJobMarketTypes.SignedBid memory)
    {
        address p = _providers[pi];
        uint32 expiry = uint32(block.timestamp + 1 hours);
        bytes32 digest = book.bidDigest(jobsHash, p, price, 600, expiry, 0);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[pi], digest);
        return IJobMarketTypes.SignedBid(p, price, 600, expiry, 0, r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    /// @dev Signed bids (at most 2 * replicas, from providers without an on-chain bid) and how many
    /// bidders, on-chain or signed, the registry would let lock collateral.
    function _signedBidsFor(
        uint256 id,
        IJobMarketTypes.JobInfo memory j,
        uint256 provSeed,
        uint256 countSeed,
        uint256 priceSeed
    ) internal view returns (IJobMarketTypes.SignedBid[] memory bids, uint256 eligible) {
        uint96 collateral = market.collateralOf(id);
        address t = _m[id].token;
        // on-chain bids are binding (their collateral is locked): the market takes every one of them
        IJobMarketTypes.Bid[] memory onChain = book.bidsOf(id);
        eligible = onChain.length;
        uint256 maxSigned = 2 * uint256(j.replicas);
        if (maxSigned > _providers.length) maxSigned = _providers.length;
        // mostly enough signed bids for the quorum; sometimes any number (on-chain bids may suffice)
        uint256 k = countSeed % 8 == 0
            ? TestMath.bound(countSeed >> 3, j.bidDeadline == 0 ? 1 : 0, maxSigned)
            : TestMath.bound(countSeed >> 3, j.quorum, maxSigned);
        bids = _signFor(id, j.maxPrice, onChain, provSeed, k, priceSeed);
        for (uint256 i; i < bids.length; ++i) {
            if (_canLock(bids[i].provider, j.capabilities, t, collateral)) ++eligible;
        }
    }

    function _signFor(
        uint256 id,
        uint80 maxPrice,
        IJobMarketTypes.Bid[] memory onChain,
        uint256 provSeed,
        uint256 k,
        uint256 priceSeed
    ) internal view returns (IJobMarketTypes.SignedBid[] memory bids) {
        bids = new IJobMarketTypes.SignedBid[](k);
        uint256 n;
        for (uint256 s; s < _providers.length && n < k; ++s) {
            uint256 pi = (provSeed % _providers.length + s) % _providers.length;
            if (_inBook(onChain, _providers[pi])) continue; // DuplicateBid
            bids[n++] = _signBid(keccak256(abi.encodePacked(id)), pi, _bidPrice(priceSeed, pi, maxPrice));
        }
        assembly ("memory-safe") {
            mstore(bids, n)
        }
    }

    function _bidPrice(uint256 seed, uint256 pi, uint80 maxPrice) internal pure returns (uint80) {
        return uint80(TestMath.bound(_r(seed, pi), maxPrice / 2 + 1, maxPrice));
    }

    /// @dev Signed batch bids (each over every job of `ids`) and how many signers can lock the
    /// collateral of the whole batch.
    function _batchBids(uint256[] memory ids, IJobMarketTypes.JobInfo memory j, uint256 provSeed, uint256 countSeed)
        internal
        view
        returns (IJobMarketTypes.SignedBid[] memory bids, uint256 eligible)
    {
        uint256 total = uint256(market.collateralOf(ids[0])) * ids.length;
        uint256 maxSigned = 2 * uint256(j.replicas);
        if (maxSigned > _providers.length) maxSigned = _providers.length;
        bids = new IJobMarketTypes.SignedBid[](TestMath.bound(countSeed, j.quorum, maxSigned));
        bytes32 jobsHash = keccak256(abi.encodePacked(ids));
        for (uint256 s; s < bids.length; ++s) {
            uint256 pi = (provSeed % _providers.length + s) % _providers.length;
            bids[s] = _signBid(jobsHash, pi, _bidPrice(provSeed, pi, j.maxPrice));
            if (_canLock(_providers[pi], j.capabilities, _m[ids[0]].token, total)) ++eligible;
        }
    }

    /// @dev The batch-assignable jobs of `member`'s submitJobs batch paid in its token (assignBatch needs
    /// one payment token).
    function _groupMembers(uint256 member) internal view returns (uint256[] memory ids) {
        uint32 group = _m[member].group;
        address t = _m[member].token;
        ids = new uint256[](3);
        uint256 n;
        for (uint256 id = 1; id <= jobs && n < 3; ++id) {
            if (_m[id].group != group || _m[id].token != t) continue;
            IJobMarketTypes.JobInfo memory j = market.getJob(id);
            if (_batchAssignable(id, j)) ids[n++] = id;
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    function _sealBatch(uint256 id, uint256 maskSeed) internal view returns (IJobMarketTypes.SealBatch memory item) {
        uint256 assigned = _lists[id].length;
        uint256 full = (1 << assigned) - 1;
        uint256 mask = maskSeed % 2 == 0 ? full : (maskSeed >> 1) & full;
        if (mask == 0) mask = 1 << ((maskSeed >> 8) % assigned);
        item.jobId = id;
        item.assignees = _lists[id];
        item.seals = new IJobMarketTypes.IndexedSeal[](TestMath.popcount(uint16(mask)));
        uint256 k;
        for (uint256 i; i < assigned; ++i) {
            if (mask & (1 << i) == 0) continue;
            address w = _lists[id][i].worker;
            item.seals[k++] =
                IJobMarketTypes.IndexedSeal(uint8(i), JobProofs.seal(id, w, _digestOf(id, i), _salt(id, w)));
        }
    }

    /// @dev One signature per worker (other than the caller) over the chain of its seals in call order.
    function _sealSignatures(IJobMarketTypes.SealBatch[] memory items, address caller)
        internal
        view
        returns (IJobMarketTypes.SealSignature[] memory sigs)
    {
        address[] memory signers = new address[](2 * 16);
        bytes32[] memory chains = new bytes32[](2 * 16);
        uint256 n;
        for (uint256 t; t < items.length; ++t) {
            for (uint256 s; s < items[t].seals.length; ++s) {
                address w = items[t].assignees[items[t].seals[s].index].worker;
                if (w == caller) continue;
                uint256 k;
                while (k < n && signers[k] != w) ++k;
                if (k == n) signers[n++] = w;
                chains[k] = keccak256(abi.encode(chains[k], items[t].jobId, items[t].seals[s].seal));
            }
        }
        sigs = new IJobMarketTypes.SealSignature[](n);
        for (uint256 k; k < n; ++k) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keyOf(signers[k]), market.sealsDigest(chains[k]));
            sigs[k] = IJobMarketTypes.SealSignature(signers[k], r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
        }
    }

    /// @dev Openings of assignees that committed `digest` (each kept with probability 3/4, topped up to
    /// the quorum); an assignee that already revealed it on-chain sometimes gets an arbitrary salt.
    function _openingsFor(uint256 id, IJobMarketTypes.JobInfo memory j, bytes32 digest, uint256 seed)
        internal
        view
        returns (IJobMarketTypes.Opening[] memory o, uint16 mask)
    {
        JobModel storage m = _m[id];
        uint16 candidates;
        for (uint256 i; i < j.assigned; ++i) {
            if (m.committedMask & (1 << i) != 0 && _digestOf(id, i) == digest) candidates |= uint16(1 << i);
        }
        if (TestMath.popcount(candidates) < j.quorum) return (o, 0);
        for (uint256 i; i < j.assigned; ++i) {
            if (candidates & (1 << i) != 0 && _r(seed, 100 + i) % 4 != 0) mask |= uint16(1 << i);
        }
        for (uint256 i; i < j.assigned && TestMath.popcount(mask) < j.quorum; ++i) {
            if (candidates & (1 << i) != 0) mask |= uint16(1 << i);
        }
        o = new IJobMarketTypes.Opening[](TestMath.popcount(mask));
        uint256 k;
        for (uint256 i; i < j.assigned; ++i) {
            if (mask & (1 << i) == 0) continue;
            address w = _lists[id][i].worker;
            bytes32 s = _salt(id, w);
            if (_revealed[id][i] == digest && _r(seed, 200 + i) % 2 == 0) s = bytes32(_r(seed, 300 + i));
            o[k++] = IJobMarketTypes.Opening(uint8(i), s);
        }
    }

    /// @dev An assignee that committed, has not revealed, is not settled, and was not already counted as
    /// agreeing by the finalizing `finalize` (the market rejects that second opening) (max if none).
    function _revealCandidate(uint256 id, IJobMarketTypes.JobInfo memory j, uint256 seed)
        internal
        view
        returns (uint256)
    {
        JobModel storage m = _m[id];
        uint16 excluded = j.settledMask | (m.finalized ? m.openedMask : 0);
        for (uint256 s; s < j.assigned; ++s) {
            uint256 i = (seed % j.assigned + s) % j.assigned;
            if (m.committedMask & (1 << i) == 0 || excluded & (1 << i) != 0 || _revealed[id][i] != 0) continue;
            return i;
        }
        return type(uint256).max;
    }

    /// @dev Attack on the bond split: an assignee already opened by the finalizing `finalize` (payout
    /// held) opens its seal again on-chain. Must revert; if it does not, its logs are taken in and the
    /// bond-custody invariant sees what the extra count does.
    function _revealTwice(uint256 jobSeed, uint256 idxSeed) internal returns (bool tried) {
        (uint256 id, IJobMarketTypes.JobInfo memory j) = _pick(jobSeed, _heldWithOpened);
        if (id == 0) return false;
        JobModel storage m = _m[id];
        for (uint256 s; s < j.assigned; ++s) {
            uint256 i = (idxSeed % j.assigned + s) % j.assigned;
            if (m.openedMask & (1 << i) == 0 || j.settledMask & (1 << i) != 0) continue;
            address w = _lists[id][i].worker;
            bytes memory data =
                abi.encodeCall(IJobMarket.reveal, (id, _proof(id), uint8(i), m.finalDigest, _salt(id, w)));
            _drain();
            vm.prank(w);
            (bool ok,) = address(market).call(data);
            if (ok) ++secondOpeningAccepted;
            else vm.recordLogs(); // drop the reverted call's logs
            return true;
        }
    }

    function _heldWithOpened(uint256 id, IJobMarketTypes.JobInfo memory j) internal view returns (bool) {
        IJobMarketTypes.JobStatus st = j.status;
        bool ok = st == IJobMarketTypes.JobStatus.Finalized || st == IJobMarketTypes.JobStatus.Disputed
            || st == IJobMarketTypes.JobStatus.Resolved;
        return ok && block.timestamp <= j.revealDeadline && _m[id].openedMask & ~j.settledMask != 0;
    }

    /// @dev What the market's `_agreed` should say, from the model: opened in the finalizing call or
    /// revealed on-chain, the finalized digest.
    function _agreedModel(uint256 id, uint256 i) internal view returns (bool) {
        JobModel storage m = _m[id];
        if (!m.finalized) return false;
        return m.openedMask & (1 << i) != 0 || _revealed[id][i] == m.finalDigest;
    }

    function _proof(uint256 id) internal view returns (IJobMarketTypes.Proof memory) {
        return IJobMarketTypes.Proof(_lists[id], _m[id].aggMask, _aggSeals[id]);
    }

    // ================================================================== logs

    function _drain() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics.length == 0) continue;
            if (logs[i].emitter == address(market)) _marketLog(logs[i]);
            else if (logs[i].emitter == address(escrow)) _escrowLog(logs[i]);
        }
    }

    function _marketLog(Vm.Log memory l) internal {
        bytes32 t = l.topics[0];
        if (t == IJobMarketTypes.JobAssigned.selector) {
            (address[] memory workers, uint80[] memory prices) = abi.decode(l.data, (address[], uint80[]));
            _append(uint256(l.topics[1]), workers, prices);
        } else if (t == IJobMarketTypes.BatchAssigned.selector) {
            (uint256[] memory ids, address[] memory workers, uint80[] memory prices) =
                abi.decode(l.data, (uint256[], address[], uint80[]));
            for (uint256 k; k < ids.length; ++k) {
                _append(ids[k], workers, prices);
            }
        } else if (t == IJobMarketTypes.SealCommitted.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint8 index, bytes32 seal) = abi.decode(l.data, (uint8, bytes32));
            address w = _lists[id][index].worker;
            if (seal != JobProofs.seal(id, w, _digestOf(id, index), _salt(id, w))) ++sealMismatch;
            _m[id].committedMask |= uint16(1 << index);
        } else if (t == IJobMarketTypes.SealsCommitted.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint16 mask, bytes32[] memory seals) = abi.decode(l.data, (uint16, bytes32[]));
            _m[id].aggMask = mask;
            _m[id].committedMask |= mask;
            for (uint256 k; k < seals.length; ++k) {
                _aggSeals[id].push(seals[k]);
            }
        } else if (t == IJobMarketTypes.ResultRevealed.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint8 index, bytes32 digest) = abi.decode(l.data, (uint8, bytes32));
            // the market keeps a reveal unless it contradicts the finalized result (then it slashes)
            if (!_m[id].finalized || digest == _m[id].finalDigest) _revealed[id][index] = digest;
        } else if (t == IJobMarketTypes.JobFinalized.selector) {
            _finalized(uint256(l.topics[1]), abi.decode(l.data, (bytes32)));
        }
    }

    /// @dev Counts, from the model alone, the assignees that committed `digest` and opened it: in the
    /// finalizing call (`_pendingOpen`) or by an on-chain reveal.
    function _finalized(uint256 id, bytes32 digest) internal {
        JobModel storage m = _m[id];
        uint16 opened = _pendingOpen[id];
        _pendingOpen[id] = 0;
        uint8 count;
        for (uint256 i; i < _lists[id].length; ++i) {
            bool committedIt = m.committedMask & (1 << i) != 0 && _digestOf(id, i) == digest;
            if (committedIt && (opened & (1 << i) != 0 || _revealed[id][i] == digest)) ++count;
        }
        m.finalized = true;
        m.finalDigest = digest;
        m.finalCount = count;
        m.openedMask = opened;
        m.byzAtFinal = uint8(TestMath.popcount(m.byzMask));
    }

    function _escrowLog(Vm.Log memory l) internal {
        bytes32 t = l.topics[0];
        if (t == IPaymentEscrow.Paid.selector) {
            uint256 id = uint256(l.topics[1]);
            (address tok, address[] memory payees, uint256[] memory amounts, uint16 feeBps, uint256 fees) =
                abi.decode(l.data, (address, address[], uint256[], uint16, uint256));
            if (id == 0 || id > jobs) ++unknownJobMoney;
            JobModel storage m = _m[id];
            if (tok != m.token) ++wrongToken;
            // the fee is the job's own: the one in force at its submission (the handler's record), which
            // is also its params version's, never the current one if governance changed it since
            if (feeBps != m.feeBps) ++wrongFee;
            if (feeBps != market.paramsAt(market.getJob(id).paramsVersion).feeBps) ++wrongFee;
            uint256 expectedFees;
            for (uint256 k; k < payees.length; ++k) {
                m.paidGross += amounts[k];
                expectedFees += amounts[k] * m.feeBps / 10_000; // rounded down per payee
                if (++paidCount[id][payees[k]] > 1) ++doublePaid;
                if (!_listed(_lists[id], payees[k])) ++strangerPaid;
            }
            if (fees != expectedFees) ++wrongFee;
            m.fees += fees;
        } else if (t == IPaymentEscrow.Refunded.selector) {
            uint256 id = uint256(l.topics[1]);
            address to = address(uint160(uint256(l.topics[2])));
            (address tok, uint256 amount) = abi.decode(l.data, (address, uint256));
            if (id == 0 || id > jobs) ++unknownJobMoney;
            JobModel storage m = _m[id];
            if (tok != m.token) ++wrongToken;
            if (to != m.requester) ++wrongRefundee;
            m.refunded += amount;
        }
    }

    /// @dev New assignees; each is byzantine (commits another digest) with probability 1/6.
    function _append(uint256 id, address[] memory workers, uint80[] memory prices) internal {
        IJobMarketTypes.Assignee[] storage list = _lists[id];
        for (uint256 k; k < workers.length; ++k) {
            uint256 index = list.length;
            list.push(IJobMarketTypes.Assignee(workers[k], prices[k]));
            if (_r(_entropy, 1000 + 16 * id + index) % 6 == 0) _m[id].byzMask |= uint16(1 << index);
        }
    }

    // ================================================================== helpers

    function _digestOf(uint256 id, uint256 index) internal view returns (bytes32) {
        return _m[id].byzMask & (1 << index) != 0 ? _byzantine(id) : _honest(id);
    }

    function _honest(uint256 id) internal pure returns (bytes32) {
        return keccak256(abi.encode("honest result", id));
    }

    function _byzantine(uint256 id) internal pure returns (bytes32) {
        return keccak256(abi.encode("byzantine result", id));
    }

    function _salt(uint256 id, address worker) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", id, worker));
    }

    function _keyOf(address w) internal view returns (uint256) {
        for (uint256 i; i < _providers.length; ++i) {
            if (_providers[i] == w) return _keys[i];
        }
        revert("unknown worker");
    }

    function _listed(IJobMarketTypes.Assignee[] memory list, address w) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i].worker == w) return true;
        }
        return false;
    }

    function _inBook(IJobMarketTypes.Bid[] memory bids, address p) internal pure returns (bool) {
        for (uint256 i; i < bids.length; ++i) {
            if (bids[i].provider == p) return true;
        }
        return false;
    }

    function _warpTo(uint256 t) internal {
        if (t <= block.timestamp) return;
        vm.warp(t);
        currentTime = t;
    }

    function _r(uint256 seed, uint256 salt_) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt_)));
    }
}
