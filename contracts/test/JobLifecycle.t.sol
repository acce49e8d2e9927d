// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";

/// @notice End-to-end lifecycles through every path of the job state machine.
contract JobLifecycleTest is Base {
    bytes32 internal constant DIGEST = keccak256("output");

    function setUp() public override {
        super.setUp();
        registerProviders(6);
    }

    function test_aggregatedFinalize_paysAgreeingRefundsRestChargesFee() public {
        uint256 jobId = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) commitAs(jobId, i, DIGEST);
        assertTrue(status(jobId) == IJobMarket.JobStatus.InProgress, "in progress");
        market.finalize(jobId, DIGEST, openings(jobId, 3));

        assertTrue(status(jobId) == IJobMarket.JobStatus.Finalized, "finalized");
        assertEq(market.getJob(jobId).resultDigest, DIGEST, "digest");
        uint256 fee = PRICE * FEE_BPS / 10_000;
        for (uint256 i; i < 3; ++i) {
            assertEq(credit(providers[i]), PRICE - fee, "worker paid");
            assertEq(info(providers[i]).locked, 0, "collateral released");
            assertEq(info(providers[i]).reputation, 5_010, "reputation up");
        }
        assertEq(credit(treasury), 3 * fee, "fees");
        assertEq(escrow.totalLocked(address(0)), 0, "escrow emptied");
        assertEq(address(escrow).balance, 3 * PRICE, "escrow holds credits");
    }

    function test_cheaperBidsRefundDifference() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        IJobMarket.SignedBid[] memory bids = new IJobMarket.SignedBid[](4);
        for (uint256 i; i < 4; ++i) bids[i] = signBid(jobId, i, uint80(PRICE / (i + 1)));
        market.assignWithSignedBids(jobId, bids);
        // the three cheapest (providers 1, 2, 3) win
        (bytes32 w0,) = market.workOf(jobId, providers[0]);
        assertEq(w0, bytes32(0), "most expensive bid loses");
        for (uint256 i = 1; i < 4; ++i) commitAs(jobId, i, DIGEST);
        IJobMarket.Opening[] memory o = new IJobMarket.Opening[](3);
        for (uint256 i = 1; i < 4; ++i) {
            o[i - 1] = IJobMarket.Opening(providers[i], uint80(PRICE / (i + 1)), salt(jobId, providers[i]));
        }
        sortOpenings(o);
        uint256 before = credit(requester);
        market.finalize(jobId, DIGEST, o);
        uint256 paid = PRICE / 2 + PRICE / 3 + PRICE / 4;
        assertEq(credit(requester) - before, 3 * PRICE - paid, "unused budget refunded");
    }

    function test_byzantineWorkerSlashedJobStillFinalizes() public {
        uint256 jobId = assignedJob(3, 2);
        commitAs(jobId, 0, DIGEST);
        commitAs(jobId, 1, DIGEST);
        commitAs(jobId, 2, sha256("wrong"));
        market.finalize(jobId, DIGEST, openings(jobId, 2));
        assertTrue(status(jobId) == IJobMarket.JobStatus.Finalized, "finalized");
        // the liar cannot be paid with its digest, and reveals of a different digest are slashed
        bytes32 wrong = sha256("wrong");
        vm.prank(providers[2]);
        market.reveal(jobId, wrong, salt(jobId, providers[2]), PRICE);
        assertEq(info(providers[2]).stake, 100 ether - PRICE, "full collateral slashed");
        assertEq(info(providers[2]).reputation, 4_000, "reputation down");
        assertEq(credit(requester), PRICE + PRICE / 2, "refund plus half the slash");
        assertEq(market.getJob(jobId).pending, 0, "closed");
    }

    function test_lateMatchingRevealIsPaidAfterFinalize() public {
        uint256 jobId = assignedJob(3, 2);
        for (uint256 i; i < 3; ++i) commitAs(jobId, i, DIGEST);
        market.finalize(jobId, DIGEST, openings(jobId, 2));
        assertEq(market.getJob(jobId).pending, 1, "one pending");
        assertEq(escrow.totalLocked(address(0)), PRICE, "share kept for the pending worker");
        vm.prank(providers[2]);
        market.reveal(jobId, DIGEST, salt(jobId, providers[2]), PRICE);
        assertEq(credit(providers[2]), PRICE - PRICE * FEE_BPS / 10_000, "late worker paid");
    }
}
