// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IBidBook} from "./interfaces/IBidBook.sol";
import {IJobMarket, IJobMarketTypes} from "./interfaces/IJobMarket.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {BidRanking} from "./libraries/BidRanking.sol";

/// @title BidBook
/// @notice Collects providers' bids for JobMarket jobs and ranks them for assignment.
/// @dev Two ways to bid, one ranking rule (BidRanking): an on-chain `bid` into a bounded book of the best
/// `2 * replicas` entries, or an EIP-712 signature (bound to chain id, this contract and the job) that
/// anyone hands to `JobMarket.assignWithSignedBids`. The market calls `rank` and locks collateral in the
/// returned order, so this contract holds no funds and moves none.
contract BidBook is IBidBook, AccessControlDefaultAdminRules, Pausable, EIP712 {
    using BidRanking for IJobMarketTypes.Bid[];

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant BID_TYPEHASH =
        keccak256("Bid(bytes32 jobs,address provider,uint80 price,uint32 sla,uint32 expiry,uint64 nonce)");

    /// @dev What signed bids are checked against.
    struct Terms {
        bytes32 jobs;
        uint80 maxPrice;
        uint32 capabilities;
        uint96 collateral;
    }

    IProviderRegistry public immutable registry;
    IJobMarket public market;

    mapping(uint256 jobId => uint256) private _counts;
    mapping(uint256 jobId => mapping(uint256 index => IJobMarketTypes.Bid)) private _bids;

    address private immutable _binder;

    /// @param admin Governance (a TimelockController): DEFAULT_ADMIN_ROLE, transferred only in two steps
    /// `adminDelay` apart. @param guardian PAUSER_ROLE. The deployer (`msg.sender`) binds the market once.
    constructor(address admin, uint48 adminDelay, address guardian, IProviderRegistry registry_)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("PolkaCompute BidBook", "1")
    {
        if (admin == address(0) || guardian == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        _binder = msg.sender;
        _grantRole(PAUSER_ROLE, guardian);
    }

    /// @notice Binds the job market this book serves: once, by the deployer (the two contracts reference
    /// each other).
    function bindMarket(IJobMarket market_) external {
        if (msg.sender != _binder) revert AccessControlUnauthorizedAccount(msg.sender, DEFAULT_ADMIN_ROLE);
        if (address(market) != address(0)) revert MarketAlreadyBound();
        if (address(market_) == address(0)) revert ZeroAddress();
        market = market_;
        emit MarketBound(address(market_));
    }

    /// @notice Places (or replaces) the caller's bid while the job's bid window is open.
    /// @dev A bid is binding: the job's collateral is locked when the bid enters the book and stays locked
    /// until the bid is evicted, loses at assignment, or the job ends unassigned; a bidder cannot drop out
    /// (unbond, deregister) and leave the job unassignable. When the book is full a new bid must rank
    /// before the worst entry, which it evicts (its collateral released). `sla` (seconds to a committed
    /// result) is informational for requesters and indexers.
    function bid(uint256 jobId, uint80 price, uint32 sla) external whenNotPaused {
        IJobMarketTypes.JobInfo memory job = market.getJob(jobId);
        if (job.status != IJobMarketTypes.JobStatus.Open) revert WrongStatus(jobId, job.status);
        if (job.bidDeadline == 0) revert InstantJob(jobId);
        if (block.timestamp >= job.bidDeadline) revert BiddingClosed(jobId);
        _checkPrice(price, job.maxPrice);
        IJobMarketTypes.Bid memory entry = IJobMarketTypes.Bid(msg.sender, price, registry.reputationOf(msg.sender));
        uint256 count = _counts[jobId];
        uint256 worst = 0;
        for (uint256 i; i < count; ++i) {
            IJobMarketTypes.Bid memory b = _bids[jobId][i];
            if (b.provider == msg.sender) {
                // A replacement may only improve: no evicting honest bids with dust, then raising to the max.
                if (BidRanking.better(b, entry)) revert BidNotCompetitive(jobId, msg.sender);
                _bids[jobId][i] = entry; // collateral already locked by the first bid
                emit BidPlaced(jobId, msg.sender, price, sla, address(0));
                return;
            }
            if (i != 0 && BidRanking.better(_bids[jobId][worst], b)) worst = i;
        }
        address evicted = address(0);
        if (count < 2 * uint256(job.replicas)) {
            _bids[jobId][count] = entry;
            _counts[jobId] = count + 1;
        } else {
            IJobMarketTypes.Bid memory loser = _bids[jobId][worst];
            if (!BidRanking.better(entry, loser)) revert BidNotCompetitive(jobId, msg.sender);
            evicted = loser.provider;
            _bids[jobId][worst] = entry;
        }
        emit BidPlaced(jobId, msg.sender, price, sla, evicted);
        (address token, uint96 collateral) = (market.paymentTokenOf(jobId), market.collateralOf(jobId));
        uint256[] memory ids = new uint256[](1);
        ids[0] = jobId;
        if (!registry.tryLockCollateral(msg.sender, ids, token, collateral, job.capabilities)) {
            revert NotEligible(jobId, msg.sender);
        }
        if (evicted != address(0)) {
            address[] memory released = new address[](1);
            released[0] = evicted;
            registry.releaseCollateral(released, jobId, token, collateral, 0, "BID_EVICTED");
        }
    }

    /// @notice The job's on-chain bids and the valid, eligible signed bids, best first; bit i of
    /// `bookedMask` marks `ranked[i]` as an on-chain bid, whose collateral is locked already.
    /// @dev Reverts on a bad signature, an expired or overpriced signed bid, or a provider named twice;
    /// drops signed bids from providers that are not eligible (`collateral`: native collateral to check,
    /// 0 for ERC-20 jobs, whose token bond is checked when the market locks it).
    function rank(
        uint256 jobId,
        uint80 maxPrice,
        uint32 capabilities,
        uint96 collateral,
        uint8 replicas,
        IJobMarketTypes.SignedBid[] calldata signed
    ) external view returns (IJobMarketTypes.Bid[] memory ranked, uint256 bookedMask) {
        uint256 n = _counts[jobId];
        ranked = new IJobMarketTypes.Bid[](n + signed.length);
        for (uint256 i; i < n; ++i) {
            ranked[i] = _bids[jobId][i];
        }
        _checkCount(signed.length, replicas);
        Terms memory terms = Terms(keccak256(abi.encodePacked(jobId)), maxPrice, capabilities, collateral);
        _addSigned(ranked, n, jobId, terms, signed);
        // Which ranked entries are book entries (their collateral is locked already).
        for (uint256 i; i < ranked.length; ++i) {
            for (uint256 j; j < n; ++j) {
                if (ranked[i].provider == _bids[jobId][j].provider) bookedMask |= 1 << i;
            }
        }
    }

    /// @notice The valid, eligible signed bids for a whole batch of jobs, best first: each signature
    /// covers every job of `jobIds`. Jobs with on-chain bids must be assigned one by one (so their bids
    /// take part), hence every job's book must be empty.
    function rankBatch(
        uint256[] calldata jobIds,
        uint80 maxPrice,
        uint32 capabilities,
        uint96 collateral,
        uint8 replicas,
        IJobMarketTypes.SignedBid[] calldata signed
    ) external view returns (IJobMarketTypes.Bid[] memory ranked) {
        if (jobIds.length == 0) revert NoJobs();
        for (uint256 i; i < jobIds.length; ++i) {
            if (_counts[jobIds[i]] != 0) revert BookNotEmpty(jobIds[i]);
        }
        _checkCount(signed.length, replicas);
        ranked = new IJobMarketTypes.Bid[](signed.length);
        _addSigned(ranked, 0, jobIds[0], Terms(jobsHash(jobIds), maxPrice, capabilities, collateral), signed);
    }

    /// @dev Verifies and appends signed bids after the first `n` entries, trims and sorts `ranked`.
    function _addSigned(
        IJobMarketTypes.Bid[] memory ranked,
        uint256 n,
        uint256 jobId,
        Terms memory terms,
        IJobMarketTypes.SignedBid[] calldata signed
    ) private view {
        for (uint256 i; i < signed.length; ++i) {
            IJobMarketTypes.SignedBid calldata s = signed[i];
            _verify(terms.jobs, terms.maxPrice, s);
            for (uint256 j; j < n; ++j) {
                if (ranked[j].provider == s.provider) revert DuplicateBid(jobId, s.provider);
            }
            (bool eligible, uint16 reputation, uint8 nonce) =
                registry.bidTerms(s.provider, terms.capabilities, terms.collateral);
            // Revoked (`ProviderRegistry.revokeSignedBids`) or ineligible: dropped.
            if (eligible && s.nonce == nonce) ranked[n++] = IJobMarketTypes.Bid(s.provider, s.price, reputation);
        }
        assembly ("memory-safe") {
            mstore(ranked, n) // drop the slots of ineligible signed bids
        }
        ranked.sort();
    }

    /// @notice The job's on-chain bid book (unordered).
    function bidsOf(uint256 jobId) external view returns (IJobMarketTypes.Bid[] memory bids) {
        bids = new IJobMarketTypes.Bid[](_counts[jobId]);
        for (uint256 i; i < bids.length; ++i) {
            bids[i] = _bids[jobId][i];
        }
    }

    /// @notice The providers with an on-chain bid on the job (each has the job's collateral locked until the
    /// job is assigned or ends).
    function bidders(uint256 jobId) external view returns (address[] memory list) {
        list = new address[](_counts[jobId]);
        for (uint256 i; i < list.length; ++i) {
            list[i] = _bids[jobId][i].provider;
        }
    }

    /// @notice What a bid signs as `jobs`: the hash of the job ids it covers, in order.
    function jobsHash(uint256[] calldata jobIds) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(jobIds));
    }

    /// @notice The EIP-712 digest a provider signs for an off-chain bid on `jobs` (see `jobsHash`).
    function bidDigest(bytes32 jobs, address provider, uint80 price, uint32 sla, uint32 expiry, uint64 nonce)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(BID_TYPEHASH, jobs, provider, price, sla, expiry, nonce)));
    }

    /// @notice The EIP-712 domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Emergency stop of on-chain bidding.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the emergency stop.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    function _verify(bytes32 jobs, uint80 maxPrice, IJobMarketTypes.SignedBid calldata s) private view {
        _checkPrice(s.price, maxPrice);
        if (block.timestamp > s.expiry) revert BidExpired(s.provider, s.expiry);
        bytes32 digest = bidDigest(jobs, s.provider, s.price, s.sla, s.expiry, s.nonce);
        // The third value only details a malformed signature; `err` already says it is one.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, s.r, s.vs);
        if (err != ECDSA.RecoverError.NoError || signer != s.provider) revert InvalidBidSignature(s.provider);
    }

    function _checkCount(uint256 count, uint8 replicas) private pure {
        uint256 maxSigned = 2 * uint256(replicas);
        if (count > maxSigned) revert TooManySignedBids(count, maxSigned);
    }

    function _checkPrice(uint80 price, uint80 maxPrice) private pure {
        if (price == 0) revert ZeroPrice();
        if (price > maxPrice) revert PriceAboveMax(price, maxPrice);
    }
}
