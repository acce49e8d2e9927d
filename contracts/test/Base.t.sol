// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {PaymentEscrow} from "../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../src/ProviderRegistry.sol";
import {BidBook} from "../src/BidBook.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobMarketExtension} from "../src/JobMarketExtension.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {IProviderRegistry} from "../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {IBidBook} from "../src/interfaces/IBidBook.sol";
import {JobProofs} from "../src/libraries/JobProofs.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice Deploys and wires the protocol the way the deployer does, with funded actors.
abstract contract Base is Test {
    uint32 internal constant WASI = 1;
    uint32 internal constant GPU = 2;
    uint96 internal constant MIN_STAKE = 10 ether;
    uint32 internal constant UNBONDING = 1 days;
    uint16 internal constant FEE_BPS = 100;
    uint80 internal constant PRICE = 1 ether;
    uint256 internal constant T0 = 1_700_000_000;
    uint48 internal constant ADMIN_DELAY = 1 days;

    address internal admin = address(0xAD);
    address internal treasury = address(0x7EA);
    address internal requester = address(0xBEEF);
    address internal arbiter = address(0xA4B);

    PaymentEscrow internal escrow;
    ProviderRegistry internal registry;
    BidBook internal book;
    IJobMarket internal market;

    uint256[] internal providerKeys;
    address[] internal providers;

    function setUp() public virtual {
        vm.warp(T0);
        // `admin` stands for governance (a TimelockController in a deployment) and is also the guardian.
        escrow = new PaymentEscrow(admin, ADMIN_DELAY, admin, treasury);
        registry = new ProviderRegistry(admin, ADMIN_DELAY, admin, escrow, MIN_STAKE, UNBONDING);
        book = new BidBook(admin, ADMIN_DELAY, admin, registry);
        JobMarketExtension extension = new JobMarketExtension(registry, escrow, book);
        market = IJobMarket(
            address(new JobMarket(roles(), registry, escrow, book, address(extension), defaultParams()))
        );
        // Contract-to-contract roles: wired once by the deployer (this test), never again.
        escrow.bind(address(market), address(registry));
        registry.bind(address(market), address(book));
        book.bindMarket(market);
        vm.deal(requester, 1_000_000 ether);
        for (uint256 i; i < 8; ++i) {
            uint256 key = 0xA11CE + i;
            providerKeys.push(key);
            providers.push(vm.addr(key));
            vm.deal(vm.addr(key), 1_000 ether);
        }
    }

    function roles() internal view returns (IJobMarketTypes.Roles memory) {
        return IJobMarketTypes.Roles(admin, ADMIN_DELAY, admin, arbiter);
    }

    function defaultParams() internal pure returns (IJobMarketTypes.MarketParams memory) {
        return IJobMarketTypes.MarketParams({
            collateralBps: 10_000,
            mismatchSlashBps: 10_000,
            noShowSlashBps: 5_000,
            reputationReward: 10,
            mismatchPenalty: 1_000,
            noShowPenalty: 300,
            minCommitWindow: 5 minutes,
            minRevealWindow: 5 minutes,
            revealGrace: 10 minutes,
            rulingPeriod: 3 days,
            maxBidWindow: 1 days,
            maxJobDuration: 30 days,
            maxDisputeWindow: 7 days,
            disputeBond: 0.1 ether,
            minRewardedPrice: 0.01 ether,
            feeBps: FEE_BPS
        });
    }

    // ------------------------------------------------------------------ actors

    function registerProviders(uint256 count) internal {
        for (uint256 i; i < count; ++i) {
            vm.prank(providers[i]);
            registry.register{value: 100 ether}(WASI, keccak256(abi.encode(i)), abi.encodePacked("peer", i), "eu-west");
        }
    }

    function spec(uint8 m, uint8 n, uint32 bidWindow) internal view returns (IJobMarketTypes.JobSpec memory s) {
        s = IJobMarketTypes.JobSpec({
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

    function submit(IJobMarketTypes.JobSpec memory s) internal returns (uint256 jobId) {
        vm.prank(requester);
        jobId = market.submitJob{value: uint256(s.replicas) * s.maxPricePerReplica}(s);
    }

    function signBid(uint256 jobId, uint256 providerIndex, uint80 price)
        internal
        view
        returns (IJobMarketTypes.SignedBid memory b)
    {
        address provider = providers[providerIndex];
        uint32 expiry = uint32(block.timestamp + 1 days);
        bytes32 digest = book.bidDigest(keccak256(abi.encodePacked(jobId)), provider, price, 600, expiry, 0);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKeys[providerIndex], digest);
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        b = IJobMarketTypes.SignedBid(provider, price, 600, expiry, 0, r, vs);
    }

    /// @dev Assignee lists and aggregated seals per job, as an SDK rebuilds them from events.
    mapping(uint256 jobId => IJobMarketTypes.Assignee[]) internal lists;
    mapping(uint256 jobId => uint16) internal aggMask;
    mapping(uint256 jobId => bytes32[]) internal aggSeals;

    /// @dev Submits an (m, n) job and assigns providers 0..m-1 through signed bids at `PRICE`.
    function assignedJob(uint8 m, uint8 n) internal returns (uint256 jobId) {
        jobId = submit(spec(m, n, 60));
        vm.warp(block.timestamp + 60);
        IJobMarketTypes.SignedBid[] memory bids = new IJobMarketTypes.SignedBid[](m);
        for (uint256 i; i < m; ++i) {
            bids[i] = signBid(jobId, i, PRICE);
        }
        assignSigned(jobId, bids);
    }

    /// @dev Assigns with signed bids and records the assignee list from the JobAssigned event.
    function assignSigned(uint256 jobId, IJobMarketTypes.SignedBid[] memory bids) internal {
        vm.recordLogs();
        market.assignWithSignedBids(jobId, bids);
        recordAssignees(jobId);
    }

    function recordAssignees(uint256 jobId) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = IJobMarketTypes.JobAssigned.selector;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(market) || logs[i].topics[0] != topic) continue;
            if (uint256(logs[i].topics[1]) != jobId) continue;
            (address[] memory workers, uint80[] memory prices) = abi.decode(logs[i].data, (address[], uint80[]));
            for (uint256 j; j < workers.length; ++j) {
                lists[jobId].push(IJobMarketTypes.Assignee(workers[j], prices[j]));
            }
        }
    }

    function proofOf(uint256 jobId) internal view returns (IJobMarketTypes.Proof memory) {
        return IJobMarketTypes.Proof(lists[jobId], aggMask[jobId], aggSeals[jobId]);
    }

    /// @dev Position of provider `providerIndex` in the job's assignee list (reverts if absent).
    function indexOf(uint256 jobId, uint256 providerIndex) internal view returns (uint8) {
        IJobMarketTypes.Assignee[] storage list = lists[jobId];
        for (uint256 i; i < list.length; ++i) {
            if (list[i].worker == providers[providerIndex]) return uint8(i);
        }
        revert("provider not assigned");
    }

    function salt(uint256 jobId, address worker) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", jobId, worker));
    }

    function sealFor(uint256 jobId, address worker, bytes32 digest) internal pure returns (bytes32) {
        return JobProofs.seal(jobId, worker, digest, salt(jobId, worker));
    }

    /// @dev Provider `providerIndex` commits its own seal of `digest`.
    function commitAs(uint256 jobId, uint256 providerIndex, bytes32 digest) internal {
        address w = providers[providerIndex];
        IJobMarketTypes.Proof memory proof = proofOf(jobId);
        uint8 index = indexOf(jobId, providerIndex);
        bytes32 seal = sealFor(jobId, w, digest);
        vm.prank(w);
        market.commit(jobId, proof, index, seal);
    }

    /// @dev Every assignee's seal of one job committed in one call by the caller (`digests[i]`: assignee
    /// i's digest); each worker other than the caller signs its seal.
    function commitAll(uint256 jobId, bytes32[] memory digests) internal {
        IJobMarketTypes.Assignee[] storage list = lists[jobId];
        IJobMarketTypes.SealBatch[] memory items = new IJobMarketTypes.SealBatch[](1);
        items[0].jobId = jobId;
        items[0].assignees = list;
        items[0].seals = new IJobMarketTypes.IndexedSeal[](list.length);
        IJobMarketTypes.SealSignature[] memory sigs = new IJobMarketTypes.SealSignature[](list.length);
        uint16 mask;
        for (uint256 i; i < list.length; ++i) {
            bytes32 seal = sealFor(jobId, list[i].worker, digests[i]);
            items[0].seals[i] = IJobMarketTypes.IndexedSeal(uint8(i), seal);
            sigs[i] = signSeals(providerIndexOf(list[i].worker), keccak256(abi.encode(bytes32(0), jobId, seal)));
            aggSeals[jobId].push(seal);
            mask |= uint16(1 << i);
        }
        aggMask[jobId] = mask;
        market.commitSeals(items, sigs);
    }

    /// @dev A worker's signature over its chained seals (see IJobMarketTypes.SealSignature).
    function signSeals(uint256 providerIndex, bytes32 chain)
        internal
        view
        returns (IJobMarketTypes.SealSignature memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKeys[providerIndex], market.sealsDigest(chain));
        return IJobMarketTypes.SealSignature(providers[providerIndex], r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function providerIndexOf(address worker) internal view returns (uint256) {
        for (uint256 i; i < providers.length; ++i) {
            if (providers[i] == worker) return i;
        }
        revert("unknown provider");
    }

    /// @dev Openings of assignees [0, count) of the job.
    function openings(uint256 jobId, uint256 count) internal view returns (IJobMarketTypes.Opening[] memory o) {
        o = new IJobMarketTypes.Opening[](count);
        for (uint256 i; i < count; ++i) {
            o[i] = IJobMarketTypes.Opening(uint8(i), salt(jobId, lists[jobId][i].worker));
        }
    }

    function status(uint256 jobId) internal view returns (IJobMarketTypes.JobStatus) {
        return market.getJob(jobId).status;
    }

    function credit(address who) internal view returns (uint256) {
        return escrow.balanceOf(address(0), who);
    }

    function info(address provider) internal view returns (IProviderRegistry.ProviderInfo memory) {
        return registry.providerInfo(provider);
    }
}
