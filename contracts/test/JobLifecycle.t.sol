// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";
import {TestToken} from "./mocks/Tokens.sol";

/// @notice End-to-end lifecycles through every path of the job state machine.
contract JobLifecycleTest is Base {
    bytes32 internal constant DIGEST = keccak256("output");
    bytes32 internal constant WRONG = keccak256("wrong");
    uint256 internal constant FEE = PRICE * FEE_BPS / 10_000;

    function setUp() public override {
        super.setUp();
        registerProviders(6);
    }

    function digests(uint256 n, bytes32 d) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = d;
        }
    }

    function worker(uint256 jobId, uint256 index) internal view returns (address) {
        return lists[jobId][index].worker;
    }

    function test_individualCommits_finalizePaysAgreeingChargesFee() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        uint256 jobId = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitAs(jobId, i, DIGEST);
        }
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.InProgress, "in progress");
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));

        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Finalized, "finalized");
        assertEq(market.getJob(jobId).resultDigest, DIGEST, "digest");
        assertEq(market.getJob(jobId).settledMask, 7, "all settled");
        for (uint256 i; i < 3; ++i) {
            assertEq(credit(providers[i]), PRICE - FEE, "worker paid");
            assertEq(info(providers[i]).locked, 0, "collateral released");
            assertEq(info(providers[i]).reputation, initial + 10, "reputation up");
        }
        assertEq(credit(treasury), 3 * FEE, "fees");
        assertEq(escrow.totalLocked(address(0)), 0, "escrow released everything");
        assertEq(address(escrow).balance, 3 * PRICE, "escrow holds the credits");
    }

    function test_aggregatedSignedCommits_oneTransactionForAllSeals() public {
        uint256 jobId = assignedJob(3, 2);
        commitAll(jobId, digests(3, DIGEST));
        IJobMarketTypes.JobInfo memory job = market.getJob(jobId);
        assertEq(job.committed, 3, "three seals");
        assertTrue(job.status == IJobMarketTypes.JobStatus.InProgress, "in progress");
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 2));
        assertEq(credit(worker(jobId, 0)), PRICE - FEE, "paid");
        // the third assignee was not in the finalize call: it proves its seal itself
        address third = worker(jobId, 2);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, third);
        vm.prank(third);
        market.reveal(jobId, proof, 2, DIGEST, s);
        assertEq(credit(third), PRICE - FEE, "late prover paid");
        assertEq(escrow.totalLocked(address(0)), 0, "closed");
    }

    function test_commitSeals_rejectsForgedSignatureMissingSignatureAndWrongList() public {
        uint256 jobId = assignedJob(3, 2);
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](1);
        items[0].jobId = jobId;
        items[0].assignees = lists[jobId];
        items[0].seals = new IJobMarketTypes.IndexedSeal[](2);
        bytes32 s0 = sealFor(jobId, worker(jobId, 0), DIGEST);
        bytes32 s1 = sealFor(jobId, worker(jobId, 1), DIGEST);
        items[0].seals[0] = IJobMarketTypes.IndexedSeal(0, s0);
        items[0].seals[1] = IJobMarketTypes.IndexedSeal(1, s1);
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](2);
        sigs[0] = signSeals(providerIndexOf(worker(jobId, 0)), keccak256(abi.encode(bytes32(0), jobId, s0)));
        // assignee 1's chain signed with assignee 2's key, under assignee 1's name
        sigs[1] = signSeals(providerIndexOf(worker(jobId, 2)), keccak256(abi.encode(bytes32(0), jobId, s1)));
        sigs[1].worker = worker(jobId, 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidSealSignature.selector, worker(jobId, 1)));
        market.commitSeals(items, sigs);
        IJobMarketTypes.SealSignature[] memory onlyFirst = new IJobMarketTypes.SealSignature[](1);
        onlyFirst[0] = sigs[0];
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.MissingSealSignature.selector, jobId, 1));
        market.commitSeals(items, onlyFirst);
        items[0].assignees[0].price = 1;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.commitSeals(items, sigs);
    }

    function test_batch_assignCommitFinalizeManyJobsInFourCalls() public {
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](4);
        for (uint256 i; i < 4; ++i) {
            specs[i] = spec(3, 2, 60);
        }
        vm.prank(requester);
        uint256 first = market.submitJobs{value: 12 * PRICE}(specs);
        vm.warp(block.timestamp + 60);
        uint256[] memory ids = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            ids[i] = first + i;
        }
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBatchBid(ids, i, PRICE);
        }
        market.assignBatch(ids, bids);
        for (uint256 i; i < 3; ++i) {
            assertEq(info(providers[i]).locked, 4 * PRICE, "collateral for four jobs");
        }
        // rebuild the lists the way an SDK does from BatchAssigned, then one worker commits every seal
        IJobMarketTypes.JobInfo memory j0 = market.getJob(ids[0]);
        assertEq(j0.assigned, 3, "three assignees");
        address[] memory order = new address[](3);
        for (uint256 i; i < 3; ++i) {
            order[i] = providers[i];
        }
        _sortAddresses(order); // equal price and reputation: lower address ranks first
        for (uint256 k; k < 4; ++k) {
            for (uint256 i; i < 3; ++i) {
                lists[ids[k]].push(IJobMarketTypes.Assignee(order[i], PRICE));
            }
        }
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](4);
        bytes32[3] memory chains;
        for (uint256 k; k < 4; ++k) {
            items[k].jobId = ids[k];
            items[k].assignees = lists[ids[k]];
            items[k].seals = new IJobMarketTypes.IndexedSeal[](3);
            for (uint256 i; i < 3; ++i) {
                bytes32 seal = sealFor(ids[k], order[i], DIGEST);
                items[k].seals[i] = IJobMarketTypes.IndexedSeal(uint8(i), seal);
                chains[i] = keccak256(abi.encode(chains[i], ids[k], seal));
                aggSeals[ids[k]].push(seal);
            }
            aggMask[ids[k]] = 7;
        }
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](2);
        for (uint256 i = 1; i < 3; ++i) {
            sigs[i - 1] = signSeals(providerIndexOf(order[i]), chains[i]);
        }
        vm.prank(order[0]); // the leader's own seals need no signature
        market.commitSeals(items, sigs);
        IJobMarketTypes.Finalization[] memory fins = new IJobMarketTypes.Finalization[](4);
        for (uint256 k; k < 4; ++k) {
            fins[k] = IJobMarketTypes.Finalization(ids[k], DIGEST, proofOf(ids[k]), openings(ids[k], 3));
        }
        market.finalizeMany(fins);
        for (uint256 k; k < 4; ++k) {
            assertEq(market.resultOf(ids[k]), DIGEST, "finalized");
            assertEq(market.getJob(ids[k]).resultDigest, DIGEST, "digest in the view");
        }
        assertEq(credit(providers[0]), 4 * (PRICE - FEE), "paid for four jobs");
        assertEq(info(providers[0]).locked, 0, "all collateral released");
        assertEq(escrow.totalLocked(address(0)), 0, "escrow released everything");
    }

    function test_assignBatch_rejectsDifferentTermsAndJobsWithOnChainBids() public {
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](2);
        specs[0] = spec(3, 2, 60);
        specs[1] = spec(3, 2, 60);
        specs[1].requiredCapabilities = WASI | GPU;
        vm.prank(requester);
        uint256 first = market.submitJobs{value: 6 * PRICE}(specs);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (first, first + 1);
        vm.prank(providers[5]);
        book.bid(first, PRICE, 60);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBatchBid(ids, i, PRICE);
        }
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BatchTermsDiffer.selector, first + 1));
        market.assignBatch(ids, bids);
        uint256[] memory one = new uint256[](1);
        one[0] = first;
        IJobMarketTypes.SignedBid[] memory oneBids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            oneBids[i] = signBatchBid(one, i, PRICE);
        }
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BookNotEmpty.selector, first));
        market.assignBatch(one, oneBids);
        // the on-chain bid is binding: its collateral stays locked while the job is Open
        assertEq(info(providers[5]).locked, PRICE, "bidder's collateral still locked");
        vm.prank(requester);
        market.cancel(first);
        assertEq(info(providers[5]).locked, 0, "released when the job is cancelled");
    }

    /// @dev A batch is paid in one token: a native job and an ERC-20 job with otherwise equal terms differ.
    function test_assignBatch_rejectsMixedPaymentTokens() public {
        TestToken token = new TestToken();
        token.mint(requester, 100 ether);
        vm.prank(requester);
        token.approve(address(escrow), type(uint256).max);
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](2);
        specs[0] = spec(3, 2, 60);
        specs[1] = spec(3, 2, 60);
        specs[1].paymentToken = address(token);
        vm.prank(requester);
        uint256 first = market.submitJobs{value: 3 * PRICE}(specs);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (first, first + 1);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBatchBid(ids, i, PRICE);
        }
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BatchTermsDiffer.selector, first + 1));
        market.assignBatch(ids, bids);
        for (uint256 i; i < 3; ++i) {
            assertEq(info(providers[i]).locked, 0, "nothing locked");
        }
    }

    function test_cheaperBidsWin_unusedBudgetRefunded() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](4);
        for (uint256 i; i < 4; ++i) {
            bids[i] = signBid(jobId, i, uint80(PRICE / (i + 1)));
        }
        assignSigned(jobId, bids);
        // the three cheapest (providers 3, 2, 1) win, best first
        assertEq(worker(jobId, 0), providers[3], "cheapest first");
        assertEq(worker(jobId, 2), providers[1], "third cheapest last");
        for (uint256 i = 1; i < 4; ++i) {
            commitAs(jobId, i, DIGEST);
        }
        uint256 before = credit(requester);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));
        uint256 paid = PRICE / 2 + PRICE / 3 + PRICE / 4;
        assertEq(credit(requester) - before, 3 * PRICE - paid, "unused budget refunded");
        assertEq(escrow.totalLocked(address(0)), 0, "nothing left locked");
    }

    function test_byzantineWorker_revealsWrongDigest_isSlashed() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        commitAs(jobId, 1, DIGEST);
        commitAs(jobId, 2, WRONG);
        uint8 liar = indexOf(jobId, 2);
        IJobMarketTypes.Opening[] memory o = new IJobMarketTypes.Opening[](2);
        uint256 k;
        for (uint8 i; i < 3; ++i) {
            if (i != liar) o[k++] = IJobMarketTypes.Opening(i, salt(jobId, worker(jobId, i)));
        }
        market.finalize(jobId, DIGEST, proofOf(jobId), o);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Finalized, "finalized without the liar");
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, providers[2]);
        vm.prank(providers[2]);
        market.reveal(jobId, proof, liar, WRONG, s);
        assertEq(info(providers[2]).stake, 100 ether - PRICE, "full collateral slashed");
        assertEq(info(providers[2]).locked, 0, "collateral released");
        assertEq(info(providers[2]).reputation, initial - 1_000, "reputation down");
        assertEq(credit(requester), PRICE, "liar's share refunded, no part of the slash");
        assertEq(credit(treasury), 2 * FEE + PRICE, "fees plus the whole slash");
    }

    function test_withheldResult_slashedAtSettlement() public {
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        commitAs(jobId, 1, DIGEST);
        commitAs(jobId, 2, WRONG);
        market.finalize(jobId, DIGEST, proofOf(jobId), _openingsExcept(jobId, indexOf(jobId, 2)));
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarketTypes.SettlementTooEarly.selector, jobId, market.getJob(jobId).revealDeadline + 1
            )
        );
        market.settle(jobId, proof);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(info(providers[2]).stake, 100 ether - PRICE, "withholder slashed like a liar");
        assertEq(market.getJob(jobId).settledMask, 7, "everyone settled");
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NothingToSettle.selector, jobId));
        market.settle(jobId, proof);
    }

    function test_copiedSeal_gainsNothing() public {
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        // provider 1 copies provider 0's seal instead of computing
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 copied = sealFor(jobId, providers[0], DIGEST);
        uint8 idx1 = indexOf(jobId, 1);
        vm.prank(providers[1]);
        market.commit(jobId, proof, idx1, copied);
        commitAs(jobId, 2, DIGEST);
        // the copier cannot open the copied seal as its own: the seal binds the worker
        IJobMarketTypes.Opening[] memory o = new IJobMarketTypes.Opening[](1);
        o[0] = IJobMarketTypes.Opening(idx1, salt(jobId, providers[0]));
        IJobMarketTypes.Opening[] memory all = new IJobMarketTypes.Opening[](2);
        all[0] = idx1 < indexOf(jobId, 0) ? o[0] : IJobMarketTypes.Opening(indexOf(jobId, 0), salt(jobId, providers[0]));
        all[1] = idx1 < indexOf(jobId, 0) ? IJobMarketTypes.Opening(indexOf(jobId, 0), salt(jobId, providers[0])) : o[0];
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, idx1));
        market.finalize(jobId, DIGEST, proof, all);
    }

    function test_openingReplayedOnAnotherJob_rejected() public {
        uint256 a = assignedJob(3, 2);
        uint256 b = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitAs(a, i, DIGEST);
            commitAs(b, i, DIGEST);
        }
        IJobMarketTypes.Opening[] memory fromA = openings(a, 2);
        IJobMarketTypes.Proof memory proofB = proofOf(b);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, b, 0));
        market.finalize(b, DIGEST, proofB, fromA);
    }

    function test_openingsBeforeAllCommitted_rejected() public {
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        commitAs(jobId, 1, DIGEST);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.OpeningNotYetAllowed.selector, jobId));
        market.finalize(jobId, DIGEST, proof, o);
        vm.warp(market.getJob(jobId).commitDeadline);
        market.finalize(jobId, DIGEST, proof, _openingsOf(jobId, 0, 1));
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Finalized, "after the commit deadline");
    }

    function test_quorumNotReached_rejected() public {
        uint256 jobId = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitAs(jobId, i, DIGEST);
        }
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.QuorumNotReached.selector, jobId, 1, 2));
        market.finalize(jobId, DIGEST, proof, o);
    }

    function test_noQuorum_failsRefundsAndSlashesNoShows() public {
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        commitAs(jobId, 1, WRONG);
        // provider 2 never commits
        vm.warp(market.getJob(jobId).commitDeadline);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        uint8 i0 = indexOf(jobId, 0);
        bytes32 s0 = salt(jobId, providers[0]);
        vm.prank(providers[0]);
        market.reveal(jobId, proof, i0, DIGEST, s0);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Failed, "failed");
        assertEq(info(providers[0]).stake, 100 ether, "opened: released, not slashed");
        assertEq(info(providers[1]).stake, 100 ether - PRICE / 2, "committed, never opened: no-show slash");
        assertEq(info(providers[2]).stake, 100 ether - PRICE / 2, "never committed: no-show slash");
        assertEq(credit(requester), 3 * PRICE, "full refund; the slashes go to the treasury");
        assertEq(credit(treasury), PRICE, "both no-show slashes");
        assertEq(escrow.totalLocked(address(0)), 0, "nothing locked");
    }

    function test_revealPath_quorumOfRevealsFinalizes_earlierRevealerClaims() public {
        uint256 jobId = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) {
            commitAs(jobId, i, DIGEST);
        }
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        _revealAs(jobId, 0, DIGEST);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.InProgress, "one reveal is not a quorum");
        _revealAs(jobId, 1, DIGEST);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Finalized, "second reveal finalizes");
        assertEq(credit(providers[1]), PRICE - FEE, "finalizing revealer paid");
        market.claimPayout(jobId, proof, indexOf(jobId, 0));
        assertEq(credit(providers[0]), PRICE - FEE, "earlier revealer paid on claim");
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadySettled.selector, jobId, indexOf(jobId, 0)));
        market.claimPayout(jobId, proof, indexOf(jobId, 0));
    }

    function test_dispute_upheld_bondSharedWithHeldPayouts() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 jobId = _assigned(s);
        commitAll(jobId, digests(3, DIGEST));
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 3));
        assertEq(credit(worker(jobId, 0)), 0, "held during the dispute window");
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.PayoutHeld.selector, jobId, block.timestamp + 1 days));
        market.claimPayout(jobId, proof, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.WrongBond.selector, 0.1 ether, 1));
        vm.prank(requester);
        market.dispute{value: 1}(jobId);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.WrongStatus.selector, jobId, IJobMarketTypes.JobStatus.Disputed)
        );
        market.claimPayout(jobId, proof, 0);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        for (uint8 i; i < 3; ++i) {
            market.claimPayout(jobId, proof, i);
        }
        uint256 share = uint256(0.1 ether) / 3;
        assertEq(credit(worker(jobId, 0)), PRICE - FEE + share, "paid plus a bond share");
        assertEq(credit(treasury), 3 * FEE + (0.1 ether - 3 * share), "fees plus rounding dust");
    }

    /// Regression: an assignee already counted through finalize's openings cannot reveal again while
    /// payouts are held (it was counted twice and one bond share stayed in the market for good).
    function test_dispute_listedAssigneeCannotBeCountedTwice() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 jobId = _assigned(s);
        for (uint256 i; i < 3; ++i) {
            commitAs(jobId, providerIndexOf(worker(jobId, i)), DIGEST);
        }
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        address w0 = worker(jobId, 0);
        bytes32 s0 = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyRevealed.selector, jobId, 0));
        market.reveal(jobId, proof, 0, DIGEST, s0);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(market.getJob(jobId).settledMask, 7, "everyone settled");
        assertEq(address(market).balance, 0, "bond fully distributed");
    }

    /// Regression: an assignee that revealed before finalization, and is not in the openings, agrees
    /// too and gets its bond share (it was not counted).
    function test_dispute_earlyRevealerCountedForBondShare() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 jobId = _assigned(s);
        for (uint256 i; i < 3; ++i) {
            commitAs(jobId, providerIndexOf(worker(jobId, i)), DIGEST);
        }
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        address w0 = worker(jobId, 0);
        bytes32 s0 = salt(jobId, w0);
        vm.prank(w0);
        market.reveal(jobId, proof, 0, DIGEST, s0); // InProgress: recorded, not yet a quorum
        IJobMarketTypes.Opening[] memory o = new IJobMarketTypes.Opening[](2);
        o[0] = IJobMarketTypes.Opening(1, salt(jobId, worker(jobId, 1)));
        o[1] = IJobMarketTypes.Opening(2, salt(jobId, worker(jobId, 2)));
        market.finalize(jobId, DIGEST, proof, o);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        for (uint8 i = 1; i < 3; ++i) {
            market.claimPayout(jobId, proof, i);
        }
        market.claimPayout(jobId, proof, 0);
        uint256 share = uint256(0.1 ether) / 3;
        for (uint256 i; i < 3; ++i) {
            assertEq(credit(worker(jobId, i)), PRICE - FEE + share, "one share each");
        }
        assertEq(address(market).balance, 0, "bond fully distributed");
    }

    function test_dispute_overturned_refundsAndSlashesWinners() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 jobId = _assigned(s);
        commitAll(jobId, digests(3, DIGEST));
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.warp(market.getJob(jobId).revealDeadline - 1 minutes); // the grace outlasts the reveal deadline
        vm.prank(arbiter);
        market.resolveDispute(jobId, false);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Failed, "overturned");
        assertEq(credit(requester), 3 * PRICE + 0.1 ether, "budget and bond back");
        // the reveal grace after the ruling lets dissenters show their digest before settlement
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, jobId, block.timestamp + 10 minutes + 1)
        );
        market.settle(jobId, proof);
        vm.warp(block.timestamp + 10 minutes + 1);
        market.settle(jobId, proof);
        assertEq(info(worker(jobId, 0)).stake, 100 ether - PRICE, "winner slashed");
        assertEq(info(worker(jobId, 2)).stake, 100 ether - PRICE / 2, "silent committer: no-show slash");
        assertEq(escrow.totalLocked(address(0)), 0, "nothing locked");
    }

    function test_instantMode_claimsAssignAtMaxPrice() public {
        uint256 jobId = submit(spec(3, 2, 0));
        IJobMarketTypes.Assignee[] memory current = new IJobMarketTypes.Assignee[](0);
        vm.prank(providers[4]);
        market.claimJob(jobId, current);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Assigned, "assigned on first claim");
        lists[jobId].push(IJobMarketTypes.Assignee(providers[4], PRICE));
        current = lists[jobId];
        vm.prank(providers[4]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyAssigned.selector, jobId, providers[4]));
        market.claimJob(jobId, current);
        vm.prank(providers[5]);
        market.claimJob(jobId, current);
        lists[jobId].push(IJobMarketTypes.Assignee(providers[5], PRICE));
        // two of three claimed: openings wait for the commit deadline
        commitAs(jobId, 4, DIGEST);
        commitAs(jobId, 5, DIGEST);
        vm.warp(market.getJob(jobId).commitDeadline);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 2));
        assertEq(credit(requester), PRICE, "unclaimed replica refunded");
        assertEq(credit(providers[4]), PRICE - FEE, "claimer paid");
    }

    function test_onChainBids_assignBestAndCancelRules() public {
        uint256 jobId = submit(spec(2, 2, 60));
        for (uint256 i; i < 5; ++i) {
            vm.prank(providers[i]);
            book.bid(jobId, uint80(PRICE - i * 0.1 ether), 300);
        }
        assertEq(book.bidsOf(jobId).length, 4, "book keeps the best 2M");
        // bids are binding: each book entry holds the job's collateral, the evicted one got it back
        assertEq(info(providers[0]).locked, 0, "evicted: released");
        for (uint256 i = 1; i < 5; ++i) {
            assertEq(info(providers[i]).locked, PRICE, "book entry: locked");
        }
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BiddingStillOpen.selector, jobId, block.timestamp + 60));
        market.assign(jobId);
        vm.warp(block.timestamp + 60);
        vm.recordLogs();
        market.assign(jobId);
        recordAssignees(jobId);
        assertEq(worker(jobId, 0), providers[4], "cheapest");
        assertEq(worker(jobId, 1), providers[3], "second cheapest");
        assertEq(info(providers[4]).locked, PRICE, "winner: still locked, once");
        assertEq(info(providers[3]).locked, PRICE, "winner: still locked, once");
        assertEq(info(providers[2]).locked, 0, "lost: released at assignment");
        assertEq(info(providers[1]).locked, 0, "lost: released at assignment");
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.WrongStatus.selector, jobId, IJobMarketTypes.JobStatus.Assigned)
        );
        market.cancel(jobId);
    }

    function test_neverAssigned_failsAfterCommitDeadline() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.prank(providers[0]);
        book.bid(jobId, PRICE, 300);
        vm.prank(providers[1]);
        book.bid(jobId, PRICE, 300);
        assertEq(info(providers[0]).locked, PRICE, "bid binding while the job is Open");
        IJobMarketTypes.Proof memory empty;
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarketTypes.SettlementTooEarly.selector, jobId, market.getJob(jobId).commitDeadline
            )
        );
        market.settle(jobId, empty);
        vm.warp(market.getJob(jobId).commitDeadline);
        market.settle(jobId, empty);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Failed, "failed");
        assertEq(credit(requester), 3 * PRICE, "full refund");
        // nobody assigned the job: its on-chain bids are released when it fails
        assertEq(info(providers[0]).locked, 0, "bidder released");
        assertEq(info(providers[1]).locked, 0, "bidder released");
        assertEq(info(providers[0]).stake, 100 ether, "not slashed");
    }

    // ------------------------------------------------------------------ helpers

    function signBatchBid(uint256[] memory ids, uint256 providerIndex, uint80 price)
        internal
        view
        returns (IJobMarketTypes.SignedBid memory)
    {
        address provider = providers[providerIndex];
        uint32 expiry = uint32(block.timestamp + 1 days);
        bytes32 digest = book.bidDigest(keccak256(abi.encodePacked(ids)), provider, price, 600, expiry, 0);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKeys[providerIndex], digest);
        return
            IJobMarketTypes.SignedBid(
                provider, price, 600, expiry, 0, r, bytes32(uint256(s) | (uint256(v - 27) << 255))
            );
    }

    function _sortAddresses(address[] memory a) internal pure {
        for (uint256 i = 1; i < a.length; ++i) {
            address cur = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1] > cur) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = cur;
        }
    }

    function _assigned(IJobMarketTypes.JobSpec memory s) internal returns (uint256 jobId) {
        jobId = submit(s);
        vm.warp(block.timestamp + s.bidWindow);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](s.replicas);
        for (uint256 i; i < s.replicas; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        assignSigned(jobId, bids);
    }

    function _revealAs(uint256 jobId, uint256 providerIndex, bytes32 digest) internal {
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        uint8 index = indexOf(jobId, providerIndex);
        bytes32 s = salt(jobId, providers[providerIndex]);
        vm.prank(providers[providerIndex]);
        market.reveal(jobId, proof, index, digest, s);
    }

    function _openingsExcept(uint256 jobId, uint8 skip) internal view returns (IJobMarketTypes.Opening[] memory o) {
        uint256 n = lists[jobId].length;
        o = new IJobMarketTypes.Opening[](n - 1);
        uint256 k;
        for (uint8 i; i < n; ++i) {
            if (i != skip) o[k++] = IJobMarketTypes.Opening(i, salt(jobId, worker(jobId, i)));
        }
    }

    function _openingsOf(uint256 jobId, uint256 p0, uint256 p1)
        internal
        view
        returns (IJobMarketTypes.Opening[] memory o)
    {
        uint8 a = indexOf(jobId, p0);
        uint8 b = indexOf(jobId, p1);
        (a, b) = a < b ? (a, b) : (b, a);
        o = new IJobMarketTypes.Opening[](2);
        o[0] = IJobMarketTypes.Opening(a, salt(jobId, worker(jobId, a)));
        o[1] = IJobMarketTypes.Opening(b, salt(jobId, worker(jobId, b)));
    }
}
