// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IJobMarket, IJobMarketTypes} from "./IJobMarket.sol";

/// @title IBidBook
/// @notice On-chain bid books and EIP-712 signed bids for JobMarket jobs, ranked by one rule.
interface IBidBook {
    event BidPlaced(uint256 indexed jobId, address indexed provider, uint80 price, uint32 sla, address evicted);
    event MarketBound(address market);

    error ZeroAddress();
    error MarketAlreadyBound();
    error WrongStatus(uint256 jobId, IJobMarketTypes.JobStatus status);
    error InstantJob(uint256 jobId);
    error BiddingClosed(uint256 jobId);
    error ZeroPrice();
    error PriceAboveMax(uint80 price, uint80 maxPrice);
    error NotEligible(uint256 jobId, address provider);
    error BidNotCompetitive(uint256 jobId, address provider);
    error DuplicateBid(uint256 jobId, address provider);
    error TooManySignedBids(uint256 count, uint256 max);
    error BidExpired(address provider, uint32 expiry);
    error InvalidBidSignature(address provider);
    error BookNotEmpty(uint256 jobId);
    error NoJobs();

    function bid(uint256 jobId, uint80 price, uint32 sla) external;
    function rank(
        uint256 jobId,
        uint80 maxPrice,
        uint32 capabilities,
        uint96 collateral,
        uint8 replicas,
        IJobMarketTypes.SignedBid[] calldata signed
    ) external view returns (IJobMarketTypes.Bid[] memory ranked, uint256 bookedMask);
    function rankBatch(
        uint256[] calldata jobIds,
        uint80 maxPrice,
        uint32 capabilities,
        uint96 collateral,
        uint8 replicas,
        IJobMarketTypes.SignedBid[] calldata signed
    ) external view returns (IJobMarketTypes.Bid[] memory ranked);
    function bidsOf(uint256 jobId) external view returns (IJobMarketTypes.Bid[] memory);
    function bidders(uint256 jobId) external view returns (address[] memory);
    function jobsHash(uint256[] calldata jobIds) external pure returns (bytes32);
    function bidDigest(bytes32 jobs, address provider, uint80 price, uint32 sla, uint32 expiry, uint64 nonce)
        external
        view
        returns (bytes32);

}
