// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "../utils/Vm.sol";
import {TestMath} from "../utils/TestMath.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {PaymentEscrow} from "../../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../../src/ProviderRegistry.sol";
import {BidBook} from "../../src/BidBook.sol";
import {IJobMarket, IJobMarketTypes} from "../../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../../src/interfaces/IProviderRegistry.sol";
import {JobProofs} from "../../src/libraries/JobProofs.sol";

/// @dev Cheatcodes test/utils/Vm.sol does not declare (same cheatcode address).
interface VmExtra {
    function revertToStateAndDelete(uint256 snapshotId) external returns (bool);
}

/// @notice forge's console, without forge-std (forge decodes calls to this address).
library FairLog {
    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory s, uint256 v) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", s, v));
        ok;
    }

    function log(string memory s) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string)", s));
        ok;
    }
}

/// @notice Drives the market with honest and Byzantine providers, an adversarial requester, an arbiter
/// that rules either way or never, a guardian that pauses at random and governance changing parameters
/// mid-job, for the fairness and liveness invariants (FairnessInvariants.t.sol).
/// @dev Actors. Providers are flagged honest or Byzantine at setup. Every assignment the handler makes
/// (signed bids, on-chain bids, instant claims) keeps the honest providers a strict majority of the
/// job's assignees: at most floor((M-1)/2) Byzantine candidates per job (`premiseBroken` counts a job
/// where this failed, which would make the test meaningless).
/// Honest behaviour is not left to the fuzzer: every move of the clock goes through `_advanceTo`, which
/// performs each honest duty at the last second it is due (commit before the commit deadline; open before
/// the reveal deadline; if left out of a finalization, reveal within the reveal grace) before time moves
/// past it. The fuzzer may also make honest moves earlier (honestCommit, honestFinalize, honestReveal,
/// keeper). Every honest call goes through `_honest`: a revert is a failure (`honestReverts`, with the
/// first revert recorded in `firstHonestFailure`). Every adversarial move that the rules must refuse goes
/// through `_mustFail` and is counted if it went through. Valid non-honest moves (submissions, bids,
/// assignments, disputes, rulings, pauses, parameter changes) are plain calls: with `fail_on_revert` a
/// revert there fails the campaign.
/// The market stores only a hash of each assignee list; the handler rebuilds lists and aggregated seals
/// from the events it records (like an SDK), and tracks every slash from WorkerSettled, Slashed and
/// CollateralReleased.
contract FairnessHandler is IJobMarketTypes {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 public constant MAX_JOBS = 30;
    uint256 public constant MAX_ACTIVE = 6;
    uint32 internal constant WASI = 1;

    // assignee strategies (0: honest; the others are Byzantine)
    uint8 internal constant HONEST = 0;
    uint8 internal constant BYZ_WRONG = 1; // commits the colluding wrong digest and reveals it
    uint8 internal constant BYZ_ZERO = 2; // commits a seal of digest 0 (never openable)
    uint8 internal constant BYZ_GARBAGE = 3; // commits a random seal
    uint8 internal constant BYZ_NOSHOW = 4; // never commits
    uint8 internal constant BYZ_WITHHOLD = 5; // commits the true digest, never opens it
    uint8 internal constant BYZ_COPY = 6; // commits the true digest and opens it (lazy but correct)
    uint8 internal constant BYZ_MAX = 7; // commits digest 0xff..ff with salt 0xff..ff and reveals it
    bytes32 internal constant MAX_DIGEST = bytes32(type(uint256).max);

    // duties
    uint8 internal constant D_COMMIT = 1;
    uint8 internal constant D_REVEAL = 2;

    // action ids (counters)
    uint256 internal constant ACTIONS = 20;
    uint256 internal constant A_SUBMIT = 0;
    uint256 internal constant A_IMPOSSIBLE = 1;
    uint256 internal constant A_BID = 2;
    uint256 internal constant A_ASSIGN = 3;
    uint256 internal constant A_CLAIM = 4;
    uint256 internal constant A_CANCEL = 5;
    uint256 internal constant A_HCOMMIT = 6;
    uint256 internal constant A_HFINALIZE = 7;
    uint256 internal constant A_HREVEAL = 8;
    uint256 internal constant A_BCOMMIT = 9;
    uint256 internal constant A_BREVEAL = 10;
    uint256 internal constant A_RFINALIZE = 11;
    uint256 internal constant A_FORGE = 12;
    uint256 internal constant A_DISPUTE = 13;
    uint256 internal constant A_RULE = 14;
    uint256 internal constant A_KEEPER = 15;
    uint256 internal constant A_WARP = 16;
    uint256 internal constant A_PAUSE = 17;
    uint256 internal constant A_PARAMS = 18;
    uint256 internal constant A_END = 19;

    IJobMarket public immutable market;
    PaymentEscrow public immutable escrow;
    ProviderRegistry public immutable registry;
    BidBook public immutable book;
    address public immutable admin; // governance (GOVERNOR_ROLE) and guardian (PAUSER_ROLE)
    address public immutable arbiter;
    address public immutable requester; // the adversarial requester (not a provider)
    address public immutable selfDealer; // a Byzantine provider that also submits jobs

    address[] internal _providers;
    uint256[] internal _keys;
    mapping(address => bool) public isHonest;
    mapping(address => uint96) public initialStake;

    struct JobModel {
        address requester;
        uint8 replicas;
        uint8 quorum;
        bool instant;
        bool finalized; // JobFinalized seen
        bool disputed;
        bool overturned; // DisputeResolved(false): the arbiter overturned (with an honest majority: wrongly)
        bool upheld;
        uint16 byzMask; // Byzantine assignees
        uint16 committedMask; // assignees whose seal is on-chain (from events)
        uint16 revealedMask; // assignees that revealed on-chain (ResultRevealed)
        uint16 openedMask; // assignees opened by the finalizing `finalize`
        uint16 aggMask; // aggregated seals (SealsCommitted)
        uint8 byzBooked; // Byzantine providers that ever entered the job's on-chain book
        uint32 timeLimit;
        uint32 minCommitWindow; // the job's parameters (version in force at submission)
        uint32 grace;
        uint32 rulingPeriod;
        uint96 bond;
        uint32 disputedAt;
        uint32 ruledAt;
        uint256 bound; // liveness bound: revealDeadline + disputeWindow + rulingPeriod + revealGrace + 1
        bytes32 finalDigest;
    }

    mapping(uint256 => JobModel) internal _m;
    mapping(uint256 => Assignee[]) internal _lists;
    mapping(uint256 => bytes32[]) internal _aggSeals;
    mapping(uint256 => mapping(uint256 => uint8)) internal _strategy;
    mapping(uint256 => mapping(uint256 => bytes32)) internal _revealedDigest;
    mapping(uint256 => mapping(uint256 => uint256)) internal _readyAt; // assignment + time limit
    mapping(uint256 => mapping(address => bool)) internal _bookedEver;
    mapping(uint256 => uint16) internal _pendingOpen;
    uint256 public jobs;
    uint256[] internal _active;

    uint256 public currentTime;
    uint256 internal _entropy;

    // ------------------------------------------------------------------ failure ghosts (must stay 0)
    uint256 public honestReverts; // an honest action reverted
    string public firstHonestFailure;
    uint256 public dutiesMissed; // an honest duty could no longer be performed in time
    string public firstMissedDuty;
    uint256 public honestSlashed; // WorkerSettled(slashed) for an honest worker outside an overturned job
    uint256 public honestStakeSlashed; // Slashed for an honest provider outside an overturned job
    uint256 public honestPenalized; // negative reputation delta for an honest provider outside an overturned job
    uint256 public openedSlashed; // any worker that committed and opened the standing result was slashed
    string public firstUnfairSlash;
    uint256 public premiseBroken; // a job assigned without a strict honest majority (test invalid)
    uint256 public modelDrift; // a committed seal differs from the one the handler computed (test invalid)
    uint256 public wrongFinalized; // a JobFinalized with another digest than the true one
    uint256 public underQuorumFinalized; // finalized with fewer than quorum committed-and-opened assignees
    uint256 public forgeryAccepted; // a finalize the rules must refuse went through
    uint256 public garbageRevealAccepted; // a reveal with a wrong salt, digest 0 or an uncommitted digest
    uint256 public impossibleAccepted; // a job nobody can finish was accepted or assigned
    string public firstImpossible;
    uint256 public lateAssignAccepted; // an assignment after the last moment leaving time to commit
    uint256 public lateRulingAccepted; // an arbiter ruling after the ruling period
    uint256 public livenessFailures; // after `endAll` (warp past every bound, keepers run) a job not ended
    string public firstLivenessFailure;

    // ------------------------------------------------------------------ coverage (non-vacuity)
    uint256[ACTIONS] public calls;
    uint256[ACTIONS] public done;
    uint256 public finalizedJobs;
    uint256 public finalizedByReveals;
    uint256 public graceReveals; // honest reveals after the reveal deadline, within the grace
    uint256 public lastSecondFinalizes;
    uint256 public disputes;
    uint256 public overturns;
    uint256 public upheldRulings;
    uint256 public defaultRulings;
    uint256 public overturnSlashes; // slashes of honest workers in jobs the arbiter overturned (excluded)
    uint256 public byzSlashes;
    uint256 public evictions;
    uint256 public sybilBids;
    uint256 public selfDealt; // assignments where the requester is one of its own job's assignees
    uint256 public tightJobs;
    uint256 public lastSecondAssigns;
    uint256 public failedJobs;
    uint256 public impossibleTried;
    uint256 public pauses;
    uint256 public pausedJobsLive; // honest duties performed while the market was paused
    uint256 public forgeriesTried;
    uint256 public garbageTried;

    constructor(
        IJobMarket market_,
        PaymentEscrow escrow_,
        ProviderRegistry registry_,
        BidBook book_,
        address admin_,
        address arbiter_,
        address requester_,
        address[] memory providers_,
        uint256[] memory keys_,
        uint256 honestCount
    ) {
        (market, escrow, registry, book) = (market_, escrow_, registry_, book_);
        (admin, arbiter, requester) = (admin_, arbiter_, requester_);
        _providers = providers_;
        _keys = keys_;
        for (uint256 i; i < providers_.length; ++i) {
            isHonest[providers_[i]] = i < honestCount;
            initialStake[providers_[i]] = registry_.providerInfo(providers_[i]).stake;
        }
        selfDealer = providers_[honestCount];
        currentTime = block.timestamp;
    }

    /// @dev Restores the handler's clock (forge resets the block between calls) and records the action's logs.
    modifier act(uint256 id, uint256 seed) {
        if (block.timestamp < currentTime) vm.warp(currentTime);
        vm.recordLogs();
        _entropy = uint256(keccak256(abi.encode(seed, _nonce)));
        ++calls[id];
        if (_pauseEnds != 0 && ++_callsSincePause >= _pauseEnds) _unpauseAll();
        _;
        _drain();
    }

    uint256 internal _nonce;
    uint256 internal _pauseEnds; // a pause is lifted after this many calls
    uint256 internal _callsSincePause;

    /// @dev forge's dictionary feeds the same small values again and again: every action hashes its seed.
    function _mix(uint256 seed) internal returns (uint256) {
        return uint256(keccak256(abi.encode(seed, ++_nonce)));
    }

    // ================================================================== requester: submission

    /// @dev A valid job from the adversarial requester (or the self-dealing provider): tight deadlines
    /// (exactly the minimum the rules allow), the longest allowed horizon, 1-wei and max-uint80 prices,
    /// instant or bid mode, disputable or not, (M, N) from (1,1) to (16,9).
    function submit(uint256 seed) external act(A_SUBMIT, seed) {
        seed = _mix(seed);
        if (jobs >= MAX_JOBS || market.paused() || escrow.paused()) return;
        _prune();
        if (_active.length >= MAX_ACTIVE) return;
        (JobSpec memory s, bool ok) = _validSpec(seed);
        if (!ok) return;
        address who = seed % 3 == 0 ? selfDealer : requester;
        uint256 budget = uint256(s.replicas) * s.maxPricePerReplica;
        vm.deal(who, who.balance + budget);
        vm.prank(who);
        uint256 id = market.submitJob{value: budget}(s);
        _record(id, s, who);
        ++done[A_SUBMIT];
        // the requester drives half of its jobs at once: on-chain bids (Sybils included), then the
        // assignment; instant jobs are claimed
        if ((seed >> 128) % 2 != 0) return;
        JobInfo memory j = market.getJob(id);
        if (j.bidDeadline == 0 && (seed >> 130) % 2 == 0) {
            _claimSome(id, j, seed >> 64);
            return;
        }
        if (j.bidDeadline != 0 && (seed >> 131) % 2 == 0 && !book.paused()) _bidOnChain(id, j, seed >> 32);
        _assignNow(id, seed >> 64, false);
    }

    /// @dev Impossible or malformed jobs (a commit deadline one second short of the time limit plus the
    /// commit window, a reveal window one second short, one second beyond the horizon, uint32-max deadlines,
    /// windows over their maxima, a minority quorum, 0 or 17 replicas, zero price or time limit): refused.
    function submitImpossible(uint256 seed) external act(A_IMPOSSIBLE, seed) {
        seed = _mix(seed);
        if (jobs >= MAX_JOBS || market.paused() || escrow.paused()) return;
        (JobSpec memory s, bool ok) = _validSpec(seed);
        if (!ok) return;
        MarketParams memory p = market.params();
        uint256 kind = (seed >> 32) % 10;
        if (kind == 0) {
            s.commitDeadline = uint32(block.timestamp + s.bidWindow + s.timeLimit + p.minCommitWindow - 1);
            s.revealDeadline = uint32(s.commitDeadline + p.minRevealWindow);
        } else if (kind == 1) {
            s.revealDeadline = uint32(s.commitDeadline + p.minRevealWindow - 1);
        } else if (kind == 2) {
            s.revealDeadline = uint32(block.timestamp + p.maxJobDuration + 1);
        } else if (kind == 3) {
            (s.commitDeadline, s.revealDeadline) = (type(uint32).max, type(uint32).max);
        } else if (kind == 4) {
            s.bidWindow = p.maxBidWindow + 1;
        } else if (kind == 5) {
            s.disputeWindow = p.maxDisputeWindow + 1;
        } else if (kind == 6) {
            s.quorum = s.replicas / 2;
        } else if (kind == 7) {
            (s.replicas, s.quorum) = seed % 2 == 0 ? (0, 0) : (17, 9);
        } else if (kind == 8) {
            s.maxPricePerReplica = 0;
        } else {
            s.timeLimit = 0;
        }
        uint256 budget = uint256(s.replicas) * s.maxPricePerReplica;
        vm.deal(requester, requester.balance + budget);
        ++impossibleTried;
        uint256 before = market.jobCount();
        bool accepted = _mustFail(requester, budget, address(market), abi.encodeCall(IJobMarket.submitJob, (s)));
        if (accepted) {
            ++impossibleAccepted;
            if (bytes(firstImpossible).length == 0) {
                firstImpossible = string.concat("impossible job accepted, kind ", Strings.toString(kind));
            }
            _record(before + 1, s, requester);
        }
        ++done[A_IMPOSSIBLE];
    }

    function _validSpec(uint256 seed) internal view returns (JobSpec memory s, bool ok) {
        MarketParams memory p = market.params();
        (s.replicas, s.quorum) = _shape(_r(seed, 1));
        if (_r(seed, 2) % 4 != 0) {
            uint256 maxW = p.maxBidWindow < 2 hours ? p.maxBidWindow : 2 hours;
            s.bidWindow = _r(seed, 3) % 8 == 0 ? p.maxBidWindow : uint32(TestMath.bound(_r(seed, 3), 1, maxW));
        }
        uint256 tl = _r(seed, 4) % 4;
        s.timeLimit = tl == 0 ? 1 : tl == 1 ? 60 : uint32(TestMath.bound(_r(seed, 44), 1, 2 hours));
        bool tight = _r(seed, 5) % 3 == 0;
        uint256 commitDeadline = block.timestamp + s.bidWindow + s.timeLimit + p.minCommitWindow;
        if (!tight) commitDeadline += TestMath.bound(_r(seed, 6), 0, 4 hours);
        uint256 revealDeadline = commitDeadline + p.minRevealWindow;
        if (!tight) revealDeadline += TestMath.bound(_r(seed, 7), 0, 4 hours);
        uint256 latest = block.timestamp + p.maxJobDuration;
        if (_r(seed, 8) % 8 == 0) revealDeadline = latest; // the furthest horizon allowed
        if (revealDeadline > latest || commitDeadline + p.minRevealWindow > revealDeadline) return (s, false);
        (s.commitDeadline, s.revealDeadline) = (uint32(commitDeadline), uint32(revealDeadline));
        if (_r(seed, 9) % 3 != 0 && p.maxDisputeWindow != 0) {
            uint256 maxD = p.maxDisputeWindow < 6 hours ? p.maxDisputeWindow : 6 hours;
            s.disputeWindow = _r(seed, 10) % 4 == 0 ? p.maxDisputeWindow : uint32(TestMath.bound(_r(seed, 10), 1, maxD));
        }
        s.maxPricePerReplica = _price(seed, p.minRewardedPrice);
        s.programDigest = keccak256(abi.encode("program", seed));
        s.inputDigest = keccak256(abi.encode("input", seed));
        s.runtimeId = "wasi";
        s.requiredCapabilities = WASI;
        s.fuelLimit = type(uint64).max;
        ok = true;
    }

    /// @dev 1 wei, uint80 max, the reward threshold, or an ordinary price.
    function _price(uint256 seed, uint96 minRewardedPrice) internal pure returns (uint80) {
        uint256 pr = _r(seed, 11) % 10;
        if (pr == 0) return 1;
        if (pr == 1) return type(uint80).max;
        if (pr == 2) return uint80(minRewardedPrice);
        return uint80(TestMath.bound(_r(seed, 12), 1e15, 1e18));
    }

    function _shape(uint256 r) internal pure returns (uint8 m, uint8 n) {
        uint256 k = r % 16;
        if (k == 0) return (1, 1);
        if (k == 1) return (2, 2);
        if (k <= 5) return (3, 2);
        if (k == 6) return (3, 3);
        if (k == 7) return (4, 3);
        if (k <= 10) return (5, 3);
        if (k == 11) return (5, 4);
        if (k == 12) return (7, 4);
        if (k == 13) return (7, 5);
        if (k == 14) return (16, 9);
        return (3, 2);
    }

    function _record(uint256 id, JobSpec memory s, address who) internal {
        JobModel storage m = _m[id];
        MarketParams memory p = market.params();
        m.requester = who;
        m.replicas = s.replicas;
        m.quorum = s.quorum;
        m.instant = s.bidWindow == 0;
        m.timeLimit = s.timeLimit;
        m.minCommitWindow = p.minCommitWindow;
        m.grace = p.revealGrace;
        m.rulingPeriod = p.rulingPeriod;
        m.bond = p.disputeBond;
        m.bound = uint256(s.revealDeadline) + s.disputeWindow + p.rulingPeriod + p.revealGrace + 1;
        uint256 earliest = block.timestamp + s.bidWindow + s.timeLimit + p.minCommitWindow;
        if (s.commitDeadline == earliest && s.revealDeadline == uint256(s.commitDeadline) + p.minRevealWindow) {
            ++tightJobs;
        }
        jobs = id;
        _active.push(id);
    }

    // ================================================================== requester and providers: bidding

    /// @dev On-chain bids. Honest providers bid at ordinary prices; the requester's Sybils (Byzantine
    /// providers) bid 1 wei, evicting the worst bids once the book is full. At most floor((M-1)/2)
    /// Byzantine providers ever enter a job's book.
    function bidOnChain(uint256 seed) external act(A_BID, seed) {
        seed = _mix(seed);
        if (book.paused()) return;
        (uint256 id, JobInfo memory j) = _pick(seed, _inBidding);
        if (id == 0) return;
        _bidOnChain(id, j, seed);
    }

    function _bidOnChain(uint256 id, JobInfo memory j, uint256 seed) internal {
        uint256 mode = (seed >> 8) % 3;
        uint96 collateral = market.collateralOf(id);
        if (mode != 1) {
            // honest bids; mode 0: fill the book
            uint256 want = mode == 0 ? 2 * uint256(j.replicas) : 1;
            for (uint256 k; k < _providers.length && want != 0; ++k) {
                address p = _providers[_at(seed, k, _providers.length)];
                if (!isHonest[p] || _bookedEver[id][p] || !registry.isEligible(p, WASI, collateral)) continue;
                if (book.bidsOf(id).length >= 2 * uint256(j.replicas)) break;
                vm.prank(p);
                book.bid(id, uint80(TestMath.bound(_r(seed, k), j.maxPrice / 2 + 1, j.maxPrice)), 600);
                _bookedEver[id][p] = true;
                --want;
                _drain();
            }
        }
        if (mode != 2 && _m[id].byzBooked < _byzLimit(j.replicas)) {
            // a Sybil bid at 1 wei, evicting the worst entry of a full book
            for (uint256 k; k < _providers.length; ++k) {
                address p = _providers[_at(seed, 7 * k, _providers.length)];
                if (isHonest[p] || _bookedEver[id][p] || !registry.isEligible(p, WASI, collateral)) continue;
                _drain();
                vm.prank(p);
                (bool ok,) = address(book).call(abi.encodeCall(BidBook.bid, (id, 1, 1)));
                if (ok) {
                    _bookedEver[id][p] = true;
                    ++_m[id].byzBooked;
                    ++sybilBids;
                    _drain();
                } else {
                    vm.getRecordedLogs(); // not competitive (ties at 1 wei): dropped
                }
                break;
            }
        }
        ++done[A_BID];
    }

    // ================================================================== requester: assignment

    /// @dev Assigns an Open job with signed bids (plus its on-chain bids), choosing the candidates so that
    /// Byzantine ones are at most floor((M-1)/2): sometimes at the last second the rules allow
    /// (commitDeadline - timeLimit - minCommitWindow), after trying one second later (must be refused).
    function assign(uint256 seed) external act(A_ASSIGN, seed) {
        seed = _mix(seed);
        if (market.paused()) return;
        (uint256 id, JobInfo memory j) = _pick(seed, _assignable);
        if (id == 0) return;
        uint256 latest = _latestAssign(id, j);
        uint256 mode = (seed >> 8) % 6;
        if (mode == 0 && latest >= block.timestamp) {
            // one second too late, with bids that would otherwise do: refused
            _advanceTo(latest + 1);
            j = market.getJob(id);
            if (j.status != JobStatus.Open || market.paused()) return;
            (SignedBid[] memory late, bool valid) = _bidsFor(id, j, seed);
            if (!valid) return;
            bytes memory data = abi.encodeCall(IJobMarket.assignWithSignedBids, (id, late));
            if (_mustFail(address(0), 0, address(market), data)) {
                ++lateAssignAccepted;
                _checkMajority(id);
            }
            ++done[A_ASSIGN];
            return;
        }
        _assignNow(id, seed, mode == 1);
    }

    /// @dev Assigns `id` at the end of its bid window (or at once in instant mode), or at the last second
    /// the rules allow, with signed bids keeping a strict honest majority.
    function _assignNow(uint256 id, uint256 seed, bool lastSecond) internal {
        JobInfo memory j = market.getJob(id);
        uint256 latest = _latestAssign(id, j);
        if (lastSecond) _advanceTo(latest);
        else if (j.bidDeadline > block.timestamp) _advanceTo(j.bidDeadline);
        if (block.timestamp > latest || market.paused()) return;
        j = market.getJob(id);
        if (j.status != JobStatus.Open) return;
        (SignedBid[] memory bids, bool ok) = _bidsFor(id, j, seed);
        if (!ok) return;
        if (block.timestamp == latest) ++lastSecondAssigns;
        market.assignWithSignedBids(id, bids);
        _drain();
        _checkMajority(id);
        ++done[A_ASSIGN];
    }

    /// @dev Signed bids over honest providers and at most `limit - Byzantine on-chain bidders` Byzantine
    /// ones (the self-dealer first on its own jobs), enough for M candidates with the on-chain bids.
    function _bidsFor(uint256 id, JobInfo memory j, uint256 seed)
        internal
        view
        returns (SignedBid[] memory bids, bool ok)
    {
        Bid[] memory onChain = book.bidsOf(id);
        uint256 byzOn;
        for (uint256 i; i < onChain.length; ++i) {
            if (!isHonest[onChain[i].provider]) ++byzOn;
        }
        uint256 limit = _byzLimit(j.replicas);
        uint256 byzWanted = byzOn >= limit ? 0 : TestMath.bound(_r(seed, 20), 0, limit - byzOn);
        bids = new SignedBid[](2 * uint256(j.replicas));
        BidCtx memory c = BidCtx(id, j.maxPrice, onChain, false, byzWanted, seed);
        uint256 n = _addBids(c, bids, 0);
        uint256 byz = n;
        c.wanted = TestMath.bound(_r(seed, 21), 0, j.replicas);
        if (onChain.length + n < j.replicas) c.wanted += j.replicas - onChain.length - n;
        (c.honest, c.seed) = (true, seed >> 16);
        n = _addBids(c, bids, n);
        assembly ("memory-safe") {
            mstore(bids, n)
        }
        uint256 total = onChain.length + n;
        uint256 byzTotal = byzOn + byz;
        if (total < j.quorum) return (bids, false);
        // honest strict majority of whoever gets assigned: the best M of the candidates
        ok = total >= j.replicas ? byzTotal <= limit : 2 * byzTotal < total;
    }

    /// @dev Appends up to `wanted` signed bids from eligible honest (or Byzantine) providers not bidding
    /// yet; Byzantine ones bid low (they win), the self-dealer first on its own job.
    struct BidCtx {
        uint256 id;
        uint80 maxPrice;
        Bid[] onChain;
        bool honest;
        uint256 wanted;
        uint256 seed;
    }

    function _addBids(BidCtx memory c, SignedBid[] memory bids, uint256 n) internal view returns (uint256) {
        uint96 collateral = market.collateralOf(c.id);
        uint256 added;
        for (uint256 k; k <= _providers.length && added < c.wanted && n < bids.length; ++k) {
            address p;
            if (k == 0) {
                if (c.honest || _m[c.id].requester != selfDealer) continue;
                p = selfDealer;
            } else {
                p = _providers[_at(c.seed, k, _providers.length)];
            }
            if (isHonest[p] != c.honest || _listedBid(bids, n, p) || _inBook(c.onChain, p)) continue;
            if (!registry.isEligible(p, WASI, collateral)) continue;
            uint80 price = c.honest
                ? uint80(TestMath.bound(_r(c.seed, 50 + k), c.maxPrice / 2 + 1, c.maxPrice))
                : uint80(TestMath.bound(_r(c.seed, 30 + k), 1, c.maxPrice / 4 + 1));
            bids[n++] = _signBid(c.id, p, price);
            ++added;
        }
        return n;
    }

    /// @dev Instant mode: providers claim, a Byzantine one only if the honest majority survives the claim;
    /// sometimes one second after the last moment the rules allow (refused).
    function claim(uint256 seed) external act(A_CLAIM, seed) {
        seed = _mix(seed);
        if (market.paused()) return;
        (uint256 id, JobInfo memory j) = _pick(seed, _claimable);
        if (id == 0) return;
        uint256 latest = _latestAssign(id, j);
        if ((seed >> 8) % 8 == 0) {
            _advanceTo(latest + 1);
            j = market.getJob(id);
            if (j.status != JobStatus.Open && j.status != JobStatus.Assigned && j.status != JobStatus.InProgress) {
                return;
            }
            address q = _freeProvider(id, seed, true, market.collateralOf(id));
            if (q == address(0)) return;
            bool accepted = _mustFail(q, 0, address(market), abi.encodeCall(IJobMarket.claimJob, (id, _lists[id])));
            if (accepted) ++lateAssignAccepted;
            return;
        }
        _claimSome(id, j, seed);
    }

    /// @dev 1 to M claims, a Byzantine claimer only when the honest majority survives its claim.
    function _claimSome(uint256 id, JobInfo memory j, uint256 seed) internal {
        if (market.paused()) return;
        uint256 claims = TestMath.bound(seed >> 200, 1, j.replicas - j.assigned);
        for (uint256 c; c < claims; ++c) {
            uint256 assigned = _lists[id].length;
            uint256 byz = TestMath.popcount(_m[id].byzMask);
            bool byzOk = 2 * (byz + 1) < assigned + 1 && _r(seed, 300 + c) % 2 == 0;
            address p = _freeProvider(id, _r(seed, 400 + c), !byzOk, market.collateralOf(id));
            if (p == address(0)) break;
            Assignee[] memory current = _lists[id];
            vm.prank(p);
            market.claimJob(id, current);
            _drain();
            _checkMajority(id);
        }
        ++done[A_CLAIM];
    }

    function _freeProvider(uint256 id, uint256 seed, bool honestOnly, uint96 collateral)
        internal
        view
        returns (address)
    {
        for (uint256 k; k < _providers.length; ++k) {
            address p = _providers[_at(seed, k, _providers.length)];
            if (isHonest[p] != honestOnly) continue;
            if (_listed(_lists[id], p) || !registry.isEligible(p, WASI, collateral)) continue;
            return p;
        }
        return address(0);
    }

    function cancel(uint256 seed) external act(A_CANCEL, seed) {
        seed = _mix(seed);
        if (seed % 4 != 0 || market.paused()) return;
        (uint256 id,) = _pick(seed >> 2, _isOpen);
        if (id == 0) return;
        vm.prank(_m[id].requester);
        market.cancel(id);
        _drain();
        ++done[A_CANCEL];
    }

    // ================================================================== honest workers

    /// @dev An honest assignee commits its true seal once its computation is done (assignment + time
    /// limit); or an honest leader commits every honest seal (and the Byzantine ones that sign theirs) in
    /// one commitSeals, when nothing is committed yet.
    function honestCommit(uint256 seed) external act(A_HCOMMIT, seed) {
        seed = _mix(seed);
        (uint256 id, JobInfo memory j) = _pick(seed, _honestUncommitted);
        if (id == 0) return;
        uint256 i = _firstHonest(id, seed, _isHonestUncommitted);
        uint256 ready = _readyAt[id][i];
        if (ready > block.timestamp) {
            if (ready >= j.commitDeadline) return; // (counted at assignment as impossible)
            _advanceTo(ready);
        }
        j = market.getJob(id);
        if (!_commitPhase(j) || _m[id].committedMask & (1 << i) != 0) return;
        bool aggregate = (seed >> 8) % 2 == 0 && j.committed == 0 && _assignmentFinal(j);
        if (aggregate && _allReady(id)) {
            _honestCommitSeals(id, i, seed);
        } else {
            _honestCommitAlone(id, i);
        }
        ++done[A_HCOMMIT];
    }

    function _honestCommitAlone(uint256 id, uint256 i) internal {
        address w = _lists[id][i].worker;
        _honest(w, 0, abi.encodeCall(IJobMarket.commit, (id, _proof(id), uint8(i), _sealOf(id, i))), "commit");
    }

    /// @dev Leader `i` submits the honest seals and, for one call in two, the committing Byzantine seals.
    function _honestCommitSeals(uint256 id, uint256 leader, uint256 seed) internal {
        uint256 n = _lists[id].length;
        uint16 mask;
        for (uint256 i; i < n; ++i) {
            uint8 s = _strategy[id][i];
            if (s == HONEST || ((seed >> 16) % 2 == 0 && s != BYZ_NOSHOW)) mask |= uint16(1 << i);
        }
        (SealBatch[] memory items, SealSignature[] memory sigs) = _sealBatch(id, mask, _lists[id][leader].worker);
        _honest(_lists[id][leader].worker, 0, abi.encodeCall(IJobMarket.commitSeals, (items, sigs)), "commitSeals");
    }

    /// @dev Honest aggregated finalization: every opening the honest aggregator holds (the honest
    /// assignees' and the lazy-but-correct Byzantine ones'), once the opening phase allows it.
    function honestFinalize(uint256 seed) external act(A_HFINALIZE, seed) {
        seed = _mix(seed);
        (uint256 id, JobInfo memory j) = _pick(seed, _inProgress);
        if (id == 0) return;
        if (!_openingPhase(j)) {
            if (block.timestamp >= j.commitDeadline || (seed >> 8) % 2 == 0) return;
            _advanceTo(j.commitDeadline); // the honest assignees commit first (their duty)
            j = market.getJob(id);
            if (j.status != JobStatus.InProgress || !_openingPhase(j)) return;
        }
        uint16 mask = _knownTrueOpenings(id);
        if (TestMath.popcount(mask) < j.quorum) return;
        _pendingOpen[id] = mask;
        Opening[] memory o = _openings(id, mask);
        if ((seed >> 12) % 4 == 0) {
            Finalization[] memory items = new Finalization[](1);
            items[0] = Finalization(id, _true(id), _proof(id), o);
            _honest(address(0), 0, abi.encodeCall(IJobMarket.finalizeMany, (items)), "finalizeMany");
        } else {
            _honest(address(0), 0, abi.encodeCall(IJobMarket.finalize, (id, _true(id), _proof(id), o)), "finalize");
        }
        _pendingOpen[id] = 0;
        ++done[A_HFINALIZE];
    }

    /// @dev An honest assignee reveals its true digest on-chain as soon as the phase allows (before the
    /// finalization, or after it if it was left out).
    function honestReveal(uint256 seed) external act(A_HREVEAL, seed) {
        seed = _mix(seed);
        (uint256 id,) = _pick(seed, _honestRevealable);
        if (id == 0) return;
        uint256 i = _firstHonest(id, seed, _isHonestRevealable);
        _honestReveal(id, i);
        ++done[A_HREVEAL];
    }

    function _honestReveal(uint256 id, uint256 i) internal {
        address w = _lists[id][i].worker;
        _honest(w, 0, abi.encodeCall(IJobMarket.reveal, (id, _proof(id), uint8(i), _true(id), _salt(id, i))), "reveal");
    }

    /// @dev Keepers (anyone; honest workers do it): the default ruling once the ruling period is over,
    /// payouts of agreeing workers once no dispute can hold them, settlement after the deadlines.
    function keeper(uint256 seed) external act(A_KEEPER, seed) {
        seed = _mix(seed);
        _keepAll(seed);
        _prune();
        ++done[A_KEEPER];
    }

    function _keepAll(uint256 seed) internal {
        for (uint256 k; k < _active.length; ++k) {
            uint256 id = _active[k];
            JobInfo memory j = market.getJob(id);
            if (j.status == JobStatus.Disputed && block.timestamp >= uint256(_m[id].disputedAt) + _m[id].rulingPeriod) {
                _honest(address(0), 0, abi.encodeCall(IJobMarket.applyDefaultRuling, (id)), "applyDefaultRuling");
                j = market.getJob(id);
            }
            if (seed % 2 == 0) {
                uint256 i = _payableIndex(id, j);
                if (i != type(uint256).max) {
                    _honest(
                        address(0), 0, abi.encodeCall(IJobMarket.claimPayout, (id, _proof(id), uint8(i))), "claimPayout"
                    );
                    j = market.getJob(id);
                }
            }
            if (_settleableNow(id, j)) {
                _honest(address(0), 0, abi.encodeCall(IJobMarket.settle, (id, _proof(id))), "settle");
            }
        }
    }

    // ================================================================== Byzantine workers

    /// @dev A Byzantine assignee commits by its strategy (wrong digest, a seal of digest 0, a random seal,
    /// the true digest it will withhold or open, the max digest); or a Byzantine leader front-runs the
    /// honest leader with a commitSeals of the Byzantine seals only.
    function byzCommit(uint256 seed) external act(A_BCOMMIT, seed) {
        seed = _mix(seed);
        (uint256 id, JobInfo memory j) = _pick(seed, _byzUncommitted);
        if (id == 0) return;
        uint256 n = _lists[id].length;
        uint16 mask;
        uint256 first = type(uint256).max;
        for (uint256 s; s < n; ++s) {
            uint256 i = _at(seed, s, n);
            if (!_isByzUncommitted(id, i)) continue;
            if (first == type(uint256).max) first = i;
            mask |= uint16(1 << i);
        }
        if (first == type(uint256).max) return;
        if ((seed >> 8) % 3 == 0 && j.committed == 0 && _assignmentFinal(j)) {
            address leader = _lists[id][first].worker;
            (SealBatch[] memory items, SealSignature[] memory sigs) = _sealBatch(id, mask, leader);
            vm.prank(leader);
            market.commitSeals(items, sigs);
        } else {
            address w = _lists[id][first].worker;
            Proof memory proof = _proof(id);
            bytes32 seal = _sealOf(id, first);
            vm.prank(w);
            market.commit(id, proof, uint8(first), seal);
        }
        _drain();
        ++done[A_BCOMMIT];
    }

    /// @dev A Byzantine assignee reveals its (wrong, max or lazily true) digest when the phase allows;
    /// or tries garbage: a wrong salt, digest 0, a digest it did not commit (refused).
    function byzReveal(uint256 seed) external act(A_BREVEAL, seed) {
        seed = _mix(seed);
        (uint256 id,) = _pick(seed, _byzCommittedUnsettled);
        if (id == 0) return;
        uint256 n = _lists[id].length;
        if ((seed >> 8) % 3 == 0) {
            for (uint256 s; s < n; ++s) {
                uint256 i = _at(seed, s, n);
                if (_m[id].byzMask & (1 << i) == 0 || _m[id].committedMask & (1 << i) == 0) continue;
                _garbageReveal(id, i, seed >> 16);
                ++done[A_BREVEAL];
                return;
            }
            return;
        }
        JobInfo memory j = market.getJob(id);
        for (uint256 s; s < n; ++s) {
            uint256 i = _at(seed, s, n);
            if (!_byzCanReveal(id, j, i)) continue;
            (bytes32 d,) = _digestOf(id, i);
            address w = _lists[id][i].worker;
            Proof memory proof = _proof(id);
            bytes32 salt = _salt(id, i);
            vm.prank(w);
            market.reveal(id, proof, uint8(i), d, salt);
            _drain();
            ++done[A_BREVEAL];
            return;
        }
    }

    function _garbageReveal(uint256 id, uint256 i, uint256 seed) internal {
        (bytes32 d,) = _digestOf(id, i);
        bytes32 salt = _salt(id, i);
        uint256 kind = seed % 3;
        if (kind == 0) salt = keccak256(abi.encode(salt, "tampered"));
        else if (kind == 1) d = 0;
        else d = keccak256(abi.encode("nobody committed this", id));
        ++garbageTried;
        bytes memory data = abi.encodeCall(IJobMarket.reveal, (id, _proof(id), uint8(i), d, salt));
        if (_mustFail(_lists[id][i].worker, 0, address(market), data)) ++garbageRevealAccepted;
    }

    // ================================================================== adversarial requester and anyone

    /// @dev The requester, as aggregator, finalizes listing exactly a quorum of the openings it was sent,
    /// at the last second of the reveal window (or at once), so the honest assignees it left out must
    /// reveal within the reveal grace.
    function requesterFinalize(uint256 seed) external act(A_RFINALIZE, seed) {
        seed = _mix(seed);
        (uint256 id, JobInfo memory j) = _pick(seed, _inProgress);
        if (id == 0) return;
        bool lastSecond = (seed >> 8) % 2 == 0;
        if (lastSecond) {
            _advanceTo(j.revealDeadline);
        } else if (!_openingPhase(j)) {
            if (block.timestamp >= j.commitDeadline) return;
            _advanceTo(j.commitDeadline);
        }
        j = market.getJob(id);
        if (j.status != JobStatus.InProgress || !_openingPhase(j)) return;
        uint16 known = _knownTrueOpenings(id);
        if (TestMath.popcount(known) < j.quorum) return;
        // a random quorum-sized subset
        uint16 mask;
        uint256 n = _lists[id].length;
        for (uint256 s; s < n && TestMath.popcount(mask) < j.quorum; ++s) {
            uint256 i = _at(seed >> 16, s, n);
            if (known & (1 << i) != 0) mask |= uint16(1 << i);
        }
        _pendingOpen[id] = mask;
        Opening[] memory o = _openings(id, mask);
        Proof memory proof = _proof(id);
        vm.prank(_m[id].requester);
        market.finalize(id, _true(id), proof, o);
        _drain();
        _pendingOpen[id] = 0;
        if (block.timestamp == j.revealDeadline) ++lastSecondFinalizes;
        ++done[A_RFINALIZE];
        // and disputes the result it finalized (bond posted), one time in two
        j = market.getJob(id);
        if ((seed >> 24) % 2 == 0 && _disputable(id, j)) _dispute(id);
    }

    /// @dev Finalizations the rules must refuse: digest 0, a digest nobody committed, the colluding wrong
    /// digest or the max digest with every Byzantine opening (short of the quorum), the true digest with a
    /// tampered salt or one opening short of the quorum, or any finalize of a job already past InProgress.
    function forgeFinalize(uint256 seed) external act(A_FORGE, seed) {
        seed = _mix(seed);
        uint256 n0 = _active.length;
        if (n0 == 0) return;
        uint256 id = _active[seed % n0];
        if (_lists[id].length == 0) return;
        JobInfo memory j = market.getJob(id);
        uint256 kind = (seed >> 8) % 6;
        bytes32 digest = _true(id);
        uint16 mask = _committedMask(id, digest);
        uint256 tampered = type(uint256).max;
        if (kind == 0) {
            digest = 0;
        } else if (kind == 1) {
            digest = keccak256(abi.encode("nobody committed this", id));
        } else if (kind == 2) {
            digest = _wrong(id);
            mask = _committedMask(id, digest);
        } else if (kind == 3) {
            digest = MAX_DIGEST;
            mask = _committedMask(id, digest);
        } else if (kind == 4) {
            // one listed assignee's salt replaced (one that did not reveal the digest on-chain: an assignee
            // that did may be listed with any salt)
            for (uint256 s; s < _lists[id].length; ++s) {
                uint256 i = _at(seed >> 16, s, _lists[id].length);
                if (mask & (1 << i) != 0 && _m[id].revealedMask & (1 << i) == 0) {
                    tampered = i;
                    break;
                }
            }
            if (tampered == type(uint256).max) return;
        } else {
            // valid openings, one short of the quorum
            while (TestMath.popcount(mask) >= j.quorum) mask &= mask - 1;
            if (mask == 0) return;
        }
        if (mask == 0) mask = 1; // something to open
        Opening[] memory o = _openings(id, mask);
        for (uint256 k; k < o.length; ++k) {
            if (o[k].index == tampered) o[k].salt = keccak256(abi.encode("tampered", o[k].salt));
        }
        ++forgeriesTried;
        _pendingOpen[id] = mask;
        bytes memory data = abi.encodeCall(IJobMarket.finalize, (id, digest, _proof(id), o));
        if (_mustFail(address(0), 0, address(market), data)) {
            ++forgeryAccepted;
            if (bytes(firstUnfairSlash).length == 0) {
                firstUnfairSlash = string.concat("forged finalize accepted, kind ", Strings.toString(kind));
            }
        }
        _pendingOpen[id] = 0;
        ++done[A_FORGE];
    }

    /// @dev The requester disputes a finalized result (sometimes at the last second of the window).
    function dispute(uint256 seed) external act(A_DISPUTE, seed) {
        seed = _mix(seed);
        (uint256 id, JobInfo memory j) = _pick(seed, _disputable);
        if (id == 0) return;
        if ((seed >> 8) % 3 == 0) {
            _advanceTo(uint256(j.finalizedAt) + j.disputeWindow - 1);
            j = market.getJob(id);
            if (!_disputable(id, j)) return;
        }
        _dispute(id);
    }

    function _dispute(uint256 id) internal {
        address who = _m[id].requester;
        uint256 bond = _m[id].bond;
        vm.deal(who, who.balance + bond);
        vm.prank(who);
        market.dispute{value: bond}(id);
        _drain();
        ++done[A_DISPUTE];
    }

    /// @dev The arbiter upholds, overturns (with an honest majority: wrongly), rules at the last second of
    /// the ruling period, or tries to rule after it (refused: only the default applies then).
    function arbiterRule(uint256 seed) external act(A_RULE, seed) {
        seed = _mix(seed);
        (uint256 id,) = _pick(seed, _isDisputed);
        if (id == 0) return;
        uint256 endsAt = uint256(_m[id].disputedAt) + _m[id].rulingPeriod;
        uint256 mode = (seed >> 8) % 5;
        if (mode == 4) {
            _advanceTo(endsAt);
            if (market.getJob(id).status != JobStatus.Disputed) return;
            bytes memory data = abi.encodeCall(IJobMarket.resolveDispute, (id, (seed >> 16) % 2 == 0));
            if (_mustFail(arbiter, 0, address(market), data)) ++lateRulingAccepted;
            return;
        }
        if (mode == 3) _advanceTo(endsAt - 1);
        if (block.timestamp >= endsAt || market.getJob(id).status != JobStatus.Disputed) return;
        bool upheld = mode == 0 || (mode == 3 && (seed >> 16) % 2 == 0);
        vm.prank(arbiter);
        market.resolveDispute(id, upheld);
        _drain();
        ++done[A_RULE];
    }

    // ================================================================== environment

    function warp(uint256 seed) external act(A_WARP, seed) {
        seed = _mix(seed);
        uint256 dt = seed % 8 == 0 ? TestMath.bound(seed >> 8, 1 hours, 4 days) : TestMath.bound(seed >> 8, 1, 2 hours);
        _advanceTo(block.timestamp + dt);
        ++done[A_WARP];
    }

    /// @dev The guardian pauses the market, the registry, the escrow or the bid book (or all four) at a
    /// random moment; the pause is lifted 1 to 20 calls later.
    function pauseToggle(uint256 seed) external act(A_PAUSE, seed) {
        seed = _mix(seed);
        address[4] memory targets = [address(market), address(registry), address(escrow), address(book)];
        uint256 which = seed % 5;
        for (uint256 k; k < 4; ++k) {
            if ((which == 4 || which == k) && !_paused(targets[k])) {
                vm.prank(admin);
                (bool ok,) = targets[k].call(abi.encodeWithSignature("pause()"));
                require(ok, "guardian pause failed");
            }
        }
        (_pauseEnds, _callsSincePause) = (TestMath.bound(seed >> 8, 1, 20), 0);
        ++pauses;
        ++done[A_PAUSE];
    }

    function _unpauseAll() internal {
        address[4] memory targets = [address(market), address(registry), address(escrow), address(book)];
        for (uint256 k; k < 4; ++k) {
            if (!_paused(targets[k])) continue;
            vm.prank(admin);
            (bool ok,) = targets[k].call(abi.encodeWithSignature("unpause()"));
            require(ok, "guardian unpause failed");
        }
        _pauseEnds = 0;
    }

    function _paused(address target) internal view returns (bool) {
        (, bytes memory ret) = target.staticcall(abi.encodeWithSignature("paused()"));
        return abi.decode(ret, (bool));
    }

    /// @dev Governance sets new parameters mid-job: every field within its bounds, often at a bound
    /// (revealGrace of 1 s, a 1-hour ruling period, the largest slashes, a zero dispute window maximum...).
    function setParams(uint256 seed) external act(A_PARAMS, seed) {
        seed = _mix(seed);
        if (seed % 3 != 0) return;
        MarketParams memory p;
        p.collateralBps = uint16(_pickBound(seed, 0, 1_000, 50_000));
        p.mismatchSlashBps = uint16(_pickBound(seed, 1, 1_000, 10_000));
        p.noShowSlashBps = uint16(_pickBound(seed, 2, 0, 10_000));
        p.reputationReward = uint16(_pickBound(seed, 3, 0, 1_000));
        p.mismatchPenalty = uint16(_pickBound(seed, 4, 0, 10_000));
        p.noShowPenalty = uint16(_pickBound(seed, 5, 0, 10_000));
        p.feeBps = uint16(_pickBound(seed, 6, 0, 1_000));
        p.minCommitWindow = uint32(_pickBound(seed, 7, 1, 1 hours));
        p.minRewardedPrice = uint96(_pickBound(seed, 8, 1, 1e24));
        p.minRevealWindow = uint32(_pickBound(seed, 9, 1, 1 hours));
        p.revealGrace = uint32(_pickBound(seed, 10, 1, 7 days));
        p.rulingPeriod = uint32(_pickBound(seed, 11, 1 hours, 30 days));
        p.maxJobDuration = uint32(_pickBound(seed, 13, 1 days, 90 days));
        p.maxBidWindow = uint32(_pickBound(seed, 12, 60, 7 days));
        if (p.maxBidWindow >= p.maxJobDuration) p.maxBidWindow = p.maxJobDuration - 1;
        p.maxDisputeWindow = uint32(_pickBound(seed, 14, 0, 30 days));
        p.disputeBond = uint96(_pickBound(seed, 15, 0, 1e24));
        vm.prank(admin);
        market.setParams(p);
        ++done[A_PARAMS];
    }

    /// @dev One value per field: a bound (one in three) or anything between.
    function _pickBound(uint256 seed, uint256 field, uint256 min, uint256 max) internal pure returns (uint256) {
        uint256 r = _r(seed, 900 + field);
        if (r % 6 == 0) return min;
        if (r % 6 == 1) return max;
        return TestMath.bound(r >> 8, min, max);
    }

    /// @dev The keepers' liveness check in the run itself: warp (honest duties done on the way) past every
    /// active job's liveness bound, run the keepers, and require every job ended and nothing locked.
    function endAll(uint256 seed) external act(A_END, seed) {
        seed = _mix(seed);
        if (seed % 3 != 0) return;
        uint256 t = block.timestamp;
        for (uint256 k; k < _active.length; ++k) {
            if (_m[_active[k]].bound > t) t = _m[_active[k]].bound;
        }
        _advanceTo(t);
        _keepAll(seed);
        _keepAll(seed >> 1); // a default ruling first, then the settlement
        for (uint256 k; k < _active.length; ++k) {
            uint256 id = _active[k];
            JobInfo memory j = market.getJob(id);
            if (!_ended(j)) {
                ++livenessFailures;
                if (bytes(firstLivenessFailure).length == 0) {
                    firstLivenessFailure = string.concat(
                        "job ",
                        Strings.toString(id),
                        " not ended after its bound, status ",
                        Strings.toString(uint8(j.status))
                    );
                }
            }
        }
        _prune();
        if (_active.length == 0) {
            for (uint256 i; i < _providers.length; ++i) {
                if (registry.providerInfo(_providers[i]).locked != 0) {
                    ++livenessFailures;
                    if (bytes(firstLivenessFailure).length == 0) {
                        firstLivenessFailure = "collateral still locked with every job ended";
                    }
                }
            }
            if (escrow.totalLocked(address(0)) != 0) {
                ++livenessFailures;
                if (bytes(firstLivenessFailure).length == 0) {
                    firstLivenessFailure = "budget still locked with every job ended";
                }
            }
        }
        ++done[A_END];
    }

    // ================================================================== liveness probe (invariant 3)

    /// @notice From the current state, with nobody acting but keepers (no worker, no requester, no arbiter,
    /// whatever is paused): at each job's liveness bound the keepers end it (default ruling, settlement),
    /// and once every job is past its bound, every job is terminal with every assignee settled, no
    /// collateral is locked, no budget is locked and the market holds no bond. Everything is undone after.
    function probeLiveness() external returns (bool ok, string memory why) {
        uint256 snap = vm.snapshotState();
        if (block.timestamp < currentTime) vm.warp(currentTime);
        (ok, why) = _probe();
        VmExtra(address(vm)).revertToStateAndDelete(snap);
    }

    function _probe() internal returns (bool, string memory) {
        uint256 n = jobs;
        uint256[] memory order = new uint256[](n);
        for (uint256 id = 1; id <= n; ++id) {
            uint256 k = id - 1;
            while (k > 0 && _m[order[k - 1]].bound > _m[id].bound) {
                order[k] = order[k - 1];
                --k;
            }
            order[k] = id;
        }
        for (uint256 k; k < n; ++k) {
            uint256 id = order[k];
            if (_m[id].bound > block.timestamp) vm.warp(_m[id].bound);
            JobInfo memory j = market.getJob(id);
            if (j.status == JobStatus.Disputed) {
                (bool ok1, bytes memory r1) = address(market).call(abi.encodeCall(IJobMarket.applyDefaultRuling, (id)));
                if (!ok1) {
                    return (
                        false,
                        string.concat(
                            "job ", Strings.toString(id), ": applyDefaultRuling reverted at its bound ", _hex(r1)
                        )
                    );
                }
                j = market.getJob(id);
            }
            if (!_ended(j) && j.status != JobStatus.Cancelled) {
                (bool ok2, bytes memory r2) = address(market).call(abi.encodeCall(IJobMarket.settle, (id, _proof(id))));
                if (!ok2) {
                    return
                        (
                            false,
                            string.concat("job ", Strings.toString(id), ": settle reverted at its bound ", _hex(r2))
                        );
                }
                j = market.getJob(id);
            }
            if (!_ended(j)) {
                return (
                    false,
                    string.concat(
                        "job ",
                        Strings.toString(id),
                        " not terminal and settled at its bound, status ",
                        Strings.toString(uint8(j.status))
                    )
                );
            }
        }
        for (uint256 i; i < _providers.length; ++i) {
            uint256 locked = registry.providerInfo(_providers[i]).locked;
            if (locked != 0) {
                return (false, string.concat("collateral locked after every job ended: ", Strings.toString(locked)));
            }
        }
        if (escrow.totalLocked(address(0)) != 0) return (false, "budget locked after every job ended");
        if (address(market).balance != 0) return (false, "dispute bond left in the market after every job ended");
        return (true, "");
    }

    // ================================================================== honest duties and the clock

    struct Duty {
        uint256 at; // the last second it can be done
        uint256 id;
        uint8 kind;
        uint8 index;
    }

    /// @dev Moves the clock to `t`, performing on the way, each at the last second it is due, every honest
    /// duty that would otherwise be missed.
    function _advanceTo(uint256 t) internal {
        for (uint256 guard; guard < 200; ++guard) {
            Duty memory d = _nextDuty();
            if (d.at >= t) break;
            if (d.at < block.timestamp) {
                ++dutiesMissed;
                if (bytes(firstMissedDuty).length == 0) {
                    firstMissedDuty = string.concat(
                        "job ",
                        Strings.toString(d.id),
                        " index ",
                        Strings.toString(d.index),
                        " duty ",
                        Strings.toString(d.kind)
                    );
                }
                break;
            }
            _warpTo(d.at);
            if (market.paused()) ++pausedJobsLive;
            uint256 before = honestReverts;
            if (d.kind == D_COMMIT) {
                _honestCommitAlone(d.id, d.index);
            } else {
                if (block.timestamp > market.getJob(d.id).revealDeadline) ++graceReveals;
                _honestReveal(d.id, d.index);
            }
            if (honestReverts != before) break; // the failure is recorded; do not loop on it
        }
        _warpTo(t);
    }

    function _nextDuty() internal view returns (Duty memory d) {
        d.at = type(uint256).max;
        for (uint256 k; k < _active.length; ++k) {
            uint256 id = _active[k];
            JobInfo memory j = market.getJob(id);
            JobModel storage m = _m[id];
            JobStatus st = j.status;
            uint256 n = _lists[id].length;
            for (uint256 i; i < n; ++i) {
                uint16 bit = uint16(1 << i);
                if (m.byzMask & bit != 0 || j.settledMask & bit != 0) continue;
                uint256 at = type(uint256).max;
                uint8 kind;
                if (st == JobStatus.Assigned || st == JobStatus.InProgress) {
                    if (m.committedMask & bit == 0) {
                        (at, kind) = (uint256(j.commitDeadline) - 1, D_COMMIT);
                    } else if (st == JobStatus.InProgress && m.revealedMask & bit == 0) {
                        (at, kind) = (j.revealDeadline, D_REVEAL);
                    }
                } else if (st == JobStatus.Finalized || st == JobStatus.Disputed || st == JobStatus.Resolved) {
                    if (m.committedMask & bit != 0 && m.revealedMask & bit == 0 && m.openedMask & bit == 0) {
                        (at, kind) = (_revealEnd(id, j), D_REVEAL);
                    }
                }
                if (at < d.at) d = Duty(at, id, kind, uint8(i));
            }
        }
    }

    function _warpTo(uint256 t) internal {
        if (t <= block.timestamp) return;
        vm.warp(t);
        currentTime = t;
    }

    // ================================================================== calls

    /// @dev An honest action: a revert is a failure (recorded, not re-thrown, so the invariant names it).
    function _honest(address from, uint256 value, bytes memory data, string memory what) internal returns (bool ok) {
        _drain();
        if (from != address(0)) vm.prank(from);
        bytes memory ret;
        (ok, ret) = address(market).call{value: value}(data);
        if (ok) {
            _drain();
        } else {
            vm.getRecordedLogs(); // a reverted call's logs are dropped
            ++honestReverts;
            if (bytes(firstHonestFailure).length == 0) {
                firstHonestFailure = string.concat(
                    "honest ", what, " reverted at t=", Strings.toString(block.timestamp), ": ", _hex(ret)
                );
            }
        }
    }

    /// @dev A call the rules must refuse; returns true if it went through (its logs are then taken in).
    function _mustFail(address from, uint256 value, address target, bytes memory data)
        internal
        returns (bool accepted)
    {
        _drain();
        if (from != address(0)) vm.prank(from);
        (accepted,) = target.call{value: value}(data);
        if (accepted) _drain();
        else vm.getRecordedLogs();
    }

    // ================================================================== logs

    function _drain() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics.length == 0) continue;
            if (logs[i].emitter == address(market)) _marketLog(logs[i]);
            else if (logs[i].emitter == address(registry)) _registryLog(logs[i]);
            else if (logs[i].emitter == address(book)) _bookLog(logs[i]);
        }
    }

    function _bookLog(Vm.Log memory l) internal {
        if (l.topics[0] != keccak256("BidPlaced(uint256,address,uint80,uint32,address)")) return;
        (,, address evicted) = abi.decode(l.data, (uint80, uint32, address));
        if (evicted != address(0)) ++evictions;
    }

    function _marketLog(Vm.Log memory l) internal {
        bytes32 t = l.topics[0];
        if (t == JobAssigned.selector) {
            (address[] memory workers, uint80[] memory prices) = abi.decode(l.data, (address[], uint80[]));
            _append(uint256(l.topics[1]), workers, prices);
        } else if (t == SealCommitted.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint8 index, bytes32 seal) = abi.decode(l.data, (uint8, bytes32));
            _m[id].committedMask |= uint16(1 << index);
            if (seal != _sealOf(id, index)) ++modelDrift; // the handler lost track of a seal
        } else if (t == SealsCommitted.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint16 mask, bytes32[] memory seals) = abi.decode(l.data, (uint16, bytes32[]));
            _m[id].aggMask = mask;
            _m[id].committedMask |= mask;
            for (uint256 k; k < seals.length; ++k) {
                _aggSeals[id].push(seals[k]);
            }
        } else if (t == ResultRevealed.selector) {
            uint256 id = uint256(l.topics[1]);
            (uint8 index, bytes32 digest) = abi.decode(l.data, (uint8, bytes32));
            _m[id].revealedMask |= uint16(1 << index);
            _revealedDigest[id][index] = digest;
        } else if (t == JobFinalized.selector) {
            _finalized(uint256(l.topics[1]), abi.decode(l.data, (bytes32)));
        } else if (t == JobFailed.selector) {
            ++failedJobs;
        } else if (t == DisputeOpened.selector) {
            uint256 id = uint256(l.topics[1]);
            (_m[id].disputed, _m[id].disputedAt) = (true, uint32(block.timestamp));
            ++disputes;
        } else if (t == DisputeDefaulted.selector) {
            ++defaultRulings;
        } else if (t == DisputeResolved.selector) {
            uint256 id = uint256(l.topics[1]);
            bool upheld = abi.decode(l.data, (bool));
            _m[id].ruledAt = uint32(block.timestamp);
            if (upheld) {
                _m[id].upheld = true;
                ++upheldRulings;
            } else {
                _m[id].overturned = true;
                ++overturns;
            }
        } else if (t == WorkerSettled.selector) {
            _workerSettled(l);
        }
    }

    /// @dev Counts the assignees that committed `digest` and opened it (in the finalizing call or by a
    /// reveal), and checks the digest is the true one.
    function _finalized(uint256 id, bytes32 digest) internal {
        JobModel storage m = _m[id];
        uint16 opened = _pendingOpen[id];
        _pendingOpen[id] = 0;
        m.finalized = true;
        m.finalDigest = digest;
        m.openedMask = opened;
        ++finalizedJobs;
        if (opened == 0) ++finalizedByReveals;
        if (digest != _true(id)) ++wrongFinalized;
        uint256 count;
        for (uint256 i; i < _lists[id].length; ++i) {
            (bytes32 d, bool openable) = _digestOf(id, i);
            bool committedIt = m.committedMask & (1 << i) != 0 && openable && d == digest;
            bool openedIt =
                opened & (1 << i) != 0 || (m.revealedMask & (1 << i) != 0 && _revealedDigest[id][i] == digest);
            if (committedIt && openedIt) ++count;
        }
        if (count < m.quorum) ++underQuorumFinalized;
    }

    function _workerSettled(Vm.Log memory l) internal {
        uint256 id = uint256(l.topics[1]);
        address w = address(uint160(uint256(l.topics[2])));
        (WorkerOutcome outcome,) = abi.decode(l.data, (WorkerOutcome, uint256));
        if (outcome != WorkerOutcome.SlashedMismatch && outcome != WorkerOutcome.SlashedNoShow) return;
        JobModel storage m = _m[id];
        uint256 i = _indexOf(id, w);
        if (isHonest[w]) {
            if (m.overturned) {
                ++overturnSlashes;
            } else {
                ++honestSlashed;
                _unfair(
                    string.concat(
                        "honest worker slashed: job ",
                        Strings.toString(id),
                        " index ",
                        Strings.toString(i),
                        " outcome ",
                        Strings.toString(uint8(outcome))
                    )
                );
            }
        } else {
            ++byzSlashes;
        }
        // whoever committed and opened the standing result is never slashed
        if (!m.overturned && m.finalized) {
            (bytes32 d, bool openable) = _digestOf(id, i);
            bool committedIt = m.committedMask & (1 << i) != 0 && openable && d == m.finalDigest;
            bool openedIt = m.openedMask & (1 << i) != 0
                || (m.revealedMask & (1 << i) != 0 && _revealedDigest[id][i] == m.finalDigest);
            if (committedIt && openedIt) {
                ++openedSlashed;
                _unfair(
                    string.concat(
                        "worker that opened the finalized digest slashed: job ",
                        Strings.toString(id),
                        " index ",
                        Strings.toString(i)
                    )
                );
            }
        }
    }

    function _registryLog(Vm.Log memory l) internal {
        bytes32 t = l.topics[0];
        if (t == IProviderRegistry.Slashed.selector) {
            address p = address(uint160(uint256(l.topics[1])));
            uint256 id = uint256(l.topics[2]);
            if (!isHonest[p]) return;
            (, uint96 amount,,) = abi.decode(l.data, (address, uint96, address, bytes32));
            if (_m[id].overturned) {
                overturnSlashedStake[p] += amount;
            } else {
                ++honestStakeSlashed;
                _unfair(string.concat("honest stake slashed: job ", Strings.toString(id)));
            }
        } else if (t == IProviderRegistry.CollateralReleased.selector) {
            uint256 id = uint256(l.topics[1]);
            (address[] memory ps,,,, int32 delta,) =
                abi.decode(l.data, (address[], address, uint96, uint16[], int32, bytes32));
            if (delta >= 0 || _m[id].overturned) return;
            for (uint256 k; k < ps.length; ++k) {
                if (isHonest[ps[k]]) {
                    ++honestPenalized;
                    _unfair(string.concat("honest reputation penalized: job ", Strings.toString(id)));
                }
            }
        }
    }

    function _unfair(string memory message) internal {
        if (bytes(firstUnfairSlash).length == 0) firstUnfairSlash = message;
    }

    /// @dev New assignees: Byzantine ones draw a strategy; each is ready to commit after the time limit,
    /// which the rules guarantee fits (with the minimum commit window) before the commit deadline.
    function _append(uint256 id, address[] memory workers, uint80[] memory prices) internal {
        Assignee[] storage list = _lists[id];
        JobModel storage m = _m[id];
        uint256 commitDeadline = market.getJob(id).commitDeadline;
        for (uint256 k; k < workers.length; ++k) {
            uint256 index = list.length;
            list.push(Assignee(workers[k], prices[k]));
            if (!isHonest[workers[k]]) {
                m.byzMask |= uint16(1 << index);
                _strategy[id][index] = uint8(1 + _r(_entropy, 1000 + 16 * id + index) % 7);
            }
            if (workers[k] == m.requester) ++selfDealt;
            uint256 ready = block.timestamp + m.timeLimit;
            _readyAt[id][index] = ready;
            if (ready + m.minCommitWindow > commitDeadline) {
                ++impossibleAccepted;
                if (bytes(firstImpossible).length == 0) {
                    firstImpossible =
                        string.concat("job ", Strings.toString(id), " assigned without time to run and commit");
                }
            }
        }
    }

    function _checkMajority(uint256 id) internal {
        uint256 n = _lists[id].length;
        if (n != 0 && 2 * TestMath.popcount(_m[id].byzMask) >= n) ++premiseBroken;
    }

    // ================================================================== job predicates

    function _inBidding(uint256, JobInfo memory j) internal view returns (bool) {
        return j.status == JobStatus.Open && j.bidDeadline != 0 && block.timestamp < j.bidDeadline;
    }

    function _assignable(uint256 id, JobInfo memory j) internal view returns (bool) {
        return j.status == JobStatus.Open && block.timestamp <= _latestAssign(id, j) + 1;
    }

    function _claimable(uint256 id, JobInfo memory j) internal view returns (bool) {
        JobStatus st = j.status;
        return j.bidDeadline == 0 && j.assigned < j.replicas && block.timestamp <= _latestAssign(id, j)
            && (st == JobStatus.Open || st == JobStatus.Assigned || st == JobStatus.InProgress);
    }

    function _latestAssign(uint256 id, JobInfo memory j) internal view returns (uint256) {
        uint256 needed = uint256(_m[id].timeLimit) + _m[id].minCommitWindow;
        return j.commitDeadline > needed ? j.commitDeadline - needed : 0;
    }

    function _isOpen(uint256, JobInfo memory j) internal pure returns (bool) {
        return j.status == JobStatus.Open;
    }

    function _inProgress(uint256, JobInfo memory j) internal view returns (bool) {
        return j.status == JobStatus.InProgress && block.timestamp <= j.revealDeadline;
    }

    function _commitPhase(JobInfo memory j) internal view returns (bool) {
        return
            (j.status == JobStatus.Assigned || j.status == JobStatus.InProgress) && block.timestamp < j.commitDeadline;
    }

    function _assignmentFinal(JobInfo memory j) internal pure returns (bool) {
        return j.bidDeadline != 0 || j.assigned == j.replicas;
    }

    function _openingPhase(JobInfo memory j) internal view returns (bool) {
        if (block.timestamp > j.revealDeadline) return false;
        return (_assignmentFinal(j) && j.committed == j.assigned) || block.timestamp >= j.commitDeadline;
    }

    function _isHonestUncommitted(uint256 id, uint256 i) internal view returns (bool) {
        return _m[id].byzMask & (1 << i) == 0 && _m[id].committedMask & (1 << i) == 0;
    }

    function _honestUncommitted(uint256 id, JobInfo memory j) internal view returns (bool) {
        if (!_commitPhase(j)) return false;
        return _firstHonest(id, 0, _isHonestUncommitted) != type(uint256).max;
    }

    function _allReady(uint256 id) internal view returns (bool) {
        for (uint256 i; i < _lists[id].length; ++i) {
            if (_readyAt[id][i] > block.timestamp) return false;
        }
        return true;
    }

    function _isHonestRevealable(uint256 id, uint256 i) internal view returns (bool) {
        JobModel storage m = _m[id];
        uint16 bit = uint16(1 << i);
        if (m.byzMask & bit != 0 || m.committedMask & bit == 0 || m.revealedMask & bit != 0) return false;
        JobInfo memory j = market.getJob(id);
        if (j.settledMask & bit != 0) return false;
        if (j.status == JobStatus.InProgress) return _openingPhase(j);
        if (j.status == JobStatus.Finalized || j.status == JobStatus.Disputed || j.status == JobStatus.Resolved) {
            return m.openedMask & bit == 0 && block.timestamp <= _revealEnd(id, j);
        }
        return false;
    }

    function _honestRevealable(uint256 id, JobInfo memory) internal view returns (bool) {
        return _firstHonest(id, 0, _isHonestRevealable) != type(uint256).max;
    }

    function _firstHonest(uint256 id, uint256 seed, function(uint256, uint256) internal view returns (bool) ok)
        internal
        view
        returns (uint256)
    {
        uint256 n = _lists[id].length;
        for (uint256 s; s < n; ++s) {
            uint256 i = _at(seed, s, n);
            if (ok(id, i)) return i;
        }
        return type(uint256).max;
    }

    function _isByzUncommitted(uint256 id, uint256 i) internal view returns (bool) {
        uint8 s = _strategy[id][i];
        return _m[id].byzMask & (1 << i) != 0 && s != BYZ_NOSHOW && _m[id].committedMask & (1 << i) == 0;
    }

    function _byzUncommitted(uint256 id, JobInfo memory j) internal view returns (bool) {
        if (!_commitPhase(j)) return false;
        for (uint256 i; i < _lists[id].length; ++i) {
            if (_isByzUncommitted(id, i)) return true;
        }
        return false;
    }

    function _byzCommittedUnsettled(uint256, JobInfo memory j) internal pure returns (bool) {
        JobStatus st = j.status;
        return st == JobStatus.InProgress || st == JobStatus.Finalized || st == JobStatus.Disputed
            || st == JobStatus.Resolved || st == JobStatus.Failed;
    }

    function _byzCanReveal(uint256 id, JobInfo memory j, uint256 i) internal view returns (bool) {
        JobModel storage m = _m[id];
        uint16 bit = uint16(1 << i);
        uint8 s = _strategy[id][i];
        if (m.byzMask & bit == 0 || m.committedMask & bit == 0 || m.revealedMask & bit != 0) return false;
        if (s != BYZ_WRONG && s != BYZ_COPY && s != BYZ_MAX) return false;
        if (j.settledMask & bit != 0) return false;
        JobStatus st = j.status;
        if (st == JobStatus.InProgress) return _openingPhase(j);
        if (st == JobStatus.Finalized || st == JobStatus.Disputed || st == JobStatus.Resolved) {
            return m.openedMask & bit == 0 && block.timestamp <= _revealEnd(id, j);
        }
        if (st == JobStatus.Failed && m.overturned) {
            return m.openedMask & bit == 0 && block.timestamp <= _revealEnd(id, j);
        }
        return false;
    }

    function _disputable(uint256, JobInfo memory j) internal view returns (bool) {
        return j.status == JobStatus.Finalized && j.disputeWindow != 0
            && block.timestamp < uint256(j.finalizedAt) + j.disputeWindow;
    }

    function _isDisputed(uint256, JobInfo memory j) internal pure returns (bool) {
        return j.status == JobStatus.Disputed;
    }

    /// @dev Until when assignees may reveal (README: the reveal deadline, or the reveal grace after the
    /// finalization or after an overturning ruling, whichever is later), from the job's own parameters.
    function _revealEnd(uint256 id, JobInfo memory j) internal view returns (uint256 end) {
        end = j.revealDeadline;
        uint256 grace = _m[id].grace;
        if (j.finalizedAt != 0 && j.finalizedAt + grace > end) end = j.finalizedAt + grace;
        if (_m[id].overturned && uint256(_m[id].ruledAt) + grace > end) end = uint256(_m[id].ruledAt) + grace;
    }

    /// @dev When the rules let anyone settle the job (README "Settlement and money").
    function _settleableNow(uint256 id, JobInfo memory j) internal view returns (bool) {
        JobStatus st = j.status;
        if (st == JobStatus.Open) return block.timestamp >= j.commitDeadline;
        if (st == JobStatus.Assigned || st == JobStatus.InProgress) return block.timestamp > j.revealDeadline;
        if (st != JobStatus.Finalized && st != JobStatus.Resolved && st != JobStatus.Failed) return false;
        if (j.settledMask == _full(j.assigned)) return false;
        if (block.timestamp <= _revealEnd(id, j)) return false;
        if (st == JobStatus.Finalized && block.timestamp < uint256(j.finalizedAt) + j.disputeWindow) return false;
        return true;
    }

    /// @dev An unsettled assignee that agreed with the standing result and whose payout is not held.
    function _payableIndex(uint256 id, JobInfo memory j) internal view returns (uint256) {
        if (j.status != JobStatus.Finalized && j.status != JobStatus.Resolved) return type(uint256).max;
        if (j.status == JobStatus.Finalized && block.timestamp < uint256(j.finalizedAt) + j.disputeWindow) {
            return type(uint256).max;
        }
        JobModel storage m = _m[id];
        for (uint256 i; i < j.assigned; ++i) {
            uint16 bit = uint16(1 << i);
            if (j.settledMask & bit != 0) continue;
            if (m.openedMask & bit != 0 || (m.revealedMask & bit != 0 && _revealedDigest[id][i] == m.finalDigest)) {
                return i;
            }
        }
        return type(uint256).max;
    }

    function _ended(JobInfo memory j) internal pure returns (bool) {
        JobStatus st = j.status;
        if (st == JobStatus.Cancelled) return true;
        return (st == JobStatus.Finalized || st == JobStatus.Resolved || st == JobStatus.Failed)
            && j.settledMask == _full(j.assigned);
    }

    /// @dev First active job from `seed` that satisfies `ok` (id 0 if none).
    function _pick(uint256 seed, function(uint256, JobInfo memory) internal view returns (bool) ok)
        internal
        view
        returns (uint256 id, JobInfo memory j)
    {
        uint256 n = _active.length;
        if (n == 0) return (0, j);
        for (uint256 k; k < n; ++k) {
            uint256 cand = _active[_at(seed, k, n)];
            JobInfo memory cj = market.getJob(cand);
            if (ok(cand, cj)) return (cand, cj);
        }
    }

    /// @dev Drops ended jobs from `_active`.
    function _prune() internal {
        for (uint256 k; k < _active.length;) {
            if (_ended(market.getJob(_active[k]))) {
                _active[k] = _active[_active.length - 1];
                _active.pop();
            } else {
                ++k;
            }
        }
    }

    // ================================================================== digests, seals, openings

    function _true(uint256 id) internal pure returns (bytes32) {
        return sha256(abi.encode("true output", id));
    }

    function _wrong(uint256 id) internal pure returns (bytes32) {
        return sha256(abi.encode("colluding wrong output", id));
    }

    /// @dev The digest assignee `i` committed and whether it can ever open it.
    function _digestOf(uint256 id, uint256 i) internal view returns (bytes32, bool) {
        uint8 s = _strategy[id][i];
        if (s == HONEST || s == BYZ_WITHHOLD || s == BYZ_COPY) return (_true(id), true);
        if (s == BYZ_WRONG) return (_wrong(id), true);
        if (s == BYZ_MAX) return (MAX_DIGEST, true);
        return (0, false);
    }

    function _salt(uint256 id, uint256 i) internal view returns (bytes32) {
        if (_strategy[id][i] == BYZ_MAX) return bytes32(type(uint256).max);
        return keccak256(abi.encode("salt", id, _lists[id][i].worker));
    }

    function _sealOf(uint256 id, uint256 i) internal view returns (bytes32) {
        address w = _lists[id][i].worker;
        uint8 s = _strategy[id][i];
        if (s == BYZ_GARBAGE) return keccak256(abi.encode("garbage", id, w));
        if (s == BYZ_ZERO) return JobProofs.seal(id, w, 0, _salt(id, i));
        (bytes32 d,) = _digestOf(id, i);
        return JobProofs.seal(id, w, d, _salt(id, i));
    }

    /// @dev Committed assignees whose seal opens to `digest`.
    function _committedMask(uint256 id, bytes32 digest) internal view returns (uint16 mask) {
        for (uint256 i; i < _lists[id].length; ++i) {
            (bytes32 d, bool openable) = _digestOf(id, i);
            if (_m[id].committedMask & (1 << i) != 0 && openable && d == digest) mask |= uint16(1 << i);
        }
    }

    /// @dev The openings of the true digest an aggregator is sent: honest assignees' and lazy-but-correct
    /// Byzantine ones' (withholders send nothing).
    function _knownTrueOpenings(uint256 id) internal view returns (uint16 mask) {
        for (uint256 i; i < _lists[id].length; ++i) {
            uint8 s = _strategy[id][i];
            if ((s == HONEST || s == BYZ_COPY) && _m[id].committedMask & (1 << i) != 0) mask |= uint16(1 << i);
        }
    }

    function _openings(uint256 id, uint16 mask) internal view returns (Opening[] memory o) {
        o = new Opening[](TestMath.popcount(mask));
        uint256 k;
        for (uint256 i; i < _lists[id].length; ++i) {
            if (mask & (1 << i) != 0) o[k++] = Opening(uint8(i), _salt(id, i));
        }
    }

    /// @dev One job's seals for `mask` and a signature from every worker in it other than `caller`.
    function _sealBatch(uint256 id, uint16 mask, address caller)
        internal
        view
        returns (SealBatch[] memory items, SealSignature[] memory sigs)
    {
        items = new SealBatch[](1);
        items[0].jobId = id;
        items[0].assignees = _lists[id];
        items[0].seals = new IndexedSeal[](TestMath.popcount(mask));
        sigs = new SealSignature[](TestMath.popcount(mask));
        uint256 k;
        uint256 n;
        for (uint256 i; i < _lists[id].length; ++i) {
            if (mask & (1 << i) == 0) continue;
            bytes32 seal = _sealOf(id, i);
            items[0].seals[k++] = IndexedSeal(uint8(i), seal);
            address w = _lists[id][i].worker;
            if (w == caller) continue;
            bytes32 chain = keccak256(abi.encode(bytes32(0), id, seal));
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keyOf(w), market.sealsDigest(chain));
            sigs[n++] = SealSignature(w, r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
        }
        assembly ("memory-safe") {
            mstore(sigs, n)
        }
    }

    function _signBid(uint256 id, address p, uint80 price) internal view returns (SignedBid memory) {
        uint32 expiry = uint32(block.timestamp + 1 hours);
        uint64 nonce = registry.bidNonceOf(p);
        bytes32 digest = book.bidDigest(keccak256(abi.encodePacked(id)), p, price, 600, expiry, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keyOf(p), digest);
        return SignedBid(p, price, 600, expiry, nonce, r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function _proof(uint256 id) internal view returns (Proof memory) {
        return Proof(_lists[id], _m[id].aggMask, _aggSeals[id]);
    }

    // ================================================================== views for the invariants

    function providerList() external view returns (address[] memory) {
        return _providers;
    }

    function model(uint256 id) external view returns (JobModel memory) {
        return _m[id];
    }

    function trueDigest(uint256 id) external pure returns (bytes32) {
        return _true(id);
    }

    function assigneeCount(uint256 id) external view returns (uint256) {
        return _lists[id].length;
    }

    /// @notice Native stake an honest provider lost to slashes in jobs the arbiter overturned (the one
    /// case the rules slash agreeing workers), from the Slashed events.
    mapping(address => uint256) public overturnSlashedStake;

    function summary() external view {
        string[ACTIONS] memory names = [
            "submit",
            "submitImpossible",
            "bidOnChain",
            "assign",
            "claim",
            "cancel",
            "honestCommit",
            "honestFinalize",
            "honestReveal",
            "byzCommit",
            "byzReveal",
            "requesterFinalize",
            "forgeFinalize",
            "dispute",
            "arbiterRule",
            "keeper",
            "warp",
            "pauseToggle",
            "setParams",
            "endAll"
        ];
        for (uint256 i; i < ACTIONS; ++i) {
            FairLog.log(string.concat(names[i], " calls/did work"), calls[i] * 1_000_000 + done[i]);
        }
        FairLog.log("jobs", jobs);
        FairLog.log("finalized", finalizedJobs);
        FairLog.log("finalized by reveals", finalizedByReveals);
        FairLog.log("last-second selective finalizes", lastSecondFinalizes);
        FairLog.log("honest reveals in the grace", graceReveals);
        FairLog.log("disputes", disputes);
        FairLog.log("upheld / overturned / defaulted", upheldRulings * 1_000_000 + overturns * 1_000 + defaultRulings);
        FairLog.log("honest slashes in overturned jobs (excluded)", overturnSlashes);
        FairLog.log("byzantine slashes", byzSlashes);
        FairLog.log("failed jobs", failedJobs);
        FairLog.log("sybil bids / evictions", sybilBids * 1_000 + evictions);
        FairLog.log("self-dealt assignments", selfDealt);
        FairLog.log("tight jobs / last-second assignments", tightJobs * 1_000 + lastSecondAssigns);
        FairLog.log("pauses / honest duties done while the market was paused", pauses * 1_000 + pausedJobsLive);
        FairLog.log(
            "impossible / forgeries / garbage tried",
            impossibleTried * 1_000_000 + forgeriesTried * 1_000 + garbageTried
        );
    }

    // ================================================================== helpers

    function _indexOf(uint256 id, address w) internal view returns (uint256) {
        for (uint256 i; i < _lists[id].length; ++i) {
            if (_lists[id][i].worker == w) return i;
        }
        revert("unknown assignee");
    }

    function _keyOf(address w) internal view returns (uint256) {
        for (uint256 i; i < _providers.length; ++i) {
            if (_providers[i] == w) return _keys[i];
        }
        revert("unknown provider");
    }

    function _listed(Assignee[] storage list, address w) internal view returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i].worker == w) return true;
        }
        return false;
    }

    function _listedBid(SignedBid[] memory bids, uint256 n, address p) internal pure returns (bool) {
        for (uint256 i; i < n; ++i) {
            if (bids[i].provider == p) return true;
        }
        return false;
    }

    function _inBook(Bid[] memory bids, address p) internal pure returns (bool) {
        for (uint256 i; i < bids.length; ++i) {
            if (bids[i].provider == p) return true;
        }
        return false;
    }

    function _byzLimit(uint8 m) internal pure returns (uint256) {
        return m == 0 ? 0 : (uint256(m) - 1) / 2;
    }

    function _full(uint8 assigned) internal pure returns (uint16) {
        return uint16((uint256(1) << assigned) - 1);
    }

    /// @dev Index `k` steps after `seed` modulo `n` (no overflow whatever the seed).
    function _at(uint256 seed, uint256 k, uint256 n) internal pure returns (uint256) {
        return (seed % n + k % n) % n;
    }

    function _r(uint256 seed, uint256 salt_) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt_)));
    }

    /// @dev The first 36 bytes of revert data (selector and first argument) in hex.
    function _hex(bytes memory data) internal pure returns (string memory) {
        bytes16 digits = "0123456789abcdef";
        uint256 len = data.length < 68 ? data.length : 68;
        bytes memory out = new bytes(2 + 2 * len);
        out[0] = "0";
        out[1] = "x";
        for (uint256 i; i < len; ++i) {
            out[2 + 2 * i] = digits[uint8(data[i]) >> 4];
            out[3 + 2 * i] = digits[uint8(data[i]) & 15];
        }
        return string(out);
    }
}
