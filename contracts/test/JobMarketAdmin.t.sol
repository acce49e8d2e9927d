// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MarketFixture} from "./MarketFixture.t.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobMarketExtension} from "../src/JobMarketExtension.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";
import {JobProofs} from "../src/libraries/JobProofs.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {TestToken, ReentrantToken} from "./mocks/Tokens.sol";

/// @notice The market's governance, pause, delegation plumbing, views and the revert edges of every
/// lifecycle function; an ERC-20 job end to end; reentrancy through a token.
contract JobMarketAdminTest is MarketFixture {
    function tampered(uint256 jobId) internal view returns (IJobMarketTypes.Proof memory proof) {
        proof = proofOf(jobId);
        proof.assignees[0].price -= 1;
    }

    function otherParams() internal pure returns (IJobMarketTypes.MarketParams memory) {
        return IJobMarketTypes.MarketParams({
            collateralBps: 15_000,
            mismatchSlashBps: 8_000,
            noShowSlashBps: 2_000,
            reputationReward: 50,
            mismatchPenalty: 2_000,
            noShowPenalty: 500,
            minCommitWindow: 10 minutes,
            minRevealWindow: 20 minutes,
            revealGrace: 30 minutes,
            rulingPeriod: 5 days,
            maxBidWindow: 2 days,
            maxJobDuration: 60 days,
            maxDisputeWindow: 14 days,
            disputeBond: 1 ether,
            minRewardedPrice: 0.5 ether,
            feeBps: 250
        });
    }

    function setParamsAs(address who, IJobMarketTypes.MarketParams memory p) internal {
        vm.prank(who);
        market.setParams(p);
    }

    function jobExtension() internal view returns (JobMarketExtension) {
        return JobMarketExtension(JobMarket(payable(address(market))).extension());
    }

    // ================================================================== governance: params

    function test_setParams_updatesEveryFieldAndEmits() public {
        IJobMarketTypes.MarketParams memory p = otherParams();
        vm.expectEmit(address(market));
        emit IJobMarketTypes.ParamsUpdated(2, p);
        setParamsAs(admin, p);
        IJobMarketTypes.MarketParams memory r = market.params();
        assertEq(r.collateralBps, 15_000, "collateralBps");
        assertEq(r.mismatchSlashBps, 8_000, "mismatchSlashBps");
        assertEq(r.noShowSlashBps, 2_000, "noShowSlashBps");
        assertEq(r.reputationReward, 50, "reputationReward");
        assertEq(r.mismatchPenalty, 2_000, "mismatchPenalty");
        assertEq(r.noShowPenalty, 500, "noShowPenalty");
        assertEq(r.minCommitWindow, 10 minutes, "minCommitWindow");
        assertEq(r.minRevealWindow, 20 minutes, "minRevealWindow");
        assertEq(r.revealGrace, 30 minutes, "revealGrace");
        assertEq(r.rulingPeriod, 5 days, "rulingPeriod");
        assertEq(market.paramsVersion(), 2, "a new version");
        assertEq(market.paramsAt(1).collateralBps, 10_000, "the old version kept");
        assertEq(r.maxBidWindow, 2 days, "maxBidWindow");
        assertEq(r.maxJobDuration, 60 days, "maxJobDuration");
        assertEq(r.maxDisputeWindow, 14 days, "maxDisputeWindow");
        assertEq(r.disputeBond, 1 ether, "disputeBond");
        assertEq(r.minRewardedPrice, 0.5 ether, "minRewardedPrice");
        assertEq(r.feeBps, 250, "feeBps");
        assertEq(market.paramsAt(1).feeBps, FEE_BPS, "the old version keeps its fee");
        assertEq(keccak256(abi.encode(r)), keccak256(abi.encode(p)), "every field");
    }

    function test_setParams_initialParamsFromConstructor() public view {
        IJobMarketTypes.MarketParams memory r = market.params();
        IJobMarketTypes.MarketParams memory d = defaultParams();
        assertEq(keccak256(abi.encode(r)), keccak256(abi.encode(d)), "constructor params");
        assertEq(r.feeBps, FEE_BPS, "constructor fee");
        assertEq(market.paramsVersion(), 1, "version 1");
        assertEq(keccak256(abi.encode(market.paramsAt(1))), keccak256(abi.encode(d)), "version 1 params");
    }

    function test_setParams_governsNewJobsOnly() public {
        uint256 before = submit(spec(3, 2, 60));
        setParamsAs(admin, otherParams());
        uint256 afterwards = submit(spec(3, 2, 60));
        assertEq(market.collateralOf(before), PRICE, "snapshot at submission");
        assertEq(market.collateralOf(afterwards), PRICE * 15_000 / 10_000, "new collateral rate");
        assertEq(market.getJob(afterwards).collateralBps, 15_000, "stored snapshot");
        // the new bid-window bound applies at once
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 2 days);
        submit(s);
    }

    function test_setParams_onlyGovernor() public {
        IJobMarketTypes.MarketParams memory p = otherParams();
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, GOVERNOR_ROLE)
        );
        market.setParams(p);
        // the arbiter and pauser roles do not govern either
        vm.prank(arbiter);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, arbiter, GOVERNOR_ROLE)
        );
        market.setParams(p);
        // a granted governor may
        address gov = address(0x60F);
        vm.prank(admin);
        market.grantRole(GOVERNOR_ROLE, gov);
        setParamsAs(gov, p);
        assertEq(market.params().collateralBps, 15_000, "set by the new governor");
    }

    function expectOutOfBounds(IJobMarketTypes.MarketParams memory p, uint8 field, uint256 value, uint256 min, uint256 max)
        internal
    {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.ParameterOutOfBounds.selector, field, value, min, max));
        market.setParams(p);
    }

    function test_setParams_boundsPerField() public {
        IJobMarketTypes.MarketParams memory p;
        p = defaultParams(); p.collateralBps = 999;
        expectOutOfBounds(p, 0, 999, 1_000, 50_000);
        p = defaultParams(); p.collateralBps = 50_001;
        expectOutOfBounds(p, 0, 50_001, 1_000, 50_000);
        p = defaultParams(); p.mismatchSlashBps = 999;
        expectOutOfBounds(p, 1, 999, 1_000, 10_000);
        p = defaultParams(); p.mismatchSlashBps = 10_001;
        expectOutOfBounds(p, 1, 10_001, 1_000, 10_000);
        p = defaultParams(); p.noShowSlashBps = 10_001;
        expectOutOfBounds(p, 2, 10_001, 0, 10_000);
        p = defaultParams(); p.reputationReward = 1_001;
        expectOutOfBounds(p, 3, 1_001, 0, 1_000);
        p = defaultParams(); p.mismatchPenalty = 10_001;
        expectOutOfBounds(p, 4, 10_001, 0, 10_000);
        p = defaultParams(); p.noShowPenalty = 10_001;
        expectOutOfBounds(p, 5, 10_001, 0, 10_000);
        p = defaultParams(); p.minCommitWindow = 0;
        expectOutOfBounds(p, 7, 0, 1, 1 days);
        p = defaultParams(); p.minRevealWindow = 1 days + 1;
        expectOutOfBounds(p, 9, 1 days + 1, 1, 1 days);
        p = defaultParams(); p.revealGrace = 0;
        expectOutOfBounds(p, 10, 0, 1, 7 days);
        p = defaultParams(); p.rulingPeriod = 1 hours - 1;
        expectOutOfBounds(p, 11, 1 hours - 1, 1 hours, 30 days);
        p = defaultParams(); p.maxBidWindow = 59;
        expectOutOfBounds(p, 12, 59, 60, 7 days);
        p = defaultParams(); p.maxBidWindow = 7 days + 1;
        expectOutOfBounds(p, 12, 7 days + 1, 60, 7 days);
        p = defaultParams(); p.maxJobDuration = 1 hours - 1;
        expectOutOfBounds(p, 13, 1 hours - 1, 1 hours, 90 days);
        p = defaultParams(); p.maxJobDuration = 90 days + 1;
        expectOutOfBounds(p, 13, 90 days + 1, 1 hours, 90 days);
        p = defaultParams(); p.maxDisputeWindow = 30 days + 1;
        expectOutOfBounds(p, 14, 30 days + 1, 0, 30 days);
        p = defaultParams(); p.minRewardedPrice = 0;
        expectOutOfBounds(p, 8, 0, 1, 1e24);
        p = defaultParams(); p.minRewardedPrice = 1e24 + 1;
        expectOutOfBounds(p, 8, 1e24 + 1, 1, 1e24);
        // the protocol fee: at most PaymentEscrow.MAX_FEE_BPS (10%)
        p = defaultParams(); p.feeBps = 1_001;
        expectOutOfBounds(p, 6, 1_001, 0, 1_000);
        p = defaultParams(); p.feeBps = type(uint16).max;
        expectOutOfBounds(p, 6, type(uint16).max, 0, 1_000);
        // every rejected update left the constructor's params in place
        assertEq(keccak256(abi.encode(market.params())), keccak256(abi.encode(defaultParams())), "unchanged");
    }

    function test_setParams_disputeBondAboveCapRejected() public {
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.disputeBond = 1e24 + 1;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.ParameterOutOfBounds.selector, 15, 1e24 + 1, 0, 1e24));
        market.setParams(p);
    }

    function test_setParams_bidWindowMustBeShorterThanJobDuration() public {
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.maxJobDuration = 2 hours;
        p.maxBidWindow = 2 hours;
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketTypes.ParameterOutOfBounds.selector, 12, 2 hours, 60, 2 hours - 1)
        );
        market.setParams(p);
    }

    function test_setParams_boundsInclusive() public {
        IJobMarketTypes.MarketParams memory lo = IJobMarketTypes.MarketParams(1_000, 1_000, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 hours, 60, 1 hours, 0, 0);
        setParamsAs(admin, lo);
        assertEq(keccak256(abi.encode(market.params())), keccak256(abi.encode(lo)), "minimums");
        IJobMarketTypes.MarketParams memory hi =
            IJobMarketTypes.MarketParams(50_000, 10_000, 10_000, 1_000, 10_000, 10_000, 1_000, 1 days, 1e24, 1 days, 7 days, 30 days, 7 days, 90 days, 30 days, 1e24);
        setParamsAs(admin, hi);
        assertEq(keccak256(abi.encode(market.params())), keccak256(abi.encode(hi)), "maximums");
        assertEq(market.params().feeBps, escrow.MAX_FEE_BPS(), "the market's fee bound is the escrow's");
    }

    function test_constructor_checksParams() public {
        JobMarketExtension ext = new JobMarketExtension(registry, escrow, book);
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.reputationReward = 2_000;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.ParameterOutOfBounds.selector, 3, 2_000, 0, 1_000));
        new JobMarket(roles(), registry, escrow, book, address(ext), p);
        p = defaultParams();
        p.feeBps = 1_001;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.ParameterOutOfBounds.selector, 6, 1_001, 0, 1_000));
        new JobMarket(roles(), registry, escrow, book, address(ext), p);
    }

    // ================================================================== governance: roles and pause

    function test_constructor_grantsAdminRoles() public view {
        assertTrue(market.hasRole(bytes32(0), admin), "default admin");
        assertTrue(market.hasRole(GOVERNOR_ROLE, admin), "governor");
        assertTrue(market.hasRole(ARBITER_ROLE, arbiter), "arbiter");
        assertFalse(market.hasRole(ARBITER_ROLE, admin), "governance does not rule disputes");
        assertEq(market.defaultAdmin(), admin, "default admin (two-step transfer)");
        assertEq(market.defaultAdminDelay(), ADMIN_DELAY, "admin transfer delay");
        assertTrue(market.hasRole(PAUSER_ROLE, admin), "pauser");
        assertEq(market.GOVERNOR_ROLE(), GOVERNOR_ROLE, "governor id");
        assertEq(market.ARBITER_ROLE(), ARBITER_ROLE, "arbiter id");
        assertEq(market.PAUSER_ROLE(), PAUSER_ROLE, "pauser id");
        JobMarket jm = JobMarket(payable(address(market)));
        assertEq(address(jm.registry()), address(registry), "registry");
        assertEq(address(jm.escrow()), address(escrow), "escrow");
        assertEq(address(jm.bidBook()), address(book), "bid book");
        assertEq(jm.MAX_REPLICAS(), 16, "max replicas");
    }

    function test_pause_onlyPauser() public {
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, PAUSER_ROLE)
        );
        market.pause();
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, arbiter, PAUSER_ROLE));
        market.pause();
        assertFalse(market.paused(), "not paused");
        vm.prank(admin);
        market.pause();
        assertTrue(market.paused(), "paused");
        vm.prank(admin);
        vm.expectRevert(err(Pausable.EnforcedPause.selector));
        market.pause();
    }

    function test_unpause_onlyPauser() public {
        vm.prank(admin);
        vm.expectRevert(err(Pausable.ExpectedPause.selector));
        market.unpause();
        vm.prank(admin);
        market.pause();
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, PAUSER_ROLE)
        );
        market.unpause();
        assertTrue(market.paused(), "still paused");
        vm.prank(admin);
        market.unpause();
        assertFalse(market.paused(), "unpaused");
    }

    function test_paused_blocksNewWork() public {
        uint256 open = submit(spec(3, 2, 60));
        uint256 open2 = submit(spec(3, 2, 60));
        uint256 instant = submit(spec(3, 2, 0));
        uint256 fin = finalizedJob(3, 2, 1 days, 3); // warps past the open jobs' bid windows
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](1);
        specs[0] = s;
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) bids[i] = signBid(open, i, PRICE);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (open, open2);
        uint256[] memory instantIds = new uint256[](1);
        instantIds[0] = instant;
        IJobMarketTypes.Assignee[][] memory currents = new IJobMarketTypes.Assignee[][](1);

        vm.prank(admin);
        market.pause();
        bytes memory paused = err(Pausable.EnforcedPause.selector);

        vm.prank(requester);
        vm.expectRevert(paused);
        market.submitJob{value: 3 * PRICE}(s);
        vm.prank(requester);
        vm.expectRevert(paused);
        market.submitJobs{value: 3 * PRICE}(specs);
        vm.expectRevert(paused);
        market.assign(open);
        vm.expectRevert(paused);
        market.assignWithSignedBids(open, bids);
        vm.expectRevert(paused);
        market.assignBatch(ids, noBids());
        vm.prank(providers[0]);
        vm.expectRevert(paused);
        market.claimJob(instant, noAssignees());
        vm.prank(providers[0]);
        vm.expectRevert(paused);
        market.claimJobs(instantIds, currents);
        vm.prank(requester);
        vm.expectRevert(paused);
        market.cancel(open);
        // a dispute is not new work: its window keeps running while paused
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(fin);
        assertStatus(fin, IJobMarketTypes.JobStatus.Disputed, "disputed while paused");

        vm.prank(admin);
        market.unpause();
        vm.prank(requester);
        market.cancel(open);
        assertStatus(open, IJobMarketTypes.JobStatus.Cancelled, "cancel works again");
        vm.prank(providers[0]);
        market.claimJob(instant, noAssignees());
        assertStatus(instant, IJobMarketTypes.JobStatus.Assigned, "claim works again");
    }

    function test_paused_assignedJobsRunToCompletion() public {
        uint256 a = jobWith(3, 2, 0); // single commits, finalize, late reveal
        uint256 b = jobWith(3, 2, 0); // aggregated commit, reveals, claimPayout
        uint256 c = jobWith(3, 2, 0); // no-shows, settle
        vm.prank(admin);
        market.pause();

        for (uint8 i; i < 3; ++i) commitIndex(a, i, DIGEST);
        market.finalize(a, DIGEST, proofOf(a), openings(a, 2));
        assertStatus(a, IJobMarketTypes.JobStatus.Finalized, "finalize while paused");
        revealIndex(a, 2, DIGEST);
        assertEq(credit(workerAt(a, 2)), PRICE - FEE, "late reveal paid while paused");

        commitAll(b, digests(3, DIGEST));
        assertStatus(b, IJobMarketTypes.JobStatus.InProgress, "commitSeals while paused");
        revealIndex(b, 0, DIGEST);
        revealIndex(b, 1, DIGEST);
        assertStatus(b, IJobMarketTypes.JobStatus.Finalized, "reveals finalize while paused");
        market.claimPayout(b, proofOf(b), 0);
        assertEq(market.getJob(b).settledMask, 3, "claimPayout while paused");

        vm.warp(market.getJob(c).revealDeadline + 1);
        market.settle(c, proofOf(c));
        assertStatus(c, IJobMarketTypes.JobStatus.Failed, "settle while paused");
        assertEq(market.getJob(c).settledMask, 7, "every no-show settled");
        assertTrue(market.paused(), "still paused throughout");
    }

    // ================================================================== delegation plumbing

    function test_extension_directCallsRevert() public {
        JobMarketExtension ext = jobExtension();
        assertTrue(address(ext).code.length != 0, "deployed");
        assertTrue(address(ext) != address(market), "separate contract");
        IJobMarketTypes.Proof memory proof;
        IJobMarketTypes.MarketParams memory p = defaultParams();
        bytes memory direct = err(JobMarketExtension.DirectCall.selector);
        vm.expectRevert(direct);
        ext.cancel(1);
        vm.expectRevert(direct);
        ext.reveal(1, proof, 0, DIGEST, 0);
        vm.expectRevert(direct);
        ext.claimPayout(1, proof, 0);
        vm.expectRevert(direct);
        ext.settle(1, proof);
        vm.expectRevert(direct);
        ext.dispute(1);
        vm.prank(admin);
        vm.expectRevert(direct);
        ext.resolveDispute(1, true);
        vm.prank(admin);
        vm.expectRevert(direct);
        ext.setParams(p);
        vm.prank(admin);
        vm.expectRevert(direct);
        ext.pause();
        vm.prank(admin);
        vm.expectRevert(direct);
        ext.unpause();
    }

    function test_plainNativeValueRejected() public {
        vm.deal(address(this), 1 ether);
        (bool ok, bytes memory ret) = address(market).call{value: 1 ether}("");
        assertFalse(ok, "no receive: the extension has no fallback either");
        assertEq(ret.length, 0, "empty revert data");
        assertEq(address(market).balance, 0, "nothing kept");
    }

    function test_unknownSelectorRejected() public {
        (bool ok, bytes memory ret) = address(market).call(abi.encodeWithSignature("noSuchFunction(uint256)", 1));
        assertFalse(ok, "unknown selector reverts");
        assertEq(ret.length, 0, "empty revert data");
        vm.deal(address(this), 1 ether);
        (ok, ret) = address(market).call{value: 1}(abi.encodeWithSignature("noSuchFunction()"));
        assertFalse(ok, "with value too");
    }

    function test_valueToNonPayableExtensionFunctionRejected() public {
        vm.deal(admin, 1 ether);
        vm.prank(admin);
        (bool ok, bytes memory ret) = address(market).call{value: 1}(abi.encodeCall(IJobMarket.pause, ()));
        assertFalse(ok, "the payable fallback does not make pause payable");
        assertEq(ret.length, 0, "callvalue check");
        assertFalse(market.paused(), "not paused");
    }

    function test_constructor_zeroAddresses() public {
        JobMarketExtension ext = new JobMarketExtension(registry, escrow, book);
        IJobMarketTypes.MarketParams memory p = defaultParams();
        bytes memory zero = err(IJobMarketTypes.ZeroAddress.selector);
        vm.expectRevert(zero); // no admin, guardian or arbiter: the extension's initialize refuses
        new JobMarket(IJobMarketTypes.Roles(address(0), ADMIN_DELAY, admin, arbiter), registry, escrow, book, address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(IJobMarketTypes.Roles(admin, ADMIN_DELAY, address(0), arbiter), registry, escrow, book, address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(IJobMarketTypes.Roles(admin, ADMIN_DELAY, admin, address(0)), registry, escrow, book, address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(roles(), IProviderRegistry(address(0)), escrow, book, address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(roles(), registry, IPaymentEscrow(address(0)), book, address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(roles(), registry, escrow, IBidBook(address(0)), address(ext), p);
        vm.expectRevert(zero);
        new JobMarket(roles(), registry, escrow, book, address(0), p);
        vm.expectRevert(zero); // an extension address without code
        new JobMarket(roles(), registry, escrow, book, address(0xE47), p);
        // the extension's own base checks
        vm.expectRevert(zero);
        new JobMarketExtension(IProviderRegistry(address(0)), escrow, book);
        vm.expectRevert(zero);
        new JobMarketExtension(registry, IPaymentEscrow(address(0)), book);
        vm.expectRevert(zero);
        new JobMarketExtension(registry, escrow, IBidBook(address(0)));
        JobMarket ok = new JobMarket(roles(), registry, escrow, book, address(ext), p);
        assertEq(ok.extension(), address(ext), "extension recorded");
    }

    // ================================================================== views

    function test_getJob_storedFields() public {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.disputeWindow = 1 hours;
        s.requiredCapabilities = WASI;
        uint256 jobId = submit(s);
        IJobMarketTypes.JobInfo memory j = market.getJob(jobId);
        assertEq(j.requester, requester, "requester");
        assertStatus(jobId, IJobMarketTypes.JobStatus.Open, "open");
        assertEq(j.replicas, 3, "replicas");
        assertEq(j.quorum, 2, "quorum");
        assertEq(j.assigned, 0, "assigned");
        assertEq(j.committed, 0, "committed");
        assertEq(j.settledMask, 0, "settled");
        assertEq(j.flags, 16, "native, nothing aggregated, disputable");
        assertEq(j.finalizedAt, 0, "not finalized");
        assertEq(j.maxPrice, PRICE, "max price");
        assertEq(j.capabilities, WASI, "capabilities");
        assertEq(j.bidDeadline, block.timestamp + 60, "bid deadline");
        assertEq(j.commitDeadline, s.commitDeadline, "commit deadline");
        assertEq(j.revealDeadline, s.revealDeadline, "reveal deadline");
        assertEq(j.disputeWindow, 1 hours, "dispute window");
        assertEq(j.collateralBps, 10_000, "collateral snapshot");
        assertEq(j.timeLimit, s.timeLimit, "time limit");
        assertEq(j.paramsVersion, 1, "parameters of the constructor");
        assertEq(j.revealedMask, 0, "nobody revealed");
        assertEq(j.record, 0, "no record");
        assertEq(j.resultDigest, 0, "no result");
        assertEq(market.jobCount(), jobId, "count");
        IJobMarketTypes.JobInfo memory unknown = market.getJob(99);
        assertEq(uint256(unknown.status), 0, "unknown job: None");
    }

    function test_getJob_recordAndDigest() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.JobInfo memory j = market.getJob(jobId);
        bytes32 h;
        for (uint256 i; i < 3; ++i) h = JobProofs.append(h, lists[jobId][i].worker, lists[jobId][i].price);
        assertEq(j.record, h, "record is the assignee chain hash");
        assertEq(j.assigned, 3, "assigned");
        assertEq(market.resultOf(jobId), 0, "no result yet");
        for (uint8 i; i < 3; ++i) commitIndex(jobId, i, DIGEST);
        assertEq(market.getJob(jobId).committed, 3, "committed");
        // everyone opened and paid: the digest takes the record's word, the view shows it as the result
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));
        j = market.getJob(jobId);
        assertEq(j.resultDigest, DIGEST, "digest");
        assertEq(j.record, 0, "record word shown empty");
        assertEq(j.flags & 8, 8, "digest-in-record flag");
        assertEq(j.finalizedAt, block.timestamp, "finalized at");
        assertEq(market.resultOf(jobId), DIGEST, "resultOf");
    }

    function test_getJob_digestBesideRecordWhileAssigneesPending() public {
        uint256 jobId = committedJob(3, 2, 0);
        bytes32 record = market.getJob(jobId).record;
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 2));
        IJobMarketTypes.JobInfo memory j = market.getJob(jobId);
        assertEq(j.record, record, "record kept for the pending assignee");
        assertEq(j.resultDigest, DIGEST, "digest in its own word");
        assertEq(j.flags & 8, 0, "no digest-in-record flag");
        assertEq(market.resultOf(jobId), DIGEST, "resultOf");
    }

    function test_workOf_sealAndRevealedDigest() public {
        uint256 jobId = jobWith(3, 2, 0);
        (bytes32 seal, bool revealed, bytes32 digest) = market.workOf(jobId, 0);
        assertEq(seal, 0, "nothing yet");
        for (uint8 i; i < 3; ++i) commitIndex(jobId, i, DIGEST);
        (seal, revealed, digest) = market.workOf(jobId, 1);
        assertEq(seal, sealFor(jobId, workerAt(jobId, 1), DIGEST), "seal stored");
        assertFalse(revealed, "not revealed");
        revealIndex(jobId, 1, DIGEST);
        (seal, revealed, digest) = market.workOf(jobId, 1);
        assertTrue(revealed, "revealed");
        assertEq(digest, DIGEST, "revealed digest");
        (seal, revealed, digest) = market.workOf(jobId, 7);
        assertEq(seal, 0, "out of range: empty");
        assertFalse(revealed, "out of range: not revealed");
    }

    function test_paymentTokenOf() public {
        TestToken token = new TestToken();
        token.mint(requester, 10 * PRICE);
        vm.prank(requester);
        token.approve(address(escrow), 3 * PRICE);
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.paymentToken = address(token);
        vm.prank(requester);
        uint256 erc20Job = market.submitJob(s);
        uint256 nativeJob = submit(spec(3, 2, 60));
        assertEq(market.paymentTokenOf(erc20Job), address(token), "token job");
        assertEq(market.getJob(erc20Job).flags & 1, 1, "token flag");
        assertEq(market.paymentTokenOf(nativeJob), address(0), "native job");
        assertEq(market.paymentTokenOf(99), address(0), "unknown job");
    }

    function test_collateralOf() public {
        uint256 a = submit(spec(3, 2, 60));
        assertEq(market.collateralOf(a), PRICE, "100% of max price");
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.collateralBps = 2_500;
        setParamsAs(admin, p);
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.maxPricePerReplica = 4 ether;
        uint256 b = submit(s);
        assertEq(market.collateralOf(b), 1 ether, "25% of 4 ether");
        assertEq(market.collateralOf(a), PRICE, "earlier job keeps its snapshot");
        assertEq(market.collateralOf(99), 0, "unknown job");
    }

    function test_sealsDigest_matchesHandBuiltEip712() public view {
        bytes32 seals = keccak256("some chain");
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes("PolkaCompute JobMarket")),
                keccak256(bytes("1")),
                block.chainid,
                address(market)
            )
        );
        bytes32 structHash = keccak256(abi.encode(keccak256("Seals(bytes32 seals)"), seals));
        assertEq(market.sealsDigest(seals), keccak256(abi.encodePacked(hex"1901", domain, structHash)), "digest");
        assertEq(JobMarket(payable(address(market))).SEALS_TYPEHASH(), keccak256("Seals(bytes32 seals)"), "typehash");
    }

    // ================================================================== assign, assignBatch

    function test_assign_edges() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotEnoughEligibleBids.selector, jobId, 0, 2));
        market.assign(jobId);
        // one eligible signed bid among ineligible ones is still not a quorum
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](2);
        bids[0] = signBid(jobId, 0, PRICE);
        bids[1] = signBid(jobId, 6, PRICE); // unregistered: dropped
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotEnoughEligibleBids.selector, jobId, 1, 2));
        market.assignWithSignedBids(jobId, bids);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.assign(99);
        // an assignment must leave the time limit plus the minimum commit window before the commit deadline
        uint256 latest = market.getJob(jobId).commitDeadline - 60 - 5 minutes;
        vm.warp(latest + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AssignmentTooLate.selector, jobId, latest));
        market.assign(jobId);
    }

    function test_assign_quorumButNotAllReplicas_refundsUnassigned() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](2);
        bids[0] = signBid(jobId, 0, PRICE);
        bids[1] = signBid(jobId, 1, PRICE);
        assignSigned(jobId, bids);
        assertEq(market.getJob(jobId).assigned, 2, "two of three");
        assertEq(credit(requester), PRICE, "the unassigned replica's share refunded at once");
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Assigned));
        market.assign(jobId);
    }

    function test_assignBatch_emptyBatch() public {
        vm.expectRevert(err(IJobMarketTypes.EmptyBatch.selector));
        market.assignBatch(new uint256[](0), noBids());
    }

    function test_assignBatch_idsMustAscend() public {
        uint256 a = submit(spec(3, 2, 60));
        uint256 b = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (b, a);
        vm.expectRevert(err(IJobMarketTypes.JobIdsNotAscending.selector));
        market.assignBatch(ids, noBids());
        (ids[0], ids[1]) = (a, a);
        vm.expectRevert(err(IJobMarketTypes.JobIdsNotAscending.selector));
        market.assignBatch(ids, noBids());
        uint256[] memory three = new uint256[](3);
        (three[0], three[1], three[2]) = (a, b, b);
        vm.expectRevert(err(IJobMarketTypes.JobIdsNotAscending.selector));
        market.assignBatch(three, noBids());
    }

    function _expectTermsDiffer(IJobMarketTypes.JobSpec memory other) internal {
        uint256 a = submit(spec(3, 2, 60));
        uint256 b = submit(other);
        vm.warp(block.timestamp + 60);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BatchTermsDiffer.selector, b));
        market.assignBatch(ids, noBids());
    }

    function test_assignBatch_termsMustMatch() public {
        IJobMarketTypes.JobSpec memory s = spec(4, 3, 60);
        _expectTermsDiffer(s); // replicas
        s = spec(3, 3, 60);
        _expectTermsDiffer(s); // quorum
        s = spec(3, 2, 60);
        s.maxPricePerReplica = PRICE / 2;
        _expectTermsDiffer(s); // max price
        s = spec(3, 2, 60);
        s.requiredCapabilities = WASI | GPU;
        _expectTermsDiffer(s); // capabilities
    }

    function test_assignBatch_collateralSnapshotMustMatch() public {
        uint256 a = submit(spec(3, 2, 60));
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.collateralBps = 5_000;
        setParamsAs(admin, p);
        uint256 b = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BatchTermsDiffer.selector, b));
        market.assignBatch(ids, noBids());
    }

    function test_assignBatch_everyJobMustBeAssignable() public {
        uint256 a = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 30);
        uint256 b = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 30); // a's window closed, b's still open
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        uint32 bDeadline = market.getJob(b).bidDeadline;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BiddingStillOpen.selector, b, bDeadline));
        market.assignBatch(ids, noBids());
        uint256[] memory unknown = new uint256[](2);
        (unknown[0], unknown[1]) = (a, 99);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.assignBatch(unknown, noBids());
    }

    function test_assignBatch_notEnoughEligibleBids() public {
        uint256 a = submit(spec(3, 2, 60));
        uint256 b = submit(spec(3, 2, 60));
        vm.warp(block.timestamp + 60);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotEnoughEligibleBids.selector, a, 0, 2));
        market.assignBatch(ids, noBids());
    }

    // ================================================================== commitSeals


    function test_commitSeals_emptyItems() public {
        vm.expectRevert(err(IJobMarketTypes.EmptyBatch.selector));
        market.commitSeals(new IJobMarketTypes.SealBatch[](0), noSigs());
    }

    function test_commitSeals_itemWithoutSeals() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, new uint8[](0), new bytes32[](0));
        vm.expectRevert(err(IJobMarketTypes.EmptyBatch.selector));
        market.commitSeals(items, noSigs());
    }

    function test_commitSeals_indicesMustAscend() public {
        uint256 jobId = jobWith(3, 2, 0);
        address w1 = workerAt(jobId, 1);
        bytes32 s1 = sealFor(jobId, w1, DIGEST);
        bytes32 s0 = sealFor(jobId, workerAt(jobId, 0), DIGEST);
        bytes32[] memory seals = new bytes32[](2);
        (seals[0], seals[1]) = (s1, s0);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, pair(1, 0), seals);
        vm.prank(w1); // assignee 1's own seal needs no signature, so the order check is what trips
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.IndicesNotSorted.selector, jobId));
        market.commitSeals(items, noSigs());
        (seals[0], seals[1]) = (s1, s1);
        items = sealItem(jobId, pair(1, 1), seals);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.IndicesNotSorted.selector, jobId));
        market.commitSeals(items, noSigs());
    }

    function test_commitSeals_badIndex() public {
        uint256 jobId = jobWith(3, 2, 0);
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = keccak256("seal");
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(3), seals);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BadIndex.selector, jobId, 3));
        market.commitSeals(items, noSigs());
    }

    function test_commitSeals_emptySeal() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(0), new bytes32[](1));
        address w0 = workerAt(jobId, 0);
        vm.prank(w0);
        vm.expectRevert(err(IJobMarketTypes.EmptySeal.selector));
        market.commitSeals(items, noSigs());
    }

    function test_commitSeals_onceAggregatedPerJob() public {
        uint256 jobId = jobWith(3, 2, 0);
        address w0 = workerAt(jobId, 0);
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = sealFor(jobId, w0, DIGEST);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(0), seals);
        vm.prank(w0);
        market.commitSeals(items, noSigs());
        assertEq(market.getJob(jobId).committed, 1, "one seal");
        assertEq(market.getJob(jobId).flags & 4, 4, "aggregated flag");
        // a second aggregated commit, even for the others' seals, is refused (only an identical one is
        // skipped: see ReviewFindings.t.sol)
        address w1 = workerAt(jobId, 1);
        seals[0] = sealFor(jobId, w1, DIGEST);
        items = sealItem(jobId, single(1), seals);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyCommitted.selector, jobId, 0));
        market.commitSeals(items, noSigs());
        // the left-out assignees commit alone, with the aggregated seals in their proof
        aggMask[jobId] = 1;
        aggSeals[jobId].push(sealFor(jobId, w0, DIGEST));
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, DIGEST);
        assertEq(market.getJob(jobId).committed, 3, "all three");
        // an assignee inside the aggregate cannot commit again alone
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 again = sealFor(jobId, w0, WRONG);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyCommitted.selector, jobId, 0));
        market.commit(jobId, proof, 0, again);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));
        assertStatus(jobId, IJobMarketTypes.JobStatus.Finalized, "mixed commits finalize");
    }

    function test_commitSeals_afterSingleCommitRefused() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, DIGEST);
        address w1 = workerAt(jobId, 1);
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = sealFor(jobId, w1, DIGEST);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(1), seals);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyCommitted.selector, jobId, 0));
        market.commitSeals(items, noSigs()); // other seals are in already: said, not silently skipped
    }

    function test_commitSeals_instantJobNotFullyClaimed() public {
        uint256 jobId = submit(spec(3, 2, 0));
        vm.prank(providers[0]);
        market.claimJob(jobId, noAssignees());
        lists[jobId].push(IJobMarketTypes.Assignee(providers[0], PRICE));
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = sealFor(jobId, providers[0], DIGEST);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(0), seals);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AssignmentNotFinal.selector, jobId));
        market.commitSeals(items, noSigs());
        // a single commit is fine meanwhile
        commitAs(jobId, 0, DIGEST);
        assertEq(market.getJob(jobId).committed, 1, "committed alone");
    }

    function test_commitSeals_wrongPhase() public {
        uint256 open = submit(spec(3, 2, 60));
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = keccak256("seal");
        IJobMarketTypes.SealBatch[] memory items = sealItem(open, single(0), seals);
        vm.expectRevert(wrongStatus(open, IJobMarketTypes.JobStatus.Open));
        market.commitSeals(items, noSigs());
        uint256 jobId = jobWith(3, 2, 0);
        items = sealItem(jobId, single(0), seals);
        uint32 commitDeadline = market.getJob(jobId).commitDeadline;
        vm.warp(commitDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.CommitDeadlinePassed.selector, jobId, commitDeadline));
        market.commitSeals(items, noSigs());
    }

    function test_commitSeals_signatureCoveringNothingRejected() public {
        uint256 jobId = jobWith(3, 2, 0);
        address w0 = workerAt(jobId, 0);
        bytes32[] memory seals = new bytes32[](1);
        seals[0] = sealFor(jobId, w0, DIGEST);
        IJobMarketTypes.SealBatch[] memory items = sealItem(jobId, single(0), seals);
        // worker 1 signs, but none of its seals is in the call: its chain stays zero
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](1);
        sigs[0] = signSeals(providerIndexOf(workerAt(jobId, 1)), bytes32(0));
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidSealSignature.selector, workerAt(jobId, 1)));
        market.commitSeals(items, sigs);
    }

    // ================================================================== commit

    function test_commit_notYourIndex() public {
        uint256 jobId = jobWith(3, 2, 0);
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 seal = sealFor(jobId, w0, DIGEST);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotYourIndex.selector, jobId, 1, w0));
        market.commit(jobId, proof, 1, seal);
        vm.prank(providers[6]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotYourIndex.selector, jobId, 0, providers[6]));
        market.commit(jobId, proof, 0, seal);
    }

    function test_commit_badIndex() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.prank(workerAt(jobId, 0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BadIndex.selector, jobId, 3));
        market.commit(jobId, proof, 3, keccak256("seal"));
    }

    function test_commit_alreadyCommitted() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, DIGEST);
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 other = sealFor(jobId, w0, WRONG);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyCommitted.selector, jobId, 0));
        market.commit(jobId, proof, 0, other);
        (bytes32 kept,,) = market.workOf(jobId, 0);
        assertEq(kept, sealFor(jobId, w0, DIGEST), "first seal kept");
    }

    function test_commit_emptySeal() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.prank(workerAt(jobId, 0));
        vm.expectRevert(err(IJobMarketTypes.EmptySeal.selector));
        market.commit(jobId, proof, 0, 0);
    }

    function test_commit_deadlinePassed() public {
        uint256 jobId = jobWith(3, 2, 0);
        uint32 commitDeadline = market.getJob(jobId).commitDeadline;
        vm.warp(commitDeadline - 1);
        commitIndex(jobId, 0, DIGEST); // the last second still counts
        vm.warp(commitDeadline);
        address w1 = workerAt(jobId, 1);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 seal = sealFor(jobId, w1, DIGEST);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.CommitDeadlinePassed.selector, jobId, commitDeadline));
        market.commit(jobId, proof, 1, seal);
    }

    function test_commit_wrongStatus() public {
        uint256 open = submit(spec(3, 2, 60));
        IJobMarketTypes.Proof memory empty;
        vm.prank(providers[0]);
        vm.expectRevert(wrongStatus(open, IJobMarketTypes.JobStatus.Open));
        market.commit(open, empty, 0, keccak256("seal"));
        uint256 fin = finalizedJob(3, 2, 0, 3);
        IJobMarketTypes.Proof memory proof = proofOf(fin);
        vm.prank(workerAt(fin, 0));
        vm.expectRevert(wrongStatus(fin, IJobMarketTypes.JobStatus.Finalized));
        market.commit(fin, proof, 0, keccak256("seal"));
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.commit(99, empty, 0, keccak256("seal"));
    }

    function test_commit_tamperedProof() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.Proof memory proof = tampered(jobId);
        address w0 = workerAt(jobId, 0);
        bytes32 seal = sealFor(jobId, w0, DIGEST);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.commit(jobId, proof, 0, seal);
    }

    // ================================================================== finalize

    function test_finalize_indicesMustAscend() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        (o[0], o[1]) = (o[1], o[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.IndicesNotSorted.selector, jobId));
        market.finalize(jobId, DIGEST, proof, o);
        o[0] = o[1]; // the same opening twice
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.IndicesNotSorted.selector, jobId));
        market.finalize(jobId, DIGEST, proof, o);
    }

    function test_finalize_badIndex() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        o[1].index = 3;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BadIndex.selector, jobId, 3));
        market.finalize(jobId, DIGEST, proof, o);
    }

    function test_finalize_tamperedProof() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = tampered(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.finalize(jobId, DIGEST, proof, o);
    }

    function test_finalize_aggregatedProofMustCarrySeals() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitAll(jobId, digests(3, DIGEST));
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        // without the aggregated seals
        IJobMarketTypes.Proof memory bare = IJobMarketTypes.Proof(lists[jobId], 0, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.finalize(jobId, DIGEST, bare, o);
        // a mask that does not match the number of seals
        IJobMarketTypes.Proof memory shortProof = proofOf(jobId);
        shortProof.seals = new bytes32[](2);
        (shortProof.seals[0], shortProof.seals[1]) = (aggSeals[jobId][0], aggSeals[jobId][1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.finalize(jobId, DIGEST, shortProof, o);
        // a seals mask on a job whose seals were committed one by one
        uint256 single_ = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory masked = proofOf(single_);
        masked.sealsMask = 1;
        masked.seals = new bytes32[](1);
        IJobMarketTypes.Opening[] memory o2 = openings(single_, 2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, single_));
        market.finalize(single_, DIGEST, masked, o2);
    }

    function test_finalize_quorumNotReached() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.QuorumNotReached.selector, jobId, 0, 2));
        market.finalize(jobId, DIGEST, proof, new IJobMarketTypes.Opening[](0));
    }

    function test_finalize_revealDeadlinePassed() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        uint32 revealDeadline = market.getJob(jobId).revealDeadline;
        vm.warp(revealDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RevealDeadlinePassed.selector, jobId, revealDeadline));
        market.finalize(jobId, DIGEST, proof, o);
    }

    function test_finalize_invalidOpening() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        o[1].salt = keccak256("guess");
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, 1));
        market.finalize(jobId, DIGEST, proof, o);
        // right salts, other digest
        o = openings(jobId, 2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, 0));
        market.finalize(jobId, WRONG, proof, o);
    }

    function test_finalize_wrongStatusAndEmptyMany() public {
        uint256 jobId = jobWith(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Assigned));
        market.finalize(jobId, DIGEST, proof, o);
        vm.expectRevert(err(IJobMarketTypes.EmptyBatch.selector));
        market.finalizeMany(new IJobMarketTypes.Finalization[](0));
    }

    function test_finalize_earlierRevealerListedWithAnySalt() public {
        uint256 jobId = committedJob(3, 2, 0);
        revealIndex(jobId, 0, DIGEST);
        IJobMarketTypes.Opening[] memory o = openings(jobId, 2);
        o[0].salt = 0; // assignee 0 revealed on-chain already
        market.finalize(jobId, DIGEST, proofOf(jobId), o);
        assertEq(credit(workerAt(jobId, 0)), PRICE - FEE, "paid");
        assertEq(market.getJob(jobId).settledMask, 3, "both settled");
    }

    // ================================================================== claimJob

    function test_claimJob_jobFull() public {
        uint256 jobId = submit(spec(1, 1, 0));
        vm.prank(providers[0]);
        market.claimJob(jobId, noAssignees());
        IJobMarketTypes.Assignee[] memory current = new IJobMarketTypes.Assignee[](1);
        current[0] = IJobMarketTypes.Assignee(providers[0], PRICE);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.JobFull.selector, jobId));
        market.claimJob(jobId, current);
    }

    function test_claimJob_notInstantJob() public {
        uint256 jobId = submit(spec(3, 2, 60));
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotInstantJob.selector, jobId));
        market.claimJob(jobId, noAssignees());
    }

    function test_claimJob_staleListRecordMismatch() public {
        uint256 jobId = submit(spec(3, 2, 0));
        vm.prank(providers[0]);
        market.claimJob(jobId, noAssignees());
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.claimJob(jobId, noAssignees());
        IJobMarketTypes.Assignee[] memory wrong = new IJobMarketTypes.Assignee[](1);
        wrong[0] = IJobMarketTypes.Assignee(providers[0], PRICE - 1);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, jobId));
        market.claimJob(jobId, wrong);
    }

    function test_claimJob_notEligible() public {
        uint256 jobId = submit(spec(3, 2, 0));
        vm.prank(providers[6]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotEligible.selector, jobId, providers[6]));
        market.claimJob(jobId, noAssignees());
        assertEq(market.getJob(jobId).assigned, 0, "nothing recorded");
        assertStatus(jobId, IJobMarketTypes.JobStatus.Open, "still open");
    }

    function test_claimJob_phaseChecks() public {
        uint256 jobId = submit(spec(3, 2, 0));
        uint256 cancelled = submit(spec(3, 2, 0));
        vm.prank(requester);
        market.cancel(cancelled);
        vm.prank(providers[0]);
        vm.expectRevert(wrongStatus(cancelled, IJobMarketTypes.JobStatus.Cancelled));
        market.claimJob(cancelled, noAssignees());
        // a claim must leave the time limit plus the minimum commit window before the commit deadline
        uint256 latest = market.getJob(jobId).commitDeadline - 60 - 5 minutes;
        vm.warp(latest + 1);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AssignmentTooLate.selector, jobId, latest));
        market.claimJob(jobId, noAssignees());
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.claimJob(99, noAssignees());
    }

    function test_claimJobs_batchAndChecks() public {
        uint256 a = submit(spec(3, 2, 0));
        uint256 b = submit(spec(3, 2, 0));
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        IJobMarketTypes.Assignee[][] memory currents = new IJobMarketTypes.Assignee[][](2);
        vm.prank(providers[0]);
        vm.expectRevert(err(IJobMarketTypes.EmptyBatch.selector));
        market.claimJobs(new uint256[](0), new IJobMarketTypes.Assignee[][](0));
        vm.prank(providers[0]);
        vm.expectRevert(err(IJobMarketTypes.LengthMismatch.selector));
        market.claimJobs(ids, new IJobMarketTypes.Assignee[][](1));
        vm.prank(providers[0]);
        market.claimJobs(ids, currents);
        assertEq(market.getJob(a).assigned, 1, "a claimed");
        assertEq(market.getJob(b).assigned, 1, "b claimed");
        assertEq(info(providers[0]).locked, 2 * PRICE, "collateral for both");
    }

    function test_claimJob_instantJobFullyClaimedOpensEarly() public {
        uint256 jobId = submit(spec(2, 2, 0));
        vm.prank(providers[0]);
        market.claimJob(jobId, noAssignees());
        lists[jobId].push(IJobMarketTypes.Assignee(providers[0], PRICE));
        IJobMarketTypes.Assignee[] memory current = lists[jobId];
        vm.prank(providers[1]);
        market.claimJob(jobId, current);
        lists[jobId].push(IJobMarketTypes.Assignee(providers[1], PRICE));
        commitAll(jobId, digests(2, DIGEST)); // fully claimed: aggregated commit allowed
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 2));
        assertStatus(jobId, IJobMarketTypes.JobStatus.Finalized, "finalized before the commit deadline");
        assertEq(credit(requester), 0, "nothing unassigned to refund");
    }

    // ================================================================== reveal

    function test_reveal_notYourIndex() public {
        uint256 jobId = committedJob(3, 2, 0);
        address w1 = workerAt(jobId, 1);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, workerAt(jobId, 0));
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotYourIndex.selector, jobId, 0, w1));
        market.reveal(jobId, proof, 0, DIGEST, s);
    }

    function test_reveal_alreadyRevealed() public {
        uint256 jobId = committedJob(3, 2, 0);
        revealIndex(jobId, 0, DIGEST);
        assertStatus(jobId, IJobMarketTypes.JobStatus.InProgress, "one reveal is not a quorum");
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyRevealed.selector, jobId, 0));
        market.reveal(jobId, proof, 0, DIGEST, s);
    }

    function test_reveal_deadlinePassedBeforeFinalization() public {
        uint256 jobId = committedJob(3, 2, 0);
        uint32 revealDeadline = market.getJob(jobId).revealDeadline;
        vm.warp(revealDeadline + 1);
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RevealDeadlinePassed.selector, jobId, revealDeadline));
        market.reveal(jobId, proof, 0, DIGEST, s);
    }

    function test_reveal_deadlinePassedAfterFinalization() public {
        uint256 jobId = finalizedJob(3, 2, 0, 2);
        uint32 revealDeadline = market.getJob(jobId).revealDeadline;
        vm.warp(revealDeadline + 1);
        address w2 = workerAt(jobId, 2);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w2);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RevealDeadlinePassed.selector, jobId, revealDeadline));
        market.reveal(jobId, proof, 2, DIGEST, s);
    }

    function test_reveal_wrongStatusAfterOverturn() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.warp(market.getJob(jobId).revealDeadline - 1 minutes); // the grace outlasts the reveal deadline
        vm.prank(arbiter);
        market.resolveDispute(jobId, false);
        address w2 = workerAt(jobId, 2);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w2);
        // within the reveal grace after the ruling, a reveal is recorded (settle judges it)...
        vm.prank(w2);
        market.reveal(jobId, proof, 2, DIGEST, s);
        assertEq(market.getJob(jobId).revealedMask, 4, "recorded");
        // ...and not twice, nor after the grace
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyRevealed.selector, jobId, 2));
        market.reveal(jobId, proof, 2, DIGEST, s);
        uint256 graceEnd = block.timestamp + 10 minutes;
        vm.warp(graceEnd + 1);
        market.settle(jobId, proof);
        assertEq(info(w2).stake, 100 ether - PRICE, "agreed with the overturned result: slashed");
    }

    function test_reveal_invalidOpeningAndTooEarly() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST);
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.OpeningNotYetAllowed.selector, jobId));
        market.reveal(jobId, proof, 0, DIGEST, s);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, 0));
        market.reveal(jobId, proof, 0, WRONG, s);
        // an assignee that never committed has nothing to open
        address w2 = workerAt(jobId, 2);
        bytes32 s2 = salt(jobId, w2);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.InvalidOpening.selector, jobId, 2));
        market.reveal(jobId, proof, 2, DIGEST, s2);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.BadIndex.selector, jobId, 5));
        market.reveal(jobId, proof, 5, DIGEST, s);
    }

    function test_reveal_settledAssigneeGetsAlreadySettled() public {
        uint256 jobId = finalizedJob(3, 2, 0, 3); // every assignee paid: the record word holds the digest
        address w0 = workerAt(jobId, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w0);
        vm.prank(w0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadySettled.selector, jobId, 0));
        market.reveal(jobId, proof, 0, DIGEST, s);
    }

    function test_reveal_heldDuringDisputeWindowThenClaimed() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        revealIndex(jobId, 2, DIGEST); // matching late reveal while payouts are held
        assertEq(credit(workerAt(jobId, 2)), 0, "held");
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.warp(block.timestamp + 1 days);
        for (uint8 i; i < 3; ++i) market.claimPayout(jobId, proof, i);
        for (uint8 i; i < 3; ++i) assertEq(credit(workerAt(jobId, i)), PRICE - FEE, "paid after the window");
    }

    // ================================================================== claimPayout

    function test_claimPayout_notAgreed() public {
        uint256 jobId = finalizedJob(3, 2, 0, 2);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotAgreed.selector, jobId, 2));
        market.claimPayout(jobId, proof, 2);
    }

    function test_claimPayout_alreadySettled() public {
        uint256 jobId = finalizedJob(3, 2, 0, 2);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadySettled.selector, jobId, 0));
        market.claimPayout(jobId, proof, 0);
    }

    function test_claimPayout_payoutHeld() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        uint256 releasedAt = uint256(market.getJob(jobId).finalizedAt) + 1 days;
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.PayoutHeld.selector, jobId, releasedAt));
        market.claimPayout(jobId, proof, 0);
        vm.warp(releasedAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.PayoutHeld.selector, jobId, releasedAt));
        market.claimPayout(jobId, proof, 0);
        vm.warp(releasedAt);
        market.claimPayout(jobId, proof, 0);
        assertEq(credit(workerAt(jobId, 0)), PRICE - FEE, "released at the window's end");
    }

    function test_claimPayout_wrongStatusAndTamperedProof() public {
        uint256 jobId = committedJob(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.InProgress));
        market.claimPayout(jobId, proof, 0);
        market.finalize(jobId, DIGEST, proof, openings(jobId, 2));
        uint256 other = finalizedJob(3, 2, 1 days, 2);
        vm.warp(block.timestamp + 1 days);
        IJobMarketTypes.Proof memory bad = tampered(other);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RecordMismatch.selector, other));
        market.claimPayout(other, bad, 0);
    }

    // ================================================================== settle

    function test_settle_tooEarlyPerPhase() public {
        uint256 assigned = jobWith(3, 2, 0);
        IJobMarketTypes.Proof memory proof = proofOf(assigned);
        uint256 revealDeadline = market.getJob(assigned).revealDeadline;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, assigned, revealDeadline + 1));
        market.settle(assigned, proof);
        uint256 fin = finalizedJob(3, 2, 0, 2);
        IJobMarketTypes.Proof memory finProof = proofOf(fin);
        uint256 finDeadline = market.getJob(fin).revealDeadline;
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, fin, finDeadline + 1));
        market.settle(fin, finProof);
        vm.warp(revealDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.SettlementTooEarly.selector, assigned, revealDeadline + 1));
        market.settle(assigned, proof);
    }

    function test_settle_nothingToSettle() public {
        uint256 jobId = finalizedJob(3, 2, 0, 3);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NothingToSettle.selector, jobId));
        market.settle(jobId, proof);
        // a failed job whose assignees are all settled has nothing left either
        uint256 failed = jobWith(3, 2, 0);
        vm.warp(market.getJob(failed).revealDeadline + 1);
        IJobMarketTypes.Proof memory fp = proofOf(failed);
        market.settle(failed, fp);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NothingToSettle.selector, failed));
        market.settle(failed, fp);
    }

    function test_settle_wrongStatus() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Disputed));
        market.settle(jobId, proof);
        uint256 cancelled = submit(spec(3, 2, 60));
        vm.prank(requester);
        market.cancel(cancelled);
        IJobMarketTypes.Proof memory empty;
        vm.expectRevert(wrongStatus(cancelled, IJobMarketTypes.JobStatus.Cancelled));
        market.settle(cancelled, empty);
    }

    function test_settle_heldAfterRevealDeadline() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        uint256 releasedAt = uint256(market.getJob(jobId).finalizedAt) + 1 days;
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.PayoutHeld.selector, jobId, releasedAt));
        market.settle(jobId, proof);
        vm.warp(releasedAt);
        market.settle(jobId, proof);
        assertEq(credit(workerAt(jobId, 0)), PRICE - FEE, "held agreeing worker paid");
        assertEq(credit(workerAt(jobId, 1)), PRICE - FEE, "held agreeing worker paid");
        assertEq(info(workerAt(jobId, 2)).stake, 100 ether - PRICE, "withheld result slashed");
        assertEq(escrow.totalLocked(address(0)), 0, "closed");
    }

    function test_settle_resolvedJobPaysBondShares() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 2);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Resolved, "upheld");
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proof);
        assertEq(credit(workerAt(jobId, 0)), PRICE - FEE + 0.05 ether, "payout plus half the bond");
        assertEq(credit(workerAt(jobId, 1)), PRICE - FEE + 0.05 ether, "payout plus half the bond");
        assertEq(info(workerAt(jobId, 2)).stake, 100 ether - PRICE, "non-opener slashed");
    }

    // ================================================================== dispute, resolveDispute

    function test_dispute_notRequester() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.deal(address(this), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotRequester.selector, jobId, address(this)));
        market.dispute{value: 0.1 ether}(jobId);
    }

    function test_dispute_notAllowedWithoutWindow() public {
        uint256 jobId = finalizedJob(3, 2, 0, 2);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.DisputeNotAllowed.selector, jobId));
        market.dispute{value: 0.1 ether}(jobId);
    }

    function test_dispute_windowClosed() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        uint256 closesAt = uint256(market.getJob(jobId).finalizedAt) + 1 days;
        vm.warp(closesAt);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.DisputeWindowClosed.selector, jobId, closesAt));
        market.dispute{value: 0.1 ether}(jobId);
    }

    function test_dispute_wrongBond() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.WrongBond.selector, 0.1 ether, 0));
        market.dispute(jobId);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.WrongBond.selector, 0.1 ether, 0.2 ether));
        market.dispute{value: 0.2 ether}(jobId);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        assertEq(address(market).balance, 0.1 ether, "the market holds the bond");
    }

    function test_dispute_wrongStatus() public {
        uint256 jobId = committedJob(3, 2, 1 days);
        vm.prank(requester);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.InProgress));
        market.dispute{value: 0.1 ether}(jobId);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(requester);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Disputed));
        market.dispute{value: 0.1 ether}(jobId);
    }

    function test_resolveDispute_onlyArbiter() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, ARBITER_ROLE)
        );
        market.resolveDispute(jobId, false);
        vm.prank(providers[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, providers[0], ARBITER_ROLE)
        );
        market.resolveDispute(jobId, true);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Disputed, "still disputed");
        vm.prank(admin); // governance is not the arbiter
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, ARBITER_ROLE)
        );
        market.resolveDispute(jobId, true);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Resolved, "resolved by the arbiter");
    }

    function test_resolveDispute_wrongStatus() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(arbiter);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Finalized));
        market.resolveDispute(jobId, true);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        vm.prank(arbiter);
        market.resolveDispute(jobId, true);
        vm.prank(arbiter);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Resolved));
        market.resolveDispute(jobId, false);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.UnknownJob.selector, 99));
        market.resolveDispute(99, false);
    }

    function test_dispute_zeroBond() public {
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.disputeBond = 0;
        setParamsAs(admin, p);
        uint256 a = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        market.dispute(a);
        vm.prank(arbiter);
        market.resolveDispute(a, true);
        uint256 b = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        market.dispute(b);
        vm.prank(arbiter);
        market.resolveDispute(b, false);
        assertEq(credit(requester), 3 * PRICE, "budget back, no bond");
        vm.warp(block.timestamp + 1 days);
        IJobMarketTypes.Proof memory proof = proofOf(a);
        for (uint8 i; i < 3; ++i) market.claimPayout(a, proof, i);
        assertEq(credit(workerAt(a, 0)), PRICE - FEE, "no bond share to add");
        assertEq(address(market).balance, 0, "no bond held");
    }

    // ================================================================== ERC-20 job end to end

    function test_erc20Job_lifecycle() public {
        TestToken token = new TestToken();
        token.mint(requester, 10 * PRICE);
        vm.prank(requester);
        token.approve(address(escrow), 3 * PRICE);
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.paymentToken = address(token);
        vm.prank(requester);
        uint256 jobId = market.submitJob(s);
        assertEq(token.balanceOf(address(escrow)), 3 * PRICE, "budget in the token");
        // collateral is in the job's token: the providers post a bond in it first
        for (uint256 i; i < 3; ++i) {
            token.mint(providers[i], 2 * PRICE);
            vm.startPrank(providers[i]);
            token.approve(address(escrow), 2 * PRICE);
            escrow.depositBond(address(token), 2 * PRICE);
            vm.stopPrank();
        }
        vm.warp(block.timestamp + 60);
        uint80 price = 0.5 ether;
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](3);
        for (uint256 i; i < 3; ++i) bids[i] = signBid(jobId, i, price);
        assignSigned(jobId, bids);
        for (uint256 i; i < 3; ++i) {
            (, uint256 bondLocked) = escrow.bondOf(address(token), providers[i]);
            assertEq(bondLocked, PRICE, "the job's collateral locked in the token bond");
            assertEq(info(providers[i]).locked, 0, "no native stake locked");
        }
        commitIndex(jobId, 0, DIGEST);
        commitIndex(jobId, 1, DIGEST); // assignee 2 never commits
        vm.warp(market.getJob(jobId).commitDeadline);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 2));
        uint256 fee = uint256(price) * FEE_BPS / 10_000;
        address w0 = workerAt(jobId, 0);
        assertEq(escrow.balanceOf(address(token), w0), price - fee, "worker paid in the token");
        assertEq(escrow.balanceOf(address(token), workerAt(jobId, 1)), price - fee, "worker paid in the token");
        assertEq(escrow.balanceOf(address(token), requester), 2 * (PRICE - price), "unused budget back in the token");
        assertEq(credit(w0), 0, "nothing in native");
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proofOf(jobId));
        assertEq(
            escrow.balanceOf(address(token), requester), 2 * (PRICE - price) + PRICE, "no-show's share back in the token"
        );
        assertEq(credit(requester), 0, "no slash share for the requester");
        // Changed on purpose: collateral is in the job's token, so the no-show slash comes out of the
        // token bond (not native stake) and is credited to the treasury in the token.
        assertEq(credit(treasury), 0, "no native slash");
        _assertTokenBondsAfterNoShow(token, jobId);
        assertEq(escrow.balanceOf(address(token), treasury), 2 * fee + PRICE / 2, "fees and the slash in the token");
        assertEq(escrow.totalLocked(address(token)), 0, "token budget fully released");
        vm.prank(w0);
        escrow.withdraw(address(token));
        assertEq(token.balanceOf(w0), price - fee, "withdrawn");
        vm.prank(requester);
        escrow.withdraw(address(token));
        assertEq(token.balanceOf(requester), 7 * PRICE + 2 * (PRICE - price) + PRICE, "requester's tokens back");
    }

    /// @dev test_erc20Job_lifecycle after settlement: assignee 2 (no-show) lost half its collateral from its
    /// token bond, the others' bonds are intact, nothing stays locked, and the escrow's token balance is
    /// exactly the credits plus the bonds.
    function _assertTokenBondsAfterNoShow(TestToken token, uint256 jobId) internal view {
        uint256 credits = escrow.balanceOf(address(token), requester) + escrow.balanceOf(address(token), treasury);
        uint256 bonds;
        for (uint256 i; i < 3; ++i) {
            address w = workerAt(jobId, i);
            (uint256 total, uint256 locked) = escrow.bondOf(address(token), w);
            assertEq(total, i == 2 ? 2 * PRICE - PRICE / 2 : 2 * PRICE, "bond: the no-show's slashed, others intact");
            assertEq(locked, 0, "collateral released");
            assertEq(info(w).stake, 100 ether, "native stake untouched");
            credits += escrow.balanceOf(address(token), w);
            bonds += total;
        }
        assertEq(token.balanceOf(address(escrow)), credits + bonds, "token balance == credits + bonds");
    }

    function test_erc20Job_cancelRefundsInToken() public {
        TestToken token = new TestToken();
        token.mint(requester, 3 * PRICE);
        vm.prank(requester);
        token.approve(address(escrow), 3 * PRICE);
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.paymentToken = address(token);
        vm.prank(requester);
        uint256 jobId = market.submitJob(s);
        vm.prank(requester);
        market.cancel(jobId);
        assertEq(escrow.balanceOf(address(token), requester), 3 * PRICE, "refund in the token");
        assertEq(credit(requester), 0, "none in native");
    }

    function test_submitJobs_mixedNativeAndToken() public {
        TestToken token = new TestToken();
        token.mint(requester, 10 * PRICE);
        vm.prank(requester);
        token.approve(address(escrow), 2 * PRICE);
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](3);
        specs[0] = spec(3, 2, 60);
        specs[1] = spec(2, 2, 60);
        specs[1].paymentToken = address(token);
        specs[2] = spec(1, 1, 60);
        vm.prank(requester);
        uint256 first = market.submitJobs{value: 4 * PRICE}(specs);
        assertEq(escrow.totalLocked(address(0)), 4 * PRICE, "native budgets");
        assertEq(escrow.totalLocked(address(token)), 2 * PRICE, "token budget");
        assertEq(market.paymentTokenOf(first + 1), address(token), "token job");
        assertEq(market.paymentTokenOf(first + 2), address(0), "native job");
        // only token jobs: no native deposit at all
        IJobMarketTypes.JobSpec[] memory tokenOnly = new IJobMarketTypes.JobSpec[](1);
        tokenOnly[0] = specs[1];
        vm.prank(requester);
        token.approve(address(escrow), 2 * PRICE);
        vm.prank(requester);
        market.submitJobs(tokenOnly);
        assertEq(escrow.totalLocked(address(token)), 4 * PRICE, "second token budget");
    }

    // ================================================================== reentrancy through a token

    function _armedTokenJob(ReentrantToken token) internal returns (uint256 jobId) {
        IJobMarketTypes.JobSpec memory s = spec(3, 2, 60);
        s.paymentToken = address(token);
        vm.prank(requester);
        jobId = market.submitJob(s); // the token calls back during the escrow's transferFrom
    }

    function _reentrantToken() internal returns (ReentrantToken token) {
        token = new ReentrantToken();
        token.mint(requester, 10 * PRICE);
        vm.prank(requester);
        token.approve(address(escrow), 10 * PRICE);
    }

    function test_reentrancy_submitJobDuringTransferFails() public {
        ReentrantToken token = _reentrantToken();
        IJobMarketTypes.JobSpec memory inner = spec(1, 1, 60);
        token.arm(address(market), abi.encodeCall(IJobMarket.submitJob, (inner)));
        uint256 jobId = _armedTokenJob(token);
        assertEq(token.target(), address(0), "the callback fired");
        assertFalse(token.lastCallSucceeded(), "reentrant submitJob failed");
        assertEq(
            keccak256(token.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "stopped by the guard"
        );
        assertEq(market.jobCount(), jobId, "only the outer job exists");
        assertStatus(jobId, IJobMarketTypes.JobStatus.Open, "outer job stored");
        assertEq(token.balanceOf(address(escrow)), 3 * PRICE, "outer budget escrowed");
        assertEq(escrow.totalLocked(address(token)), 3 * PRICE, "locked");
    }

    function test_reentrancy_cancelDuringTransferFails() public {
        ReentrantToken token = _reentrantToken();
        uint256 victim = submit(spec(3, 2, 60));
        token.arm(address(market), abi.encodeCall(IJobMarket.cancel, (victim)));
        uint256 jobId = _armedTokenJob(token);
        assertFalse(token.lastCallSucceeded(), "reentrant cancel failed");
        assertEq(
            keccak256(token.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "the extension shares the market's guard"
        );
        assertStatus(victim, IJobMarketTypes.JobStatus.Open, "victim untouched");
        assertStatus(jobId, IJobMarketTypes.JobStatus.Open, "outer job stored");
        // the outer job still behaves: its requester cancels it normally
        vm.prank(requester);
        market.cancel(jobId);
        assertEq(escrow.balanceOf(address(token), requester), 3 * PRICE, "refunded in the token");
    }

    function test_reentrancy_cancelOwnNewJobDuringTransferFails() public {
        ReentrantToken token = _reentrantToken();
        uint256 nextId = market.jobCount() + 1; // stored before the deposit pulls the tokens
        token.arm(address(market), abi.encodeCall(IJobMarket.cancel, (nextId)));
        uint256 jobId = _armedTokenJob(token);
        assertEq(jobId, nextId, "same id");
        assertFalse(token.lastCallSucceeded(), "reentrant cancel failed");
        assertStatus(jobId, IJobMarketTypes.JobStatus.Open, "still open");
        assertEq(escrow.totalLocked(address(token)), 3 * PRICE, "budget locked once");
    }

    function test_reentrancy_submitJobsTokenDepositReentryFails() public {
        ReentrantToken token = _reentrantToken();
        IJobMarketTypes.JobSpec[] memory specs = new IJobMarketTypes.JobSpec[](2);
        specs[0] = spec(3, 2, 60);
        specs[1] = spec(3, 2, 60);
        specs[1].paymentToken = address(token);
        IJobMarketTypes.JobSpec memory inner = spec(1, 1, 60);
        token.arm(address(market), abi.encodeCall(IJobMarket.submitJob, (inner)));
        vm.prank(requester);
        uint256 first = market.submitJobs{value: 3 * PRICE}(specs);
        assertFalse(token.lastCallSucceeded(), "reentrant submitJob failed");
        assertEq(market.jobCount(), first + 1, "only the two outer jobs");
    }
}
