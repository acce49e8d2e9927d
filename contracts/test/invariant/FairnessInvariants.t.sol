// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "../Base.t.sol";
import {FairnessHandler} from "./FairnessHandler.sol";
import {IJobMarketTypes} from "../../src/interfaces/IJobMarket.sol";

/// @notice Fairness and liveness of the market under an adversarial requester, Byzantine providers, an
/// arbiter that rules either way or never, a guardian pausing at random and governance changing the
/// parameters mid-job (FairnessHandler).
/// @dev 16 providers: 10 honest, 6 Byzantine (the first Byzantine one also submits jobs: self-dealing).
/// Every job keeps a strict honest majority of its assignees (at most floor((M-1)/2) Byzantine). Honest
/// workers do their duties at the last second they are due (see FairnessHandler._advanceTo); a revert of
/// an honest action is a failure every invariant reports (`honestReverts`). Each invariant runs its own
/// campaign of runs * depth = 50 * 200 = 10,000 calls, with fail_on_revert (any unexpected revert in the
/// handler fails it too). The fuzz seed is the run's `--fuzz-seed` (see the Makefile's test-contracts).
contract FairnessInvariantsTest is Base {
    uint256 internal constant HONEST = 10;
    uint256 internal constant BYZANTINE = 6;
    uint96 internal constant STAKE = 1e27; // collateral for max-uint80 prices at the largest collateral rate

    FairnessHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory ps = new address[](HONEST + BYZANTINE);
        uint256[] memory keys = new uint256[](ps.length);
        for (uint256 i; i < ps.length; ++i) {
            keys[i] = 0xFA1200 + i;
            ps[i] = vm.addr(keys[i]);
            vm.deal(ps[i], STAKE + 1 ether);
            vm.prank(ps[i]);
            registry.register{value: STAKE}(WASI, keccak256(abi.encode(i)), "peer", "eu-west");
        }
        vm.deal(requester, 1e30);
        handler = new FairnessHandler(market, escrow, registry, book, admin, arbiter, requester, ps, keys, HONEST);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](20);
        selectors[0] = FairnessHandler.submit.selector;
        selectors[1] = FairnessHandler.submitImpossible.selector;
        selectors[2] = FairnessHandler.bidOnChain.selector;
        selectors[3] = FairnessHandler.assign.selector;
        selectors[4] = FairnessHandler.claim.selector;
        selectors[5] = FairnessHandler.cancel.selector;
        selectors[6] = FairnessHandler.honestCommit.selector;
        selectors[7] = FairnessHandler.honestFinalize.selector;
        selectors[8] = FairnessHandler.honestReveal.selector;
        selectors[9] = FairnessHandler.byzCommit.selector;
        selectors[10] = FairnessHandler.byzReveal.selector;
        selectors[11] = FairnessHandler.requesterFinalize.selector;
        selectors[12] = FairnessHandler.forgeFinalize.selector;
        selectors[13] = FairnessHandler.dispute.selector;
        selectors[14] = FairnessHandler.arbiterRule.selector;
        selectors[15] = FairnessHandler.keeper.selector;
        selectors[16] = FairnessHandler.warp.selector;
        selectors[17] = FairnessHandler.pauseToggle.selector;
        selectors[18] = FairnessHandler.setParams.selector;
        selectors[19] = FairnessHandler.endAll.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    /// @dev What every campaign checks: no honest action reverted, no honest duty was missed, and the
    /// premise held (a strict honest majority on every job; the handler's model matches the chain).
    function _honestPathOk() internal view {
        assertEq(handler.honestReverts(), 0, handler.firstHonestFailure());
        assertEq(handler.dutiesMissed(), 0, handler.firstMissedDuty());
        assertEq(handler.premiseBroken(), 0, "a job was assigned without a strict honest majority");
        assertEq(handler.modelDrift(), 0, "a committed seal differs from the handler's model");
    }

    // ------------------------------------------------------------------ 1. fairness

    /// @notice No honest worker is ever slashed (no WorkerSettled slash, no Slashed stake, no reputation
    /// penalty), and its stake is intact, except in a job the arbiter overturned: by the rules an
    /// overturning ruling slashes the workers that agreed with the overturned result, and with an honest
    /// majority every overturn is of the true result (counted apart, `overturnSlashes`). Whoever committed
    /// and opened the standing finalized digest (honest or not) is never slashed. The market never accepts a
    /// job nobody can finish (impossible deadlines) nor assigns one too late to run and commit.
    /// forge-config: default.invariant.runs = 50
    /// forge-config: default.invariant.depth = 200
    /// forge-config: default.invariant.fail-on-revert = true
    /// forge-config: ci.invariant.runs = 50
    /// forge-config: ci.invariant.depth = 200
    /// forge-config: ci.invariant.fail-on-revert = true
    function invariant_honestWorkersNeverSlashed() public view {
        _honestPathOk();
        string memory why = handler.firstUnfairSlash();
        assertEq(handler.honestSlashed(), 0, why);
        assertEq(handler.honestStakeSlashed(), 0, why);
        assertEq(handler.honestPenalized(), 0, why);
        assertEq(handler.openedSlashed(), 0, why);
        address[] memory ps = handler.providerList();
        for (uint256 i; i < ps.length; ++i) {
            if (!handler.isHonest(ps[i])) continue;
            assertEq(
                uint256(registry.providerInfo(ps[i]).stake) + handler.overturnSlashedStake(ps[i]),
                handler.initialStake(ps[i]),
                "an honest provider lost stake outside an overturned job"
            );
        }
        assertEq(handler.impossibleAccepted(), 0, handler.firstImpossible());
        assertEq(handler.lateAssignAccepted(), 0, "an assignment too late to run and commit went through");
    }

    // ------------------------------------------------------------------ 2. no wrong digest

    /// @notice With an honest majority on every job, every finalization (aggregated or by the quorum-th
    /// reveal) is of the true digest and backed by at least `quorum` assignees that committed and opened it;
    /// every Finalized, Disputed or Resolved job's result is the true digest. Finalizations the rules must
    /// refuse (digest 0, digests nobody committed, the colluding wrong digest or the max digest short of a
    /// quorum, tampered salts, one opening short) and garbage reveals never go through; the arbiter cannot
    /// rule after the ruling period.
    /// forge-config: default.invariant.runs = 50
    /// forge-config: default.invariant.depth = 200
    /// forge-config: default.invariant.fail-on-revert = true
    /// forge-config: ci.invariant.runs = 50
    /// forge-config: ci.invariant.depth = 200
    /// forge-config: ci.invariant.fail-on-revert = true
    function invariant_noWrongDigestFinalizes() public view {
        _honestPathOk();
        assertEq(handler.wrongFinalized(), 0, "a wrong digest finalized with an honest majority");
        assertEq(handler.underQuorumFinalized(), 0, "finalized with fewer than quorum committed openings");
        assertEq(handler.forgeryAccepted(), 0, handler.firstUnfairSlash());
        assertEq(handler.garbageRevealAccepted(), 0, "a garbage reveal went through");
        assertEq(handler.lateRulingAccepted(), 0, "the arbiter ruled after the ruling period");
        uint256 n = handler.jobs();
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarketTypes.JobStatus st = market.getJob(id).status;
            bool standing = st == IJobMarketTypes.JobStatus.Finalized || st == IJobMarketTypes.JobStatus.Disputed
                || st == IJobMarketTypes.JobStatus.Resolved;
            if (standing) {
                assertTrue(handler.model(id).finalized, "a result stands without a finalization the handler saw");
                assertEq(market.resultOf(id), handler.trueDigest(id), "a job's standing result is not the true digest");
            }
        }
    }

    // ------------------------------------------------------------------ 3. liveness

    /// @notice After every call: from the current state, with nobody but keepers acting (workers,
    /// requester and arbiter do nothing; pauses stay as they are), at each job's bound (reveal deadline +
    /// dispute window + ruling period + reveal grace, of the job's parameter version, + 1 s) the keepers
    /// end it (default ruling, settlement): every job terminal with every assignee settled, and then no
    /// collateral, budget or dispute bond is left locked (FairnessHandler.probeLiveness, undone after).
    /// And in the run itself, `endAll` (warp past every bound, honest duties on the way, keepers) ends
    /// every job.
    /// forge-config: default.invariant.runs = 50
    /// forge-config: default.invariant.depth = 200
    /// forge-config: default.invariant.fail-on-revert = true
    /// forge-config: ci.invariant.runs = 50
    /// forge-config: ci.invariant.depth = 200
    /// forge-config: ci.invariant.fail-on-revert = true
    function invariant_everyJobEnds() public {
        _honestPathOk();
        assertEq(handler.livenessFailures(), 0, handler.firstLivenessFailure());
        (bool ok, string memory why) = handler.probeLiveness();
        assertTrue(ok, why);
    }

    /// @dev Coverage of the run (shown with -vv): what the handler did, so a passing run is not vacuous.
    function afterInvariant() public view {
        handler.summary();
    }

    // ------------------------------------------------------------------ the one exclusion

    /// @notice Why invariant 1 excludes overturned jobs: by the rules (README, "Disputes"), an arbiter that
    /// overturns a true result slashes every worker that committed and opened it. Three honest workers of
    /// a (3,2) job open the true digest; the requester disputes; the arbiter overturns; after the reveal
    /// grace `settle` slashes all three (100% of the collateral, -1,000 reputation). A single party, the
    /// arbiter, can thus slash an honest majority; the fairness invariant counts these slashes apart
    /// (`overturnSlashes`). If the rule changes, this test and the exclusion go.
    function test_exclusion_arbiterOverturnSlashesHonestOpeners() public {
        registerProviders(3); // Base's providers 0-2, 100 ether of stake each
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 id = submit(s);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBid(id, i, PRICE);
        }
        assignSigned(id, bids);
        bytes32 digest = sha256("the true output");
        bytes32[] memory ds = new bytes32[](3);
        (ds[0], ds[1], ds[2]) = (digest, digest, digest);
        commitAll(id, ds);
        market.finalize(id, digest, proofOf(id), openings(id, 3)); // all three opened the true digest
        uint256 bond = market.params().disputeBond;
        vm.prank(requester);
        market.dispute{value: bond}(id);
        vm.prank(arbiter);
        market.resolveDispute(id, false); // overturned: wrongly
        uint256 end = block.timestamp + market.params().revealGrace; // the grace after the ruling
        if (end < market.getJob(id).revealDeadline) end = market.getJob(id).revealDeadline;
        vm.warp(end + 1);
        market.settle(id, proofOf(id));
        for (uint256 i; i < 3; ++i) {
            assertEq(info(providers[i]).stake, 100 ether - PRICE, "honest opener slashed 100% of its collateral");
            assertEq(info(providers[i]).reputation, registry.INITIAL_REPUTATION() - 1_000, "honest opener penalized");
        }
    }
}
