// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";

/// @notice Six registered providers and helpers that drive one job by assignee index.
abstract contract MarketFixture is Base {
    bytes32 internal constant DIGEST = keccak256("output");
    bytes32 internal constant WRONG = keccak256("wrong");
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 internal constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint256 internal constant FEE = PRICE * FEE_BPS / 10_000;

    function setUp() public override {
        super.setUp();
        registerProviders(6); // providers 6 and 7 stay unregistered
    }

    // ------------------------------------------------------------------ helpers

    function err(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    function wrongStatus(uint256 jobId, IJobMarketTypes.JobStatus s) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IJobMarketTypes.WrongStatus.selector, jobId, s);
    }

    function assertStatus(uint256 jobId, IJobMarketTypes.JobStatus expected, string memory message) internal view {
        assertEq(uint256(status(jobId)), uint256(expected), message);
    }

    function digests(uint256 n, bytes32 d) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) out[i] = d;
    }

    function workerAt(uint256 jobId, uint256 index) internal view returns (address) {
        return lists[jobId][index].worker;
    }

    /// @dev A bid-mode (m, n) job with the given dispute window, assigned to providers 0..m-1 at PRICE.
    function jobWith(uint8 m, uint8 n, uint32 disputeWindow) internal returns (uint256 jobId) {
        IJobMarketTypes.JobSpec memory s = spec(m, n, 60);
        s.disputeWindow = disputeWindow;
        jobId = submit(s);
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](m);
        for (uint256 i; i < m; ++i) bids[i] = signBid(jobId, i, PRICE);
        assignSigned(jobId, bids);
    }

    /// @dev Assignee `index` commits its own seal of `digest`.
    function commitIndex(uint256 jobId, uint8 index, bytes32 digest) internal {
        address w = workerAt(jobId, index);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 seal = sealFor(jobId, w, digest);
        vm.prank(w);
        market.commit(jobId, proof, index, seal);
    }

    function committedJob(uint8 m, uint8 n, uint32 disputeWindow) internal returns (uint256 jobId) {
        jobId = jobWith(m, n, disputeWindow);
        for (uint8 i; i < m; ++i) commitIndex(jobId, i, DIGEST);
    }

    function finalizedJob(uint8 m, uint8 n, uint32 disputeWindow, uint256 opened) internal returns (uint256 jobId) {
        jobId = committedJob(m, n, disputeWindow);
        market.finalize(jobId, DIGEST, proofOf(jobId), openings(jobId, opened));
    }

    function revealIndex(uint256 jobId, uint8 index, bytes32 digest) internal {
        address w = workerAt(jobId, index);
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        bytes32 s = salt(jobId, w);
        vm.prank(w);
        market.reveal(jobId, proof, index, digest, s);
    }

    function noBids() internal pure returns (IJobMarketTypes.SignedBid[] memory) {
        return new IJobMarketTypes.SignedBid[](0);
    }

    function noAssignees() internal pure returns (IJobMarketTypes.Assignee[] memory) {
        return new IJobMarketTypes.Assignee[](0);
    }

    function sealItem(uint256 jobId, uint8[] memory indices, bytes32[] memory seals)
        internal
        view
        returns (IJobMarketTypes.SealBatch[] memory items)
    {
        items = new IJobMarketTypes.SealBatch[](1);
        items[0].jobId = jobId;
        items[0].assignees = lists[jobId];
        items[0].seals = new IJobMarketTypes.IndexedSeal[](indices.length);
        for (uint256 i; i < indices.length; ++i) items[0].seals[i] = IJobMarketTypes.IndexedSeal(indices[i], seals[i]);
    }

    function pair(uint8 a, uint8 b) internal pure returns (uint8[] memory out) {
        out = new uint8[](2);
        (out[0], out[1]) = (a, b);
    }

    function single(uint8 a) internal pure returns (uint8[] memory out) {
        out = new uint8[](1);
        out[0] = a;
    }

    function noSigs() internal pure returns (IJobMarketTypes.SealSignature[] memory) {
        return new IJobMarketTypes.SealSignature[](0);
    }
}
