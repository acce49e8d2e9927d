// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Base} from "./Base.t.sol";
import {PaymentEscrow} from "../src/PaymentEscrow.sol";
import {IPaymentEscrow} from "../src/interfaces/IPaymentEscrow.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {TestToken, FeeOnTransferToken, ReentrantToken} from "./mocks/Tokens.sol";
import {ReentrantReceiver, RejectingReceiver} from "./mocks/Actors.sol";

/// @notice Records, while being paid, the credited balance the escrow still shows for it.
contract WithdrawProbe {
    PaymentEscrow internal immutable escrow;
    uint256 public balanceSeenDuringTransfer = type(uint256).max;

    constructor(PaymentEscrow escrow_) {
        escrow = escrow_;
    }

    function withdraw() external returns (uint256) {
        return escrow.withdraw(address(0));
    }

    receive() external payable {
        balanceSeenDuringTransfer = escrow.balanceOf(address(0), address(this));
    }
}

/// @notice Unit and fuzz tests of PaymentEscrow: budgets, payouts, the credit ledger, governance, pause.
contract PaymentEscrowTest is Base {
    bytes32 internal constant MARKET_ROLE = keccak256("MARKET_ROLE");
    bytes32 internal constant FUNDER_ROLE = keccak256("FUNDER_ROLE");
    bytes32 internal constant COLLATERAL_ROLE = keccak256("COLLATERAL_ROLE");
    /// @dev Admin of the contract-to-contract roles, held by nobody (see PaymentEscrow.bind).
    bytes32 internal constant NOBODY = keccak256("NOBODY");
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    address internal constant NATIVE = address(0);
    uint256 internal constant JOB = 7;

    /// @dev Stand-ins for the JobMarket (bound as the market: MARKET_ROLE and FUNDER_ROLE) and the registry
    /// (bound as the registry: FUNDER_ROLE and COLLATERAL_ROLE).
    address internal mkt = address(0x3A3);
    address internal funder = address(0xF0F);
    /// @dev A provider posting token bonds.
    address internal prov = address(0xB0D);
    address internal payer = address(0xCAFE);
    address internal payee = address(0xB0B);
    address internal payee2 = address(0xB0B2);
    address internal payee3 = address(0xB0B3);
    address internal stranger = address(0x5757);

    TestToken internal token;
    FeeOnTransferToken internal feeToken;
    /// @dev The fixture's escrow, bound by Base to the real market and registry.
    PaymentEscrow internal fixtureEscrow;

    function setUp() public override {
        super.setUp();
        // The contract-to-contract roles are wired once, by the deployer, through `bind`; nobody can grant
        // them to a stand-in afterwards. This suite drives the escrow by hand, so it deploys its own and
        // binds it (this contract is the deployer) to the stand-ins.
        fixtureEscrow = escrow;
        escrow = new PaymentEscrow(admin, ADMIN_DELAY, admin, treasury);
        escrow.bind(mkt, funder);
        vm.deal(mkt, 1_000_000 ether);
        vm.deal(funder, 1_000 ether);
        token = new TestToken();
        feeToken = new FeeOnTransferToken();
        token.mint(payer, 1_000 ether);
        feeToken.mint(payer, 1_000 ether);
        vm.startPrank(payer);
        token.approve(address(escrow), type(uint256).max);
        feeToken.approve(address(escrow), type(uint256).max);
        vm.stopPrank();
        token.mint(prov, 1_000 ether);
        feeToken.mint(prov, 1_000 ether);
        vm.startPrank(prov);
        token.approve(address(escrow), type(uint256).max);
        feeToken.approve(address(escrow), type(uint256).max);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ helpers

    function _depositNative(uint256 amount) internal {
        vm.prank(mkt);
        escrow.deposit{value: amount}(JOB, 1, NATIVE, payer, amount);
    }

    function _depositToken(address t, uint256 amount) internal {
        vm.prank(mkt);
        escrow.deposit(JOB, 1, t, payer, amount);
    }

    /// @dev One payee at the fixture's fee (FEE_BPS): the common case, and what most tests exercise. The
    /// escrow keeps no fee of its own: the market passes each job's fee (its params version's `feeBps`).
    function _pay(address t, address to, uint256 amount) internal {
        _payAt(t, to, amount, FEE_BPS);
    }

    function _payAt(address t, address to, uint256 amount, uint16 bps) internal {
        vm.prank(mkt);
        escrow.pay(JOB, t, _addrs(to), _amts(amount), bps);
    }

    function _payMany(address t, address[] memory tos, uint256[] memory amounts) internal {
        _payManyAt(t, tos, amounts, FEE_BPS);
    }

    function _payManyAt(address t, address[] memory tos, uint256[] memory amounts, uint16 bps) internal {
        vm.prank(mkt);
        escrow.pay(JOB, t, tos, amounts, bps);
    }

    function _addrs(address a) internal pure returns (address[] memory arr) {
        arr = new address[](1);
        arr[0] = a;
    }

    function _addrs(address a, address b) internal pure returns (address[] memory arr) {
        arr = new address[](2);
        arr[0] = a;
        arr[1] = b;
    }

    function _addrs(address a, address b, address c) internal pure returns (address[] memory arr) {
        arr = new address[](3);
        arr[0] = a;
        arr[1] = b;
        arr[2] = c;
    }

    function _amts(uint256 a) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](1);
        arr[0] = a;
    }

    function _amts(uint256 a, uint256 b) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](2);
        arr[0] = a;
        arr[1] = b;
    }

    function _amts(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory arr) {
        arr = new uint256[](3);
        arr[0] = a;
        arr[1] = b;
        arr[2] = c;
    }

    function _refund(address t, address to, uint256 amount) internal {
        vm.prank(mkt);
        escrow.refund(JOB, t, to, amount);
    }

    function _credit(address to, uint256 amount) internal {
        vm.prank(funder);
        escrow.creditNative{value: amount}(to);
    }

    function _withdraw(address who, address t) internal returns (uint256 amount) {
        vm.prank(who);
        amount = escrow.withdraw(t);
    }

    function _depositBond(address who, address t, uint256 amount) internal {
        vm.prank(who);
        escrow.depositBond(t, amount);
    }

    function _withdrawBond(address who, address t, uint256 amount) internal {
        vm.prank(who);
        escrow.withdrawBond(t, amount);
    }

    function _lockBond(address who, uint256 amount) internal returns (bool ok) {
        vm.prank(funder);
        ok = escrow.lockBond(who, address(token), amount);
    }

    function _releaseBond(address who, uint256 amount) internal {
        vm.prank(funder);
        escrow.releaseBond(who, address(token), amount);
    }

    function _slashBond(address who, uint256 amount) internal returns (uint256 taken) {
        vm.prank(funder);
        taken = escrow.slashBond(who, address(token), amount);
    }

    function _bond(address who) internal view returns (uint256 total, uint256 locked) {
        return escrow.bondOf(address(token), who);
    }

    function _expectUnauthorized(address account, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role));
    }

    function _pause() internal {
        vm.prank(admin);
        escrow.pause();
    }

    /// @dev The fee `_pay` charges at the fixture's FEE_BPS.
    function _fee(uint256 amount) internal pure returns (uint256) {
        return amount * FEE_BPS / 10_000;
    }

    /// @dev A ReentrantToken that is itself the payee, with `withdrawable` credited to it.
    function _reentrantTokenPayee(uint256 withdrawable) internal returns (ReentrantToken rt) {
        rt = new ReentrantToken();
        rt.mint(payer, withdrawable);
        vm.prank(payer);
        rt.approve(address(escrow), type(uint256).max);
        _depositToken(address(rt), withdrawable);
        _refund(address(rt), address(rt), withdrawable);
    }

    // ------------------------------------------------------------------ constructor

    function test_constructor_setsParametersAndRoles() public view {
        assertEq(escrow.treasury(), treasury, "treasury");
        assertEq(escrow.MAX_FEE_BPS(), 1_000, "max fee: 10%");
        // Changed on purpose: the escrow no longer stores a fee (feeBps/setFee are gone); each `pay` carries
        // the job's fee, a field of the market's versioned params.
        assertTrue(escrow.hasRole(bytes32(0), admin), "admin");
        assertTrue(escrow.hasRole(GOVERNOR_ROLE, admin), "governor");
        assertTrue(escrow.hasRole(PAUSER_ROLE, admin), "pauser");
        assertFalse(escrow.hasRole(MARKET_ROLE, admin), "admin is not the market");
        assertFalse(escrow.hasRole(FUNDER_ROLE, admin), "admin is not a funder");
        assertFalse(escrow.hasRole(COLLATERAL_ROLE, admin), "admin does not hold bonds");
        assertEq(escrow.getRoleAdmin(MARKET_ROLE), NOBODY, "market role administered by nobody");
        assertEq(escrow.getRoleAdmin(FUNDER_ROLE), NOBODY, "funder role administered by nobody");
        assertEq(escrow.getRoleAdmin(COLLATERAL_ROLE), NOBODY, "collateral role administered by nobody");
    }

    // ------------------------------------------------------------------ bind (contract-to-contract roles)

    function test_bind_grantsMarketAndRegistryRoles() public view {
        // the market moves budgets and credits bond shares; the registry credits slashes and holds bonds
        assertTrue(escrow.hasRole(MARKET_ROLE, mkt), "market: MARKET_ROLE");
        assertTrue(escrow.hasRole(FUNDER_ROLE, mkt), "market: FUNDER_ROLE");
        assertFalse(escrow.hasRole(COLLATERAL_ROLE, mkt), "market: no COLLATERAL_ROLE");
        assertTrue(escrow.hasRole(FUNDER_ROLE, funder), "registry: FUNDER_ROLE");
        assertTrue(escrow.hasRole(COLLATERAL_ROLE, funder), "registry: COLLATERAL_ROLE");
        assertFalse(escrow.hasRole(MARKET_ROLE, funder), "registry: no MARKET_ROLE");
        // the fixture's escrow, bound by the deployer to the real contracts
        assertTrue(fixtureEscrow.hasRole(MARKET_ROLE, address(market)), "fixture market");
        assertTrue(fixtureEscrow.hasRole(COLLATERAL_ROLE, address(registry)), "fixture registry");
    }

    function test_bind_onlyTheDeployerOnce() public {
        PaymentEscrow fresh = new PaymentEscrow(admin, ADMIN_DELAY, admin, treasury);
        assertFalse(fresh.hasRole(MARKET_ROLE, mkt), "unbound");
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        fresh.bind(mkt, funder);
        _expectUnauthorized(stranger, NOBODY);
        vm.prank(stranger);
        fresh.bind(stranger, stranger);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        fresh.bind(address(0), funder);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        fresh.bind(mkt, address(0));

        fresh.bind(mkt, funder);
        assertTrue(fresh.hasRole(MARKET_ROLE, mkt), "bound");
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.AlreadyBound.selector));
        fresh.bind(stranger, stranger);
        assertFalse(fresh.hasRole(MARKET_ROLE, stranger), "no second market");
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.AlreadyBound.selector));
        fixtureEscrow.bind(stranger, stranger);
    }

    function test_bind_rolesCannotBeGrantedOrRevokedByTheAdmin() public {
        bytes32[3] memory roles = [MARKET_ROLE, FUNDER_ROLE, COLLATERAL_ROLE];
        for (uint256 i; i < 3; ++i) {
            _expectUnauthorized(admin, NOBODY);
            vm.prank(admin);
            escrow.grantRole(roles[i], stranger);
            assertFalse(escrow.hasRole(roles[i], stranger), "not granted");
        }
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        escrow.revokeRole(MARKET_ROLE, mkt);
        _expectUnauthorized(admin, NOBODY);
        vm.prank(admin);
        escrow.revokeRole(COLLATERAL_ROLE, funder);
        assertTrue(escrow.hasRole(MARKET_ROLE, mkt), "not revoked");
        assertTrue(escrow.hasRole(COLLATERAL_ROLE, funder), "not revoked");
        // the governance roles stay with the admin
        vm.prank(admin);
        escrow.grantRole(GOVERNOR_ROLE, stranger);
        assertTrue(escrow.hasRole(GOVERNOR_ROLE, stranger), "governor granted");
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSignature("AccessControlInvalidDefaultAdmin(address)", address(0)));
        new PaymentEscrow(address(0), ADMIN_DELAY, admin, treasury);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector)); // no guardian
        new PaymentEscrow(admin, ADMIN_DELAY, address(0), treasury);
    }

    function test_constructor_revertsOnZeroTreasury() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        new PaymentEscrow(admin, ADMIN_DELAY, admin, address(0));
    }

    /// @dev Changed on purpose: the constructor takes no fee any more, so the bound on the fee moved to
    /// `pay` (a fee above MAX_FEE_BPS is rejected on every payment, whoever passes it).
    function test_pay_revertsOnFeeTooHigh() public {
        _depositNative(10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, 1_001, 1_000));
        _payAt(NATIVE, payee, 10 ether, 1_001);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, type(uint16).max, 1_000));
        _payManyAt(NATIVE, _addrs(payee, payee2), _amts(1 ether, 1 ether), type(uint16).max);
        // even an empty payment is rejected: the fee is checked before anything else moves
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, 1_001, 1_000));
        _payManyAt(NATIVE, new address[](0), new uint256[](0), 1_001);
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "still locked");
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "nothing credited");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    // ------------------------------------------------------------------ deposit

    function test_deposit_nativeLocksBudgetAndEmits() public {
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Deposited(JOB, NATIVE, payer, 3 ether, 3);
        vm.prank(mkt);
        escrow.deposit{value: 3 ether}(JOB, 3, NATIVE, payer, 3 ether);
        assertEq(escrow.totalLocked(NATIVE), 3 ether, "locked");
        assertEq(address(escrow).balance, 3 ether, "held");
        assertEq(escrow.balanceOf(NATIVE, payer), 0, "nothing credited");
    }

    function test_deposit_onlyMarket() public {
        vm.deal(stranger, 1 ether);
        _expectUnauthorized(stranger, MARKET_ROLE);
        vm.prank(stranger);
        escrow.deposit{value: 1 ether}(JOB, 1, NATIVE, stranger, 1 ether);
    }

    function test_deposit_funderIsNotMarket() public {
        _expectUnauthorized(funder, MARKET_ROLE);
        vm.prank(funder);
        escrow.deposit{value: 1 ether}(JOB, 1, NATIVE, funder, 1 ether);
    }

    function test_deposit_revertsOnZeroAmount() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAmount.selector));
        _depositNative(0);
    }

    function test_deposit_revertsOnNativeAmountMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NativeAmountMismatch.selector, 2 ether, 1 ether));
        vm.prank(mkt);
        escrow.deposit{value: 1 ether}(JOB, 1, NATIVE, payer, 2 ether);
    }

    function test_deposit_revertsOnNativeOverpayment() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NativeAmountMismatch.selector, 1 ether, 2 ether));
        vm.prank(mkt);
        escrow.deposit{value: 2 ether}(JOB, 1, NATIVE, payer, 1 ether);
    }

    function test_deposit_revertsOnNativeValueWithToken() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.UnexpectedNativeValue.selector, 1));
        vm.prank(mkt);
        escrow.deposit{value: 1}(JOB, 1, address(token), payer, 5 ether);
    }

    function test_deposit_revertsOnNonContractToken() public {
        address eoa = address(0x70CE);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NotAContract.selector, eoa));
        _depositToken(eoa, 5 ether);
    }

    function test_deposit_erc20PullsFromPayer() public {
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Deposited(JOB, address(token), payer, 5 ether, 1);
        _depositToken(address(token), 5 ether);
        assertEq(token.balanceOf(address(escrow)), 5 ether, "escrow holds tokens");
        assertEq(token.balanceOf(payer), 995 ether, "pulled from payer");
        assertEq(token.balanceOf(mkt), 0, "not from the caller");
        assertEq(escrow.totalLocked(address(token)), 5 ether, "locked");
        assertEq(escrow.totalLocked(NATIVE), 0, "native untouched");
    }

    function test_deposit_erc20RevertsWithoutApproval() public {
        vm.prank(payer);
        token.approve(address(escrow), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 1 ether, 5 ether)
        );
        _depositToken(address(token), 5 ether);
    }

    function test_deposit_rejectsFeeOnTransferToken() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.TransferAmountMismatch.selector, address(feeToken), 100 ether, 99 ether
            )
        );
        _depositToken(address(feeToken), 100 ether);
        assertEq(escrow.totalLocked(address(feeToken)), 0, "nothing locked");
        assertEq(feeToken.balanceOf(payer), 1_000 ether, "payer untouched");
    }

    function test_deposit_reentryThroughTokenFails() public {
        ReentrantToken rt = new ReentrantToken();
        rt.mint(payer, 10 ether);
        // MARKET_ROLE can no longer be granted: an escrow of its own, bound to the token as its market, so
        // that only the reentrancy guard can stop the re-entry
        PaymentEscrow bound = new PaymentEscrow(admin, ADMIN_DELAY, admin, treasury);
        bound.bind(address(rt), funder);
        vm.prank(payer);
        rt.approve(address(bound), type(uint256).max);
        rt.arm(address(bound), abi.encodeCall(PaymentEscrow.deposit, (JOB, 1, address(rt), payer, 1 ether)));

        vm.prank(address(rt));
        bound.deposit(JOB, 1, address(rt), payer, 5 ether);

        assertFalse(rt.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(rt.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "stopped by the guard"
        );
        assertEq(bound.totalLocked(address(rt)), 5 ether, "only the outer deposit");
        assertEq(rt.balanceOf(address(bound)), 5 ether, "balance matches");
    }

    // ------------------------------------------------------------------ pay

    function test_pay_splitsFeeToTreasury() public {
        _depositNative(10 ether);
        uint256 fee = 10 ether * uint256(FEE_BPS) / 10_000;
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee), _amts(10 ether), FEE_BPS, fee); // gross amounts, the job's fee
        _pay(NATIVE, payee, 10 ether);
        assertEq(fee, 0.1 ether, "1% fee");
        assertEq(escrow.balanceOf(NATIVE, payee), 9.9 ether, "payee");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.1 ether, "treasury");
        assertEq(escrow.totalLocked(NATIVE), 0, "unlocked");
        assertEq(address(escrow).balance, 10 ether, "still held until withdrawn");
    }

    function test_pay_partialLeavesRestLocked() public {
        _depositNative(10 ether);
        _pay(NATIVE, payee, 4 ether);
        assertEq(escrow.totalLocked(NATIVE), 6 ether, "rest locked");
    }

    function test_pay_feeRoundsDown() public {
        _depositNative(1 ether);
        _pay(NATIVE, payee, 99); // 99 * 100 / 10_000 = 0
        assertEq(escrow.balanceOf(NATIVE, payee), 99, "whole amount to payee");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    /// @dev Changed on purpose: the fee is `pay`'s argument (the job's), not escrow state set by governance.
    function test_pay_zeroFeeCreditsNothingToTreasury() public {
        _depositNative(5 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee), _amts(5 ether), 0, 0);
        _payAt(NATIVE, payee, 5 ether, 0);
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "treasury");
        assertEq(escrow.balanceOf(NATIVE, payee), 5 ether, "payee");
        assertEq(escrow.totalLocked(NATIVE), 0, "unlocked");
    }

    function test_pay_oneBasisPoint() public {
        _depositNative(5 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee), _amts(5 ether), 1, 0.0005 ether);
        _payAt(NATIVE, payee, 5 ether, 1);
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.0005 ether, "0.01% fee");
        assertEq(escrow.balanceOf(NATIVE, payee), 4.9995 ether, "payee");
        // 9_999 * 1 / 10_000 rounds down to nothing
        _depositNative(9_999);
        _payAt(NATIVE, payee2, 9_999, 1);
        assertEq(escrow.balanceOf(NATIVE, payee2), 9_999, "rounded down: whole amount to payee");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.0005 ether, "no fee added");
    }

    function test_pay_maxFee() public {
        _depositNative(5 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee), _amts(5 ether), 1_000, 0.5 ether);
        _payAt(NATIVE, payee, 5 ether, escrow.MAX_FEE_BPS());
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.5 ether, "10% fee");
        assertEq(escrow.balanceOf(NATIVE, payee), 4.5 ether, "payee");
    }

    /// @dev No fee state: consecutive payments at different fees each charge exactly their own.
    function test_pay_eachCallChargesItsOwnFee() public {
        _depositNative(30 ether);
        _payAt(NATIVE, payee, 10 ether, 1_000);
        _payAt(NATIVE, payee2, 10 ether, 0);
        _payAt(NATIVE, payee3, 10 ether, 250);
        assertEq(escrow.balanceOf(NATIVE, payee), 9 ether, "10%");
        assertEq(escrow.balanceOf(NATIVE, payee2), 10 ether, "0%");
        assertEq(escrow.balanceOf(NATIVE, payee3), 9.75 ether, "2.5%");
        assertEq(escrow.balanceOf(NATIVE, treasury), 1.25 ether, "sum of each call's fee");
        assertEq(escrow.totalLocked(NATIVE), 0, "unlocked");
    }

    function test_pay_erc20() public {
        _depositToken(address(token), 10 ether);
        _pay(address(token), payee, 10 ether);
        assertEq(escrow.balanceOf(address(token), payee), 9.9 ether, "payee");
        assertEq(escrow.balanceOf(address(token), treasury), 0.1 ether, "treasury");
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "ledgers are per token");
    }

    function test_pay_revertsOnInsufficientLocked() public {
        _depositNative(1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 1 ether, 1 ether + 1)
        );
        _pay(NATIVE, payee, 1 ether + 1);
    }

    function test_pay_cannotSpendAnotherTokensBudget() public {
        _depositNative(10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, address(token), 0, 1));
        _pay(address(token), payee, 1);
    }

    function test_pay_onlyMarket() public {
        _depositNative(1 ether);
        _expectUnauthorized(stranger, MARKET_ROLE);
        vm.prank(stranger);
        escrow.pay(JOB, NATIVE, _addrs(stranger), _amts(1 ether), FEE_BPS);
    }

    function test_pay_manyPayeesInOneCall() public {
        _depositNative(20 ether);
        address[] memory payees = _addrs(payee, payee2, payee3);
        uint256[] memory amounts = _amts(10 ether, 4 ether, 3 ether);
        uint256 fees = _fee(10 ether) + _fee(4 ether) + _fee(3 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, payees, amounts, FEE_BPS, fees); // gross amounts, summed fee
        _payMany(NATIVE, payees, amounts);
        assertEq(fees, 0.17 ether, "1% of each");
        assertEq(escrow.balanceOf(NATIVE, payee), 9.9 ether, "payee 1");
        assertEq(escrow.balanceOf(NATIVE, payee2), 3.96 ether, "payee 2");
        assertEq(escrow.balanceOf(NATIVE, payee3), 2.97 ether, "payee 3");
        assertEq(escrow.balanceOf(NATIVE, treasury), fees, "treasury credited the sum of the fees");
        assertEq(escrow.totalLocked(NATIVE), 3 ether, "locked dropped by the sum of the amounts");
        assertEq(address(escrow).balance, 20 ether, "still held until withdrawn");
    }

    function test_pay_manyPayeesErc20EachWithdraws() public {
        _depositToken(address(token), 10 ether);
        _payMany(address(token), _addrs(payee, payee2), _amts(6 ether, 4 ether));
        assertEq(_withdraw(payee, address(token)), 5.94 ether, "payee 1");
        assertEq(_withdraw(payee2, address(token)), 3.96 ether, "payee 2");
        assertEq(_withdraw(treasury, address(token)), 0.1 ether, "treasury");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow emptied");
        assertEq(escrow.totalLocked(address(token)), 0, "nothing locked");
    }

    function test_pay_feeRoundsDownPerPayee() public {
        _depositNative(1 ether);
        // 150 * 100 / 10_000 = 1 (1.5 rounded down) for each payee; the fee of the sum (300) would be 3.
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee, payee2), _amts(150, 150), FEE_BPS, 2);
        _payMany(NATIVE, _addrs(payee, payee2), _amts(150, 150));
        assertEq(escrow.balanceOf(NATIVE, payee), 149, "payee 1");
        assertEq(escrow.balanceOf(NATIVE, payee2), 149, "payee 2");
        assertEq(escrow.balanceOf(NATIVE, treasury), 2, "sum of the rounded per-payee fees");
        assertEq(escrow.totalLocked(NATIVE), 1 ether - 300, "locked");
    }

    function test_pay_allFeesRoundToZeroCreditNothingToTreasury() public {
        _depositNative(1 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee, payee2), _amts(99, 99), FEE_BPS, 0);
        _payMany(NATIVE, _addrs(payee, payee2), _amts(99, 99));
        assertEq(escrow.balanceOf(NATIVE, payee), 99, "payee 1");
        assertEq(escrow.balanceOf(NATIVE, payee2), 99, "payee 2");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    function test_pay_repeatedPayeeAccumulates() public {
        _depositNative(10 ether);
        _payMany(NATIVE, _addrs(payee, payee), _amts(6 ether, 4 ether));
        assertEq(escrow.balanceOf(NATIVE, payee), 9.9 ether, "both shares");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.1 ether, "treasury");
        assertEq(escrow.totalLocked(NATIVE), 0, "unlocked");
    }

    function test_pay_revertsOnLengthMismatch() public {
        _depositNative(10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.LengthMismatch.selector));
        _payMany(NATIVE, _addrs(payee, payee2), _amts(1 ether));
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.LengthMismatch.selector));
        _payMany(NATIVE, _addrs(payee), _amts(1 ether, 1 ether));
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.LengthMismatch.selector));
        _payMany(NATIVE, new address[](0), _amts(1 ether));
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "still locked");
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "nothing credited");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    function test_pay_revertsOnZeroPayee() public {
        _depositNative(10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        _payMany(NATIVE, _addrs(payee, address(0), payee2), _amts(1 ether, 1 ether, 1 ether));
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        _pay(NATIVE, address(0), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        _pay(NATIVE, address(0), 0);
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "payee before the zero address not credited");
        assertEq(escrow.balanceOf(NATIVE, address(0)), 0, "nothing credited to the zero address");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "still locked");
    }

    function test_pay_revertsWhenSumExceedsLocked() public {
        _depositNative(10 ether);
        // each amount fits on its own; together they do not
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 10 ether, 10 ether + 1)
        );
        _payMany(NATIVE, _addrs(payee, payee2), _amts(6 ether, 4 ether + 1));
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "nothing credited");
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "still locked");
    }

    function test_pay_emptyListChangesNothing() public {
        _depositNative(10 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, new address[](0), new uint256[](0), FEE_BPS, 0);
        _payMany(NATIVE, new address[](0), new uint256[](0));
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "still locked");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    // ------------------------------------------------------------------ refund

    function test_refund_creditsWholeAmountWithoutFee() public {
        _depositNative(10 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Refunded(JOB, requester, NATIVE, 4 ether);
        _refund(NATIVE, requester, 4 ether);
        assertEq(escrow.balanceOf(NATIVE, requester), 4 ether, "refunded");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
        assertEq(escrow.totalLocked(NATIVE), 6 ether, "rest locked");
    }

    function test_refund_revertsOnInsufficientLocked() public {
        _depositNative(1 ether);
        _pay(NATIVE, payee, 0.5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 0.5 ether, 1 ether)
        );
        _refund(NATIVE, requester, 1 ether);
    }

    function test_refund_revertsOnZeroRecipient() public {
        _depositNative(1 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        _refund(NATIVE, address(0), 1 ether);
        assertEq(escrow.totalLocked(NATIVE), 1 ether, "still locked");
        assertEq(escrow.balanceOf(NATIVE, address(0)), 0, "nothing credited to the zero address");
    }

    function test_refund_onlyMarket() public {
        _depositNative(1 ether);
        _expectUnauthorized(funder, MARKET_ROLE);
        vm.prank(funder);
        escrow.refund(JOB, NATIVE, funder, 1 ether);
    }

    // ------------------------------------------------------------------ totalLocked

    /// @dev The slot is stored plus one; the view, the InsufficientLocked error and later deposits must
    /// all see the true amount once everything was released.
    function test_totalLocked_trueAmountAfterFullReleaseAndRefill() public {
        assertEq(escrow.totalLocked(NATIVE), 0, "never used");
        _depositNative(3 ether);
        _pay(NATIVE, payee, 1 ether);
        _refund(NATIVE, requester, 2 ether);
        assertEq(escrow.totalLocked(NATIVE), 0, "emptied");
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 0, 1));
        _pay(NATIVE, payee, 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 0, 1));
        _refund(NATIVE, requester, 1);

        _depositNative(5 ether);
        assertEq(escrow.totalLocked(NATIVE), 5 ether, "refilled");
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, NATIVE, 5 ether, 5 ether + 1)
        );
        _pay(NATIVE, payee, 5 ether + 1);
        _payMany(NATIVE, _addrs(payee, payee2), _amts(2 ether, 3 ether));
        assertEq(escrow.totalLocked(NATIVE), 0, "emptied again");
        uint256 credits = escrow.balanceOf(NATIVE, payee) + escrow.balanceOf(NATIVE, payee2)
            + escrow.balanceOf(NATIVE, requester) + escrow.balanceOf(NATIVE, treasury);
        assertEq(address(escrow).balance, credits, "balance == credits");
    }

    function test_totalLocked_zeroPayOnUnusedTokenStaysZero() public {
        _pay(address(token), payee, 0);
        _refund(address(token), payee, 0);
        assertEq(escrow.totalLocked(address(token)), 0, "still zero");
        _depositToken(address(token), 5 ether);
        assertEq(escrow.totalLocked(address(token)), 5 ether, "deposit counted once");
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, address(token), 5 ether, 5 ether + 1)
        );
        _pay(address(token), payee, 5 ether + 1);
    }

    function test_totalLocked_perToken() public {
        _depositNative(2 ether);
        _depositToken(address(token), 7 ether);
        _pay(NATIVE, payee, 2 ether);
        assertEq(escrow.totalLocked(NATIVE), 0, "native emptied");
        assertEq(escrow.totalLocked(address(token)), 7 ether, "token untouched");
    }

    // ------------------------------------------------------------------ creditNative

    function test_creditNative_creditsAndEmits() public {
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.NativeCredited(payee, 2 ether);
        _credit(payee, 2 ether);
        assertEq(escrow.balanceOf(NATIVE, payee), 2 ether, "credited");
        assertEq(escrow.totalLocked(NATIVE), 0, "not a budget");
        assertEq(address(escrow).balance, 2 ether, "held");
    }

    /// @dev Changed with `bind`: the market is a funder too (it credits dispute-bond shares and dust), so
    /// the outsider here is a stranger; a payer or the admin cannot credit either.
    function test_creditNative_onlyFunder() public {
        vm.deal(stranger, 1 ether);
        _expectUnauthorized(stranger, FUNDER_ROLE);
        vm.prank(stranger);
        escrow.creditNative{value: 1 ether}(payee);
        vm.deal(admin, 1 ether);
        _expectUnauthorized(admin, FUNDER_ROLE);
        vm.prank(admin);
        escrow.creditNative{value: 1 ether}(payee);
        vm.prank(mkt);
        escrow.creditNative{value: 1 ether}(payee);
        assertEq(escrow.balanceOf(NATIVE, payee), 1 ether, "the bound market credits");
    }

    function test_creditNative_revertsOnZeroAmount() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAmount.selector));
        _credit(payee, 0);
    }

    function test_creditNative_revertsOnZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        _credit(address(0), 1 ether);
    }

    // ------------------------------------------------------------------ withdraw

    function test_withdraw_native() public {
        _credit(payee, 2 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Withdrawn(NATIVE, payee, 2 ether);
        uint256 amount = _withdraw(payee, NATIVE);
        assertEq(amount, 2 ether, "returned");
        assertEq(payee.balance, 2 ether, "received");
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "ledger cleared");
        assertEq(address(escrow).balance, 0, "escrow emptied");
    }

    function test_withdraw_erc20() public {
        _depositToken(address(token), 10 ether);
        _pay(address(token), payee, 10 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Withdrawn(address(token), payee, 9.9 ether);
        uint256 amount = _withdraw(payee, address(token));
        assertEq(amount, 9.9 ether, "returned");
        assertEq(token.balanceOf(payee), 9.9 ether, "received");
        assertEq(token.balanceOf(address(escrow)), 0.1 ether, "treasury share stays");
        _withdraw(treasury, address(token));
        assertEq(token.balanceOf(treasury), 0.1 ether, "treasury withdrew");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow emptied");
    }

    function test_withdraw_revertsWithNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NothingToWithdraw.selector, NATIVE, payee));
        _withdraw(payee, NATIVE);
    }

    function test_withdraw_revertsOnSecondWithdrawal() public {
        _credit(payee, 1 ether);
        _withdraw(payee, NATIVE);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NothingToWithdraw.selector, NATIVE, payee));
        _withdraw(payee, NATIVE);
    }

    function test_withdraw_onlyTheRequestedToken() public {
        _credit(payee, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NothingToWithdraw.selector, address(token), payee));
        _withdraw(payee, address(token));
    }

    function test_withdraw_lockedBudgetIsNotWithdrawable() public {
        _depositNative(5 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NothingToWithdraw.selector, NATIVE, mkt));
        _withdraw(mkt, NATIVE);
    }

    function test_withdraw_zeroesBalanceBeforeTransfer() public {
        WithdrawProbe probe = new WithdrawProbe(escrow);
        _credit(address(probe), 3 ether);
        probe.withdraw();
        assertEq(probe.balanceSeenDuringTransfer(), 0, "ledger cleared before the value was sent");
        assertEq(address(probe).balance, 3 ether, "received");
    }

    function test_withdraw_erc20ZeroesBalanceBeforeTransfer() public {
        ReentrantToken rt = _reentrantTokenPayee(10 ether);
        rt.arm(address(escrow), abi.encodeCall(PaymentEscrow.balanceOf, (address(rt), address(rt))));
        _withdraw(address(rt), address(rt));
        assertTrue(rt.lastCallSucceeded(), "probe ran during the transfer");
        assertEq(abi.decode(rt.lastReturn(), (uint256)), 0, "ledger cleared before the tokens moved");
        assertEq(rt.balanceOf(address(rt)), 10 ether, "received");
    }

    function test_withdraw_erc20ReentryThroughTokenFails() public {
        ReentrantToken rt = _reentrantTokenPayee(10 ether);
        rt.arm(address(escrow), abi.encodeCall(PaymentEscrow.withdraw, (address(rt))));

        _withdraw(address(rt), address(rt));

        assertFalse(rt.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(rt.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "stopped by the guard"
        );
        assertEq(rt.balanceOf(address(rt)), 10 ether, "paid once");
        assertEq(escrow.balanceOf(address(rt), address(rt)), 0, "ledger cleared");
    }

    function test_withdraw_reentrantReceiverCannotWithdrawTwice() public {
        ReentrantReceiver r = new ReentrantReceiver(escrow, registry);
        _credit(address(r), 2 ether);
        _credit(payee, 5 ether); // other funds the attacker would like to drain
        r.withdraw();
        assertEq(r.reentries(), 1, "re-entry attempted");
        assertFalse(r.reentrySucceeded(), "re-entry failed");
        assertEq(address(r).balance, 2 ether, "paid once");
        assertEq(address(escrow).balance, 5 ether, "others' credits intact");
        assertEq(escrow.balanceOf(NATIVE, payee), 5 ether, "payee credit intact");
    }

    function test_withdraw_rejectingReceiverRevertsAndKeepsBalance() public {
        RejectingReceiver rr = new RejectingReceiver();
        _credit(address(rr), 2 ether);
        vm.expectRevert(abi.encodeWithSignature("Error(string)", "no thanks"));
        _withdraw(address(rr), NATIVE);
        assertEq(escrow.balanceOf(NATIVE, address(rr)), 2 ether, "balance kept");
        assertEq(address(escrow).balance, 2 ether, "value kept");
    }

    // ------------------------------------------------------------------ token bonds

    function test_depositBond_pullsTokensAndEmits() public {
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondDeposited(address(token), prov, 30 ether, 30 ether);
        _depositBond(prov, address(token), 30 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondDeposited(address(token), prov, 5 ether, 35 ether);
        _depositBond(prov, address(token), 5 ether);
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 35 ether, "total");
        assertEq(locked, 0, "nothing locked");
        assertEq(token.balanceOf(address(escrow)), 35 ether, "escrow holds the bond");
        assertEq(token.balanceOf(prov), 965 ether, "pulled from the provider");
        // a bond is neither a budget nor a credit
        assertEq(escrow.totalLocked(address(token)), 0, "not a budget");
        assertEq(escrow.balanceOf(address(token), prov), 0, "not a credit");
        (total,) = escrow.bondOf(address(feeToken), prov);
        assertEq(total, 0, "bonds are per token");
    }

    function test_depositBond_rejections() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAmount.selector));
        _depositBond(prov, address(token), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NativeBondNotSupported.selector));
        _depositBond(prov, NATIVE, 1 ether);
        address eoa = address(0x70CE);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NotAContract.selector, eoa));
        _depositBond(prov, eoa, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 0, 1 ether)
        );
        _depositBond(stranger, address(token), 1 ether);
        (uint256 total,) = _bond(prov);
        assertEq(total, 0, "nothing bonded");
    }

    function test_depositBond_rejectsFeeOnTransferToken() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.TransferAmountMismatch.selector, address(feeToken), 100 ether, 99 ether
            )
        );
        _depositBond(prov, address(feeToken), 100 ether);
        (uint256 total,) = escrow.bondOf(address(feeToken), prov);
        assertEq(total, 0, "nothing bonded");
        assertEq(feeToken.balanceOf(prov), 1_000 ether, "provider untouched");
        assertEq(feeToken.balanceOf(address(escrow)), 0, "escrow holds nothing");
    }

    function test_depositBond_revertsOnOverflow() public {
        uint256 max = type(uint128).max;
        token.mint(prov, max);
        _depositBond(prov, address(token), max - 1_000 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.BondOverflow.selector));
        _depositBond(prov, address(token), 1_000 ether + 1);
        _depositBond(prov, address(token), 1_000 ether); // exactly the maximum fits
        (uint256 total,) = _bond(prov);
        assertEq(total, max, "at the maximum");
    }

    function test_depositBond_reentryThroughTokenFails() public {
        ReentrantToken rt = new ReentrantToken();
        rt.mint(prov, 10 ether);
        vm.prank(prov);
        rt.approve(address(escrow), type(uint256).max);
        rt.arm(address(escrow), abi.encodeCall(PaymentEscrow.depositBond, (address(rt), 1 ether)));
        _depositBond(prov, address(rt), 5 ether);
        assertFalse(rt.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(rt.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "stopped by the guard"
        );
        (uint256 total,) = escrow.bondOf(address(rt), prov);
        assertEq(total, 5 ether, "only the outer deposit");
        assertEq(rt.balanceOf(address(escrow)), 5 ether, "balance matches");
    }

    function test_withdrawBond_freePartOnly() public {
        _depositBond(prov, address(token), 10 ether);
        assertTrue(_lockBond(prov, 6 ether), "locked");
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientFreeBond.selector, address(token), prov, 5 ether, 4 ether)
        );
        _withdrawBond(prov, address(token), 5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientFreeBond.selector, address(token), prov, 0, 4 ether)
        );
        _withdrawBond(prov, address(token), 0);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondWithdrawn(address(token), prov, 4 ether, 6 ether);
        _withdrawBond(prov, address(token), 4 ether);
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 6 ether, "total");
        assertEq(locked, 6 ether, "locked untouched");
        assertEq(token.balanceOf(prov), 994 ether, "received");
        assertEq(token.balanceOf(address(escrow)), 6 ether, "the locked part stays");
        // once released, the rest comes out
        _releaseBond(prov, 6 ether);
        _withdrawBond(prov, address(token), 6 ether);
        (total,) = _bond(prov);
        assertEq(total, 0, "emptied");
        assertEq(token.balanceOf(prov), 1_000 ether, "all back");
    }

    function test_withdrawBond_nobodyElsesBond() public {
        _depositBond(prov, address(token), 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientFreeBond.selector, address(token), stranger, 1, 0)
        );
        _withdrawBond(stranger, address(token), 1);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentEscrow.InsufficientFreeBond.selector, address(token), mkt, 1, 0)
        );
        _withdrawBond(mkt, address(token), 1);
        (uint256 total,) = _bond(prov);
        assertEq(total, 10 ether, "untouched");
    }

    function test_pause_blocksDepositBondNotWithdrawBond() public {
        _depositBond(prov, address(token), 10 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _depositBond(prov, address(token), 1 ether);
        _withdrawBond(prov, address(token), 4 ether);
        (uint256 total,) = _bond(prov);
        assertEq(total, 6 ether, "withdrawn while paused");
        assertEq(token.balanceOf(prov), 994 ether, "received while paused");
    }

    function test_lockBond_locksAndEmits() public {
        _depositBond(prov, address(token), 10 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondLocked(address(token), prov, 4 ether, 4 ether);
        assertTrue(_lockBond(prov, 4 ether), "first");
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondLocked(address(token), prov, 6 ether, 10 ether);
        assertTrue(_lockBond(prov, 6 ether), "exactly the free rest");
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 10 ether, "total untouched");
        assertEq(locked, 10 ether, "locked");
    }

    function test_lockBond_beyondFreeReturnsFalseAndChangesNothing() public {
        _depositBond(prov, address(token), 10 ether);
        assertTrue(_lockBond(prov, 7 ether), "first");
        vm.recordLogs();
        assertFalse(_lockBond(prov, 3 ether + 1), "beyond the free part");
        assertFalse(_lockBond(stranger, 1), "no bond");
        vm.prank(funder);
        assertFalse(escrow.lockBond(prov, address(feeToken), 1), "no bond in that token");
        assertEq(vm.getRecordedLogs().length, 0, "no events");
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 10 ether, "total");
        assertEq(locked, 7 ether, "locked unchanged");
    }

    function test_releaseBond_capsAtLocked() public {
        _depositBond(prov, address(token), 10 ether);
        _lockBond(prov, 5 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondReleased(address(token), prov, 2 ether, 3 ether);
        _releaseBond(prov, 2 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondReleased(address(token), prov, 3 ether, 0); // what was locked, not 8
        _releaseBond(prov, 8 ether);
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(locked, 0, "capped at locked");
        assertEq(total, 10 ether, "total untouched");
        _releaseBond(stranger, 1 ether); // nothing locked: a no-op
        (total, locked) = _bond(stranger);
        assertEq(total + locked, 0, "stranger untouched");
    }

    function test_slashBond_takesFromTotalClampsLockedCreditsTreasury() public {
        _depositBond(prov, address(token), 10 ether);
        _lockBond(prov, 8 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.BondSlashed(address(token), prov, 5 ether, treasury);
        assertEq(_slashBond(prov, 5 ether), 5 ether, "taken");
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 5 ether, "taken from the total");
        assertEq(locked, 5 ether, "locked clamped to the total");
        assertEq(escrow.balanceOf(address(token), treasury), 5 ether, "treasury credited in the token");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "not in the native token");
        assertEq(token.balanceOf(address(escrow)), 10 ether, "tokens stay until withdrawn");

        // a slash within the free part leaves the lock alone
        _releaseBond(prov, 3 ether); // locked 2 of 5
        assertEq(_slashBond(prov, 1 ether), 1 ether, "taken");
        (total, locked) = _bond(prov);
        assertEq(total, 4 ether, "total");
        assertEq(locked, 2 ether, "lock kept");

        // capped at what exists
        assertEq(_slashBond(prov, 100 ether), 4 ether, "capped");
        (total, locked) = _bond(prov);
        assertEq(total, 0, "emptied");
        assertEq(locked, 0, "no lock left");
        vm.recordLogs();
        assertEq(_slashBond(prov, 1 ether), 0, "nothing to take");
        assertEq(vm.getRecordedLogs().length, 0, "no event for nothing");

        assertEq(_withdraw(treasury, address(token)), 10 ether, "treasury withdraws the slashed tokens");
        assertEq(token.balanceOf(treasury), 10 ether, "received");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow emptied");
    }

    function test_slashBond_creditsTheCurrentTreasury() public {
        _depositBond(prov, address(token), 10 ether);
        address newTreasury = address(0x7EA2);
        vm.prank(admin);
        escrow.setTreasury(newTreasury);
        _slashBond(prov, 2 ether);
        assertEq(escrow.balanceOf(address(token), newTreasury), 2 ether, "new treasury");
        assertEq(escrow.balanceOf(address(token), treasury), 0, "not the old one");
    }

    function test_bondHooks_onlyCollateralRole() public {
        _depositBond(prov, address(token), 10 ether);
        address[3] memory outsiders = [stranger, mkt, admin]; // the market moves budgets, not bonds
        for (uint256 i; i < 3; ++i) {
            _expectUnauthorized(outsiders[i], COLLATERAL_ROLE);
            vm.prank(outsiders[i]);
            escrow.lockBond(prov, address(token), 1 ether);
            _expectUnauthorized(outsiders[i], COLLATERAL_ROLE);
            vm.prank(outsiders[i]);
            escrow.releaseBond(prov, address(token), 1 ether);
            _expectUnauthorized(outsiders[i], COLLATERAL_ROLE);
            vm.prank(outsiders[i]);
            escrow.slashBond(prov, address(token), 1 ether);
        }
        _expectUnauthorized(prov, COLLATERAL_ROLE);
        vm.prank(prov);
        escrow.slashBond(prov, address(token), 1 ether);
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 10 ether, "total untouched");
        assertEq(locked, 0, "nothing locked");
        assertEq(escrow.balanceOf(address(token), treasury), 0, "nothing slashed");
    }

    function test_bondHooks_workWhilePaused() public {
        _depositBond(prov, address(token), 10 ether);
        _pause();
        assertTrue(_lockBond(prov, 4 ether), "lock");
        _releaseBond(prov, 1 ether);
        assertEq(_slashBond(prov, 2 ether), 2 ether, "slash");
        (uint256 total, uint256 locked) = _bond(prov);
        assertEq(total, 8 ether, "total");
        assertEq(locked, 3 ether, "locked");
    }

    function test_bonds_cannotBeSpentAsBudgetsOrCredits() public {
        _depositBond(prov, address(token), 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, address(token), 0, 1));
        _pay(address(token), payee, 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.InsufficientLocked.selector, address(token), 0, 1));
        _refund(address(token), payee, 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.NothingToWithdraw.selector, address(token), prov));
        _withdraw(prov, address(token));
        (uint256 total,) = _bond(prov);
        assertEq(total, 10 ether, "bond intact");
    }

    /// @dev The accounting rule with bonds: token balance == totalLocked + credits + bonds, across
    /// budgets, payouts, refunds, bond deposits, withdrawals, locks, releases and slashes.
    function test_bonds_accountingRule() public {
        _depositToken(address(token), 20 ether);
        _depositBond(prov, address(token), 30 ether);
        _lockBond(prov, 10 ether);
        _pay(address(token), payee, 8 ether);
        _slashBond(prov, 4 ether);
        _refund(address(token), payer, 2 ether);
        _releaseBond(prov, 6 ether);
        _withdrawBond(prov, address(token), 15 ether);
        _withdraw(payee, address(token));
        (uint256 bond,) = _bond(prov);
        uint256 credits = escrow.balanceOf(address(token), payee) + escrow.balanceOf(address(token), payer)
            + escrow.balanceOf(address(token), treasury);
        assertEq(bond, 11 ether, "bond: 30 - 4 slashed - 15 withdrawn");
        assertEq(escrow.totalLocked(address(token)), 10 ether, "budget: 20 - 8 - 2");
        assertEq(credits, 2 ether + 0.08 ether + 4 ether, "refund, fee, slash");
        assertEq(token.balanceOf(address(escrow)), escrow.totalLocked(address(token)) + credits + bond, "rule");
    }

    // ------------------------------------------------------------------ governance

    // Changed on purpose: setFee/feeBps/FeeUpdated are gone. The fee is a field of the market's versioned
    // params (governed through JobMarket.setParams, bounds in JobMarketAdmin.t.sol); the escrow charges
    // whatever fee `pay` carries, within MAX_FEE_BPS.

    function test_pay_feeAtMaxAcceptedAboveRejected() public {
        _depositNative(20 ether);
        _payAt(NATIVE, payee, 10 ether, 1_000);
        assertEq(escrow.balanceOf(NATIVE, payee), 9 ether, "max accepted");
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, 1_001, 1_000));
        _payAt(NATIVE, payee, 10 ether, 1_001);
        assertEq(escrow.totalLocked(NATIVE), 10 ether, "rejected payment left its budget locked");
        assertEq(escrow.balanceOf(NATIVE, treasury), 1 ether, "only the accepted fee");
    }

    function test_pay_feeOnlyFromTheMarket() public {
        // no one but the market can choose a fee: governance, the registry and strangers cannot pay
        _depositNative(1 ether);
        _expectUnauthorized(admin, MARKET_ROLE);
        vm.prank(admin);
        escrow.pay(JOB, NATIVE, _addrs(payee), _amts(1 ether), 0);
        _expectUnauthorized(funder, MARKET_ROLE);
        vm.prank(funder);
        escrow.pay(JOB, NATIVE, _addrs(payee), _amts(1 ether), 0);
        assertEq(escrow.totalLocked(NATIVE), 1 ether, "still locked");
    }

    function test_setTreasury_redirectsFutureFeesOnly() public {
        address newTreasury = address(0x7EA2);
        _depositNative(20 ether);
        _pay(NATIVE, payee, 10 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.TreasuryUpdated(newTreasury);
        vm.prank(admin);
        escrow.setTreasury(newTreasury);
        _pay(NATIVE, payee, 10 ether);
        assertEq(escrow.treasury(), newTreasury, "treasury");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.1 ether, "old treasury keeps its credit");
        assertEq(escrow.balanceOf(NATIVE, newTreasury), 0.1 ether, "new treasury gets new fees");
    }

    function test_setTreasury_revertsOnZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        vm.prank(admin);
        escrow.setTreasury(address(0));
    }

    function test_setTreasury_onlyGovernor() public {
        _expectUnauthorized(stranger, GOVERNOR_ROLE);
        vm.prank(stranger);
        escrow.setTreasury(stranger);
    }

    // ------------------------------------------------------------------ pause

    function test_pause_onlyPauser() public {
        _expectUnauthorized(stranger, PAUSER_ROLE);
        vm.prank(stranger);
        escrow.pause();
    }

    function test_unpause_onlyPauser() public {
        _pause();
        _expectUnauthorized(mkt, PAUSER_ROLE);
        vm.prank(mkt);
        escrow.unpause();
    }

    function test_pause_blocksDeposit() public {
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _depositNative(1 ether);
    }

    /// @dev Changed on purpose: a pause used to block withdrawals. It stops money entering, never owners
    /// taking out what they were credited.
    function test_pause_doesNotBlockWithdraw() public {
        _credit(payee, 1 ether);
        _depositToken(address(token), 10 ether);
        _pay(address(token), payee2, 10 ether);
        _pause();
        assertEq(_withdraw(payee, NATIVE), 1 ether, "native withdrawn while paused");
        assertEq(payee.balance, 1 ether, "native received");
        assertEq(_withdraw(payee2, address(token)), 9.9 ether, "token withdrawn while paused");
        assertEq(token.balanceOf(payee2), 9.9 ether, "token received");
        assertTrue(escrow.paused(), "still paused");
    }

    function test_pause_blocksErc20Deposit() public {
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _depositToken(address(token), 1 ether);
        assertEq(token.balanceOf(payer), 1_000 ether, "nothing pulled");
    }

    function test_pause_doesNotBlockPayRefundOrCredit() public {
        _depositNative(10 ether);
        _pause();
        _pay(NATIVE, payee, 4 ether);
        _refund(NATIVE, requester, 6 ether);
        _credit(payee, 1 ether);
        assertEq(escrow.balanceOf(NATIVE, payee), 4 ether - _fee(4 ether) + 1 ether, "paid and credited");
        assertEq(escrow.balanceOf(NATIVE, requester), 6 ether, "refunded");
        assertEq(escrow.totalLocked(NATIVE), 0, "all released");
    }

    function test_pause_unpauseRestoresDeposits() public {
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _depositNative(1 ether);
        vm.prank(admin);
        escrow.unpause();
        _depositNative(1 ether);
        _depositBond(prov, address(token), 1 ether);
        assertEq(escrow.totalLocked(NATIVE), 1 ether, "deposited after unpause");
        (uint256 total,) = _bond(prov);
        assertEq(total, 1 ether, "bonded after unpause");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_pay_feeSplitConservesAmount(uint256 amount, uint256 feeBps) public {
        amount = bound(amount, 1, 1_000_000 ether);
        uint16 fee = uint16(bound(feeBps, 0, 1_000));
        _depositNative(amount);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, NATIVE, _addrs(payee), _amts(amount), fee, amount * fee / 10_000);
        _payAt(NATIVE, payee, amount, fee);
        uint256 expectedFee = amount * fee / 10_000;
        assertEq(escrow.balanceOf(NATIVE, treasury), expectedFee, "fee");
        assertEq(escrow.balanceOf(NATIVE, payee) + expectedFee, amount, "conserved");
        assertLe(expectedFee * 10, amount, "fee at most 10%");
    }

    /// @dev Any fee above MAX_FEE_BPS is rejected and moves nothing.
    function testFuzz_pay_revertsAboveMaxFee(uint256 amount, uint16 feeBps) public {
        amount = bound(amount, 1, 1_000_000 ether);
        feeBps = uint16(bound(feeBps, 1_001, type(uint16).max));
        _depositNative(amount);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, feeBps, 1_000));
        _payAt(NATIVE, payee, amount, feeBps);
        assertEq(escrow.totalLocked(NATIVE), amount, "still locked");
        assertEq(escrow.balanceOf(NATIVE, payee), 0, "nothing credited");
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "no fee");
    }

    function testFuzz_payMany_creditsEachAndSumsPerPayeeFees(uint256 a, uint256 b, uint256 c, uint256 feeBps)
        public
    {
        uint16 fee = uint16(bound(feeBps, 0, 1_000));
        uint256[] memory amounts = _amts(bound(a, 0, 300_000 ether), bound(b, 0, 300_000 ether), bound(c, 0, 300_000 ether));
        address[] memory payees = _addrs(payee, payee2, payee3);
        uint256 total = amounts[0] + amounts[1] + amounts[2];
        _depositNative(total + 1); // one wei stays locked
        _payManyAt(NATIVE, payees, amounts, fee);

        uint256 fees;
        for (uint256 i; i < 3; ++i) {
            uint256 f = amounts[i] * fee / 10_000;
            assertEq(escrow.balanceOf(NATIVE, payees[i]), amounts[i] - f, "payee credited amount less its fee");
            fees += f;
        }
        assertEq(escrow.balanceOf(NATIVE, treasury), fees, "treasury: sum of per-payee fees");
        assertLe(fees, total * fee / 10_000, "never more than the fee of the sum");
        assertGe(fees + 2, total * fee / 10_000, "at most one wei of rounding per extra payee");
        assertEq(escrow.totalLocked(NATIVE), 1, "locked dropped by the sum");
        uint256 credits = escrow.balanceOf(NATIVE, payee) + escrow.balanceOf(NATIVE, payee2)
            + escrow.balanceOf(NATIVE, payee3) + fees;
        assertEq(credits, total, "conserved");
        assertEq(address(escrow).balance, escrow.totalLocked(NATIVE) + credits, "balance == locked + credits");
    }

    /// @dev Random deposit / pay / refund / credit / withdraw sequences keep the native accounting rule:
    /// balance == totalLocked + sum of credits (tracked independently here).
    function testFuzz_nativeAccountingInvariant(uint256 seed, uint8 steps, uint256 feeBps) public {
        uint16 fee = uint16(bound(feeBps, 0, 1_000));
        address[4] memory holders = [payee, requester, address(0x1111), treasury];
        uint256[4] memory credits;
        uint256 locked;
        uint256 n = bound(steps, 1, 40);

        for (uint256 s; s < n; ++s) {
            uint256 r = uint256(keccak256(abi.encode(seed, s)));
            uint256 op = r % 5;
            uint256 who = (r >> 8) % 3; // treasury is credited by fees only
            uint256 x = r >> 16;
            if (op == 0) {
                uint256 amount = bound(x, 1, 100 ether);
                _depositNative(amount);
                locked += amount;
            } else if (op == 1) {
                // every payment carries its own fee (each job its params version's): the fuzzed one, or
                // another in [0, MAX_FEE_BPS], so fees vary between payments with no state in between
                uint16 bps = s % 2 == 0 ? fee : uint16(uint256(keccak256(abi.encode(r, 2))) % 1_001);
                locked -= _payTwoStep(holders, credits, who, bound(x, 0, locked), r, bps);
            } else if (op == 2) {
                uint256 amount = bound(x, 0, locked);
                _refund(NATIVE, holders[who], amount);
                credits[who] += amount;
                locked -= amount;
            } else if (op == 3) {
                uint256 amount = bound(x, 1, 10 ether);
                _credit(holders[who], amount);
                credits[who] += amount;
            } else {
                uint256 h = (r >> 8) % 4;
                if (credits[h] != 0) {
                    assertEq(_withdraw(holders[h], NATIVE), credits[h], "withdrawn amount");
                    credits[h] = 0;
                }
            }

            uint256 sum;
            for (uint256 i; i < 4; ++i) {
                assertEq(escrow.balanceOf(NATIVE, holders[i]), credits[i], "credit tracked");
                sum += credits[i];
            }
            assertEq(escrow.totalLocked(NATIVE), locked, "locked tracked");
            assertEq(address(escrow).balance, escrow.totalLocked(NATIVE) + sum, "balance == locked + credits");
        }
    }

    /// @dev One call pays `amount` to two holders (possibly the same one twice) at fee `bps`; tracks the
    /// expected credits (treasury last) and returns what left the budget.
    function _payTwoStep(
        address[4] memory holders,
        uint256[4] memory credits,
        uint256 who,
        uint256 amount,
        uint256 r,
        uint16 bps
    ) internal returns (uint256) {
        uint256 first = bound(uint256(keccak256(abi.encode(r))), 0, amount);
        uint256 other = uint256(keccak256(abi.encode(r, 1))) % 3;
        _payManyAt(NATIVE, _addrs(holders[who], holders[other]), _amts(first, amount - first), bps);
        uint256 f1 = first * bps / 10_000;
        uint256 f2 = (amount - first) * bps / 10_000;
        credits[who] += first - f1;
        credits[other] += amount - first - f2;
        credits[3] += f1 + f2;
        return amount;
    }

    /// @dev The same rule for an ERC-20 budget, with the token balance of the escrow.
    function testFuzz_tokenAccountingInvariant(
        uint256 deposit1,
        uint256 deposit2,
        uint256 paid,
        uint256 split,
        uint256 refunded
    ) public {
        uint256 a = bound(deposit1, 1, 400 ether);
        uint256 b = bound(deposit2, 1, 400 ether);
        _depositToken(address(token), a);
        _depositToken(address(token), b);
        uint256 p = bound(paid, 0, a + b);
        uint256 p1 = bound(split, 0, p);
        _payMany(address(token), _addrs(payee, payee2), _amts(p1, p - p1));
        uint256 q = bound(refunded, 0, a + b - p);
        _refund(address(token), payer, q);
        uint256 credits = escrow.balanceOf(address(token), payee) + escrow.balanceOf(address(token), payee2)
            + escrow.balanceOf(address(token), treasury) + escrow.balanceOf(address(token), payer);
        assertEq(escrow.totalLocked(address(token)), a + b - p - q, "locked");
        assertEq(token.balanceOf(address(escrow)), escrow.totalLocked(address(token)) + credits, "balance rule");
    }

    /// @dev What testFuzz_tokenAccountingRuleWithBonds tracks, independently of the escrow.
    struct BondModel {
        address[2] provs;
        address[3] holders; // payee, payer, treasury
        uint256[3] credits;
        uint256[2] totals;
        uint256[2] lockeds;
        uint256 budget;
    }

    /// @dev Random budget and bond operations in one token keep the accounting rule
    /// balance == totalLocked + sum of credits + sum of bonds, with every figure tracked independently here,
    /// and a bond's locked part within its total.
    function testFuzz_tokenAccountingRuleWithBonds(uint256 seed, uint8 steps) public {
        address prov2 = address(0xB0D2);
        token.mint(prov2, 1_000 ether);
        vm.prank(prov2);
        token.approve(address(escrow), type(uint256).max);
        BondModel memory m;
        m.provs = [prov, prov2];
        m.holders = [payee, payer, treasury];
        uint256 n = bound(steps, 1, 40);
        for (uint256 s; s < n; ++s) {
            _bondStep(m, uint256(keccak256(abi.encode(seed, s))));
            _checkBondModel(m);
        }
    }

    function _bondStep(BondModel memory m, uint256 r) internal {
        uint256 op = r % 9;
        uint256 k = (r >> 8) % 2;
        address pv = m.provs[k];
        uint256 x = r >> 16;
        if (op == 0) {
            uint256 amount = bound(x, 1, 50 ether);
            _depositToken(address(token), amount);
            m.budget += amount;
        } else if (op == 1) {
            uint256 amount = bound(x, 0, m.budget);
            _pay(address(token), payee, amount);
            uint256 fee = amount * FEE_BPS / 10_000;
            m.credits[0] += amount - fee;
            m.credits[2] += fee;
            m.budget -= amount;
        } else if (op == 2) {
            uint256 amount = bound(x, 0, m.budget);
            _refund(address(token), payer, amount);
            m.credits[1] += amount;
            m.budget -= amount;
        } else if (op == 3) {
            uint256 amount = bound(x, 1, 40 ether);
            _depositBond(pv, address(token), amount);
            m.totals[k] += amount;
        } else if (op == 4) {
            uint256 free = m.totals[k] - m.lockeds[k];
            if (free == 0) return;
            uint256 amount = bound(x, 1, free);
            _withdrawBond(pv, address(token), amount);
            m.totals[k] -= amount;
        } else if (op == 5) {
            uint256 amount = bound(x, 0, 60 ether);
            bool ok = _lockBond(pv, amount);
            assertTrue(ok == (amount <= m.totals[k] - m.lockeds[k]), "lock iff free bond covers it");
            if (ok) m.lockeds[k] += amount;
        } else if (op == 6) {
            uint256 amount = bound(x, 0, 60 ether);
            _releaseBond(pv, amount);
            m.lockeds[k] -= amount < m.lockeds[k] ? amount : m.lockeds[k];
        } else if (op == 7) {
            uint256 amount = bound(x, 0, 60 ether);
            uint256 expected = amount < m.totals[k] ? amount : m.totals[k];
            assertEq(_slashBond(pv, amount), expected, "slash takes up to the total");
            m.totals[k] -= expected;
            if (m.lockeds[k] > m.totals[k]) m.lockeds[k] = m.totals[k];
            m.credits[2] += expected;
        } else {
            uint256 h = (r >> 8) % 3;
            if (m.credits[h] != 0) {
                assertEq(_withdraw(m.holders[h], address(token)), m.credits[h], "withdrawn amount");
                m.credits[h] = 0;
            }
        }
    }

    function _checkBondModel(BondModel memory m) internal view {
        uint256 sum = m.budget;
        for (uint256 i; i < 3; ++i) {
            assertEq(escrow.balanceOf(address(token), m.holders[i]), m.credits[i], "credit tracked");
            sum += m.credits[i];
        }
        for (uint256 i; i < 2; ++i) {
            (uint256 total, uint256 locked) = _bond(m.provs[i]);
            assertEq(total, m.totals[i], "bond total tracked");
            assertEq(locked, m.lockeds[i], "bond lock tracked");
            assertLe(locked, total, "locked <= total");
            sum += total;
        }
        assertEq(escrow.totalLocked(address(token)), m.budget, "budget tracked");
        assertEq(token.balanceOf(address(escrow)), sum, "balance == locked + credits + bonds");
    }
}
