// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Small helpers shared by the tests and the invariant handlers.
library TestMath {
    /// @dev `x` mapped into [min, max] (min when the range is empty), as forge-std's `bound` does.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        if (min >= max) return min;
        return min + x % (max - min + 1);
    }

    /// @dev How many bits of `mask` are set.
    function popcount(uint16 mask) internal pure returns (uint256 n) {
        uint256 v = mask;
        while (v != 0) {
            v &= v - 1;
            ++n;
        }
    }
}
