// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title WorkSlot
/// @notice Encoding of one assigned worker's state in a single storage word.
/// @dev The low byte is the state tag. Assignment writes the word once (price in clear); commit, reveal,
/// hold and payout only overwrite it, so a worker costs one fresh storage slot per job. A committed word
/// keeps the bid price bound inside the hash instead of in clear: the opening must name the price again.
library WorkSlot {
    uint8 internal constant NONE = 0; // never assigned, or settled (paid, released or slashed)
    uint8 internal constant ASSIGNED = 1; // price << 8 | ASSIGNED
    uint8 internal constant COMMITTED = 2; // keccak256(abi.encode(seal, price)) with the low byte replaced
    uint8 internal constant REVEALED = 3; // price << 8 | REVEALED; the digest is stored beside it
    uint8 internal constant HELD = 4; // price << 8 | HELD: agreeing, payout held for the dispute window

    function tag(bytes32 word) internal pure returns (uint8) {
        return uint8(uint256(word));
    }

    function price(bytes32 word) internal pure returns (uint80) {
        return uint80(uint256(word) >> 8);
    }

    function withPrice(uint80 price_, uint8 tag_) internal pure returns (bytes32) {
        return bytes32((uint256(price_) << 8) | tag_);
    }

    /// @notice The seal a worker commits: binds job, worker, result digest and a secret salt.
    function seal(uint256 jobId, address worker, bytes32 resultDigest, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, worker, resultDigest, salt));
    }

    /// @notice The stored form of a committed seal: the seal and the assigned price, tagged COMMITTED.
    function committed(bytes32 seal_, uint80 price_) internal pure returns (bytes32) {
        return bytes32((uint256(keccak256(abi.encode(seal_, price_))) & ~uint256(0xff)) | COMMITTED);
    }
}
