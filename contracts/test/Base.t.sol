// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {PaymentEscrow} from "../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../src/ProviderRegistry.sol";
import {BidBook} from "../src/BidBook.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";
import {WorkSlot} from "../src/libraries/WorkSlot.sol";

/// @notice Deploys and wires the protocol the way the deployer does, with funded actors.
abstract contract Base is Test {
    uint32 internal constant WASI = 1;
    uint32 internal constant GPU = 2;
    uint96 internal constant MIN_STAKE = 10 ether;
    uint32 internal constant UNBONDING = 1 days;
    uint16 internal constant FEE_BPS = 100;
    uint80 internal constant PRICE = 1 ether;
    uint256 internal constant T0 = 1_700_000_000;

    address internal admin = address(0xAD);
    address internal treasury = address(0x7EA);
    address internal requester = address(0xBEEF);
    address internal arbiter = address(0xA4B);

    PaymentEscrow internal escrow;
    ProviderRegistry internal registry;
    BidBook internal book;
    JobMarket internal market;

    uint256[] internal providerKeys;
    address[] internal providers;

    function setUp() public virtual {
        vm.warp(T0);
        escrow = new PaymentEscrow(admin, treasury, FEE_BPS);
        registry = new ProviderRegistry(admin, escrow, MIN_STAKE, UNBONDING);
        book = new BidBook(admin, registry);
        market = new JobMarket(admin, registry, escrow, book, defaultParams());
        vm.startPrank(admin);
        escrow.grantRole(escrow.MARKET_ROLE(), address(market));
        escrow.grantRole(escrow.FUNDER_ROLE(), address(registry));
        escrow.grantRole(escrow.FUNDER_ROLE(), address(market));
        registry.grantRole(registry.MARKET_ROLE(), address(market));
        registry.grantRole(registry.ARBITER_ROLE(), arbiter);
        market.grantRole(market.ARBITER_ROLE(), arbiter);
        book.bindMarket(market);
        vm.stopPrank();
        vm.deal(requester, 1_000_000 ether);
        for (uint256 i; i < 8; ++i) {
            uint256 key = 0xA11CE + i;
            providerKeys.push(key);
            providers.push(vm.addr(key));
            vm.deal(vm.addr(key), 1_000 ether);
        }
    }

    function defaultParams() internal pure returns (IJobMarket.MarketParams memory) {
        return IJobMarket.MarketParams({
            collateralBps: 10_000,
            mismatchSlashBps: 10_000,
            noShowSlashBps: 5_000,
            requesterShareBps: 5_000,
            reputationReward: 10,
            mismatchPenalty: 1_000,
            noShowPenalty: 300,
            maxBidWindow: 1 days,
            maxJobDuration: 30 days,
            maxDisputeWindow: 7 days,
            disputeBond: 0.1 ether
        });
    }

    // ------------------------------------------------------------------ actors

    function registerProviders(uint256 count) internal {
        for (uint256 i; i < count; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI, keccak256(abi.encode(i)), abi.encodePacked("peer", i), "eu-west");
        }
    }

    function spec(uint8 m, uint8 n, uint32 bidWindow) internal view returns (IJobMarket.JobSpec memory s) {
        s = IJobMarket.JobSpec({
            programDigest: sha256("program"),
            inputDigest: sha256("input"),
            runtimeId: "wasi",
            requiredCapabilities: WASI,
            replicas: m,
            quorum: n,
            fuelLimit: 1e9,
            timeLimit: 60,
            maxPricePerReplica: PRICE,
            paymentToken: address(0),
            bidWindow: bidWindow,
            commitDeadline: uint32(block.timestamp + bidWindow + 1 hours),
            revealDeadline: uint32(block.timestamp + bidWindow + 2 hours),
            disputeWindow: 0,
            confidential: false,
            encryptionPubKey: 0,
            dataRef: 0
        });
    }

    function submit(IJobMarket.JobSpec memory s) internal returns (uint256 jobId) {
        vm.prank(requester);
        jobId = market.submitJob{value: uint256(s.replicas) * s.maxPricePerReplica}(s);
    }

    function signBid(uint256 jobId, uint256 providerIndex, uint80 price)
        internal
        view
        returns (IJobMarket.SignedBid memory b)
    {
        address provider = providers[providerIndex];
        uint32 expiry = uint32(block.timestamp + 1 days);
        bytes32 digest = book.bidDigest(jobId, provider, price, 600, expiry);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKeys[providerIndex], digest);
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        b = IJobMarket.SignedBid(provider, price, 600, expiry, r, vs);
    }

    /// @dev Submits an (m, n) job and assigns providers 0..m-1 through signed bids.
    function assignedJob(uint8 m, uint8 n) internal returns (uint256 jobId) {
        jobId = submit(spec(m, n, 60));
        vm.warp(block.timestamp + 60);
        IJobMarket.SignedBid[] memory bids = new IJobMarket.SignedBid[](m);
        for (uint256 i; i < m; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        market.assignWithSignedBids(jobId, bids);
    }

    function salt(uint256 jobId, address worker) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", jobId, worker));
    }

    function commitAs(uint256 jobId, uint256 providerIndex, bytes32 digest) internal {
        address w = providers[providerIndex];
        vm.prank(w);
        market.commit(jobId, WorkSlot.seal(jobId, w, digest, salt(jobId, w)));
    }

    /// @dev Openings for providers [0, count) sorted by address, as finalize expects.
    function openings(uint256 jobId, uint256 count) internal view returns (IJobMarket.Opening[] memory o) {
        o = new IJobMarket.Opening[](count);
        for (uint256 i; i < count; ++i) {
            o[i] = IJobMarket.Opening(providers[i], PRICE, salt(jobId, providers[i]));
        }
        sortOpenings(o);
    }

    function sortOpenings(IJobMarket.Opening[] memory o) internal pure {
        for (uint256 i = 1; i < o.length; ++i) {
            IJobMarket.Opening memory cur = o[i];
            uint256 j = i;
            while (j > 0 && o[j - 1].worker > cur.worker) {
                o[j] = o[j - 1];
                --j;
            }
            o[j] = cur;
        }
    }

    function status(uint256 jobId) internal view returns (IJobMarket.JobStatus) {
        return market.getJob(jobId).status;
    }

    function credit(address who) internal view returns (uint256) {
        return escrow.balanceOf(address(0), who);
    }

    function info(address provider) internal view returns (IProviderRegistry.ProviderInfo memory) {
        return registry.providerInfo(provider);
    }
}
