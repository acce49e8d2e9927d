// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MarketFixture} from "./MarketFixture.t.sol";
import {IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";

/// @notice What the attacker review of the audit fixes found, each shown fixed.
contract ReviewFindingsTest is MarketFixture {
    /// A co-assignee commits its own seal first: the leader's aggregated commit no longer "succeeds" while
    /// dropping everyone's seals; it reverts, so the leader and the others commit alone and nobody is
    /// slashed as a no-show.
    function test_review1_commitSealsAfterAnotherCommitReverts() public {
        uint256 jobId = jobWith(3, 2, 0);
        address attacker = workerAt(jobId, 0);
        address leader = workerAt(jobId, 1);
        address honest = workerAt(jobId, 2);
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](1);
        items[0].jobId = jobId;
        items[0].assignees = lists[jobId];
        items[0].seals = new IJobMarketTypes.IndexedSeal[](3);
        for (uint8 i; i < 3; ++i) {
            items[0].seals[i] = IJobMarketTypes.IndexedSeal(i, sealFor(jobId, workerAt(jobId, i), DIGEST));
        }
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](2);
        sigs[0] = signSeals(providerIndexOf(attacker), keccak256(abi.encode(bytes32(0), jobId, items[0].seals[0].seal)));
        sigs[1] = signSeals(providerIndexOf(honest), keccak256(abi.encode(bytes32(0), jobId, items[0].seals[2].seal)));
        commitIndex(jobId, 0, DIGEST); // the front-run
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.AlreadyCommitted.selector, jobId, 0));
        market.commitSeals(items, sigs);
        // told so, the others commit alone and the job finalizes with nobody slashed
        commitIndex(jobId, 1, DIGEST);
        commitIndex(jobId, 2, DIGEST);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, 3));
        for (uint256 i; i < 3; ++i) assertEq(info(workerAt(jobId, i)).stake, 100 ether, "nobody slashed");
    }

    /// The same item sent twice (a front-run copy of the leader's own call) is still skipped, not reverted.
    function test_review1_identicalItemIsSkipped() public {
        uint256 jobId = jobWith(3, 2, 0);
        commitAll(jobId, digests(3, DIGEST));
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](1);
        items[0].jobId = jobId;
        items[0].assignees = lists[jobId];
        items[0].seals = new IJobMarketTypes.IndexedSeal[](3);
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](3);
        for (uint8 i; i < 3; ++i) {
            bytes32 seal = sealFor(jobId, workerAt(jobId, i), DIGEST);
            items[0].seals[i] = IJobMarketTypes.IndexedSeal(i, seal);
            sigs[i] = signSeals(providerIndexOf(workerAt(jobId, i)), keccak256(abi.encode(bytes32(0), jobId, seal)));
        }
        market.commitSeals(items, sigs); // the same seals again: nothing to do, no revert
        assertEq(market.getJob(jobId).committed, 3, "unchanged");
    }

    /// Past the ruling period only the default ruling applies: the arbiter can no longer overturn.
    function test_review2_arbiterCannotRuleAfterTheRulingPeriod() public {
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(requester);
        market.dispute{value: 0.1 ether}(jobId);
        uint256 endsAt = block.timestamp + 3 days;
        vm.warp(endsAt);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketTypes.RulingPeriodOver.selector, jobId, endsAt));
        market.resolveDispute(jobId, false);
        market.applyDefaultRuling(jobId);
        assertStatus(jobId, IJobMarketTypes.JobStatus.Resolved, "the default applied");
    }

    /// A bid in the book may only improve: evicting honest bids with dust and raising to the max fails.
    function test_review3_bidReplacementMayOnlyImprove() public {
        uint256 jobId = submit(spec(1, 1, 60)); // book of 2
        vm.prank(providers[0]);
        book.bid(jobId, PRICE / 2, 600);
        vm.prank(providers[1]);
        book.bid(jobId, PRICE / 2, 600);
        vm.prank(providers[2]);
        book.bid(jobId, 1, 600);
        vm.prank(providers[3]);
        book.bid(jobId, 1, 600);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IBidBook.BidNotCompetitive.selector, jobId, providers[2]));
        book.bid(jobId, PRICE, 600);
        vm.prank(providers[2]);
        book.bid(jobId, 1, 600); // the same bid again is fine
    }

    /// The market's role setup runs once, in its constructor; the extension cannot be initialized directly.
    function test_review_initializeCannotBeCalledAgain() public {
        IJobMarketTypes.Roles memory r = IJobMarketTypes.Roles(address(this), 0, address(this), address(this));
        (bool ok,) = address(market).call(abi.encodeWithSignature("initialize((address,uint48,address,address))", r));
        assertFalse(ok, "market initialize is one-shot");
        (bool got, bytes memory ret) = address(market).staticcall(abi.encodeWithSignature("extension()"));
        assertTrue(got, "extension()");
        address ext = abi.decode(ret, (address));
        (ok,) = ext.call(abi.encodeWithSignature("initialize((address,uint48,address,address))", r));
        assertFalse(ok, "extension cannot be initialized directly");
        assertFalse(market.hasRole(bytes32(0), address(this)), "no admin gained");
    }
}
