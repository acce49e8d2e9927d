// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {TestToken, FeeOnTransferToken} from "./mocks/Tokens.sol";

/// @notice Every field of a job spec is validated with its own error, and a rejected submission
/// moves no money.
contract JobSubmissionTest is Base {
    IJobMarketTypes.JobSpec internal s;

    function setUp() public override {
        super.setUp();
        s = spec(3, 2, 60);
    }

    function expectRejected(bytes memory err) internal {
        uint256 balanceBefore = requester.balance;
        uint256 count = market.jobCount();
        vm.prank(requester);
        vm.expectRevert(err);
        market.submitJob{value: 3 * PRICE}(s);
        assertEq(requester.balance, balanceBefore, "no money moved");
        assertEq(market.jobCount(), count, "no job stored");
    }

    function test_submit_storesJobAndEscrowsBudget() public {
        vm.recordLogs();
        uint256 jobId = submit(s);
        IJobMarketTypes.JobInfo memory job = market.getJob(jobId);
        assertEq(jobId, 1, "first id");
        assertTrue(job.status == IJobMarketTypes.JobStatus.Open, "open");
        assertEq(job.requester, requester, "requester");
        assertEq(job.replicas, 3, "replicas");
        assertEq(job.quorum, 2, "quorum");
        assertEq(job.bidDeadline, block.timestamp + 60, "bid deadline");
        assertEq(job.maxPrice, PRICE, "max price");
        assertEq(escrow.totalLocked(address(0)), 3 * PRICE, "budget locked");
        assertEq(address(escrow).balance, 3 * PRICE, "escrow holds it");
        assertEq(market.collateralOf(jobId), PRICE, "collateral = 100% of max price");
    }

    function test_submit_rejectsEmptyDigestsAndRuntime() public {
        s.programDigest = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.EmptyProgramDigest.selector));
        s = spec(3, 2, 60);
        s.inputDigest = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.EmptyInputDigest.selector));
        s = spec(3, 2, 60);
        s.runtimeId = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.EmptyRuntime.selector));
    }

    function test_submit_rejectsBadReplicasAndQuorum() public {
        s.replicas = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.InvalidReplicas.selector, 0));
        s.replicas = 17;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.InvalidReplicas.selector, 17));
        s.replicas = 3;
        s.quorum = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.InvalidQuorum.selector, 0, 3));
        s.quorum = 1; // not a majority of 3
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.InvalidQuorum.selector, 1, 3));
        s.quorum = 4;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.InvalidQuorum.selector, 4, 3));
    }

    function testFuzz_submit_quorumRule(uint8 m, uint8 n) public {
        m = uint8(bound(m, 1, 16));
        n = uint8(bound(n, 0, 20));
        s = spec(m, n, 60);
        bool valid = n >= 1 && n <= m && 2 * uint256(n) > m;
        vm.prank(requester);
        if (!valid) vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidQuorum.selector, n, m));
        market.submitJob{value: uint256(m) * PRICE}(s);
    }

    function test_submit_rejectsZeroLimitsAndPrice() public {
        s.fuelLimit = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.ZeroFuelLimit.selector));
        s = spec(3, 2, 60);
        s.timeLimit = 0;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.ZeroTimeLimit.selector));
        s = spec(3, 2, 60);
        s.maxPricePerReplica = 0;
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.ZeroPrice.selector));
        market.submitJob(s);
    }

    function test_submit_rejectsBadWindowsAndDeadlines() public {
        s.bidWindow = 1 days + 1;
        s.commitDeadline = uint32(block.timestamp + 2 days);
        s.revealDeadline = uint32(block.timestamp + 3 days);
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.BidWindowTooLong.selector, 1 days + 1, 1 days));
        s = spec(3, 2, 60);
        // the bid window, the time limit and the minimum commit window must fit before the commit deadline
        s.commitDeadline = uint32(block.timestamp + 60 + 60 + 5 minutes - 1);
        expectRejected(
            abi.encodeWithSelector(
                IJobMarketTypes.CommitDeadlineTooEarly.selector, s.commitDeadline, block.timestamp + 60 + 60 + 5 minutes
            )
        );
        s = spec(3, 2, 60);
        s.revealDeadline = s.commitDeadline + 5 minutes - 1;
        expectRejected(
            abi.encodeWithSelector(
                IJobMarketTypes.RevealDeadlineTooEarly.selector, s.revealDeadline, uint256(s.commitDeadline) + 5 minutes
            )
        );
        s = spec(3, 2, 60);
        s.revealDeadline = uint32(block.timestamp + 31 days);
        expectRejected(
            abi.encodeWithSelector(IJobMarketTypes.DeadlineTooFar.selector, s.revealDeadline, block.timestamp + 30 days)
        );
        s = spec(3, 2, 60);
        s.disputeWindow = 8 days;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.DisputeWindowTooLong.selector, 8 days, 7 days));
    }

    function test_submit_confidentialNeedsKeyAndOnlyThen() public {
        s.confidential = true;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.MissingEncryptionKey.selector));
        s.confidential = false;
        s.encryptionPubKey = bytes32(uint256(1));
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.UnexpectedEncryptionKey.selector));
        s.confidential = true;
        submit(s);
    }

    function test_submit_rejectsDataRefUntilDataRegistryExists() public {
        s.dataRef = 7;
        expectRejected(abi.encodeWithSelector(IJobMarketTypes.DataRefUnsupported.selector, 7));
    }

    function test_submit_rejectsWrongNativeValue() public {
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NativeValueMismatch.selector, 3 * PRICE, 3 * PRICE - 1));
        market.submitJob{value: 3 * PRICE - 1}(s);
    }

    function test_submit_erc20PullsBudgetFromRequester() public {
        TestToken token = new TestToken();
        token.mint(requester, 10 * PRICE);
        s.paymentToken = address(token);
        vm.prank(requester);
        token.approve(address(escrow), 3 * PRICE);
        vm.prank(requester);
        uint256 jobId = market.submitJob(s);
        assertEq(token.balanceOf(address(escrow)), 3 * PRICE, "escrowed");
        assertEq(market.paymentTokenOf(jobId), address(token), "token recorded");
        assertEq(escrow.totalLocked(address(token)), 3 * PRICE, "locked per token");
    }

    function test_submit_erc20RejectsNativeValueAndMissingApproval() public {
        TestToken token = new TestToken();
        token.mint(requester, 10 * PRICE);
        s.paymentToken = address(token);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NativeValueMismatch.selector, 0, 1));
        market.submitJob{value: 1}(s);
        vm.prank(requester);
        vm.expectRevert(); // ERC20InsufficientAllowance from the token
        market.submitJob(s);
        assertEq(token.balanceOf(requester), 10 * PRICE, "nothing taken");
    }

    function test_submit_rejectsFeeOnTransferToken() public {
        FeeOnTransferToken token = new FeeOnTransferToken();
        token.mint(requester, 10 * PRICE);
        s.paymentToken = address(token);
        vm.prank(requester);
        token.approve(address(escrow), 3 * PRICE);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.TransferAmountMismatch.selector, address(token), 3 * PRICE, 3 * PRICE - 3 * PRICE / 100
            )
        );
        market.submitJob(s);
        assertEq(token.balanceOf(requester), 10 * PRICE, "nothing taken");
    }

    function test_submitJobs_batchesNativeBudgetsIntoOneDeposit() public {
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](4);
        for (uint256 i; i < 4; ++i) specs[i] = spec(uint8(1 + 2 * (i % 2)), uint8(1 + (i % 2)), 60);
        uint256 total = 2 * PRICE + 2 * 3 * PRICE;
        vm.prank(requester);
        uint256 first = market.submitJobs{value: total}(specs);
        assertEq(first, 1, "first id");
        assertEq(market.jobCount(), 4, "four jobs");
        assertEq(escrow.totalLocked(address(0)), total, "all budgets locked");
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NativeValueMismatch.selector, total, total + 1));
        market.submitJobs{value: total + 1}(specs);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.EmptyBatch.selector));
        market.submitJobs(new IJobMarketTypes.JobSpec[](0));
    }

    function test_submit_pausedRejects() public {
        vm.prank(admin);
        market.pause();
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSignature("EnforcedPause()"));
        market.submitJob{value: 3 * PRICE}(s);
    }

    function test_cancel_refundsOpenJobOnlyForRequester() public {
        uint256 jobId = submit(s);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotRequester.selector, jobId, address(this)));
        market.cancel(jobId);
        vm.prank(requester);
        market.cancel(jobId);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Cancelled, "cancelled");
        assertEq(credit(requester), 3 * PRICE, "refunded");
        assertEq(escrow.totalLocked(address(0)), 0, "nothing locked");
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.WrongStatus.selector, jobId, IJobMarketTypes.JobStatus.Cancelled));
        market.cancel(jobId);
    }

    function test_unknownJobRejected() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.cancel(99);
    }
}
