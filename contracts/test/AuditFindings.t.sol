// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MarketFixture} from "./MarketFixture.t.sol";
import {IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";

/// @notice One test per finding of the contracts review (issue 14), each showing the fixed behaviour.
contract AuditFindingsTest is MarketFixture {
    // ------------------------------------------------------------------ 1. zero digest (critical)

    function test_finding1a_zeroDigestFinalizeRejected() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Opening[] memory forged = new IJobMarketTypes.Opening[](3);
        for (uint8 i; i < 3; ++i) {
            forged[i] = IJobMarketTypes.Opening(i, keccak256(abi.encode("any", i)));
        }
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(err(IJobMarketTypes.EmptyResultDigest.selector));
        market.finalize(jobId, bytes32(0), proof, forged);
        // a digest nobody committed does not open anyone's seal either
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, 0));
        market.finalize(jobId, WRONG, proof, forged);
        assertStatus(jobId, IJobMarketTypes.JobStatus.InProgress, "still running");
        for (uint256 i; i < 3; ++i) {
            assertEq(info(workerAt(jobId, i)).stake, 100 ether, "nobody slashed");
        }
    }

    function test_finding1b_zeroDigestCannotFinalizeDisputableJob() public {
        uint256 jobId = committedJob(3, 2, 1 days);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        vm.expectRevert(err(IJobMarketTypes.EmptyResultDigest.selector));
        market.finalize(jobId, bytes32(0), proof, o);
        market.finalize(jobId, DIGEST, proof, o);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Finalized, "the real digest finalizes");
    }

    function test_finding1c_sealOfZeroDigestCannotReveal_andRevealCountsOnce() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, bytes32(0)); // a seal that opens to digest 0
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, DIGEST);
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s0 = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(err(IJobMarketTypes.EmptyResultDigest.selector));
        market.reveal(jobId, proof, 0, bytes32(0), s0);
        // a real digest reveals once: the second reveal cannot count toward the quorum again
        revealIndex(jobId, 1, DIGEST);
        address w1 = workerAt(jobId, 1);
        bytes32 s1 = salt(jobId, w1);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyRevealed.selector, jobId, 1));
        market.reveal(jobId, proof, 1, DIGEST, s1);
        assertStatus(jobId, IJobMarketTypes.JobStatus.InProgress, "one reveal is no quorum");
    }

    // ------------------------------------------------------------------ 3. overturned disputes

    function test_finding3_dissentWhileDisputedRecorded_overturnReleasesDissenter() public {
        uint256 jobId = jobWith(3, 2, 1 days);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, WRONG); // the honest minority: its digest differs from the majority's
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        revealIndex(jobId, 2, WRONG); // while disputed: recorded, not slashed
        address w2 = workerAt(jobId, 2);
        assertEq(info(w2).stake, 100 ether, "dissent not slashed while disputed");
        vm.prank(arbiter);
        market.resolveDispute(jobId, false);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(info(w2).stake, 100 ether, "dissenter released, not slashed");
        assertEq(info(w2).locked, 0, "its collateral released");
        assertEq(info(workerAt(jobId, 0)).stake, 100 ether - PRICE, "agreed with the overturned result");
        assertEq(info(workerAt(jobId, 1)).stake, 100 ether - PRICE, "agreed with the overturned result");
    }

    function test_finding3_unrevealedDissenterCanRevealAfterOverturn() public {
        uint256 jobId = jobWith(3, 2, 1 days);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, WRONG);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.warp(market.getJob(jobId).revealDeadline + 1); // the arbiter rules after the reveal deadline
        vm.prank(arbiter);
        market.resolveDispute(jobId, false);
        // settle does not run at once: the dissenter has the reveal grace to show its digest
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, jobId, block.timestamp + 10 minutes + 1)
        );
        market.settle(jobId, proof);
        revealIndex(jobId, 2, WRONG);
        vm.warp(block.timestamp + 10 minutes + 1);
        market.settle(jobId, proof);
        assertEq(info(workerAt(jobId, 2)).stake, 100 ether, "released");
    }

    function test_finding3_dissentInDisputeWindowHeldUntilRuling() public {
        uint256 jobId = jobWith(3, 2, 1 days);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, WRONG);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        revealIndex(jobId, 2, WRONG); // a dispute is still possible: not slashed yet
        assertEq(info(workerAt(jobId, 2)).stake, 100 ether, "held");
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true); // upheld: the dissent was wrong after all
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(info(workerAt(jobId, 2)).stake, 100 ether - PRICE, "wrong dissent slashed at settlement");
    }

    // ------------------------------------------------------------------ 4. selective finalize

    function test_finding4_lateSelectiveFinalize_leftOutWorkerRevealsInGrace() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        uint32 revealDeadline = market.getJob(jobId).revealDeadline;
        vm.warp(revealDeadline); // the last second, leaving assignee 2 out
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        vm.warp(uint256(revealDeadline) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, jobId, revealDeadline + 10 minutes + 1)
        );
        market.settle(jobId, proof);
        revealIndex(jobId, 2, DIGEST); // after the reveal deadline, within the grace
        address w2 = workerAt(jobId, 2);
        assertEq(credit(w2), PRICE - FEE, "paid");
        assertEq(info(w2).stake, 100 ether, "not slashed");
    }

    function test_finding4_slashProceedsNeverGoToTheRequester() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST); // assignee 2 never commits
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.warp(market.getJob(jobId).commitDeadline);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(credit(requester), PRICE, "the no-show's share back, nothing of its slash");
        assertEq(credit(treasury), 2 * FEE + PRICE / 2, "the whole slash to the treasury");
    }

    // ------------------------------------------------------------------ 5. time to commit

    function test_finding5_noImpossibleCommitWindow() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.commitDeadline = uint32(block.timestamp + 61); // the old minimum: bid deadline + 1
        s.revealDeadline = uint32(block.timestamp + 1 days);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarketTypes.CommitDeadlineTooEarly.selector, s.commitDeadline, block.timestamp + 60 + 60 + 5 minutes
            )
        );
        market.submitJob{value: 3 * PRICE}(s);
        // an assignment made late cannot leave the assignees less than time limit + minimum window
        uint256 jobId = submit(spec(3, 2, 60));
        uint256 latest = market.getJob(jobId).commitDeadline - 60 - 5 minutes;
        vm.warp(latest + 1);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AssignmentTooLate.selector, jobId, latest));
        market.assignWithSignedBids(jobId, bids);
        vm.warp(latest);
        market.assignWithSignedBids(jobId, bids); // at the latest moment it still works
        assertStatus(jobId, IJobMarketTypes.JobStatus.Assigned, "assigned");
    }

    // ------------------------------------------------------------------ 7. absent arbiter

    function test_finding7_absentArbiter_anyoneAppliesDefaultRuling() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        uint256 endsAt = block.timestamp + 3 days;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RulingPeriodNotOver.selector, jobId, endsAt));
        market.applyDefaultRuling(jobId);
        vm.warp(endsAt);
        vm.expectEmit(address(market));
        emit IJobMarketTypes.DisputeDefaulted(jobId);
        vm.expectEmit(address(market));
        emit IJobMarketTypes.DisputeResolved(jobId, true);
        vm.prank(address(0xCAFE)); // anyone
        market.applyDefaultRuling(jobId);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Resolved, "upheld by default");
        vm.prank(arbiter);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Resolved));
        market.resolveDispute(jobId, false);
        vm.warp(market.getJob(jobId).revealDeadline + 11 minutes);
        market.settle(jobId, proofOf(jobId));
        uint256 share = uint256(0.1 ether) / 3;
        for (uint256 i; i < 3; ++i) {
            address w = workerAt(jobId, i);
            assertEq(credit(w), PRICE - FEE + share, "paid with a bond share");
            assertEq(info(w).locked, 0, "collateral free");
            vm.prank(w);
            registry.deregister(); // nothing keeps the stake locked
        }
        assertEq(escrow.totalLocked(address(0)), 0, "nothing locked");
    }

    // ------------------------------------------------------------------ 9. the low findings

    function test_finding9_finalizeManySkipsJobsFinalizedByAFrontRunner() public {
        uint256 a = committedJob(3, 2, 0);
        uint256 b = committedJob(3, 2, 0);
        IJobMarketTypes.Finalization[] memory items = new IJobMarketTypes.Finalization[](2);
        items[0] = IJobMarketTypes.Finalization(a, DIGEST, proofOf(a), openings(a, 3));
        items[1] = IJobMarketTypes.Finalization(b, DIGEST, proofOf(b), openings(b, 3));
        market.finalize(a, DIGEST, proofOf(a), openings(a, 3)); // the front-runner
        market.finalizeMany(items);
        assertStatus(b, IJobMarketTypes.JobStatus.Finalized, "the rest of the batch went through");
    }

    function test_finding9_commitSealsSkipsJobsCommittedByAFrontRunner() public {
        uint256 a = jobWith(3, 2, 0);
        uint256 b = jobWith(3, 2, 0);
        address w1 = workerAt(a, 1);
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](2);
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = sealFor(a, w1, DIGEST);
        items[0] = sealItem(a, single(1), seals)[0];
        bytes32[] memory sealsB = new bytes32[](1);
        sealsB[0] = sealFor(b, workerAt(b, 1), DIGEST);
        items[1] = sealItem(b, single(1), sealsB)[0];
        IJobMarketTypes.SealBatch[] memory first = new IJobMarketTypes.SealBatch[](1);
        first[0] = items[0];
        vm.prank(w1);
        market.commitSeals(first, noSigs()); // job a's item, sent first (a front-run copy)
        vm.prank(w1);
        market.commitSeals(items, noSigs());
        assertEq(market.getJob(a).committed, 1, "job a skipped: the same seals are in");
        assertEq(market.getJob(b).committed, 1, "job b committed");
    }

    function test_finding9_disputeWhilePaused() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(admin);
        market.pause();
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Disputed, "the window runs while paused");
    }

    function test_finding9_lateRevealerGetsNoBondShare() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true); // two agreeing workers counted
        revealIndex(jobId, 2, DIGEST); // agrees after the ruling: paid its price, no bond share
        vm.warp(market.getJob(jobId).revealDeadline + 11 minutes);
        market.settle(jobId, proofOf(jobId));
        uint256 share = uint256(0.1 ether) / 2;
        assertEq(credit(workerAt(jobId, 0)), PRICE - FEE + share, "counted at the ruling");
        assertEq(credit(workerAt(jobId, 1)), PRICE - FEE + share, "counted at the ruling");
        assertEq(credit(workerAt(jobId, 2)), PRICE - FEE, "late: no share");
    }

    function test_finding9_slashRatesAndPenaltiesSnapshotPerJob() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST); // assignee 2 never commits
        IJobMarketTypes.MarketParams memory p = defaultParams();
        (p.noShowSlashBps, p.noShowPenalty) = (10_000, 5_000); // governance changes the rates mid-job
        vm.prank(admin);
        market.setParams(p);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proofOf(jobId));
        address w2 = workerAt(jobId, 2);
        assertEq(info(w2).stake, 100 ether - PRICE / 2, "the job's own no-show rate");
        assertEq(info(w2).reputation, registry.INITIAL_REPUTATION() - 300, "the job's own penalty");
    }

    /// @dev The protocol fee is a field of the versioned market params (no longer escrow state): a job pays
    /// the fee of its submission's version, so governance cannot raise (or cut) the fee of a running job.
    function test_finding9_feeSnapshotPerJob() public {
        uint16 newFeeBps = 250;
        uint256 oldFee = PRICE * FEE_BPS / 10_000;
        uint256 newFee = PRICE * newFeeBps / 10_000;
        uint256 a = jobWith(3, 2, 0); // submitted and assigned at version 1 (FEE_BPS)
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.feeBps = newFeeBps; // governance changes the fee mid-job
        vm.prank(admin);
        market.setParams(p);
        assertEq(market.params().feeBps, newFeeBps, "new fee in force");
        assertEq(market.getJob(a).paramsVersion, 1, "job a keeps its version");
        for (uint8 i; i < 3; ++i) {
            commitIndex(a, i, DIGEST);
        }
        uint256 b = jobWith(3, 2, 0); // submitted after the change
        assertEq(market.getJob(b).paramsVersion, 2, "job b has the new version");

        address[] memory workers = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            (workers[i], amounts[i]) = (workerAt(a, i), PRICE);
        }
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(a, address(0), workers, amounts, FEE_BPS, 3 * oldFee);
        market.finalize(a, DIGEST, proofOf(a), openings(a, 3));
        for (uint256 i; i < 3; ++i) {
            assertEq(credit(workerAt(a, i)), PRICE - PRICE * 100 / 10_000, "charged the old fee");
        }
        assertEq(credit(treasury), 3 * oldFee, "the treasury got the old fee");

        uint256[] memory before = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            before[i] = credit(workerAt(b, i));
        }
        for (uint8 i; i < 3; ++i) {
            commitIndex(b, i, DIGEST);
        }
        for (uint256 i; i < 3; ++i) {
            workers[i] = workerAt(b, i);
        }
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(b, address(0), workers, amounts, newFeeBps, 3 * newFee);
        market.finalize(b, DIGEST, proofOf(b), openings(b, 3));
        for (uint256 i; i < 3; ++i) {
            assertEq(credit(workerAt(b, i)) - before[i], PRICE - newFee, "a later job pays the new fee");
        }
        assertEq(credit(treasury), 3 * oldFee + 3 * newFee, "the treasury got the new fee on the later job");
        assertEq(escrow.totalLocked(address(0)), 0, "both budgets released");
    }

    function test_finding9_signedBidsCanBeRevoked() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](4);
        for (uint256 i; i < 4; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        vm.expectEmit(address(registry));
        emit SignedBidsRevoked(providers[0], 1);
        vm.prank(providers[0]);
        registry.revokeSignedBids(); // provider 0's signature above no longer assigns it
        assertEq(registry.bidNonceOf(providers[0]), 1, "new nonce");
        assignSigned(jobId, bids);
        for (uint256 i; i < lists[jobId].length; ++i) {
            assertTrue(lists[jobId][i].worker != providers[0], "revoked bid not assigned");
        }
        assertEq(lists[jobId].length, 3, "the other three assigned");
    }

    function test_finding9_selfDealtAndTinyJobsEarnNoReputation() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        // a provider that is its own requester: paid, but no reputation
        address self = providers[0];
        vm.deal(self, 1_000 ether);
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        vm.prank(self);
        uint256 own = market.submitJob{value: 3 * PRICE}(s);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBid(own, i, PRICE);
        }
        assignSigned(own, bids);
        for (uint8 i; i < 3; ++i) {
            commitIndex(own, i, DIGEST);
        }
        market.finalize(own, DIGEST, proofOf(own), openings(own, 3));
        assertEq(info(self).reputation, initial, "no reputation from its own job");
        assertEq(info(providers[1]).reputation, initial + 10, "the other workers earn it");
        // a job below the minimum rewarded price: paid, no reputation for anyone
        s = spec(3, 2, 60);
        s.maxPricePerReplica = 0.01 ether - 1;
        vm.prank(requester);
        uint256 tiny = market.submitJob{value: 3 * (0.01 ether - 1)}(s);
        vm.warp(block.timestamp + 60);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBid(tiny, i + 1, 0.01 ether - 1);
        }
        assignSigned(tiny, bids);
        for (uint8 i; i < 3; ++i) {
            commitIndex(tiny, i, DIGEST);
        }
        market.finalize(tiny, DIGEST, proofOf(tiny), openings(tiny, 3));
        assertEq(info(providers[1]).reputation, initial + 10, "nothing more from a 1-wei-class job");
    }

    event SignedBidsRevoked(address indexed provider, uint8 nonce);
}
