// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {Vm} from "./utils/Vm.sol";
import {BidBook} from "../src/BidBook.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {TestToken} from "./mocks/Tokens.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// @notice Unit and fuzz tests of BidBook: binding, on-chain bids and the bounded book, signed bids,
/// ranking (one rule for both), EIP-712 digests, pause.
contract BidBookTest is Base {
    bytes32 internal constant MARKET_ROLE = keccak256("MARKET_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint32 internal constant SLA = 300;
    address internal constant NATIVE = address(0);

    function setUp() public override {
        super.setUp();
        registerProviders(6); // providers 6 and 7 stay unregistered
        // MARKET_ROLE can no longer be granted to this contract (roles are bound once, at deployment):
        // reputations are moved and stake locked by hand in the name of the bound market (see `asMarket`).
    }

    // ------------------------------------------------------------------ helpers

    function bidJob(uint8 m) internal returns (uint256) {
        return submit(spec(m, m / 2 + 1, 60));
    }

    function placeBid(uint256 jobId, uint256 providerIndex, uint80 price) internal {
        vm.prank(providers[providerIndex]);
        book.bid(jobId, price, SLA);
    }

    function setReputation(address provider, uint16 target) internal {
        address[] memory list = new address[](1);
        list[0] = provider;
        int32 delta = int32(uint32(target)) - int32(uint32(registry.reputationOf(provider)));
        vm.prank(address(market));
        registry.releaseCollateral(list, 0, NATIVE, 0, delta, "TEST");
        assertEq(registry.reputationOf(provider), target, "reputation set");
    }

    /// @dev Locks `amount` of the provider's native stake for an unrelated job, as the bound market.
    function lockElsewhere(address provider, uint96 amount) internal returns (bool ok) {
        uint256[] memory other = new uint256[](1);
        other[0] = 1234;
        vm.prank(address(market));
        ok = registry.tryLockCollateral(provider, other, NATIVE, amount, WASI);
    }

    function lockedOf(uint256 providerIndex) internal view returns (uint256) {
        return info(providers[providerIndex]).locked;
    }

    function addrs(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function reps(uint16 a) internal pure returns (uint16[] memory list) {
        list = new uint16[](1);
        list[0] = a;
    }

    function signFor(bytes32 jobs, uint256 key, address provider, uint80 price, uint32 expiry)
        internal
        view
        returns (IJobMarketTypes.SignedBid memory)
    {
        bytes32 digest = book.bidDigest(jobs, provider, price, SLA, expiry, 0);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return
            IJobMarketTypes.SignedBid(
                provider, price, SLA, expiry, 0, r, bytes32(uint256(s) | (uint256(v - 27) << 255))
            );
    }

    function signed(uint256 jobId, uint256 providerIndex, uint80 price)
        internal
        view
        returns (IJobMarketTypes.SignedBid memory)
    {
        return signFor(
            keccak256(abi.encodePacked(jobId)),
            providerKeys[providerIndex],
            providers[providerIndex],
            price,
            uint32(block.timestamp + 1 days)
        );
    }

    function one(IJobMarketTypes.SignedBid memory b) internal pure returns (IJobMarketTypes.SignedBid[] memory list) {
        list = new IJobMarketTypes.SignedBid[](1);
        list[0] = b;
    }

    function none() internal pure returns (IJobMarketTypes.SignedBid[] memory) {
        return new IJobMarketTypes.SignedBid[](0);
    }

    function rankOf(uint256 jobId, uint8 replicas, IJobMarketTypes.SignedBid[] memory s)
        internal
        view
        returns (IJobMarketTypes.Bid[] memory ranked)
    {
        (ranked,) = book.rank(jobId, PRICE, WASI, PRICE, replicas, s);
    }

    function score(IJobMarketTypes.Bid memory b) internal pure returns (uint256) {
        return uint256(b.price) * (20_000 - uint256(b.reputation));
    }

    /// @dev Independent statement of the ranking rule.
    function ranksBefore(IJobMarketTypes.Bid memory a, IJobMarketTypes.Bid memory b) internal pure returns (bool) {
        if (score(a) != score(b)) return score(a) < score(b);
        if (a.reputation != b.reputation) return a.reputation > b.reputation;
        return a.provider < b.provider;
    }

    function assertRanked(IJobMarketTypes.Bid[] memory bids) internal pure {
        for (uint256 i = 1; i < bids.length; ++i) {
            assertTrue(ranksBefore(bids[i - 1], bids[i]), "sorted best first");
        }
    }

    function hasProvider(IJobMarketTypes.Bid[] memory bids, address p) internal pure returns (bool) {
        for (uint256 i; i < bids.length; ++i) {
            if (bids[i].provider == p) return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ constructor and binding

    function test_constructor_rejectsZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSignature("AccessControlInvalidDefaultAdmin(address)", address(0)));
        new BidBook(address(0), ADMIN_DELAY, admin, registry);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.ZeroAddress.selector)); // no guardian
        new BidBook(admin, ADMIN_DELAY, address(0), registry);
    }

    function test_constructor_rejectsZeroRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(IBidBook.ZeroAddress.selector));
        new BidBook(admin, ADMIN_DELAY, admin, IProviderRegistry(address(0)));
    }

    function test_constructor_setsRolesAndRegistry() public {
        BidBook fresh = new BidBook(address(0x1234), ADMIN_DELAY, address(0x1234), registry);
        assertEq(address(fresh.registry()), address(registry), "registry");
        assertEq(address(fresh.market()), address(0), "unbound");
        assertTrue(fresh.hasRole(bytes32(0), address(0x1234)), "admin");
        assertTrue(fresh.hasRole(PAUSER_ROLE, address(0x1234)), "pauser");
        assertFalse(fresh.hasRole(bytes32(0), address(this)), "deployer is not admin");
    }

    function test_bindMarket_onlyAdmin() public {
        BidBook fresh = new BidBook(admin, ADMIN_DELAY, admin, registry);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, bytes32(0))
        );
        fresh.bindMarket(market);
        assertEq(address(fresh.market()), address(0), "still unbound");
    }

    function test_bindMarket_rejectsZeroMarket() public {
        BidBook fresh = new BidBook(admin, ADMIN_DELAY, admin, registry);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.ZeroAddress.selector));
        fresh.bindMarket(IJobMarket(address(0))); // by the deployer (this test)
    }

    function test_bindMarket_onceOnly() public {
        BidBook fresh = new BidBook(admin, ADMIN_DELAY, admin, registry);
        vm.expectEmit(address(fresh));
        emit IBidBook.MarketBound(address(market));
        fresh.bindMarket(market); // the deployer binds, once
        assertEq(address(fresh.market()), address(market), "bound");
        vm.expectRevert(abi.encodeWithSelector(IBidBook.MarketAlreadyBound.selector));
        fresh.bindMarket(IJobMarket(address(0x1234)));
        // Changed on purpose: not even the governance admin may bind (or re-bind) the market.
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", admin, bytes32(0)));
        fresh.bindMarket(IJobMarket(address(0x1234)));
        // the fixture's book is bound already too
        vm.expectRevert(abi.encodeWithSelector(IBidBook.MarketAlreadyBound.selector));
        book.bindMarket(market);
        assertEq(address(book.market()), address(market), "fixture binding unchanged");
    }

    // ------------------------------------------------------------------ bid: rejections

    function test_bid_unknownJob_wrongStatusNone() public {
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.WrongStatus.selector, 99, IJobMarketTypes.JobStatus.None));
        book.bid(99, PRICE, SLA);
    }

    function test_bid_afterAssignment_wrongStatus() public {
        uint256 jobId = assignedJob(2, 2);
        vm.prank(providers[4]);
        vm.expectRevert(
            abi.encodeWithSelector(IBidBook.WrongStatus.selector, jobId, IJobMarketTypes.JobStatus.Assigned)
        );
        book.bid(jobId, PRICE, SLA);
    }

    function test_bid_afterCancel_wrongStatus() public {
        uint256 jobId = bidJob(2);
        vm.prank(requester);
        market.cancel(jobId);
        vm.prank(providers[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IBidBook.WrongStatus.selector, jobId, IJobMarketTypes.JobStatus.Cancelled)
        );
        book.bid(jobId, PRICE, SLA);
    }

    function test_bid_instantJob() public {
        uint256 jobId = submit(spec(2, 2, 0));
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InstantJob.selector, jobId));
        book.bid(jobId, PRICE, SLA);
    }

    function test_bid_biddingClosedAtDeadline() public {
        uint256 jobId = bidJob(2);
        uint32 deadline = market.getJob(jobId).bidDeadline;
        vm.warp(deadline - 1);
        placeBid(jobId, 0, PRICE); // last second of the window
        vm.warp(deadline);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BiddingClosed.selector, jobId));
        book.bid(jobId, PRICE, SLA);
        assertEq(book.bidsOf(jobId).length, 1, "only the in-window bid");
    }

    function test_bid_zeroPrice() public {
        uint256 jobId = bidJob(2);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.ZeroPrice.selector));
        book.bid(jobId, 0, SLA);
    }

    function test_bid_priceAboveMax() public {
        uint256 jobId = bidJob(2);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.PriceAboveMax.selector, PRICE + 1, PRICE));
        book.bid(jobId, PRICE + 1, SLA);
        placeBid(jobId, 0, PRICE); // exactly the max is fine
        assertEq(book.bidsOf(jobId).length, 1, "at max accepted");
    }

    function test_bid_unregisteredProviderNotEligible() public {
        uint256 jobId = bidJob(2);
        vm.prank(providers[6]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[6]));
        book.bid(jobId, PRICE, SLA);
    }

    function test_bid_missingCapabilityNotEligible() public {
        IJobMarketTypes.JobSpec memory s = spec(2, 2, 60);
        s.requiredCapabilities = WASI | GPU;
        uint256 jobId = submit(s);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[0]));
        book.bid(jobId, PRICE, SLA);
        // with the capability the same provider may bid
        vm.prank(providers[0]);
        registry.updateProfile(WASI | GPU, bytes32(0), "", "eu-west");
        placeBid(jobId, 0, PRICE);
        assertEq(book.bidsOf(jobId).length, 1, "capable provider bids");
    }

    function test_bid_notEnoughFreeStakeNotEligible() public {
        uint256 jobId = bidJob(2);
        uint256[] memory other = new uint256[](1);
        other[0] = 1234;
        // 100 ether staked; lock all but half the job's collateral (PRICE)
        vm.prank(address(market));
        assertTrue(registry.tryLockCollateral(providers[0], other, NATIVE, 100 ether - PRICE / 2, WASI), "locked");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[0]));
        book.bid(jobId, PRICE, SLA);
        assertEq(book.bidsOf(jobId).length, 0, "no entry");
        assertEq(lockedOf(0), 100 ether - PRICE / 2, "nothing more locked");
    }

    function test_bid_belowMinStakeNotEligible() public {
        uint256 jobId = bidJob(2);
        vm.prank(providers[0]);
        registry.requestUnbond(95 ether); // 5 ether left, minimum is 10
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[0]));
        book.bid(jobId, PRICE, SLA);
    }

    function test_bid_pausedRejectsUntilUnpaused() public {
        uint256 jobId = bidJob(2);
        vm.prank(admin);
        book.pause();
        assertTrue(book.paused(), "paused");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        book.bid(jobId, PRICE, SLA);
        vm.prank(admin);
        book.unpause();
        placeBid(jobId, 0, PRICE);
        assertEq(book.bidsOf(jobId).length, 1, "bids again after unpause");
    }

    function test_pause_onlyPauser() public {
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, PAUSER_ROLE)
        );
        book.pause();
        vm.prank(admin);
        book.pause();
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, requester, PAUSER_ROLE)
        );
        book.unpause();
        assertTrue(book.paused(), "still paused");
    }

    function test_pausedBook_stillRanksSignedBids() public {
        uint256 jobId = bidJob(2);
        vm.prank(admin);
        book.pause();
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, one(signed(jobId, 0, PRICE)));
        assertEq(ranked.length, 1, "rank is a view, not paused");
    }

    // ------------------------------------------------------------------ bid: the book

    function test_bid_storesEntryAndEmits() public {
        uint256 jobId = bidJob(2);
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[0], 0.5 ether, SLA, address(0));
        placeBid(jobId, 0, 0.5 ether);
        IJobMarketTypes.Bid[] memory bids = book.bidsOf(jobId);
        assertEq(bids.length, 1, "one entry");
        assertEq(bids[0].provider, providers[0], "provider");
        assertEq(bids[0].price, 0.5 ether, "price");
        assertEq(bids[0].reputation, registry.INITIAL_REPUTATION(), "reputation snapshot");
    }

    function test_bid_replacingOwnBidKeepsOneEntry() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, 0.9 ether);
        placeBid(jobId, 1, 0.8 ether);
        setReputation(providers[0], 7_000);
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[0], 0.4 ether, SLA, address(0));
        placeBid(jobId, 0, 0.4 ether);
        IJobMarketTypes.Bid[] memory bids = book.bidsOf(jobId);
        assertEq(bids.length, 2, "no new entry");
        assertEq(bids[0].provider, providers[0], "same slot");
        assertEq(bids[0].price, 0.4 ether, "new price");
        assertEq(bids[0].reputation, 7_000, "reputation refreshed");
        assertEq(bids[1].price, 0.8 ether, "other bid untouched");
        // Changed on purpose (attacker review): a replacement may only improve, so a bid that evicted
        // others cannot be raised afterwards.
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[1]));
        book.bid(jobId, PRICE, SLA);
        assertEq(book.bidsOf(jobId)[1].price, 0.8 ether, "unchanged");
    }

    function test_bid_replacingOwnBidInFullBookMayOnlyImprove() public {
        uint256 jobId = bidJob(1); // book of 2
        placeBid(jobId, 0, 0.5 ether);
        placeBid(jobId, 1, 0.6 ether);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[1]));
        book.bid(jobId, PRICE, SLA); // the worst entry cannot get worse
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[1], 0.55 ether, SLA, address(0));
        placeBid(jobId, 1, 0.55 ether); // improving keeps its own slot
        assertEq(book.bidsOf(jobId).length, 2, "still two");
    }

    function test_bid_fullBookEvictsWorstAndNamesIt() public {
        uint256 jobId = bidJob(2); // book of 4
        // the worst entry sits in the middle of the book
        placeBid(jobId, 0, 0.7 ether);
        placeBid(jobId, 1, 1 ether);
        placeBid(jobId, 2, 0.8 ether);
        placeBid(jobId, 3, 0.9 ether);
        assertEq(book.bidsOf(jobId).length, 4, "full");
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[4], 0.6 ether, SLA, providers[1]);
        placeBid(jobId, 4, 0.6 ether);
        IJobMarketTypes.Bid[] memory bids = book.bidsOf(jobId);
        assertEq(bids.length, 4, "still 2 * replicas");
        assertFalse(hasProvider(bids, providers[1]), "worst evicted");
        assertEq(bids[1].provider, providers[4], "new bid took the evicted slot");
        // the next worst is now provider 3 (0.9) at the end of the book
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[5], 0.85 ether, SLA, providers[3]);
        placeBid(jobId, 5, 0.85 ether);
        assertFalse(hasProvider(book.bidsOf(jobId), providers[3]), "second worst evicted");
    }

    function test_bid_fullBookRejectsWorseOrEqualBid() public {
        uint256 jobId = bidJob(2);
        for (uint256 i; i < 4; ++i) {
            placeBid(jobId, i, uint80(0.5 ether + i * 0.1 ether));
        }
        vm.prank(providers[4]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[4]));
        book.bid(jobId, 0.9 ether, SLA);
        // equal score and reputation: only a lower address than the worst entry's wins the tie
        bool lower = providers[4] < providers[3];
        vm.prank(providers[4]);
        if (!lower) vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[4]));
        book.bid(jobId, 0.8 ether, SLA);
        assertTrue(hasProvider(book.bidsOf(jobId), providers[4]) == lower, "tie by address");
    }

    function test_bid_fullBookReputationBreaksPriceTie() public {
        uint16 initial = registry.INITIAL_REPUTATION(); // providers 0..3 bid at it
        uint256 jobId = bidJob(2);
        for (uint256 i; i < 4; ++i) {
            placeBid(jobId, i, PRICE);
        }
        setReputation(providers[4], initial + 1);
        // same price, higher reputation: a lower score, so it evicts the tie-break loser among equals
        address worst = providers[0];
        for (uint256 i = 1; i < 4; ++i) {
            if (providers[i] > worst) worst = providers[i];
        }
        vm.expectEmit(address(book));
        emit IBidBook.BidPlaced(jobId, providers[4], PRICE, SLA, worst);
        placeBid(jobId, 4, PRICE);
        // a lower reputation at the same price cannot enter
        setReputation(providers[5], initial - 1);
        vm.prank(providers[5]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[5]));
        book.bid(jobId, PRICE, SLA);
    }

    // ------------------------------------------------------------------ binding bids (collateral)

    function ids(uint256 jobId) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = jobId;
    }

    function addrs(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        (list[0], list[1]) = (a, b);
    }

    function reps(uint16 a, uint16 b) internal pure returns (uint16[] memory list) {
        list = new uint16[](2);
        (list[0], list[1]) = (a, b);
    }

    function test_bid_locksTheJobsCollateral() public {
        uint256 jobId = bidJob(2);
        assertEq(market.collateralOf(jobId), PRICE, "collateral: the max price (collateralBps 10,000)");
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(providers[0], ids(jobId), NATIVE, uint96(PRICE), uint96(PRICE));
        placeBid(jobId, 0, 0.5 ether);
        assertEq(lockedOf(0), PRICE, "locked when the bid entered the book");
        assertEq(info(providers[0]).stake, 100 ether, "stake untouched");
        address[] memory list = book.bidders(jobId);
        assertEq(list.length, 1, "one bidder");
        assertEq(list[0], providers[0], "the bidder");
        placeBid(jobId, 1, 0.6 ether);
        assertEq(lockedOf(1), PRICE, "each bidder locks");
        assertEq(book.bidders(jobId).length, 2, "two bidders");
        assertEq(book.bidders(jobId)[1], providers[1], "in book order");
        assertEq(book.bidders(bidJob(2)).length, 0, "another job's book is empty");
    }

    /// @dev Changed on purpose: a bidder used to be free to unbond (or deregister) after bidding. The bid
    /// now holds the job's collateral until it is evicted, loses at assignment, or the job ends.
    function test_bid_bindingBidderCannotUnbondOrDeregisterItsCollateral() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProviderRegistry.InsufficientFreeStake.selector, providers[0], 100 ether, 100 ether - PRICE
            )
        );
        vm.prank(providers[0]);
        registry.requestUnbond(100 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.CollateralStillLocked.selector, providers[0], PRICE));
        vm.prank(providers[0]);
        registry.deregister();
        vm.prank(providers[0]);
        registry.requestUnbond(uint96(100 ether - PRICE)); // everything else is free
        assertEq(info(providers[0]).stake, PRICE, "the collateral stays staked");
        assertEq(lockedOf(0), PRICE, "and locked");
    }

    function test_bid_replacingOwnBidLocksNothingNew() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, 0.9 ether);
        vm.recordLogs();
        placeBid(jobId, 0, 0.4 ether);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only BidPlaced: no lock, no release");
        assertEq(logs[0].topics[0], IBidBook.BidPlaced.selector, "event");
        assertEq(lockedOf(0), PRICE, "collateral locked once");
        assertEq(book.bidders(jobId).length, 1, "one bidder");
    }

    function test_bid_evictionReleasesTheEvictedCollateral() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        uint256 jobId = bidJob(2); // book of 4
        placeBid(jobId, 0, 0.7 ether);
        placeBid(jobId, 1, 1 ether);
        placeBid(jobId, 2, 0.8 ether);
        placeBid(jobId, 3, 0.9 ether);
        for (uint256 i; i < 4; ++i) {
            assertEq(lockedOf(i), PRICE, "every entry locked");
        }
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(providers[4], ids(jobId), NATIVE, uint96(PRICE), uint96(PRICE));
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            jobId, addrs(providers[1]), NATIVE, uint96(PRICE), reps(initial), 0, "BID_EVICTED"
        );
        placeBid(jobId, 4, 0.6 ether);
        assertEq(lockedOf(1), 0, "evicted: released");
        assertEq(lockedOf(4), PRICE, "newcomer: locked");
        address[] memory list = book.bidders(jobId);
        assertEq(list.length, 4, "still four");
        for (uint256 i; i < 4; ++i) {
            assertTrue(list[i] != providers[1], "evicted bidder gone");
        }
        // the evicted bidder's stake is all free again
        vm.prank(providers[1]);
        registry.deregister();
        assertEq(info(providers[1]).unbonding, 100 ether, "everything unbonding");
    }

    /// @dev A bid whose collateral cannot be locked reverts as a whole: it evicts nobody.
    function test_bid_notEligibleEvictsNobody() public {
        uint256 jobId = bidJob(2);
        for (uint256 i; i < 4; ++i) {
            placeBid(jobId, i, PRICE);
        }
        assertTrue(lockElsewhere(providers[4], uint96(100 ether - PRICE / 2)), "provider 4 keeps too little free");
        vm.prank(providers[4]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[4]));
        book.bid(jobId, PRICE / 2, SLA);
        assertEq(book.bidsOf(jobId).length, 4, "book unchanged");
        for (uint256 i; i < 4; ++i) {
            assertEq(lockedOf(i), PRICE, "nobody released");
        }
        assertFalse(hasProvider(book.bidsOf(jobId), providers[4]), "not entered");
    }

    function test_assign_releasesLosingBookEntries() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        uint256 jobId = bidJob(2);
        placeBid(jobId, 3, 0.7 ether);
        placeBid(jobId, 0, 0.4 ether);
        placeBid(jobId, 2, 0.6 ether);
        placeBid(jobId, 1, 0.5 ether);
        vm.warp(block.timestamp + 60);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            jobId, addrs(providers[2], providers[3]), NATIVE, uint96(PRICE), reps(initial, initial), 0, "BID_LOST"
        );
        market.assign(jobId);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Assigned, "assigned");
        assertEq(lockedOf(0), PRICE, "winner keeps its lock");
        assertEq(lockedOf(1), PRICE, "winner keeps its lock");
        assertEq(lockedOf(2), 0, "loser released");
        assertEq(lockedOf(3), 0, "loser released");
    }

    function test_assignWithSignedBids_releasesBookEntriesBeatenBySignedBids() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, 0.8 ether);
        placeBid(jobId, 1, 0.9 ether);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](2);
        s[0] = signed(jobId, 2, 0.3 ether);
        s[1] = signed(jobId, 3, 0.4 ether);
        (IJobMarketTypes.Bid[] memory ranked, uint256 mask) = book.rank(jobId, PRICE, WASI, PRICE, 2, s);
        assertEq(ranked.length, 4, "all four");
        assertEq(mask, 12, "book entries ranked 3rd and 4th");
        vm.warp(block.timestamp + 60);
        vm.recordLogs();
        market.assignWithSignedBids(jobId, s);
        recordAssignees(jobId);
        assertEq(lists[jobId][0].worker, providers[2], "signed winner");
        assertEq(lists[jobId][1].worker, providers[3], "signed winner");
        assertEq(lockedOf(2), PRICE, "signed winner locked at assignment");
        assertEq(lockedOf(3), PRICE, "signed winner locked at assignment");
        assertEq(lockedOf(0), 0, "beaten book entry released");
        assertEq(lockedOf(1), 0, "beaten book entry released");
    }

    function test_cancel_releasesEveryBookEntry() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, 0.5 ether);
        placeBid(jobId, 1, 0.6 ether);
        placeBid(jobId, 2, 0.7 ether);
        address[] memory all = new address[](3);
        uint16[] memory r = new uint16[](3);
        for (uint256 i; i < 3; ++i) {
            (all[i], r[i]) = (providers[i], initial);
        }
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(jobId, all, NATIVE, uint96(PRICE), r, 0, "BID_RELEASED");
        vm.prank(requester);
        market.cancel(jobId);
        for (uint256 i; i < 3; ++i) {
            assertEq(lockedOf(i), 0, "released on cancel");
        }
    }

    function test_settleUnassignedOpenJob_releasesEveryBookEntry() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        // three replicas, quorum three, two bids: not enough to assign
        IJobMarketTypes.JobSpec memory js = spec(3, 3, 60);
        uint256 jobId = submit(js);
        placeBid(jobId, 0, 0.5 ether);
        placeBid(jobId, 1, 0.6 ether);
        vm.warp(block.timestamp + 60);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.NotEnoughEligibleBids.selector, jobId, 2, 3));
        market.assign(jobId);
        assertEq(lockedOf(0), PRICE, "still bound while the job is Open");
        vm.warp(market.getJob(jobId).commitDeadline);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            jobId, addrs(providers[0], providers[1]), NATIVE, uint96(PRICE), reps(initial, initial), 0, "BID_RELEASED"
        );
        IJobMarketTypes.Proof memory empty;
        market.settle(jobId, empty);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Failed, "failed unassigned");
        assertEq(lockedOf(0), 0, "released");
        assertEq(lockedOf(1), 0, "released");
        assertEq(credit(requester), 3 * PRICE, "budget refunded");
    }

    /// @dev The jam from the audit: other registered providers fill the book with 1-wei bids, then try to
    /// unbond everything, so that at assignment no book entry is eligible and the job cannot be assigned
    /// (honest bids cannot enter the full book). Bids are binding now: the locked collateral cannot be
    /// unbonded, the market takes the book entries as they are, and an assigned jammer that does not work
    /// is slashed.
    function test_jam_sybilBidsThatUnbondCannotMakeTheJobUnassignable() public {
        uint256 jobId = bidJob(2); // replicas 2, quorum 2, book of 4
        for (uint256 i = 2; i < 6; ++i) {
            placeBid(jobId, i, 1);
        }
        // honest providers cannot get in any more
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[0]));
        book.bid(jobId, PRICE / 2, SLA);
        for (uint256 i = 2; i < 6; ++i) {
            address sybil = providers[i];
            vm.expectRevert(
                abi.encodeWithSelector(
                    IProviderRegistry.InsufficientFreeStake.selector, sybil, 100 ether, 100 ether - PRICE
                )
            );
            vm.prank(sybil);
            registry.requestUnbond(100 ether);
            vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.CollateralStillLocked.selector, sybil, PRICE));
            vm.prank(sybil);
            registry.deregister();
            vm.prank(sybil);
            registry.requestUnbond(uint96(100 ether - PRICE)); // all they can: below the minimum stake now
            assertEq(info(sybil).stake, PRICE, "the collateral stays");
            assertFalse(registry.isEligible(sybil, WASI, 0), "ineligible for new work");
        }
        vm.warp(block.timestamp + 60);
        vm.recordLogs();
        market.assign(jobId); // used to revert NotEnoughEligibleBids
        recordAssignees(jobId);
        assertTrue(status(jobId) == IJobMarketTypes.JobStatus.Assigned, "assignable");
        assertEq(lists[jobId].length, 2, "two jammers assigned");
        uint256 assignedLocked;
        for (uint256 i = 2; i < 6; ++i) {
            assignedLocked += lockedOf(i);
        }
        assertEq(assignedLocked, 2 * PRICE, "the assigned keep their collateral locked, the losers are released");
        // the assigned jammers do not work: slashed as no-shows, the requester gets the whole budget back
        vm.warp(market.getJob(jobId).revealDeadline + 1);
        market.settle(jobId, proofOf(jobId));
        for (uint256 k; k < 2; ++k) {
            address w = lists[jobId][k].worker;
            assertEq(info(w).stake, PRICE / 2, "no-show slash");
            assertEq(info(w).locked, 0, "released after the slash");
        }
        assertEq(credit(requester), 2 * PRICE, "budget refunded");
        assertEq(credit(treasury), PRICE, "slashes to the treasury");
    }

    /// @dev Whatever bidders do after bidding (unbond what they can, deregister), a job whose book holds at
    /// least its quorum of bids is assignable, its winners keep their collateral and its losers are released.
    function testFuzz_bookWithQuorumIsAlwaysAssignable(uint256 seed) public {
        for (uint256 i = 6; i < 8; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI, bytes32(0), "", "eu-west");
        }
        uint8 m = uint8(bound(seed, 1, 3));
        uint256 jobId = bidJob(m);
        uint8 quorum = m / 2 + 1;
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (r % 4 == 0) continue; // stays out
            vm.prank(providers[i]);
            try book.bid(jobId, uint80(bound(r >> 8, 1, PRICE)), SLA) {} catch {}
        }
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "leave", i)));
            IProviderRegistry.ProviderInfo memory p = info(providers[i]);
            uint96 amount = uint96(bound(r, 1, p.stake));
            vm.prank(providers[i]);
            try registry.requestUnbond(amount) {} catch {}
            if (r % 3 == 0) {
                vm.prank(providers[i]);
                try registry.deregister() {} catch {}
            }
            assertLe(info(providers[i]).locked, info(providers[i]).stake, "locked <= stake");
        }
        IJobMarketTypes.Bid[] memory entries = book.bidsOf(jobId);
        for (uint256 k; k < entries.length; ++k) {
            assertEq(info(entries[k].provider).locked, PRICE, "every book entry still holds its collateral");
        }
        vm.warp(block.timestamp + 60);
        if (entries.length < quorum) return;
        vm.recordLogs();
        market.assign(jobId);
        recordAssignees(jobId);
        uint256 n = entries.length < m ? entries.length : m;
        assertEq(lists[jobId].length, n, "best entries assigned");
        for (uint256 i; i < 8; ++i) {
            bool assigned;
            for (uint256 k; k < lists[jobId].length; ++k) {
                if (lists[jobId][k].worker == providers[i]) assigned = true;
            }
            assertEq(lockedOf(i), assigned ? PRICE : 0, "winners locked, everybody else released");
        }
    }

    function test_bid_erc20JobLocksTheTokenBond() public {
        TestToken t = new TestToken();
        t.mint(requester, 100 ether);
        vm.prank(requester);
        t.approve(address(escrow), type(uint256).max);
        IJobMarketTypes.JobSpec memory js = spec(1, 1, 60); // book of 2
        js.paymentToken = address(t);
        vm.prank(requester);
        uint256 jobId = market.submitJob(js);
        // native stake does not back an ERC-20 job: a bond in its token does
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.NotEligible.selector, jobId, providers[0]));
        book.bid(jobId, PRICE / 2, SLA);
        for (uint256 i; i < 3; ++i) {
            t.mint(providers[i], 10 ether);
            vm.startPrank(providers[i]);
            t.approve(address(escrow), type(uint256).max);
            escrow.depositBond(address(t), 10 ether);
            vm.stopPrank();
        }
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondLocked(address(t), providers[0], PRICE, PRICE);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(providers[0], ids(jobId), address(t), uint96(PRICE), 0);
        placeBid(jobId, 0, PRICE / 2);
        (uint256 total, uint256 locked) = escrow.bondOf(address(t), providers[0]);
        assertEq(locked, PRICE, "the job's collateral locked in the bond");
        assertEq(total, 10 ether, "bond total");
        assertEq(lockedOf(0), 0, "native stake untouched");
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.InsufficientFreeBond.selector, address(t), providers[0], 10 ether, 10 ether - PRICE
            )
        );
        vm.prank(providers[0]);
        escrow.withdrawBond(address(t), 10 ether);
        placeBid(jobId, 1, PRICE / 3);
        // a better bid evicts provider 0, whose bond is released
        placeBid(jobId, 2, PRICE / 4);
        (, locked) = escrow.bondOf(address(t), providers[0]);
        assertEq(locked, 0, "evicted: bond released");
        vm.prank(requester);
        market.cancel(jobId);
        for (uint256 i = 1; i < 3; ++i) {
            (, locked) = escrow.bondOf(address(t), providers[i]);
            assertEq(locked, 0, "released on cancel");
        }
    }

    // ------------------------------------------------------------------ ranking ties

    function test_rank_equalPrice_higherReputationFirst() public {
        uint256 jobId = bidJob(2);
        // give the higher address the higher reputation, so address order alone would be wrong
        (uint256 lo, uint256 hi) = providers[0] < providers[1] ? (0, 1) : (1, 0);
        setReputation(providers[hi], 6_000);
        placeBid(jobId, lo, PRICE);
        placeBid(jobId, hi, PRICE);
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, none());
        assertEq(ranked.length, 2, "two");
        assertEq(ranked[0].provider, providers[hi], "higher reputation first");
        assertEq(ranked[0].reputation, 6_000, "its reputation");
        assertEq(ranked[1].provider, providers[lo], "then the other");
    }

    function test_rank_equalScore_higherReputationFirst() public {
        uint256 jobId = bidJob(2);
        // 0.3 * (20000 - 10000) == 0.2 * (20000 - 5000): equal scores (both set, not left at the initial reputation)
        setReputation(providers[0], 10_000);
        setReputation(providers[1], 5_000);
        placeBid(jobId, 0, 0.3 ether);
        placeBid(jobId, 1, 0.2 ether);
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, none());
        assertEq(score(ranked[0]), score(ranked[1]), "equal scores");
        assertEq(ranked[0].provider, providers[0], "pricier but more reputable first");
    }

    function test_rank_reputationDiscountsPrice() public {
        uint256 jobId = bidJob(2);
        setReputation(providers[0], 10_000);
        setReputation(providers[1], 0);
        placeBid(jobId, 0, 0.5 ether); // score 0.5 * 10000
        placeBid(jobId, 1, 0.26 ether); // score 0.26 * 20000: worse despite the price
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, none());
        assertEq(ranked[0].provider, providers[0], "full reputation halves the effective price");
    }

    function test_rank_fullTie_lowerAddressFirst() public {
        uint256 jobId = bidJob(2);
        for (uint256 i; i < 4; ++i) {
            placeBid(jobId, i, PRICE);
        }
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, none());
        assertEq(ranked.length, 4, "four");
        for (uint256 i = 1; i < 4; ++i) {
            assertTrue(ranked[i - 1].provider < ranked[i].provider, "address asc");
        }
    }

    function test_rank_mixesOnChainAndSignedBids() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, 0.6 ether);
        placeBid(jobId, 1, 0.3 ether);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](2);
        s[0] = signed(jobId, 2, 0.5 ether);
        s[1] = signed(jobId, 3, 0.1 ether);
        (IJobMarketTypes.Bid[] memory ranked, uint256 mask) = book.rank(jobId, PRICE, WASI, PRICE, 2, s);
        assertEq(ranked.length, 4, "all four");
        assertEq(mask, 0xA, "bits 1 and 3: the on-chain bids (0.3 and 0.6)");
        assertEq(ranked[0].provider, providers[3], "0.1");
        assertEq(ranked[1].provider, providers[1], "0.3");
        assertEq(ranked[2].provider, providers[2], "0.5");
        assertEq(ranked[3].provider, providers[0], "0.6");
        assertEq(ranked[0].reputation, registry.INITIAL_REPUTATION(), "signed bid carries current reputation");
    }

    function test_rank_bookedMask_onlyBookOrOnlySigned() public {
        uint256 a = bidJob(2);
        for (uint256 i; i < 3; ++i) {
            placeBid(a, i, uint80(PRICE - i));
        }
        (IJobMarketTypes.Bid[] memory ranked, uint256 mask) = book.rank(a, PRICE, WASI, PRICE, 2, none());
        assertEq(ranked.length, 3, "three");
        assertEq(mask, 7, "every entry is a book entry");
        uint256 b = bidJob(2);
        (ranked, mask) = book.rank(b, PRICE, WASI, PRICE, 2, one(signed(b, 0, PRICE)));
        assertEq(ranked.length, 1, "one");
        assertEq(mask, 0, "no book entry");
    }

    // ------------------------------------------------------------------ signed bids

    function test_rank_tooManySignedBids() public {
        uint256 jobId = bidJob(2);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](5);
        for (uint256 i; i < 5; ++i) {
            s[i] = signed(jobId, i, PRICE);
        }
        vm.expectRevert(abi.encodeWithSelector(IBidBook.TooManySignedBids.selector, 5, 4));
        book.rank(jobId, PRICE, WASI, PRICE, 2, s);
        // and through the market, which passes the job's replicas
        vm.warp(block.timestamp + 60);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.TooManySignedBids.selector, 5, 4));
        market.assignWithSignedBids(jobId, s);
    }

    function test_rank_expiredBid() public {
        uint256 jobId = bidJob(2);
        bytes32 jobs = keccak256(abi.encodePacked(jobId));
        uint32 expiry = uint32(block.timestamp + 10);
        IJobMarketTypes.SignedBid memory b = signFor(jobs, providerKeys[0], providers[0], PRICE, expiry);
        vm.warp(expiry);
        assertEq(rankOf(jobId, 2, one(b)).length, 1, "valid through its expiry second");
        vm.warp(uint256(expiry) + 1);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidExpired.selector, providers[0], expiry));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(b));
    }

    function test_rank_badSignature() public {
        uint256 jobId = bidJob(2);
        bytes32 jobs = keccak256(abi.encodePacked(jobId));
        uint32 expiry = uint32(block.timestamp + 1 days);
        // signed by provider 1's key under provider 0's name
        IJobMarketTypes.SignedBid memory forged = signFor(jobs, providerKeys[1], providers[0], PRICE, expiry);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(forged));
        // a price changed after signing
        IJobMarketTypes.SignedBid memory altered = signed(jobId, 0, PRICE);
        altered.price = PRICE / 2;
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(altered));
        // a malformed signature (r = 0 does not recover)
        IJobMarketTypes.SignedBid memory broken = signed(jobId, 0, PRICE);
        broken.r = 0;
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(broken));
    }

    function test_rank_signatureForAnotherJobRejected() public {
        uint256 a = bidJob(2);
        uint256 b = bidJob(2);
        IJobMarketTypes.SignedBid memory forA = signed(a, 0, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rank(b, PRICE, WASI, PRICE, 2, one(forA));
    }

    function test_rank_signedPriceChecks() public {
        uint256 jobId = bidJob(2);
        IJobMarketTypes.SignedBid memory high = signed(jobId, 0, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.PriceAboveMax.selector, PRICE, PRICE - 1));
        book.rank(jobId, PRICE - 1, WASI, PRICE, 2, one(high));
        IJobMarketTypes.SignedBid memory zero = signed(jobId, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.ZeroPrice.selector));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(zero));
    }

    function test_rank_duplicateBetweenOnChainAndSigned() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, PRICE);
        IJobMarketTypes.SignedBid memory again = signed(jobId, 0, PRICE / 2);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.DuplicateBid.selector, jobId, providers[0]));
        book.rank(jobId, PRICE, WASI, PRICE, 2, one(again));
    }

    function test_rank_duplicateAmongSigned() public {
        uint256 jobId = bidJob(2);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](2);
        s[0] = signed(jobId, 0, PRICE);
        s[1] = signed(jobId, 0, PRICE / 2);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.DuplicateBid.selector, jobId, providers[0]));
        book.rank(jobId, PRICE, WASI, PRICE, 2, s);
    }

    function test_rank_ineligibleSignedBidderDroppedSilently() public {
        uint256 jobId = bidJob(2);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](3);
        s[0] = signed(jobId, 6, PRICE / 4); // unregistered, cheapest
        s[1] = signed(jobId, 0, PRICE);
        s[2] = signed(jobId, 7, PRICE / 8); // unregistered, cheapest of all
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, s);
        assertEq(ranked.length, 1, "only the eligible bid");
        assertEq(ranked[0].provider, providers[0], "eligible bidder kept");
        // missing capability and too little collateral are dropped the same way
        (IJobMarketTypes.Bid[] memory gpu,) = book.rank(jobId, PRICE, WASI | GPU, PRICE, 2, s);
        assertEq(gpu.length, 0, "nobody has GPU");
        (IJobMarketTypes.Bid[] memory rich,) = book.rank(jobId, PRICE, WASI, 101 ether, 2, s);
        assertEq(rich.length, 0, "nobody has 101 ether free");
    }

    function test_rank_ineligibleProviderNamedTwiceDroppedTwice() public {
        uint256 jobId = bidJob(2);
        // an ineligible provider named twice is simply dropped twice
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](2);
        s[0] = signed(jobId, 6, PRICE);
        s[1] = signed(jobId, 6, PRICE / 2);
        assertEq(rankOf(jobId, 2, s).length, 0, "both dropped");
    }

    /// @dev Changed on purpose: an on-chain bid used to be re-checked (and skipped) at assignment, because
    /// its bidder could lose its free stake after bidding. A bid is now binding: its collateral was locked
    /// when it entered the book, so the bidder cannot free it, and the market takes the entry as it is.
    function test_rank_onChainEntriesAreBindingAndMarketTakesThem() public {
        uint256 jobId = bidJob(2);
        placeBid(jobId, 0, PRICE / 10);
        placeBid(jobId, 1, PRICE);
        placeBid(jobId, 2, PRICE);
        // provider 0 cannot lock the job's collateral for anything else: only the rest of its stake is free
        assertFalse(lockElsewhere(providers[0], 100 ether), "the bid's collateral is not free");
        assertTrue(lockElsewhere(providers[0], 100 ether - PRICE), "the rest is");
        assertFalse(registry.isEligible(providers[0], WASI, 1), "nothing free any more");
        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 2, none());
        assertEq(ranked.length, 3, "book entries returned as they are");
        assertEq(ranked[0].provider, providers[0], "still ranked first");
        vm.warp(block.timestamp + 60);
        vm.recordLogs();
        market.assign(jobId);
        recordAssignees(jobId);
        assertEq(lists[jobId].length, 2, "two assigned");
        assertEq(lists[jobId][0].worker, providers[0], "the binding bid is assigned");
        assertEq(lockedOf(0), 100 ether, "its collateral locked once, for this job and the other");
    }

    // ------------------------------------------------------------------ batches

    function test_rankBatch_bookNotEmpty() public {
        uint256 a = bidJob(2);
        uint256 b = bidJob(2);
        placeBid(b, 0, PRICE);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BookNotEmpty.selector, b));
        book.rankBatch(ids, PRICE, WASI, PRICE, 2, none());
    }

    function test_rankBatch_ranksSignedBidsOverAllIds() public {
        uint256 a = bidJob(2);
        uint256 b = bidJob(2);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        bytes32 jobs = book.jobsHash(ids);
        uint32 expiry = uint32(block.timestamp + 1 days);
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](3);
        s[0] = signFor(jobs, providerKeys[0], providers[0], PRICE, expiry);
        s[1] = signFor(jobs, providerKeys[1], providers[1], PRICE / 2, expiry);
        s[2] = signFor(jobs, providerKeys[6], providers[6], PRICE / 4, expiry); // ineligible
        IJobMarketTypes.Bid[] memory ranked = book.rankBatch(ids, PRICE, WASI, PRICE, 2, s);
        assertEq(ranked.length, 2, "ineligible dropped");
        assertEq(ranked[0].provider, providers[1], "cheaper first");
        assertEq(ranked[1].provider, providers[0], "then");
        // a single-job signature does not cover the batch
        IJobMarketTypes.SignedBid memory single = signed(a, 0, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rankBatch(ids, PRICE, WASI, PRICE, 2, one(single));
        // nor does a signature over the ids in another order
        uint256[] memory reversed = new uint256[](2);
        (reversed[0], reversed[1]) = (b, a);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.InvalidBidSignature.selector, providers[0]));
        book.rankBatch(reversed, PRICE, WASI, PRICE, 2, one(s[0]));
    }

    function test_rankBatch_tooManySignedBids() public {
        uint256 a = bidJob(1);
        uint256[] memory ids = new uint256[](1);
        ids[0] = a;
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](3);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.TooManySignedBids.selector, 3, 2));
        book.rankBatch(ids, PRICE, WASI, PRICE, 1, s);
    }

    function test_jobsHash_isPackedKeccakOfIds() public view {
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (1, 7, type(uint256).max);
        assertEq(book.jobsHash(ids), keccak256(abi.encodePacked(ids)), "packed array hash");
        uint256[] memory single = new uint256[](1);
        single[0] = 42;
        assertEq(book.jobsHash(single), keccak256(abi.encodePacked(uint256(42))), "one id = its packed word");
        assertEq(book.jobsHash(new uint256[](0)), keccak256(""), "empty");
    }

    function testFuzz_jobsHash(uint256 a, uint256 b) public view {
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
        assertEq(book.jobsHash(ids), keccak256(abi.encodePacked(a, b)), "packed pair");
    }

    // ------------------------------------------------------------------ EIP-712

    function handDigest(
        address verifier,
        bytes32 jobs,
        address provider,
        uint80 price,
        uint32 sla,
        uint32 expiry,
        uint64 nonce
    ) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes("PolkaCompute BidBook")),
                keccak256(bytes("1")),
                block.chainid,
                verifier
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Bid(bytes32 jobs,address provider,uint80 price,uint32 sla,uint32 expiry,uint64 nonce)"),
                jobs,
                provider,
                price,
                sla,
                expiry,
                nonce
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    function test_bidDigest_matchesHandBuiltEip712() public view {
        bytes32 jobs = keccak256(abi.encodePacked(uint256(5)));
        bytes32 expected = handDigest(address(book), jobs, providers[0], 0.5 ether, 600, 1_800_000_000, 0);
        assertEq(book.bidDigest(jobs, providers[0], 0.5 ether, 600, 1_800_000_000, 0), expected, "digest");
        assertEq(
            book.BID_TYPEHASH(),
            keccak256("Bid(bytes32 jobs,address provider,uint80 price,uint32 sla,uint32 expiry,uint64 nonce)"),
            "typehash"
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes("PolkaCompute BidBook")),
                keccak256(bytes("1")),
                block.chainid,
                address(book)
            )
        );
        assertEq(book.domainSeparator(), domain, "domain separator");
    }

    function testFuzz_bidDigest(bytes32 jobs, address provider, uint80 price, uint32 sla, uint32 expiry, uint64 nonce)
        public
        view
    {
        assertEq(
            book.bidDigest(jobs, provider, price, sla, expiry, nonce),
            handDigest(address(book), jobs, provider, price, sla, expiry, nonce),
            "digest"
        );
    }

    function test_bidDigest_boundToChainAndContract() public {
        bytes32 jobs = keccak256(abi.encodePacked(uint256(1)));
        BidBook other = new BidBook(admin, ADMIN_DELAY, admin, registry);
        bytes32 here = book.bidDigest(jobs, providers[0], PRICE, SLA, 1, 0);
        assertTrue(other.bidDigest(jobs, providers[0], PRICE, SLA, 1, 0) != here, "other contract, other digest");
        assertEq(
            other.bidDigest(jobs, providers[0], PRICE, SLA, 1, 0),
            handDigest(address(other), jobs, providers[0], PRICE, SLA, 1, 0),
            "hand"
        );
    }

    // ------------------------------------------------------------------ fuzz: one ranking rule

    /// @dev Four on-chain bids and four signed bids with random prices and reputations (coarse values
    /// make equal scores and full ties likely): `rank` returns all eight, sorted by
    /// price * (20000 - reputation), ties by reputation desc, then address asc.
    function testFuzz_rank_order(uint256 seed, bool coarse) public {
        for (uint256 i = 6; i < 8; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI, bytes32(0), "", "eu-west");
        }
        uint256 jobId = bidJob(4); // book of 8, up to 8 signed
        uint80[8] memory prices;
        uint16[8] memory reps;
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (coarse) {
                prices[i] = uint80(bound(r, 1, 10) * 0.1 ether);
                reps[i] = uint16(bound(r >> 64, 0, 4) * 2_500);
            } else {
                prices[i] = uint80(bound(r, 1, PRICE));
                reps[i] = uint16(bound(r >> 128, 0, 10_000));
            }
            setReputation(providers[i], reps[i]);
        }
        for (uint256 i; i < 4; ++i) {
            placeBid(jobId, i, prices[i]);
        }
        IJobMarketTypes.SignedBid[] memory s = new IJobMarketTypes.SignedBid[](4);
        for (uint256 i; i < 4; ++i) {
            s[i] = signed(jobId, 4 + i, prices[4 + i]);
        }

        IJobMarketTypes.Bid[] memory ranked = rankOf(jobId, 4, s);
        assertEq(ranked.length, 8, "every bid");
        assertRanked(ranked);
        for (uint256 i; i < 8; ++i) {
            uint256 found;
            for (uint256 k; k < 8; ++k) {
                if (ranked[k].provider != providers[i]) continue;
                ++found;
                assertEq(ranked[k].price, prices[i], "price");
                assertEq(ranked[k].reputation, reps[i], "reputation");
            }
            assertEq(found, 1, "each provider exactly once");
        }
    }

    /// @dev The bounded book keeps exactly the best 2 * replicas of everything bid, whatever the order.
    function testFuzz_bid_bookKeepsBest(uint256 seed) public {
        for (uint256 i = 6; i < 8; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI, bytes32(0), "", "eu-west");
        }
        uint256 jobId = bidJob(2); // book of 4
        IJobMarketTypes.Bid[] memory all = new IJobMarketTypes.Bid[](8);
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint80 price = uint80(bound(r, 1, 5) * 0.2 ether);
            uint16 rep = uint16(bound(r >> 64, 0, 2) * 5_000);
            setReputation(providers[i], rep);
            all[i] = IJobMarketTypes.Bid(providers[i], price, rep);
        }
        uint256 accepted;
        for (uint256 i; i < 8; ++i) {
            // a bid enters iff the book has room or it beats the current worst entry
            IJobMarketTypes.Bid[] memory current = book.bidsOf(jobId);
            bool enters = current.length < 4;
            if (!enters) {
                IJobMarketTypes.Bid memory worst = current[0];
                for (uint256 k = 1; k < current.length; ++k) {
                    if (ranksBefore(worst, current[k])) worst = current[k];
                }
                enters = ranksBefore(all[i], worst);
            }
            vm.prank(providers[i]);
            if (!enters) {
                vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[i]));
            }
            book.bid(jobId, all[i].price, SLA);
            if (enters) ++accepted;
        }
        // the book holds exactly the four best of all eight
        IJobMarketTypes.Bid[] memory held = book.bidsOf(jobId);
        assertEq(held.length, 4, "full");
        for (uint256 i; i < 8; ++i) {
            uint256 better;
            for (uint256 k; k < 8; ++k) {
                if (k != i && ranksBefore(all[k], all[i])) ++better;
            }
            assertTrue(hasProvider(held, providers[i]) == (better < 4), "held iff among the best four");
        }
        assertGe(accepted, 4, "at least the first four entered");
    }
}
