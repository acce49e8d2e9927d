// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "../Base.t.sol";
import {ProtocolHandler} from "./ProtocolHandler.sol";
import {TestToken} from "../mocks/Tokens.sol";
import {IJobMarketTypes} from "../../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../../src/interfaces/IProviderRegistry.sol";

/// @notice Protocol-wide invariants over random sequences of the whole job lifecycle (ProtocolHandler):
/// escrow solvency and budget accounting (token bonds included), registry solvency, collateral locked
/// exactly for live commitments (binding bids, unsettled assignees), single payout per replica, settlement
/// completeness, quorum of finalized results, custody of dispute bonds, no slash outside the market.
contract ProtocolInvariantsTest is Base {
    ProtocolHandler internal handler;
    TestToken internal token;

    function setUp() public override {
        super.setUp();
        // providers 0-3: WASI; 4-5: WASI and GPU; 6-7 unregistered (the handler may register them)
        registerProviders(4);
        for (uint256 i = 4; i < 6; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI | GPU, keccak256(abi.encode(i)), "peer", "eu-west");
        }
        // a short unbonding period, so that unbonded stake comes back within a run
        vm.prank(admin);
        registry.setUnbondingPeriod(10 minutes);
        token = new TestToken();
        // token jobs lock collateral in the token: every provider posts a bond (the handler adds and
        // withdraws more)
        for (uint256 i; i < providers.length; ++i) {
            token.mint(providers[i], 1_000 ether);
            vm.startPrank(providers[i]);
            token.approve(address(escrow), type(uint256).max);
            escrow.depositBond(address(token), 50 ether);
            vm.stopPrank();
        }
        address[] memory requesters = new address[](3);
        (requesters[0], requesters[1], requesters[2]) = (requester, address(0xBEEF2), address(0xBEEF3));
        for (uint256 i; i < requesters.length; ++i) {
            vm.deal(requesters[i], 1_000_000 ether);
            token.mint(requesters[i], 1e30);
            vm.prank(requesters[i]);
            token.approve(address(escrow), type(uint256).max);
        }
        handler =
            new ProtocolHandler(market, escrow, registry, book, token, arbiter, providers, providerKeys, requesters);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](27);
        selectors[0] = ProtocolHandler.submit.selector;
        selectors[1] = ProtocolHandler.submitBatch.selector;
        selectors[2] = ProtocolHandler.bid.selector;
        selectors[3] = ProtocolHandler.assign.selector;
        selectors[4] = ProtocolHandler.assignBatch.selector;
        selectors[5] = ProtocolHandler.claim.selector;
        selectors[6] = ProtocolHandler.commit.selector;
        selectors[7] = ProtocolHandler.commitSeals.selector;
        selectors[8] = ProtocolHandler.finalize.selector;
        selectors[9] = ProtocolHandler.forgeFinalize.selector;
        selectors[10] = ProtocolHandler.reveal.selector;
        selectors[11] = ProtocolHandler.claimPayout.selector;
        selectors[12] = ProtocolHandler.settle.selector;
        selectors[13] = ProtocolHandler.cancel.selector;
        selectors[14] = ProtocolHandler.dispute.selector;
        selectors[15] = ProtocolHandler.resolveDispute.selector;
        selectors[16] = ProtocolHandler.withdraw.selector;
        selectors[17] = ProtocolHandler.addStake.selector;
        selectors[18] = ProtocolHandler.requestUnbond.selector;
        selectors[19] = ProtocolHandler.withdrawUnbonded.selector;
        selectors[20] = ProtocolHandler.arbiterSlash.selector;
        selectors[21] = ProtocolHandler.warp.selector;
        selectors[22] = ProtocolHandler.register.selector;
        selectors[23] = ProtocolHandler.deregister.selector;
        selectors[24] = ProtocolHandler.depositBond.selector;
        selectors[25] = ProtocolHandler.withdrawBond.selector;
        selectors[26] = ProtocolHandler.setFee.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    // ------------------------------------------------------------------ (i) escrow solvency

    /// @notice Per token: the escrow holds exactly what it owes (locked budgets, every credit and the
    /// providers' token bonds), and its locked total is what the market's rules leave locked, recomputed
    /// job by job from the market's state (ProtocolHandler.lockedOf), not from the escrow's own bookkeeping.
    function invariant_escrowBalanceCoversLockedCreditsAndBonds() public view {
        address[2] memory tokens = [address(0), address(token)];
        for (uint256 k; k < 2; ++k) {
            address t = tokens[k];
            uint256 balance = t == address(0) ? address(escrow).balance : token.balanceOf(address(escrow));
            uint256 locked = escrow.totalLocked(t);
            assertEq(
                balance,
                locked + handler.sumCredits(t) + handler.sumBonds(t),
                "escrow balance != locked + credits + bonds"
            );
            assertEq(locked, handler.expectedLocked(t), "escrow locked != unreleased budgets per market rules");
        }
    }

    // ------------------------------------------------------------------ (ii b) collateral

    /// @notice Every provider's locked collateral, native stake and token bond, is exactly the collateral
    /// of its live commitments (ProtocolHandler.expectedCollateral): on-chain bids of Open jobs (a bid is
    /// binding) and assignees not yet settled. Nothing stays locked after an eviction, a lost bid, a
    /// cancellation, a failure or a settlement; nothing is missing for a bid or an assignment. A bond's
    /// locked part is within the bond, and nobody unbonded locked stake or withdrew a locked bond.
    function invariant_collateralLockedExactlyForLiveCommitments() public view {
        address[] memory ps = handler.providerList();
        for (uint256 i; i < ps.length; ++i) {
            assertEq(
                registry.providerInfo(ps[i]).locked,
                handler.expectedCollateral(ps[i], address(0)),
                "locked stake != collateral of live bids and assignments"
            );
            (uint256 total, uint256 locked) = escrow.bondOf(address(token), ps[i]);
            assertEq(
                locked,
                handler.expectedCollateral(ps[i], address(token)),
                "locked bond != collateral of live bids and assignments"
            );
            assertLe(locked, total, "bond locked above the bond");
        }
        assertEq(handler.lockedStakeUnbonded(), 0, "locked stake was unbonded");
        assertEq(handler.lockedBondWithdrawn(), 0, "a locked bond was withdrawn");
    }

    // ------------------------------------------------------------------ (ii c) slashing

    /// @notice Only the market slashes (for a job's settlement): the arbiter, requesters and providers
    /// calling the registry directly are refused.
    function invariant_onlyTheMarketSlashes() public view {
        assertEq(handler.slashAccepted(), 0, "a slash outside the market went through");
    }

    // ------------------------------------------------------------------ (ii) registry solvency

    function invariant_registryBalanceIsStakePlusUnbonding() public view {
        address[] memory ps = handler.providerList();
        uint256 sum;
        for (uint256 i; i < ps.length; ++i) {
            IProviderRegistry.ProviderInfo memory info = registry.providerInfo(ps[i]);
            sum += uint256(info.stake) + info.unbonding;
            assertLe(info.locked, info.stake, "locked above stake");
        }
        assertEq(address(registry).balance, sum, "registry balance != stake + unbonding");
    }

    // ------------------------------------------------------------------ (iii) no double payout

    /// @notice From the recorded Paid/Refunded events per job: what left the budget never exceeds it, and
    /// together with what the market's state still locks it is exactly the budget; every assignee is
    /// paid at most once, only assignees are paid, only the requester is refunded, in the job's token.
    function invariant_noJobPaysOutTwice() public view {
        uint256 n = handler.jobs();
        for (uint256 id = 1; id <= n; ++id) {
            ProtocolHandler.JobModel memory m = handler.model(id);
            uint256 out = m.paidGross + m.refunded;
            assertLe(out, m.budget, "job paid + refunded more than its budget");
            assertEq(out + handler.lockedOf(id), m.budget, "job paid + refunded + locked != budget");
            for (uint256 i; i < handler.assigneeCount(id); ++i) {
                assertLe(handler.paidCount(id, handler.assigneeAt(id, i)), 1, "assignee paid twice");
            }
        }
        assertEq(handler.doublePaid(), 0, "a worker was paid twice for one job");
        assertEq(handler.strangerPaid(), 0, "a non-assignee was paid");
        assertEq(handler.wrongRefundee(), 0, "a refund went to someone else than the requester");
        assertEq(handler.wrongToken(), 0, "money moved in another token than the job's");
        assertEq(handler.unknownJobMoney(), 0, "money moved for an unknown job");
        // the fee is a per-job snapshot (the params version of its submission): governance changing it
        // mid-job (ProtocolHandler.setFee) never changes what a job's workers are charged
        assertEq(handler.wrongFee(), 0, "a job was charged another fee than the one at its submission");
    }

    // ------------------------------------------------------------------ (iv) settlement completeness

    /// @notice Every job the handler settled (after warping past its reveal deadline and dispute
    /// window) is terminal with every assignee settled.
    function invariant_settledJobsAreTerminalAndComplete() public view {
        uint256 n = handler.jobs();
        for (uint256 id = 1; id <= n; ++id) {
            if (!handler.model(id).settled) continue;
            IJobMarketTypes.JobInfo memory j = market.getJob(id);
            IJobMarketTypes.JobStatus st = j.status;
            assertTrue(
                st == IJobMarketTypes.JobStatus.Finalized || st == IJobMarketTypes.JobStatus.Resolved
                    || st == IJobMarketTypes.JobStatus.Failed || st == IJobMarketTypes.JobStatus.Cancelled,
                "settled job not terminal"
            );
            assertEq(j.settledMask, (uint256(1) << j.assigned) - 1, "settled job has unsettled assignees");
        }
    }

    // ------------------------------------------------------------------ (v) quorum of finalized results

    /// @notice A job reaches Finalized/Disputed/Resolved only through a finalization the handler saw, at
    /// which at least `quorum` assignees had committed and opened the finalized digest (counted from the
    /// model: openings passed plus on-chain reveals); with fewer than `quorum` byzantine assignees the
    /// result is the honest digest; a finalize with an invalid opening, or with fewer openings than the
    /// quorum, never goes through.
    function invariant_finalizedOnlyWithQuorum() public view {
        uint256 n = handler.jobs();
        for (uint256 id = 1; id <= n; ++id) {
            ProtocolHandler.JobModel memory m = handler.model(id);
            IJobMarketTypes.JobStatus st = market.getJob(id).status;
            bool finalState = st == IJobMarketTypes.JobStatus.Finalized || st == IJobMarketTypes.JobStatus.Disputed
                || st == IJobMarketTypes.JobStatus.Resolved;
            if (finalState) assertTrue(m.finalized, "finalized status without a seen finalization");
            if (!m.finalized) continue;
            assertGe(m.finalCount, m.quorum, "finalized with fewer than quorum matching openings");
            assertEq(market.resultOf(id), m.finalDigest, "result differs from the finalized digest");
            if (m.byzAtFinal < m.quorum) {
                assertEq(market.resultOf(id), handler.honestDigest(id), "honest majority but non-honest result");
            }
        }
        assertEq(handler.forgeryAccepted(), 0, "a finalize with an invalid opening or short of quorum was accepted");
        assertEq(handler.secondOpeningAccepted(), 0, "an assignee opened by finalize revealed again");
        assertEq(handler.sealMismatch(), 0, "a committed seal differs from the worker's");
    }

    // ------------------------------------------------------------------ (vi) dispute bonds

    /// @notice The market holds native value only as dispute bonds: every open dispute's bond, plus at
    /// most the bond of each upheld dispute whose workers are not all settled yet. Once every assignee
    /// of a Resolved job is settled, its bond is fully distributed (shares and dust).
    function invariant_marketHoldsOnlyUndistributedBonds() public view {
        uint256 n = handler.jobs();
        uint256 disputed;
        uint256 resolvedPending;
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarketTypes.JobInfo memory j = market.getJob(id);
            if (j.status == IJobMarketTypes.JobStatus.Disputed) {
                disputed += handler.model(id).bond;
            } else if (
                j.status == IJobMarketTypes.JobStatus.Resolved && j.settledMask != (uint256(1) << j.assigned) - 1
            ) {
                resolvedPending += handler.model(id).bond;
            }
        }
        assertGe(address(market).balance, disputed, "market holds less than the open disputes' bonds");
        assertLe(address(market).balance, disputed + resolvedPending, "bond left in the market after settlement");
    }

    function invariant_callSummary() public view {
        handler.callSummary();
    }

    // ------------------------------------------------------------------ regression

    /// @notice Regression for the bond leak (vi): an assignee opened by the finalizing `finalize` used to
    /// be able to reveal again during the dispute window and be counted twice in the bond split, so after
    /// an upheld dispute one share could never be paid and stayed in the JobMarket. The second opening is
    /// now rejected and the bond is fully distributed once every assignee is settled.
    function test_openedAssigneeCannotRevealAgain_bondFullyDistributed() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 days;
        uint256 jobId = submit(s);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        assignSigned(jobId, bids);
        bytes32 digest = keccak256("output");
        bytes32[] memory digests = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            digests[i] = digest;
        }
        commitAll(jobId, digests);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        market.finalize(jobId, digest, proof, openings(jobId, 3)); // three agreeing
        address w0 = lists[jobId][0].worker;
        bytes32 s0 = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyRevealed.selector, jobId, 0));
        market.reveal(jobId, proof, 0, digest, s0);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(market.getJob(jobId).settledMask, 7, "every assignee settled");
        assertEq(address(market).balance, 0, "bond share stranded in the market");
    }
}
