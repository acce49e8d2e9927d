// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {Vm} from "./utils/Vm.sol";
import {ProviderRegistry} from "../src/ProviderRegistry.sol";
import {PaymentEscrow} from "../src/PaymentEscrow.sol";
import {IProviderRegistry} from "../src/interfaces/IProviderRegistry.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrantReceiver} from "./mocks/Actors.sol";
import {TestToken} from "./mocks/Tokens.sol";

/// @notice A provider contract that records, while being paid, the unbonding amount the registry still shows.
contract UnbondProbe {
    ProviderRegistry internal immutable registry;
    uint256 public unbondingSeenDuringTransfer = type(uint256).max;

    constructor(ProviderRegistry registry_) {
        registry = registry_;
    }

    function registerAndUnbond(uint96 amount) external payable {
        registry.register{value: msg.value}(1, bytes32(0), "", "");
        registry.requestUnbond(amount);
    }

    function withdrawUnbonded() external {
        registry.withdrawUnbonded();
    }

    receive() external payable {
        unbondingSeenDuringTransfer = registry.providerInfo(address(this)).unbonding;
    }
}

/// @notice Unit and fuzz tests of ProviderRegistry: provider actions, market hooks, governance, pause.
contract ProviderRegistryTest is Base {
    bytes32 internal constant MARKET_ROLE = keccak256("MARKET_ROLE");
    bytes32 internal constant BIDBOOK_ROLE = keccak256("BIDBOOK_ROLE");
    /// @dev Admin of the contract-to-contract roles, held by nobody (see ProviderRegistry.bind).
    bytes32 internal constant NOBODY = keccak256("NOBODY");
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint32 internal constant TEE = 4;
    uint256 internal constant JOB = 42;
    bytes32 internal constant META = keccak256("metadata");
    bytes8 internal constant REGION = "eu-west";
    bytes32 internal constant REASON = "TEST";
    address internal constant NATIVE = address(0);

    /// @dev Stands in for the JobMarket: bound as the market (MARKET_ROLE here, MARKET_ROLE and FUNDER_ROLE
    /// in the escrow) so the hooks can be called directly.
    address internal hook = address(0x4A4B);
    /// @dev Stands in for the BidBook: bound with BIDBOOK_ROLE (locks and releases only).
    address internal bookHook = address(0xB00C);
    address internal stranger = address(0x5757);
    address internal alice;
    address internal bob;
    address internal carol;
    /// @dev The fixture's registry, bound by Base to the real market and bid book.
    ProviderRegistry internal fixtureRegistry;
    TestToken internal token;

    function setUp() public override {
        super.setUp();
        alice = providers[0];
        bob = providers[1];
        carol = providers[2];
        // Contract-to-contract roles can only be wired once, by the deployer, through `bind`: nobody can
        // grant MARKET_ROLE to a stand-in afterwards. This suite drives the hooks by hand, so it deploys its
        // own escrow and registry and binds them (this contract is their deployer) to the stand-ins.
        fixtureRegistry = registry;
        escrow = new PaymentEscrow(admin, ADMIN_DELAY, admin, treasury);
        registry = new ProviderRegistry(admin, ADMIN_DELAY, admin, escrow, MIN_STAKE, UNBONDING);
        escrow.bind(hook, address(registry));
        registry.bind(hook, bookHook);
        token = new TestToken();
        address[3] memory bonded = [alice, bob, carol];
        for (uint256 i; i < 3; ++i) {
            token.mint(bonded[i], 1_000 ether);
            vm.prank(bonded[i]);
            token.approve(address(escrow), type(uint256).max);
        }
    }

    // ------------------------------------------------------------------ helpers

    function _register(address who, uint256 stake) internal {
        _register(who, stake, WASI);
    }

    function _register(address who, uint256 stake, uint32 caps) internal {
        vm.prank(who);
        registry.register{value: stake}(caps, META, "peer", REGION);
    }

    /// @dev One job: the common case, and what most tests exercise.
    function _lock(address who, uint96 amount) internal returns (bool ok) {
        ok = _lockMany(who, _jobs(JOB), amount);
    }

    function _lockMany(address who, uint256[] memory jobIds, uint96 amountEach) internal returns (bool ok) {
        vm.prank(hook);
        ok = registry.tryLockCollateral(who, jobIds, NATIVE, amountEach, 0);
    }

    /// @dev Locks collateral of an ERC-20 job: the provider's bond in `token`.
    function _lockToken(address who, uint256[] memory jobIds, uint96 amountEach) internal returns (bool ok) {
        vm.prank(hook);
        ok = registry.tryLockCollateral(who, jobIds, address(token), amountEach, 0);
    }

    function _bond(address who, uint256 amount) internal {
        vm.prank(who);
        escrow.depositBond(address(token), amount);
    }

    function _bondOf(address who) internal view returns (uint256 total, uint256 locked) {
        return escrow.bondOf(address(token), who);
    }

    function _jobs(uint256 a) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](1);
        arr[0] = a;
    }

    function _jobs(uint256 a, uint256 b) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](2);
        arr[0] = a;
        arr[1] = b;
    }

    function _jobs(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](3);
        arr[0] = a;
        arr[1] = b;
        arr[2] = c;
    }

    /// @dev `count` consecutive job ids starting at JOB.
    function _jobRange(uint256 count) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            arr[i] = JOB + i;
        }
    }

    /// @dev One provider: the common case, and what most tests exercise.
    function _release(address who, uint96 amount, int32 delta) internal {
        _releaseMany(_addrs(who), amount, delta);
    }

    function _releaseMany(address[] memory who, uint96 amount, int32 delta) internal {
        vm.prank(hook);
        registry.releaseCollateral(who, JOB, NATIVE, amount, delta, REASON);
    }

    function _releaseToken(address who, uint96 amount) internal {
        vm.prank(hook);
        registry.releaseCollateral(_addrs(who), JOB, address(token), amount, 0, REASON);
    }

    function _addrs(address a) internal pure returns (address[] memory arr) {
        arr = new address[](1);
        arr[0] = a;
    }

    function _addrs(address a, address b, address c) internal pure returns (address[] memory arr) {
        arr = new address[](3);
        arr[0] = a;
        arr[1] = b;
        arr[2] = c;
    }

    function _reps(uint16 a) internal pure returns (uint16[] memory arr) {
        arr = new uint16[](1);
        arr[0] = a;
    }

    function _reps(uint16 a, uint16 b, uint16 c) internal pure returns (uint16[] memory arr) {
        arr = new uint16[](3);
        arr[0] = a;
        arr[1] = b;
        arr[2] = c;
    }

    /// @dev Moves `who`'s reputation to `target` (from wherever it is) without touching its collateral.
    function _setReputation(address who, uint16 target) internal {
        _release(who, 0, int32(uint32(target)) - int32(uint32(registry.reputationOf(who))));
        assertEq(registry.reputationOf(who), target, "reputation set up");
    }

    /// @dev Every slash is credited to the escrow's treasury: there is no beneficiary to choose.
    function _slash(address who, uint96 amount) internal {
        vm.prank(hook);
        registry.slash(who, JOB, NATIVE, amount, REASON);
    }

    function _slashToken(address who, uint96 amount) internal {
        vm.prank(hook);
        registry.slash(who, JOB, address(token), amount, REASON);
    }

    function _unbond(address who, uint96 amount) internal {
        vm.prank(who);
        registry.requestUnbond(amount);
    }

    function _expectUnauthorized(address account, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role));
    }

    function _pause() internal {
        vm.prank(admin);
        registry.pause();
    }

    function _unpause() internal {
        vm.prank(admin);
        registry.unpause();
    }

    function _peerId(uint256 length) internal pure returns (bytes memory b) {
        b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = bytes1(uint8(i));
        }
    }

    // ------------------------------------------------------------------ constructor

    function test_constructor_setsParametersAndRoles() public view {
        assertEq(registry.minStake(), MIN_STAKE, "min stake");
        assertEq(registry.unbondingPeriod(), UNBONDING, "unbonding period");
        assertEq(address(registry.escrow()), address(escrow), "escrow");
        assertTrue(registry.hasRole(bytes32(0), admin), "admin");
        assertTrue(registry.hasRole(GOVERNOR_ROLE, admin), "governor");
        assertTrue(registry.hasRole(PAUSER_ROLE, admin), "pauser");
        assertFalse(registry.hasRole(MARKET_ROLE, admin), "admin is not the market");
        assertFalse(registry.hasRole(BIDBOOK_ROLE, admin), "admin is not the bid book");
        assertTrue(registry.hasRole(MARKET_ROLE, hook), "bound market");
        assertTrue(registry.hasRole(BIDBOOK_ROLE, bookHook), "bound bid book");
        assertFalse(registry.hasRole(MARKET_ROLE, bookHook), "the bid book is not the market");
        assertEq(registry.getRoleAdmin(MARKET_ROLE), NOBODY, "market role administered by nobody");
        assertEq(registry.getRoleAdmin(BIDBOOK_ROLE), NOBODY, "bid book role administered by nobody");
    }

    /// @dev The registry no longer has an arbiter role: an arbiter acts only through the market's ruling.
    function test_constructor_noArbiterRole() public view {
        (bool ok,) = address(registry).staticcall(abi.encodeWithSignature("ARBITER_ROLE()"));
        assertFalse(ok, "ARBITER_ROLE() is gone");
        assertFalse(registry.hasRole(keccak256("ARBITER_ROLE"), arbiter), "the arbiter holds no registry role");
        assertFalse(fixtureRegistry.hasRole(keccak256("ARBITER_ROLE"), arbiter), "not in the fixture either");
    }

    // ------------------------------------------------------------------ bind (contract-to-contract roles)

    function test_bind_fixtureBoundMarketAndBook() public view {
        assertTrue(fixtureRegistry.hasRole(MARKET_ROLE, address(market)), "market");
        assertTrue(fixtureRegistry.hasRole(BIDBOOK_ROLE, address(book)), "bid book");
        assertFalse(fixtureRegistry.hasRole(MARKET_ROLE, address(book)), "book is not the market");
    }

    function test_bind_grantsRolesOnceAndOnlyToTheDeployer() public {
        ProviderRegistry fresh = new ProviderRegistry(admin, ADMIN_DELAY, admin, escrow, MIN_STAKE, UNBONDING);
        // not the admin, not anyone else: only the deployer (this contract)
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        fresh.bind(hook, bookHook);
        _expectUnauthorized(stranger, NOBODY);
        vm.prank(stranger);
        fresh.bind(stranger, stranger);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAddress.selector));
        fresh.bind(address(0), bookHook);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAddress.selector));
        fresh.bind(hook, address(0));

        fresh.bind(hook, bookHook);
        assertTrue(fresh.hasRole(MARKET_ROLE, hook), "market bound");
        assertTrue(fresh.hasRole(BIDBOOK_ROLE, bookHook), "bid book bound");
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.AlreadyBound.selector));
        fresh.bind(stranger, stranger);
        assertFalse(fresh.hasRole(MARKET_ROLE, stranger), "no second market");
        // the fixture's registry is bound already too
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.AlreadyBound.selector));
        fixtureRegistry.bind(stranger, stranger);
    }

    function test_bind_rolesCannotBeGrantedOrRevokedByTheAdmin() public {
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        registry.grantRole(MARKET_ROLE, stranger);
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        registry.grantRole(BIDBOOK_ROLE, stranger);
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        registry.revokeRole(MARKET_ROLE, hook);
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        fixtureRegistry.grantRole(MARKET_ROLE, stranger);
        assertFalse(registry.hasRole(MARKET_ROLE, stranger), "not granted");
        assertTrue(registry.hasRole(MARKET_ROLE, hook), "not revoked");
        // the admin still administers the governance roles
        vm.prank(admin);
        registry.grantRole(GOVERNOR_ROLE, stranger);
        assertTrue(registry.hasRole(GOVERNOR_ROLE, stranger), "governor granted");
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSignature("AccessControlInvalidDefaultAdmin(address)", address(0)));
        new ProviderRegistry(address(0), ADMIN_DELAY, admin, escrow, MIN_STAKE, UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAddress.selector)); // no guardian
        new ProviderRegistry(admin, ADMIN_DELAY, address(0), escrow, MIN_STAKE, UNBONDING);
    }

    function test_constructor_revertsOnZeroEscrow() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAddress.selector));
        new ProviderRegistry(admin, ADMIN_DELAY, admin, IPaymentEscrow(address(0)), MIN_STAKE, UNBONDING);
    }

    function test_constructor_revertsOnZeroMinStake() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ParameterOutOfBounds.selector, 0, 1, type(uint96).max));
        new ProviderRegistry(admin, ADMIN_DELAY, admin, escrow, 0, UNBONDING);
    }

    function test_constructor_revertsOnShortUnbondingPeriod() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ParameterOutOfBounds.selector, 59, 60, 90 days));
        new ProviderRegistry(admin, ADMIN_DELAY, admin, escrow, MIN_STAKE, 59);
    }

    // ------------------------------------------------------------------ register

    function test_register_storesProviderRecord() public {
        bytes memory peer = "12D3KooW-alice";
        vm.prank(alice);
        registry.register{value: 25 ether}(WASI | GPU, META, peer, REGION);

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertTrue(i.status == IProviderRegistry.ProviderStatus.Active, "active");
        assertEq(i.stake, 25 ether, "stake");
        assertEq(i.locked, 0, "locked");
        assertEq(i.reputation, registry.INITIAL_REPUTATION(), "initial reputation");
        assertEq(i.capabilities, WASI | GPU, "capabilities");
        assertEq(i.unbonding, 0, "unbonding");
        assertEq(bytes32(i.region), bytes32(REGION), "region");
        assertEq(i.metadataDigest, META, "metadata");
        assertEq(keccak256(registry.peerIdOf(alice)), keccak256(peer), "peer id");
        assertEq(registry.reputationOf(alice), registry.INITIAL_REPUTATION(), "reputationOf");
        assertEq(address(registry).balance, 25 ether, "registry holds the stake");
    }

    function test_register_emitsRegisteredAndInitialReputation() public {
        bytes memory peer = "peer";
        vm.expectEmit(address(registry));
        emit IProviderRegistry.ProviderRegistered(alice, WASI, META, peer, REGION, 10 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.ReputationChanged(alice, 0, 0, registry.INITIAL_REPUTATION(), "REGISTERED");
        _register(alice, 10 ether);
    }

    function test_register_acceptsExactlyMinStake() public {
        _register(alice, MIN_STAKE);
        assertEq(info(alice).stake, MIN_STAKE, "stake");
    }

    function test_register_revertsBelowMinStake() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.StakeBelowMinimum.selector, MIN_STAKE - 1, MIN_STAKE));
        _register(alice, MIN_STAKE - 1);
    }

    function test_register_revertsWithoutValue() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.StakeBelowMinimum.selector, 0, MIN_STAKE));
        _register(alice, 0);
    }

    function test_register_revertsWhenAlreadyRegistered() public {
        _register(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.AlreadyRegistered.selector, alice));
        _register(alice, 10 ether);
    }

    function test_register_acceptsMaxLengthPeerId() public {
        bytes memory peer = _peerId(128);
        vm.prank(alice);
        registry.register{value: 10 ether}(WASI, META, peer, REGION);
        assertEq(registry.peerIdOf(alice).length, 128, "peer id stored");
    }

    function test_register_revertsOnPeerIdTooLong() public {
        bytes memory peer = _peerId(129);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.PeerIdTooLong.selector, 129, 128));
        vm.prank(alice);
        registry.register{value: 10 ether}(WASI, META, peer, REGION);
    }

    function test_register_revertsOnStakeOverflow() public {
        uint256 tooMuch = uint256(type(uint96).max) + 1;
        vm.deal(alice, tooMuch);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.StakeOverflow.selector));
        _register(alice, tooMuch);
    }

    function test_register_againAfterDeregisterKeepsReputation() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 20 ether);
        _lock(alice, 1 ether);
        _release(alice, 1 ether, 700);
        vm.prank(alice);
        registry.deregister();
        assertEq(info(alice).reputation, initial + 700, "reputation before");

        vm.recordLogs();
        vm.prank(alice);
        registry.register{value: 15 ether}(GPU, bytes32("new"), "peer2", "us-east");
        Vm.Log[] memory logs = vm.getRecordedLogs();

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertTrue(i.status == IProviderRegistry.ProviderStatus.Active, "active again");
        assertEq(i.reputation, initial + 700, "reputation kept");
        assertEq(i.stake, 15 ether, "new stake only");
        assertEq(i.unbonding, 20 ether, "earlier stake still unbonding");
        assertEq(i.capabilities, GPU, "new capabilities");
        assertEq(logs.length, 1, "only ProviderRegistered, no ReputationChanged");
        assertEq(logs[0].topics[0], IProviderRegistry.ProviderRegistered.selector, "event");
    }

    function test_register_againAfterDeregisterRequiresMinStake() public {
        _register(alice, 20 ether);
        vm.prank(alice);
        registry.deregister();
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.StakeBelowMinimum.selector, 1 ether, MIN_STAKE));
        _register(alice, 1 ether);
    }

    // ------------------------------------------------------------------ updateProfile

    function test_updateProfile_updatesFieldsAndEmits() public {
        _register(alice, 10 ether);
        bytes memory peer = "new-peer";
        vm.expectEmit(address(registry));
        emit IProviderRegistry.ProviderUpdated(alice, GPU | TEE, bytes32("m2"), peer, "ap-south");
        vm.prank(alice);
        registry.updateProfile(GPU | TEE, bytes32("m2"), peer, "ap-south");

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertEq(i.capabilities, GPU | TEE, "capabilities");
        assertEq(i.metadataDigest, bytes32("m2"), "metadata");
        assertEq(bytes32(i.region), bytes32(bytes8("ap-south")), "region");
        assertEq(keccak256(registry.peerIdOf(alice)), keccak256(peer), "peer id");
        assertEq(i.stake, 10 ether, "stake untouched");
        assertEq(i.reputation, registry.INITIAL_REPUTATION(), "reputation untouched");
    }

    function test_updateProfile_revertsWhenNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        vm.prank(alice);
        registry.updateProfile(WASI, META, "p", REGION);
    }

    function test_updateProfile_revertsAfterDeregister() public {
        _register(alice, 10 ether);
        vm.prank(alice);
        registry.deregister();
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        vm.prank(alice);
        registry.updateProfile(WASI, META, "p", REGION);
    }

    function test_updateProfile_revertsOnPeerIdTooLong() public {
        _register(alice, 10 ether);
        bytes memory peer = _peerId(200);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.PeerIdTooLong.selector, 200, 128));
        vm.prank(alice);
        registry.updateProfile(WASI, META, peer, REGION);
    }

    // ------------------------------------------------------------------ addStake

    function test_addStake_increasesStakeAndEmits() public {
        _register(alice, 10 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.StakeAdded(alice, 5 ether, 15 ether);
        vm.prank(alice);
        registry.addStake{value: 5 ether}();
        assertEq(info(alice).stake, 15 ether, "stake");
        assertEq(address(registry).balance, 15 ether, "balance");
    }

    function test_addStake_revertsOnZero() public {
        _register(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAmount.selector));
        vm.prank(alice);
        registry.addStake();
    }

    function test_addStake_revertsWhenNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        vm.prank(alice);
        registry.addStake{value: 1 ether}();
    }

    function test_addStake_revertsOnStakeOverflow() public {
        vm.deal(alice, uint256(type(uint96).max) + 1);
        _register(alice, type(uint96).max);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.StakeOverflow.selector));
        vm.prank(alice);
        registry.addStake{value: 1}();
    }

    // ------------------------------------------------------------------ requestUnbond

    function test_requestUnbond_movesStakeToUnbonding() public {
        _register(alice, 30 ether);
        uint40 releaseAt = uint40(block.timestamp + UNBONDING);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.UnbondRequested(alice, 12 ether, 12 ether, releaseAt);
        _unbond(alice, 12 ether);

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertEq(i.stake, 18 ether, "stake");
        assertEq(i.unbonding, 12 ether, "unbonding");
        assertEq(i.unbondingReleaseAt, releaseAt, "release time");
        assertTrue(i.status == IProviderRegistry.ProviderStatus.Active, "still registered");
    }

    function test_requestUnbond_newRequestRestartsPeriodForEverything() public {
        _register(alice, 30 ether);
        _unbond(alice, 5 ether);
        vm.warp(block.timestamp + UNBONDING / 2);
        _unbond(alice, 3 ether);
        assertEq(info(alice).unbonding, 8 ether, "accumulated");
        assertEq(info(alice).unbondingReleaseAt, block.timestamp + UNBONDING, "period restarted");
    }

    function test_requestUnbond_belowMinimumKeepsRegisteredButIneligible() public {
        _register(alice, 30 ether);
        _lock(alice, 5 ether);
        _unbond(alice, 25 ether);
        assertEq(info(alice).stake, 5 ether, "locked part stays");
        assertTrue(info(alice).status == IProviderRegistry.ProviderStatus.Active, "still registered");
        assertFalse(registry.isEligible(alice, 0, 0), "ineligible below min stake");
    }

    function test_requestUnbond_revertsOnZero() public {
        _register(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ZeroAmount.selector));
        _unbond(alice, 0);
    }

    function test_requestUnbond_revertsWhenNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        _unbond(alice, 1 ether);
    }

    function test_requestUnbond_revertsAboveStake() public {
        _register(alice, 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IProviderRegistry.InsufficientFreeStake.selector, alice, 10 ether + 1, 10 ether)
        );
        _unbond(alice, 10 ether + 1);
    }

    function test_requestUnbond_revertsAboveFreeStakeWithLockedCollateral() public {
        _register(alice, 100 ether);
        assertTrue(_lock(alice, 30 ether), "locked");
        vm.expectRevert(
            abi.encodeWithSelector(IProviderRegistry.InsufficientFreeStake.selector, alice, 71 ether, 70 ether)
        );
        _unbond(alice, 71 ether);
        _unbond(alice, 70 ether);
        assertEq(info(alice).stake, 30 ether, "only the locked part remains");
    }

    // ------------------------------------------------------------------ deregister

    function test_deregister_unbondsAllStake() public {
        _register(alice, 40 ether);
        _unbond(alice, 10 ether);
        uint40 releaseAt = uint40(block.timestamp + UNBONDING);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.ProviderDeregistered(alice);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.UnbondRequested(alice, 30 ether, 40 ether, releaseAt);
        vm.prank(alice);
        registry.deregister();

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertTrue(i.status == IProviderRegistry.ProviderStatus.Deregistered, "deregistered");
        assertEq(i.stake, 0, "no stake");
        assertEq(i.unbonding, 40 ether, "everything unbonding");
        assertEq(i.unbondingReleaseAt, releaseAt, "release time");
        assertFalse(registry.isEligible(alice, 0, 0), "ineligible");
    }

    function test_deregister_withZeroStakeEmitsNoUnbond() public {
        _register(alice, 10 ether);
        _slash(alice, 10 ether);
        vm.recordLogs();
        vm.prank(alice);
        registry.deregister();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only ProviderDeregistered");
        assertEq(info(alice).unbonding, 0, "nothing unbonding");
    }

    function test_deregister_revertsWithLockedCollateral() public {
        _register(alice, 40 ether);
        _lock(alice, 4 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.CollateralStillLocked.selector, alice, 4 ether));
        vm.prank(alice);
        registry.deregister();
    }

    function test_deregister_succeedsOnceCollateralReleased() public {
        _register(alice, 40 ether);
        _lock(alice, 4 ether);
        _release(alice, 4 ether, 0);
        vm.prank(alice);
        registry.deregister();
        assertEq(info(alice).unbonding, 40 ether, "all unbonding");
    }

    function test_deregister_revertsWhenNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        vm.prank(alice);
        registry.deregister();
    }

    function test_deregister_revertsTwice() public {
        _register(alice, 10 ether);
        vm.prank(alice);
        registry.deregister();
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NotRegistered.selector, alice));
        vm.prank(alice);
        registry.deregister();
    }

    // ------------------------------------------------------------------ withdrawUnbonded

    function test_withdrawUnbonded_revertsWhenNothingUnbonding() public {
        _register(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NothingUnbonding.selector, alice));
        vm.prank(alice);
        registry.withdrawUnbonded();
    }

    function test_withdrawUnbonded_revertsBeforeRelease() public {
        _register(alice, 30 ether);
        _unbond(alice, 5 ether);
        uint40 releaseAt = uint40(block.timestamp + UNBONDING);
        vm.warp(releaseAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.UnbondingNotReleased.selector, alice, releaseAt));
        vm.prank(alice);
        registry.withdrawUnbonded();
    }

    function test_withdrawUnbonded_transfersValueAtReleaseTime() public {
        _register(alice, 30 ether);
        _unbond(alice, 5 ether);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = alice.balance;

        vm.expectEmit(address(registry));
        emit IProviderRegistry.UnbondedWithdrawn(alice, 5 ether);
        vm.prank(alice);
        uint96 amount = registry.withdrawUnbonded();

        assertEq(amount, 5 ether, "returned amount");
        assertEq(alice.balance - before, 5 ether, "value received");
        assertEq(info(alice).unbonding, 0, "unbonding cleared");
        assertEq(info(alice).stake, 25 ether, "stake untouched");
        assertEq(address(registry).balance, 25 ether, "registry balance");
    }

    function test_withdrawUnbonded_secondCallReverts() public {
        _register(alice, 30 ether);
        _unbond(alice, 5 ether);
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(alice);
        registry.withdrawUnbonded();
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NothingUnbonding.selector, alice));
        vm.prank(alice);
        registry.withdrawUnbonded();
    }

    function test_withdrawUnbonded_worksAfterDeregister() public {
        _register(alice, 30 ether);
        vm.prank(alice);
        registry.deregister();
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = alice.balance;
        vm.prank(alice);
        registry.withdrawUnbonded();
        assertEq(alice.balance - before, 30 ether, "all stake back");
        assertEq(address(registry).balance, 0, "registry empty");
    }

    function test_withdrawUnbonded_reentryFails() public {
        _register(alice, 50 ether); // other stake a second payout could be taken from
        ReentrantReceiver r = new ReentrantReceiver(escrow, registry);
        vm.deal(address(this), 20 ether);
        r.register{value: 20 ether}(WASI);
        r.unbondAll(20 ether);
        vm.warp(block.timestamp + UNBONDING);

        r.withdrawUnbonded();

        assertEq(r.reentries(), 1, "re-entry attempted");
        assertFalse(r.reentrySucceeded(), "re-entry failed");
        assertEq(address(r).balance, 20 ether, "paid exactly once");
        assertEq(address(registry).balance, 50 ether, "other stake untouched");
        assertEq(info(address(r)).unbonding, 0, "unbonding cleared");
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.NothingUnbonding.selector, address(r)));
        r.withdrawUnbonded();
    }

    function test_withdrawUnbonded_clearsUnbondingBeforeTransfer() public {
        UnbondProbe probe = new UnbondProbe(registry);
        vm.deal(address(this), 20 ether);
        probe.registerAndUnbond{value: 20 ether}(5 ether);
        vm.warp(block.timestamp + UNBONDING);
        probe.withdrawUnbonded();
        assertEq(probe.unbondingSeenDuringTransfer(), 0, "unbonding cleared before the value was sent");
        assertEq(address(probe).balance, 5 ether, "received");
    }

    // ------------------------------------------------------------------ tryLockCollateral

    function test_tryLockCollateral_locksAndEmits() public {
        _register(alice, 50 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(alice, _jobs(JOB), NATIVE, 20 ether, 20 ether);
        assertTrue(_lock(alice, 20 ether), "locked");
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(alice, _jobs(JOB), NATIVE, 30 ether, 50 ether);
        assertTrue(_lock(alice, 30 ether), "locked again");
        assertEq(info(alice).locked, 50 ether, "total locked");
    }

    function test_tryLockCollateral_returnsFalseWithoutChangesWhenIneligible() public {
        _register(alice, 50 ether);
        vm.recordLogs();
        assertFalse(_lock(alice, 50 ether + 1), "more than free stake");
        vm.prank(hook);
        bool ok = registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 1 ether, GPU);
        assertFalse(ok, "missing capability");
        assertFalse(_lock(bob, 1 ether), "unregistered");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertEq(info(alice).locked, 0, "nothing locked");
    }

    function test_tryLockCollateral_onlyMarketOrBidBook() public {
        _register(alice, 50 ether);
        _expectUnauthorized(stranger, MARKET_ROLE);
        vm.prank(stranger);
        registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 1 ether, 0);
        _expectUnauthorized(admin, MARKET_ROLE);
        vm.prank(admin);
        registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 1 ether, 0);
        assertEq(info(alice).locked, 0, "nothing locked");
        // the bid book locks the collateral of on-chain bids
        vm.prank(bookHook);
        assertTrue(registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 1 ether, 0), "bid book locks");
        assertEq(info(alice).locked, 1 ether, "locked by the bid book");
    }

    function test_tryLockCollateral_arbiterIsNotMarket() public {
        _register(alice, 50 ether);
        _expectUnauthorized(arbiter, MARKET_ROLE);
        vm.prank(arbiter);
        registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 1 ether, 0);
    }

    function test_tryLockCollateral_severalJobsLocksEachAtOnce() public {
        _register(alice, 50 ether);
        uint256[] memory batch = _jobs(JOB, JOB + 7, JOB + 3);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(alice, batch, NATIVE, 10 ether, 30 ether);
        vm.recordLogs();
        assertTrue(_lockMany(alice, batch, 10 ether), "batch locked");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(info(alice).locked, 30 ether, "amountEach for each of the 3 jobs");

        assertEq(logs.length, 1, "one event for the whole batch");
        assertEq(logs[0].topics[0], IProviderRegistry.CollateralLocked.selector, "event");
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(alice))), "provider indexed");
        (uint256[] memory ids, address tok, uint96 each, uint96 locked) =
            abi.decode(logs[0].data, (uint256[], address, uint96, uint96));
        assertEq(ids.length, 3, "all job ids");
        assertEq(tok, NATIVE, "native stake");
        assertEq(ids[0], JOB, "order kept 0");
        assertEq(ids[1], JOB + 7, "order kept 1");
        assertEq(ids[2], JOB + 3, "order kept 2");
        assertEq(each, 10 ether, "amount each");
        assertEq(locked, 30 ether, "new total locked");

        // a second batch takes exactly the remaining free stake; `locked` is the running total
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(alice, _jobRange(2), NATIVE, 10 ether, 50 ether);
        assertTrue(_lockMany(alice, _jobRange(2), 10 ether), "second batch locked");
        assertEq(info(alice).locked, 50 ether, "total locked");
        assertEq(info(alice).stake, 50 ether, "stake untouched");
        assertFalse(registry.isEligible(alice, 0, 1), "nothing free");
    }

    function test_tryLockCollateral_refusesWhenFreeStakeCoversOneJobButNotAll() public {
        _register(alice, 50 ether);
        assertTrue(_lock(alice, 20 ether), "earlier lock"); // 30 free
        assertTrue(registry.isEligible(alice, 0, 15 ether), "one job of 15 would fit");

        vm.recordLogs();
        assertFalse(_lockMany(alice, _jobs(JOB + 1, JOB + 2, JOB + 3), 15 ether), "45 for three jobs does not");
        assertFalse(_lockMany(alice, _jobRange(31), 1 ether), "31 jobs of 1 ether exceed 30 free");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertEq(info(alice).locked, 20 ether, "nothing more locked, not even for the first job");

        // exactly the free stake is fine
        assertTrue(_lockMany(alice, _jobs(JOB + 1, JOB + 2, JOB + 3), 10 ether), "30 for three jobs fits");
        assertEq(info(alice).locked, 50 ether, "locked");
    }

    function test_tryLockCollateral_severalJobsOtherIneligibilityChangesNothing() public {
        _register(alice, 50 ether, WASI);
        vm.recordLogs();
        vm.prank(hook);
        assertFalse(registry.tryLockCollateral(alice, _jobRange(3), NATIVE, 1 ether, GPU), "missing capability");
        assertFalse(_lockMany(bob, _jobRange(3), 1 ether), "unregistered");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        vm.prank(admin);
        registry.setMinStake(50 ether + 1);
        vm.recordLogs();
        assertFalse(_lockMany(alice, _jobRange(3), 1 ether), "below min stake");
        assertEq(vm.getRecordedLogs().length, 0, "no events below min stake");
        assertEq(info(alice).locked, 0, "nothing locked");
    }

    function test_tryLockCollateral_refusesWhenTotalOverflowsUint96() public {
        vm.deal(alice, type(uint96).max);
        _register(alice, type(uint96).max);
        uint96 each = type(uint96).max / 2 + 1; // one job fits the stake, two overflow uint96
        vm.recordLogs();
        assertFalse(_lockMany(alice, _jobRange(2), each), "total overflows");
        assertFalse(_lockMany(alice, _jobRange(3), type(uint96).max), "total overflows");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertEq(info(alice).locked, 0, "nothing locked");
        assertTrue(_lockMany(alice, _jobRange(1), each), "a single job fits");
        assertEq(info(alice).locked, each, "locked");
    }

    function test_tryLockCollateral_emptyJobIdsLocksNothingButEmits() public {
        _register(alice, 50 ether);
        assertTrue(_lock(alice, 5 ether), "earlier lock");
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralLocked(alice, new uint256[](0), NATIVE, 7 ether, 5 ether);
        vm.recordLogs();
        assertTrue(_lockMany(alice, new uint256[](0), 7 ether), "empty batch succeeds");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only CollateralLocked");
        (uint256[] memory ids,,, uint96 locked) = abi.decode(logs[0].data, (uint256[], address, uint96, uint96));
        assertEq(ids.length, 0, "no job ids");
        assertEq(locked, 5 ether, "total unchanged");
        assertEq(info(alice).locked, 5 ether, "nothing more locked");
        // the total is 0 but the provider must still be eligible
        assertFalse(_lockMany(bob, new uint256[](0), 7 ether), "unregistered provider");
    }

    // ------------------------------------------------------------------ releaseCollateral

    function test_releaseCollateral_unlocksAndChangesReputation() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        _lock(alice, 20 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 15 ether, _reps(initial + 10), 10, REASON);
        _release(alice, 15 ether, 10);
        assertEq(info(alice).locked, 5 ether, "locked");
        assertEq(info(alice).reputation, initial + 10, "reputation");
    }

    function test_releaseCollateral_emitsOnlyCollateralReleased() public {
        _register(alice, 50 ether);
        _lock(alice, 20 ether);
        vm.recordLogs();
        _release(alice, 5 ether, -20);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event, no per-provider ReputationChanged");
        assertEq(logs[0].topics[0], IProviderRegistry.CollateralReleased.selector, "event");
        assertEq(logs[0].topics[1], bytes32(JOB), "job id indexed");
    }

    function test_releaseCollateral_releasesAtMostLocked() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        _lock(alice, 10 ether);
        // the event carries the requested amount; what each provider actually released is capped
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 25 ether, _reps(initial), 0, REASON);
        _release(alice, 25 ether, 0);
        assertEq(info(alice).locked, 0, "locked");
        assertEq(info(alice).stake, 50 ether, "stake untouched");
    }

    function test_releaseCollateral_zeroDeltaStillEmitsAndKeepsReputation() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        _lock(alice, 10 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 4 ether, _reps(initial), 0, REASON);
        _release(alice, 4 ether, 0);
        assertEq(info(alice).locked, 6 ether, "locked");
        assertEq(info(alice).reputation, initial, "reputation unchanged");
    }

    function test_releaseCollateral_clampsReputationAtZero() public {
        _register(alice, 50 ether);
        int32 delta = -int32(uint32(registry.INITIAL_REPUTATION())) - 1_000; // overshoots the floor by 1,000
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 0, _reps(0), delta, REASON);
        _release(alice, 0, delta);
        assertEq(registry.reputationOf(alice), 0, "floor");
        _release(alice, 0, type(int32).min);
        assertEq(registry.reputationOf(alice), 0, "still floor");
    }

    function test_releaseCollateral_clampsReputationAtMax() public {
        _register(alice, 50 ether);
        uint16 max = registry.MAX_REPUTATION();
        int32 delta = int32(uint32(max - registry.INITIAL_REPUTATION())) + 1_000; // overshoots the ceiling by 1,000
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 0, _reps(max), delta, REASON);
        _release(alice, 0, delta);
        assertEq(registry.reputationOf(alice), max, "ceiling");
        _release(alice, 0, type(int32).max);
        assertEq(registry.reputationOf(alice), max, "still ceiling");
        _release(alice, 0, -1);
        assertEq(registry.reputationOf(alice), max - 1, "comes back down");
    }

    function test_releaseCollateral_manyProvidersEachCappedSeparately() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        _register(bob, 50 ether);
        _register(carol, 50 ether);
        _lock(alice, 10 ether);
        _lock(bob, 3 ether); // less than the amount released: capped at its own locked collateral
        // carol has nothing locked
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            JOB, _addrs(alice, bob, carol), NATIVE, 5 ether, _reps(initial + 10, initial + 10, initial + 10), 10, REASON
        );
        _releaseMany(_addrs(alice, bob, carol), 5 ether, 10);
        assertEq(info(alice).locked, 5 ether, "alice released the amount");
        assertEq(info(bob).locked, 0, "bob released only what it had");
        assertEq(info(carol).locked, 0, "carol stays at zero");
        assertEq(info(alice).stake, 50 ether, "alice stake untouched");
        assertEq(info(bob).stake, 50 ether, "bob stake untouched");
        assertEq(info(carol).stake, 50 ether, "carol stake untouched");
        assertTrue(registry.isEligible(bob, 0, 50 ether), "bob fully free again");
    }

    function test_releaseCollateral_manyProvidersEachClampedSeparately() public {
        uint16 initial = registry.INITIAL_REPUTATION(); // carol stays there until the release
        _register(alice, 50 ether);
        _register(bob, 50 ether);
        _register(carol, 50 ether);
        _setReputation(alice, 9_900);
        _setReputation(bob, 50);

        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            JOB, _addrs(alice, bob, carol), NATIVE, 0, _reps(10_000, 250, initial + 200), 200, REASON
        );
        _releaseMany(_addrs(alice, bob, carol), 0, 200);
        assertEq(registry.reputationOf(alice), 10_000, "alice clamped at the ceiling");
        assertEq(registry.reputationOf(bob), 250, "bob");
        assertEq(registry.reputationOf(carol), initial + 200, "carol");

        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            JOB, _addrs(alice, bob, carol), NATIVE, 0, _reps(9_700, 0, initial - 100), -300, REASON
        );
        _releaseMany(_addrs(alice, bob, carol), 0, -300);
        assertEq(registry.reputationOf(alice), 9_700, "alice");
        assertEq(registry.reputationOf(bob), 0, "bob clamped at the floor");
        assertEq(registry.reputationOf(carol), initial - 100, "carol");
    }

    function test_releaseCollateral_reputationsArrayFollowsProviderOrder() public {
        uint16 initial = registry.INITIAL_REPUTATION(); // bob stays there until the release
        _register(alice, 50 ether);
        _register(bob, 50 ether);
        _register(carol, 50 ether);
        _setReputation(alice, 100);
        _setReputation(carol, 9_000);
        vm.recordLogs();
        _releaseMany(_addrs(carol, alice, bob), 0, -150);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event for the whole call");
        (address[] memory who, address tok, uint96 amount, uint16[] memory reps, int32 delta, bytes32 reason) =
            abi.decode(logs[0].data, (address[], address, uint96, uint16[], int32, bytes32));
        assertEq(tok, NATIVE, "token");
        assertEq(who.length, 3, "providers");
        assertEq(reps.length, 3, "one reputation per provider");
        assertEq(who[0], carol, "order kept 0");
        assertEq(who[1], alice, "order kept 1");
        assertEq(who[2], bob, "order kept 2");
        assertEq(reps[0], 8_850, "carol");
        assertEq(reps[1], 0, "alice clamped");
        assertEq(reps[2], initial - 150, "bob");
        assertEq(amount, 0, "amount");
        assertTrue(delta == -150, "delta");
        assertEq(reason, REASON, "reason");
    }

    function test_releaseCollateral_emptyListChangesNothingButEmits() public {
        _register(alice, 50 ether);
        _lock(alice, 10 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, new address[](0), NATIVE, 5 ether, new uint16[](0), 10, REASON);
        vm.recordLogs();
        _releaseMany(new address[](0), 5 ether, 10);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only CollateralReleased");
        (address[] memory who,,, uint16[] memory reps,,) =
            abi.decode(logs[0].data, (address[], address, uint96, uint16[], int32, bytes32));
        assertEq(who.length, 0, "no providers");
        assertEq(reps.length, 0, "no reputations");
        assertEq(info(alice).locked, 10 ether, "locked untouched");
        assertEq(info(alice).reputation, registry.INITIAL_REPUTATION(), "reputation untouched");
    }

    function test_releaseCollateral_onlyMarketOrBidBook() public {
        _register(alice, 50 ether);
        _expectUnauthorized(arbiter, MARKET_ROLE);
        vm.prank(arbiter);
        registry.releaseCollateral(_addrs(alice), JOB, NATIVE, 0, 1, REASON);
        _expectUnauthorized(stranger, MARKET_ROLE);
        vm.prank(stranger);
        registry.releaseCollateral(new address[](0), JOB, NATIVE, 0, 0, REASON);
    }

    /// @dev The bid book releases the collateral of evicted and lost bids, but only the market (a job's
    /// outcome) moves reputation.
    function test_releaseCollateral_bidBookReleasesButCannotMoveReputation() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        vm.prank(bookHook);
        assertTrue(registry.tryLockCollateral(alice, _jobs(JOB), NATIVE, 4 ether, 0), "locked by the book");
        _expectUnauthorized(bookHook, MARKET_ROLE);
        vm.prank(bookHook);
        registry.releaseCollateral(_addrs(alice), JOB, NATIVE, 4 ether, 1, "BID_EVICTED");
        assertEq(info(alice).locked, 4 ether, "nothing released by the refused call");

        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(JOB, _addrs(alice), NATIVE, 4 ether, _reps(initial), 0, "BID_EVICTED");
        vm.prank(bookHook);
        registry.releaseCollateral(_addrs(alice), JOB, NATIVE, 4 ether, 0, "BID_EVICTED");
        assertEq(info(alice).locked, 0, "released by the book");
        assertEq(info(alice).reputation, initial, "reputation untouched");
    }

    // ------------------------------------------------------------------ slash

    // Every slash is credited to the escrow's treasury (the `beneficiary` parameter is gone: nobody who
    // can cause a slash is paid by it), and only the market may slash (the registry's arbiter role is gone).

    function test_slash_takesFromStakeThenUnbondingAndShrinksLocked() public {
        _register(alice, 20 ether);
        _lock(alice, 10 ether);
        _unbond(alice, 5 ether); // stake 15, locked 10, unbonding 5
        uint256 escrowBefore = address(escrow).balance;

        vm.expectEmit(address(registry));
        emit IProviderRegistry.Slashed(alice, JOB, NATIVE, 18 ether, treasury, REASON);
        _slash(alice, 18 ether);

        IProviderRegistry.ProviderInfo memory i = info(alice);
        assertEq(i.stake, 0, "stake taken first");
        assertEq(i.unbonding, 2 ether, "rest from unbonding");
        assertEq(i.locked, 0, "locked shrinks with the stake");
        assertEq(credit(treasury), 18 ether, "treasury credited");
        assertEq(address(escrow).balance - escrowBefore, 18 ether, "value moved to escrow");
        assertEq(address(registry).balance, 2 ether, "registry keeps the rest");
    }

    function test_slash_partialKeepsLockedWhenStakeSuffices() public {
        _register(alice, 50 ether);
        _lock(alice, 10 ether);
        _slash(alice, 30 ether);
        assertEq(info(alice).stake, 20 ether, "stake");
        assertEq(info(alice).locked, 10 ether, "locked unchanged");
    }

    function test_slash_clampsLockedToRemainingStake() public {
        _register(alice, 50 ether);
        _lock(alice, 40 ether);
        _slash(alice, 30 ether);
        assertEq(info(alice).stake, 20 ether, "stake");
        assertEq(info(alice).locked, 20 ether, "locked clamped");
    }

    function test_slash_capsAtStakePlusUnbonding() public {
        _register(alice, 20 ether);
        _unbond(alice, 5 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.Slashed(alice, JOB, NATIVE, 20 ether, treasury, REASON);
        _slash(alice, 100 ether);
        assertEq(credit(treasury), 20 ether, "only what exists");
        assertEq(info(alice).stake, 0, "stake");
        assertEq(info(alice).unbonding, 0, "unbonding");
    }

    /// @dev Changed on purpose: the slash used to take a beneficiary (address(0) meant the treasury).
    /// Now the proceeds always go to the escrow's treasury, the one in force at the slash.
    function test_slash_alwaysCreditsTheCurrentTreasury() public {
        _register(alice, 20 ether);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.Slashed(alice, JOB, NATIVE, 3 ether, treasury, REASON);
        _slash(alice, 3 ether);
        assertEq(credit(treasury), 3 ether, "treasury credited");
        assertEq(credit(address(0)), 0, "nothing credited to the zero address");
        assertEq(credit(hook), 0, "nothing credited to the caller");

        address newTreasury = address(0x7EA2);
        vm.prank(admin);
        escrow.setTreasury(newTreasury);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.Slashed(alice, JOB, NATIVE, 2 ether, newTreasury, REASON);
        _slash(alice, 2 ether);
        assertEq(credit(newTreasury), 2 ether, "new treasury credited");
        assertEq(credit(treasury), 3 ether, "old treasury keeps its earlier credit");
    }

    function test_slash_deregisteredProviderFromUnbonding() public {
        _register(alice, 20 ether);
        vm.prank(alice);
        registry.deregister();
        _slash(alice, 4 ether);
        assertEq(info(alice).unbonding, 16 ether, "unbonding slashed");
        assertEq(credit(treasury), 4 ether, "credited");
    }

    function test_slash_nothingToTakeIsNoOp() public {
        _register(alice, 20 ether);
        vm.recordLogs();
        _slash(bob, 5 ether); // unknown provider
        _slash(alice, 0); // zero amount
        _slashToken(alice, 5 ether); // no bond in the token
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        assertEq(credit(treasury), 0, "no credit");
        assertEq(escrow.balanceOf(address(token), treasury), 0, "no token credit");
        assertEq(info(alice).stake, 20 ether, "stake untouched");
    }

    /// @dev Changed on purpose: the arbiter used to slash through the registry's ARBITER_ROLE. That role
    /// is gone; an arbiter only rules on disputes in the market, whose settlement slashes.
    function test_slash_arbiterRefused() public {
        _register(alice, 20 ether);
        _expectUnauthorized(arbiter, MARKET_ROLE);
        vm.prank(arbiter);
        registry.slash(alice, JOB, NATIVE, 2 ether, REASON);
        assertEq(info(alice).stake, 20 ether, "stake untouched");
        assertEq(credit(treasury), 0, "nothing credited");
    }

    function test_slash_revertsForOthers() public {
        _register(alice, 20 ether);
        _expectUnauthorized(stranger, MARKET_ROLE);
        vm.prank(stranger);
        registry.slash(alice, JOB, NATIVE, 2 ether, REASON);
    }

    function test_slash_revertsForBidBook() public {
        _register(alice, 20 ether);
        _expectUnauthorized(bookHook, MARKET_ROLE);
        vm.prank(bookHook);
        registry.slash(alice, JOB, NATIVE, 2 ether, REASON);
    }

    function test_slash_revertsForGovernor() public {
        _register(alice, 20 ether);
        _expectUnauthorized(admin, MARKET_ROLE);
        vm.prank(admin);
        registry.slash(alice, JOB, NATIVE, 2 ether, REASON);
    }

    // ------------------------------------------------------------------ ERC-20 collateral (token bonds)

    function test_tryLockCollateral_tokenLocksBondNotStake() public {
        _register(alice, 50 ether);
        _bond(alice, 30 ether);
        uint256[] memory batch = _jobs(JOB, JOB + 1, JOB + 2);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondLocked(address(token), alice, 15 ether, 15 ether);
        vm.expectEmit(address(registry));
        // `locked` is the native total, untouched by a token lock
        emit IProviderRegistry.CollateralLocked(alice, batch, address(token), 5 ether, 0);
        assertTrue(_lockToken(alice, batch, 5 ether), "locked in the bond");
        (uint256 total, uint256 locked) = _bondOf(alice);
        assertEq(total, 30 ether, "bond total");
        assertEq(locked, 15 ether, "amountEach for each of the 3 jobs");
        assertEq(info(alice).locked, 0, "native stake not locked");
        assertTrue(registry.isEligible(alice, 0, 50 ether), "all native stake still free");
    }

    function test_tryLockCollateral_tokenRefusedBeyondFreeBondChangesNothing() public {
        _register(alice, 50 ether);
        _bond(alice, 10 ether);
        assertTrue(_lockToken(alice, _jobs(JOB), 6 ether), "first lock");
        vm.recordLogs();
        assertFalse(_lockToken(alice, _jobs(JOB + 1), 4 ether + 1), "more than the free bond");
        assertFalse(_lockToken(alice, _jobs(JOB + 1, JOB + 2, JOB + 3), 2 ether), "6 for three jobs, 4 free");
        assertFalse(_lockToken(bob, _jobs(JOB), 1), "no bond at all");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        (, uint256 locked) = _bondOf(alice);
        assertEq(locked, 6 ether, "nothing more locked");
        assertTrue(_lockToken(alice, _jobs(JOB + 1, JOB + 2), 2 ether), "exactly the free bond");
        (, locked) = _bondOf(alice);
        assertEq(locked, 10 ether, "all locked");
    }

    function test_tryLockCollateral_tokenStillRequiresAnEligibleProvider() public {
        // a bond alone does not make a provider: it must be registered, capable and at the minimum stake
        _bond(alice, 10 ether);
        assertFalse(_lockToken(alice, _jobs(JOB), 1 ether), "unregistered");
        _register(alice, 20 ether, WASI);
        vm.prank(hook);
        assertFalse(registry.tryLockCollateral(alice, _jobs(JOB), address(token), 1 ether, GPU), "missing capability");
        vm.prank(admin);
        registry.setMinStake(20 ether + 1);
        assertFalse(_lockToken(alice, _jobs(JOB), 1 ether), "below min stake");
        (, uint256 locked) = _bondOf(alice);
        assertEq(locked, 0, "nothing locked");
        vm.prank(admin);
        registry.setMinStake(MIN_STAKE);
        assertTrue(_lockToken(alice, _jobs(JOB), 1 ether), "eligible again");
    }

    function test_releaseCollateral_tokenReleasesBondAtMostLocked() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 50 ether);
        _bond(alice, 10 ether);
        _lockToken(alice, _jobs(JOB), 6 ether);
        // the registry's own state and event first, then the escrow's bond (checks-effects-interactions)
        vm.expectEmit(address(registry));
        emit IProviderRegistry.CollateralReleased(
            JOB, _addrs(alice), address(token), 4 ether, _reps(initial), 0, REASON
        );
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondReleased(address(token), alice, 4 ether, 2 ether);
        _releaseToken(alice, 4 ether);
        (uint256 total, uint256 locked) = _bondOf(alice);
        assertEq(locked, 2 ether, "released");
        assertEq(total, 10 ether, "bond total untouched");
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondReleased(address(token), alice, 2 ether, 0); // capped at what is locked
        _releaseToken(alice, 5 ether);
        (, locked) = _bondOf(alice);
        assertEq(locked, 0, "capped");
        assertEq(info(alice).stake, 50 ether, "stake untouched");
    }

    function test_slash_tokenTakesBondAndCreditsTreasuryInToken() public {
        _register(alice, 50 ether);
        _bond(alice, 10 ether);
        _lockToken(alice, _jobs(JOB), 4 ether);
        _lockToken(alice, _jobs(JOB + 1), 4 ether);
        _releaseToken(alice, 4 ether); // the market releases the job's lock, then slashes
        uint256 escrowTokens = token.balanceOf(address(escrow));
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondSlashed(address(token), alice, 3 ether, treasury);
        vm.expectEmit(address(registry));
        emit IProviderRegistry.Slashed(alice, JOB, address(token), 3 ether, treasury, REASON);
        _slashToken(alice, 3 ether);
        (uint256 total, uint256 locked) = _bondOf(alice);
        assertEq(total, 7 ether, "taken from the bond");
        assertEq(locked, 4 ether, "the other job's lock stays");
        assertEq(escrow.balanceOf(address(token), treasury), 3 ether, "treasury credited in the token");
        assertEq(credit(treasury), 0, "no native credit");
        assertEq(token.balanceOf(address(escrow)), escrowTokens, "tokens stay in the escrow");
        assertEq(info(alice).stake, 50 ether, "native stake untouched");
        // more than the bond: capped, and the lock shrinks with it
        _slashToken(alice, 100 ether);
        (total, locked) = _bondOf(alice);
        assertEq(total, 0, "bond emptied");
        assertEq(locked, 0, "lock clamped to the bond");
        assertEq(escrow.balanceOf(address(token), treasury), 10 ether, "whole bond to the treasury");
    }

    function test_slash_tokenArbiterRefused() public {
        _register(alice, 50 ether);
        _bond(alice, 10 ether);
        _expectUnauthorized(arbiter, MARKET_ROLE);
        vm.prank(arbiter);
        registry.slash(alice, JOB, address(token), 1 ether, REASON);
        (uint256 total,) = _bondOf(alice);
        assertEq(total, 10 ether, "bond untouched");
    }

    /// @dev Random token locks, releases and slashes keep locked <= total, and the escrow's token balance
    /// equals the bonds plus the treasury's credit.
    function testFuzz_tokenCollateral_lockedWithinBond(uint256 bond, uint256 a, uint256 r, uint256 sl) public {
        _register(alice, 20 ether);
        uint256 deposited = bound(bond, 1, 500 ether);
        _bond(alice, deposited);
        uint96 lockAmt = uint96(bound(a, 0, 600 ether));
        bool ok = _lockToken(alice, _jobs(JOB), lockAmt);
        assertTrue(ok == (lockAmt <= deposited), "lock iff the free bond covers it");
        _releaseToken(alice, uint96(bound(r, 0, 600 ether)));
        _slashToken(alice, uint96(bound(sl, 0, 600 ether)));
        (uint256 total, uint256 locked) = _bondOf(alice);
        assertLe(locked, total, "locked <= total");
        assertEq(
            token.balanceOf(address(escrow)),
            total + escrow.balanceOf(address(token), treasury),
            "balance == bonds + credits"
        );
    }

    // ------------------------------------------------------------------ eligibility

    function test_isEligible_capabilitiesBitmask() public {
        _register(alice, 20 ether, WASI | GPU);
        assertTrue(registry.isEligible(alice, 0, 0), "no requirement");
        assertTrue(registry.isEligible(alice, WASI, 0), "subset");
        assertTrue(registry.isEligible(alice, WASI | GPU, 0), "exact");
        assertFalse(registry.isEligible(alice, TEE, 0), "missing");
        assertFalse(registry.isEligible(alice, WASI | TEE, 0), "partly missing");
    }

    function test_isEligible_minStake() public {
        _register(alice, 20 ether);
        assertTrue(registry.isEligible(alice, 0, 0), "at 20");
        vm.prank(admin);
        registry.setMinStake(20 ether + 1);
        assertFalse(registry.isEligible(alice, 0, 0), "below raised minimum");
        vm.prank(alice);
        registry.addStake{value: 1}();
        assertTrue(registry.isEligible(alice, 0, 0), "topped up");
        _unbond(alice, 1);
        assertFalse(registry.isEligible(alice, 0, 0), "unbonded below minimum");
    }

    function test_isEligible_freeStake() public {
        _register(alice, 100 ether);
        _lock(alice, 95 ether);
        assertTrue(registry.isEligible(alice, 0, 5 ether), "exactly free");
        assertFalse(registry.isEligible(alice, 0, 5 ether + 1), "more than free");
    }

    function test_isEligible_falseForUnknownAndDeregistered() public {
        assertFalse(registry.isEligible(alice, 0, 0), "unknown");
        _register(alice, 20 ether);
        vm.prank(alice);
        registry.deregister();
        assertFalse(registry.isEligible(alice, 0, 0), "deregistered");
    }

    function test_eligibleReputation_returnsBoth() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 20 ether, WASI);
        _release(alice, 0, 250);
        (bool ok, uint16 rep) = registry.eligibleReputation(alice, WASI, 20 ether);
        assertTrue(ok, "eligible");
        assertEq(rep, initial + 250, "reputation");
        (ok, rep) = registry.eligibleReputation(alice, GPU, 0);
        assertFalse(ok, "ineligible");
        assertEq(rep, initial + 250, "reputation reported even when ineligible");
        (ok, rep) = registry.eligibleReputation(bob, 0, 0);
        assertFalse(ok, "unknown");
        assertEq(rep, 0, "unknown reputation");
    }

    // ------------------------------------------------------------------ governance

    function test_setMinStake_updatesAndEmits() public {
        vm.expectEmit(address(registry));
        emit IProviderRegistry.MinStakeUpdated(1);
        vm.prank(admin);
        registry.setMinStake(1);
        assertEq(registry.minStake(), 1, "min");
        vm.prank(admin);
        registry.setMinStake(type(uint96).max);
        assertEq(registry.minStake(), type(uint96).max, "max");
    }

    function test_setMinStake_revertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ParameterOutOfBounds.selector, 0, 1, type(uint96).max));
        vm.prank(admin);
        registry.setMinStake(0);
    }

    function test_setMinStake_onlyGovernor() public {
        _expectUnauthorized(stranger, GOVERNOR_ROLE);
        vm.prank(stranger);
        registry.setMinStake(1 ether);
    }

    function test_setUnbondingPeriod_bounds() public {
        vm.expectEmit(address(registry));
        emit IProviderRegistry.UnbondingPeriodUpdated(60);
        vm.prank(admin);
        registry.setUnbondingPeriod(60);
        assertEq(registry.unbondingPeriod(), 60, "min");
        vm.prank(admin);
        registry.setUnbondingPeriod(90 days);
        assertEq(registry.unbondingPeriod(), 90 days, "max");
    }

    function test_setUnbondingPeriod_revertsBelowMin() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ParameterOutOfBounds.selector, 59, 60, 90 days));
        vm.prank(admin);
        registry.setUnbondingPeriod(59);
    }

    function test_setUnbondingPeriod_revertsAboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(IProviderRegistry.ParameterOutOfBounds.selector, 90 days + 1, 60, 90 days)
        );
        vm.prank(admin);
        registry.setUnbondingPeriod(90 days + 1);
    }

    function test_setUnbondingPeriod_onlyGovernor() public {
        _expectUnauthorized(hook, GOVERNOR_ROLE);
        vm.prank(hook);
        registry.setUnbondingPeriod(1 hours);
    }

    function test_setUnbondingPeriod_appliesToNewRequestsOnly() public {
        _register(alice, 30 ether);
        _unbond(alice, 1 ether);
        uint40 first = info(alice).unbondingReleaseAt;
        vm.prank(admin);
        registry.setUnbondingPeriod(1 hours);
        assertEq(info(alice).unbondingReleaseAt, first, "pending release unchanged");
        _unbond(alice, 1 ether);
        assertEq(info(alice).unbondingReleaseAt, block.timestamp + 1 hours, "new period");
    }

    // ------------------------------------------------------------------ pause

    function test_pause_onlyPauser() public {
        _expectUnauthorized(stranger, PAUSER_ROLE);
        vm.prank(stranger);
        registry.pause();
    }

    function test_unpause_onlyPauser() public {
        _pause();
        _expectUnauthorized(stranger, PAUSER_ROLE);
        vm.prank(stranger);
        registry.unpause();
    }

    function test_pause_blocksRegister() public {
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _register(alice, 10 ether);
    }

    function test_pause_blocksUpdateProfile() public {
        _register(alice, 10 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(alice);
        registry.updateProfile(WASI, META, "p", REGION);
    }

    function test_pause_blocksAddStake() public {
        _register(alice, 10 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(alice);
        registry.addStake{value: 1 ether}();
    }

    function test_pause_blocksRequestUnbond() public {
        _register(alice, 20 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _unbond(alice, 1 ether);
    }

    function test_pause_blocksDeregister() public {
        _register(alice, 20 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(alice);
        registry.deregister();
    }

    /// @dev Changed on purpose: a pause used to block withdrawUnbonded. It stops stake entering and new
    /// commitments, never the return of stake already unbonded.
    function test_pause_doesNotBlockWithdrawUnbonded() public {
        _register(alice, 20 ether);
        _unbond(alice, 1 ether);
        vm.warp(block.timestamp + UNBONDING);
        _pause();
        uint256 before = alice.balance;
        vm.expectEmit(address(registry));
        emit IProviderRegistry.UnbondedWithdrawn(alice, 1 ether);
        vm.prank(alice);
        assertEq(registry.withdrawUnbonded(), 1 ether, "returned while paused");
        assertEq(alice.balance - before, 1 ether, "received while paused");
        assertEq(info(alice).unbonding, 0, "unbonding cleared");
        assertTrue(registry.paused(), "still paused");
        // the unbonding period still applies while paused
        _unpause();
        _unbond(alice, 1 ether);
        _pause();
        uint40 releaseAt = uint40(block.timestamp + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.UnbondingNotReleased.selector, alice, releaseAt));
        vm.prank(alice);
        registry.withdrawUnbonded();
    }

    function test_pause_unpauseRestoresActions() public {
        _pause();
        vm.prank(admin);
        registry.unpause();
        _register(alice, 10 ether);
        assertEq(info(alice).stake, 10 ether, "registered");
    }

    function test_pause_doesNotBlockMarketHooks() public {
        uint16 initial = registry.INITIAL_REPUTATION();
        _register(alice, 20 ether);
        _pause();
        assertTrue(_lock(alice, 5 ether), "lock");
        _release(alice, 5 ether, 1);
        _slash(alice, 1 ether);
        assertEq(info(alice).stake, 19 ether, "slashed while paused");
        assertEq(credit(treasury), 1 ether, "treasury credited while paused");
        assertEq(info(alice).reputation, initial + 1, "reputation changed while paused");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_stakeUnbondWithdraw(uint256 stake, uint256 unbond, uint256 topUp) public {
        stake = bound(stake, MIN_STAKE, 500 ether);
        topUp = bound(topUp, 0, 400 ether);
        _register(alice, stake);
        if (topUp != 0) {
            vm.prank(alice);
            registry.addStake{value: topUp}();
        }
        uint256 total = stake + topUp;
        uint96 amount = uint96(bound(unbond, 1, total));
        _unbond(alice, amount);
        assertEq(info(alice).stake, total - amount, "stake");
        assertEq(info(alice).unbonding, amount, "unbonding");
        assertEq(address(registry).balance, total, "registry holds everything until withdrawal");

        vm.warp(block.timestamp + UNBONDING);
        uint256 before = alice.balance;
        vm.prank(alice);
        uint96 out = registry.withdrawUnbonded();
        assertEq(out, amount, "returned");
        assertEq(alice.balance - before, amount, "received");
        assertEq(address(registry).balance, total - amount, "rest stays staked");
    }

    function testFuzz_requestUnbond_neverExceedsFreeStake(uint256 stake, uint256 lockAmt, uint256 amount) public {
        stake = bound(stake, MIN_STAKE, 1_000 ether);
        _register(alice, stake);
        uint96 locked = uint96(bound(lockAmt, 0, stake));
        assertTrue(_lock(alice, locked), "locked");
        uint96 free = uint96(stake) - locked;
        amount = bound(amount, 1, type(uint96).max);
        if (amount > free) {
            vm.expectRevert(
                abi.encodeWithSelector(IProviderRegistry.InsufficientFreeStake.selector, alice, amount, free)
            );
            _unbond(alice, uint96(amount));
        } else {
            _unbond(alice, uint96(amount));
            assertEq(info(alice).stake, stake - amount, "stake");
            assertGe(info(alice).stake, info(alice).locked, "locked <= stake");
        }
    }

    function testFuzz_reputationStaysInRange(int32 d1, int32 d2, int32 d3, int32 d4) public {
        _register(alice, 20 ether);
        int32[4] memory deltas = [d1, d2, d3, d4];
        int256 expected = int256(uint256(registry.INITIAL_REPUTATION()));
        for (uint256 i; i < 4; ++i) {
            _release(alice, 0, deltas[i]);
            expected += deltas[i];
            if (expected < 0) expected = 0;
            if (expected > 10_000) expected = 10_000;
            uint16 rep = registry.reputationOf(alice);
            assertLe(rep, 10_000, "at most max");
            assertEq(rep, uint256(expected), "clamped sum");
        }
    }

    function testFuzz_slashNeverMakesLockedExceedStake(
        uint256 stake,
        uint256 lockAmt,
        uint256 unbondAmt,
        uint256 slashAmt
    ) public {
        stake = bound(stake, MIN_STAKE, 1_000 ether);
        _register(alice, stake);
        uint96 locked = uint96(bound(lockAmt, 0, stake));
        _lock(alice, locked);
        uint96 unbonding = uint96(bound(unbondAmt, 0, stake - locked));
        if (unbonding != 0) _unbond(alice, unbonding);
        uint96 amount = uint96(bound(slashAmt, 0, 2 * stake));
        uint256 bondedBefore = info(alice).stake;
        uint256 escrowBefore = address(escrow).balance;

        _slash(alice, amount);

        IProviderRegistry.ProviderInfo memory i = info(alice);
        uint256 taken = amount < stake ? amount : stake;
        uint256 fromStake = taken < bondedBefore ? taken : bondedBefore;
        assertLe(i.locked, i.stake, "locked <= stake");
        assertEq(i.stake, bondedBefore - fromStake, "stake first");
        assertEq(i.unbonding, unbonding - (taken - fromStake), "then unbonding");
        assertEq(credit(treasury), taken, "treasury credited");
        assertEq(address(escrow).balance - escrowBefore, taken, "value moved");
        assertEq(address(registry).balance, i.stake + i.unbonding, "registry backs stake + unbonding");
    }

    function testFuzz_lockRelease_keepsLockedWithinStake(uint256 stake, uint256 a, uint256 b, uint256 r) public {
        stake = bound(stake, MIN_STAKE, 1_000 ether);
        _register(alice, stake);
        uint96 first = uint96(bound(a, 0, stake));
        uint96 second = uint96(bound(b, 0, stake));
        assertTrue(_lock(alice, first), "first lock fits");
        bool ok = _lock(alice, second);
        assertTrue(ok == (uint256(first) + second <= stake), "second lock iff free stake suffices");
        uint96 lockedNow = info(alice).locked;
        uint96 release = uint96(bound(r, 0, 2 * stake));
        _release(alice, release, 0);
        assertEq(info(alice).locked, release >= lockedNow ? 0 : lockedNow - release, "released at most locked");
        assertLe(info(alice).locked, info(alice).stake, "locked <= stake");
    }

    function testFuzz_tryLockCollateral_manyJobsNeverLocksMoreThanStake(
        uint256 stake,
        uint256 pre,
        uint256 count,
        uint256 each,
        uint256 count2,
        uint256 each2
    ) public {
        stake = bound(stake, MIN_STAKE, 1_000 ether);
        _register(alice, stake);
        uint96 before = uint96(bound(pre, 0, stake));
        assertTrue(_lock(alice, before), "earlier lock fits");
        uint96[2] memory amounts = [uint96(bound(each, 0, stake)), uint96(bound(each2, 0, type(uint96).max))];
        uint256[2] memory counts = [bound(count, 0, 16), bound(count2, 0, 64)];
        for (uint256 r; r < 2; ++r) {
            uint256 total = uint256(amounts[r]) * counts[r];
            bool expected = total <= stake - before;
            vm.recordLogs();
            bool ok = _lockMany(alice, _jobRange(counts[r]), amounts[r]);
            assertTrue(ok == expected, "locks iff free stake covers every job");
            assertEq(vm.getRecordedLogs().length, ok ? 1 : 0, "event only on success");
            IProviderRegistry.ProviderInfo memory i = info(alice);
            assertEq(i.locked, ok ? before + total : before, "all or nothing");
            assertLe(i.locked, i.stake, "locked <= stake");
            assertEq(i.stake, stake, "stake untouched");
            before = i.locked;
        }
    }

    function testFuzz_releaseMany_eachCappedAndClampedSeparately(
        uint256 lockA,
        uint256 lockB,
        uint256 repA,
        uint256 repB,
        uint256 releaseAmt,
        int32 delta
    ) public {
        _register(alice, 100 ether);
        _register(bob, 100 ether);
        uint96[2] memory locked = [uint96(bound(lockA, 0, 100 ether)), uint96(bound(lockB, 0, 100 ether))];
        uint16[2] memory rep = [uint16(bound(repA, 0, 10_000)), uint16(bound(repB, 0, 10_000))];
        address[2] memory who = [alice, bob];
        for (uint256 i; i < 2; ++i) {
            _lock(who[i], locked[i]);
            _setReputation(who[i], rep[i]);
        }
        uint96 amount = uint96(bound(releaseAmt, 0, 200 ether));

        vm.recordLogs();
        vm.prank(hook);
        registry.releaseCollateral(_toDynamic(who), JOB, NATIVE, amount, delta, REASON);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event");
        (,,, uint16[] memory reps,,) = abi.decode(logs[0].data, (address[], address, uint96, uint16[], int32, bytes32));

        for (uint256 i; i < 2; ++i) {
            int256 expected = int256(uint256(rep[i])) + delta;
            if (expected < 0) expected = 0;
            if (expected > 10_000) expected = 10_000;
            IProviderRegistry.ProviderInfo memory p = info(who[i]);
            assertEq(p.locked, amount >= locked[i] ? 0 : locked[i] - amount, "capped at own locked");
            assertEq(p.reputation, uint256(expected), "clamped on own reputation");
            assertEq(reps[i], p.reputation, "event reports the new reputation");
            assertEq(p.stake, 100 ether, "stake untouched");
        }
    }

    function _toDynamic(address[2] memory a) internal pure returns (address[] memory arr) {
        arr = new address[](2);
        arr[0] = a[0];
        arr[1] = a[1];
    }

    function testFuzz_eligibility(uint32 caps, uint32 required, uint256 stake, uint256 lockAmt, uint256 collateral)
        public
    {
        stake = bound(stake, MIN_STAKE, 1_000 ether);
        _register(alice, stake, caps);
        uint96 locked = uint96(bound(lockAmt, 0, stake));
        _lock(alice, locked);
        uint96 c = uint96(bound(collateral, 0, 1_100 ether));
        bool expected = (caps & required) == required && uint256(c) <= stake - locked;
        assertTrue(registry.isEligible(alice, required, c) == expected, "isEligible");
        (bool ok, uint16 rep) = registry.eligibleReputation(alice, required, c);
        assertTrue(ok == expected, "eligibleReputation");
        assertEq(rep, registry.INITIAL_REPUTATION(), "reputation");
    }
}
