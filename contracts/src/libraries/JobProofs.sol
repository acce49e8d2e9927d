// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @title JobProofs
/// @notice The hashes that let a job keep one storage word for its assignees and aggregated seals.
/// @dev The assignee list is hashed as a chain (`h = keccak256(h, worker, price)` per assignee, from 0)
/// so instant-mode claims can append without anyone re-sending the list; bulk assignment computes the
/// same chain. An aggregated commit folds its seals in: record = keccak256(listHash, mask, sealsHash).
library JobProofs {
    /// @notice The seal a worker commits: binds job, worker, result digest and a secret salt.
    function seal(uint256 jobId, address worker, bytes32 resultDigest, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, worker, resultDigest, salt));
    }

    function append(bytes32 h, address worker, uint80 price) internal pure returns (bytes32) {
        return keccak256(abi.encode(h, worker, price));
    }

    function listHash(IJobMarketTypes.Assignee[] calldata assignees) internal pure returns (bytes32 h) {
        for (uint256 i; i < assignees.length; ++i) {
            h = append(h, assignees[i].worker, assignees[i].price);
        }
    }

    function withSeals(bytes32 listHash_, uint16 mask, bytes32[] memory seals) internal pure returns (bytes32) {
        return keccak256(abi.encode(listHash_, mask, keccak256(abi.encodePacked(seals))));
    }

    /// @notice The record a proof claims: the list hash, with the aggregated seals folded in if any.
    function record(IJobMarketTypes.Proof calldata proof) internal pure returns (bytes32) {
        bytes32 h = listHash(proof.assignees);
        if (proof.sealsMask == 0) return h;
        return keccak256(abi.encode(h, proof.sealsMask, keccak256(abi.encodePacked(proof.seals))));
    }

    /// @notice Position of assignee `index`'s seal in the aggregated `seals` (bits of `mask` below it).
    function rank(uint16 mask, uint256 index) internal pure returns (uint256 r) {
        uint256 below = uint256(mask) & ((1 << index) - 1);
        while (below != 0) {
            below &= below - 1;
            ++r;
        }
    }

    function popcount256(uint256 mask) internal pure returns (uint256 n) {
        while (mask != 0) {
            mask &= mask - 1;
            ++n;
        }
    }

    function popcount(uint16 mask) internal pure returns (uint8 n) {
        uint256 m = mask;
        while (m != 0) {
            m &= m - 1;
            ++n;
        }
    }
}
