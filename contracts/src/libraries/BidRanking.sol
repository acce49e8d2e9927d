// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @title BidRanking
/// @notice The one rule that orders bids, on-chain and signed alike.
/// @dev score = price * (2 * MAX_REPUTATION - reputation): a provider at full reputation competes as if
/// its price were halved relative to one at zero reputation. Lower score wins; ties go to the higher
/// reputation, then to the lower address, so the order is total and deterministic.
library BidRanking {
    uint256 internal constant MAX_REPUTATION = 10_000;

    function score(IJobMarketTypes.Bid memory b) internal pure returns (uint256) {
        return uint256(b.price) * (2 * MAX_REPUTATION - b.reputation);
    }

    /// @notice True if `a` ranks strictly before `b`.
    function better(IJobMarketTypes.Bid memory a, IJobMarketTypes.Bid memory b) internal pure returns (bool) {
        uint256 sa = score(a);
        uint256 sb = score(b);
        if (sa != sb) return sa < sb;
        if (a.reputation != b.reputation) return a.reputation > b.reputation;
        return a.provider < b.provider;
    }

    /// @notice Sorts best first (insertion sort: at most 4 * MAX_REPLICAS entries).
    function sort(IJobMarketTypes.Bid[] memory bids) internal pure {
        for (uint256 i = 1; i < bids.length; ++i) {
            IJobMarketTypes.Bid memory current = bids[i];
            uint256 j = i;
            while (j > 0 && better(current, bids[j - 1])) {
                bids[j] = bids[j - 1];
                --j;
            }
            bids[j] = current;
        }
    }
}
