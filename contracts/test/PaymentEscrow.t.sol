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
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    address internal constant NATIVE = address(0);
    uint256 internal constant JOB = 7;

    /// @dev Stand-ins for the JobMarket (MARKET_ROLE) and the registry (FUNDER_ROLE).
    address internal mkt = address(0x3A3);
    address internal funder = address(0xF0F);
    address internal payer = address(0xCAFE);
    address internal payee = address(0xB0B);
    address internal stranger = address(0x5757);

    TestToken internal token;
    FeeOnTransferToken internal feeToken;

    function setUp() public override {
        super.setUp();
        vm.startPrank(admin);
        escrow.grantRole(MARKET_ROLE, mkt);
        escrow.grantRole(FUNDER_ROLE, funder);
        vm.stopPrank();
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

    function _pay(address t, address to, uint256 amount) internal {
        vm.prank(mkt);
        escrow.pay(JOB, t, to, amount);
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

    function _expectUnauthorized(address account, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role));
    }

    function _pause() internal {
        vm.prank(admin);
        escrow.pause();
    }

    function _fee(uint256 amount) internal view returns (uint256) {
        return amount * escrow.feeBps() / 10_000;
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
        assertEq(escrow.feeBps(), FEE_BPS, "fee");
        assertTrue(escrow.hasRole(bytes32(0), admin), "admin");
        assertTrue(escrow.hasRole(GOVERNOR_ROLE, admin), "governor");
        assertTrue(escrow.hasRole(PAUSER_ROLE, admin), "pauser");
        assertFalse(escrow.hasRole(MARKET_ROLE, admin), "admin is not the market");
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        new PaymentEscrow(address(0), treasury, FEE_BPS);
    }

    function test_constructor_revertsOnZeroTreasury() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.ZeroAddress.selector));
        new PaymentEscrow(admin, address(0), FEE_BPS);
    }

    function test_constructor_revertsOnFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, 1_001, 1_000));
        new PaymentEscrow(admin, treasury, 1_001);
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
        vm.prank(payer);
        rt.approve(address(escrow), type(uint256).max);
        vm.prank(admin);
        escrow.grantRole(MARKET_ROLE, address(rt)); // so only the reentrancy guard can stop it
        rt.arm(address(escrow), abi.encodeCall(PaymentEscrow.deposit, (JOB, 1, address(rt), payer, 1 ether)));

        _depositToken(address(rt), 5 ether);

        assertFalse(rt.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(rt.lastReturn()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "stopped by the guard"
        );
        assertEq(escrow.totalLocked(address(rt)), 5 ether, "only the outer deposit");
        assertEq(rt.balanceOf(address(escrow)), 5 ether, "balance matches");
    }

    // ------------------------------------------------------------------ pay

    function test_pay_splitsFeeToTreasury() public {
        _depositNative(10 ether);
        uint256 fee = 10 ether * uint256(FEE_BPS) / 10_000;
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, payee, NATIVE, 10 ether - fee, fee);
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

    function test_pay_zeroFeeCreditsNothingToTreasury() public {
        vm.prank(admin);
        escrow.setFee(0);
        _depositNative(5 ether);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.Paid(JOB, payee, NATIVE, 5 ether, 0);
        _pay(NATIVE, payee, 5 ether);
        assertEq(escrow.balanceOf(NATIVE, treasury), 0, "treasury");
        assertEq(escrow.balanceOf(NATIVE, payee), 5 ether, "payee");
    }

    function test_pay_maxFee() public {
        vm.prank(admin);
        escrow.setFee(1_000);
        _depositNative(5 ether);
        _pay(NATIVE, payee, 5 ether);
        assertEq(escrow.balanceOf(NATIVE, treasury), 0.5 ether, "10% fee");
        assertEq(escrow.balanceOf(NATIVE, payee), 4.5 ether, "payee");
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
        escrow.pay(JOB, NATIVE, stranger, 1 ether);
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

    function test_refund_onlyMarket() public {
        _depositNative(1 ether);
        _expectUnauthorized(funder, MARKET_ROLE);
        vm.prank(funder);
        escrow.refund(JOB, NATIVE, funder, 1 ether);
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

    function test_creditNative_onlyFunder() public {
        _expectUnauthorized(mkt, FUNDER_ROLE);
        vm.prank(mkt);
        escrow.creditNative{value: 1 ether}(payee);
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

    // ------------------------------------------------------------------ governance

    function test_setFee_updatesAndEmits() public {
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.FeeUpdated(1_000);
        vm.prank(admin);
        escrow.setFee(1_000);
        assertEq(escrow.feeBps(), 1_000, "fee");
    }

    function test_setFee_revertsAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.FeeTooHigh.selector, 1_001, 1_000));
        vm.prank(admin);
        escrow.setFee(1_001);
    }

    function test_setFee_onlyGovernor() public {
        _expectUnauthorized(mkt, GOVERNOR_ROLE);
        vm.prank(mkt);
        escrow.setFee(0);
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

    function test_pause_blocksWithdraw() public {
        _credit(payee, 1 ether);
        _pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _withdraw(payee, NATIVE);
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

    function test_pause_unpauseRestoresWithdraw() public {
        _credit(payee, 1 ether);
        _pause();
        vm.prank(admin);
        escrow.unpause();
        assertEq(_withdraw(payee, NATIVE), 1 ether, "withdrawn");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_pay_feeSplitConservesAmount(uint256 amount, uint256 feeBps) public {
        amount = bound(amount, 1, 1_000_000 ether);
        uint16 fee = uint16(bound(feeBps, 0, 1_000));
        vm.prank(admin);
        escrow.setFee(fee);
        _depositNative(amount);
        _pay(NATIVE, payee, amount);
        uint256 expectedFee = amount * fee / 10_000;
        assertEq(escrow.balanceOf(NATIVE, treasury), expectedFee, "fee");
        assertEq(escrow.balanceOf(NATIVE, payee) + expectedFee, amount, "conserved");
        assertLe(expectedFee * 10, amount, "fee at most 10%");
    }

    /// @dev Random deposit / pay / refund / credit / withdraw sequences keep the native accounting rule:
    /// balance == totalLocked + sum of credits (tracked independently here).
    function testFuzz_nativeAccountingInvariant(uint256 seed, uint8 steps, uint256 feeBps) public {
        uint16 fee = uint16(bound(feeBps, 0, 1_000));
        vm.prank(admin);
        escrow.setFee(fee);
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
                uint256 amount = bound(x, 0, locked);
                _pay(NATIVE, holders[who], amount);
                uint256 f = amount * fee / 10_000;
                credits[who] += amount - f;
                credits[3] += f;
                locked -= amount;
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

    /// @dev The same rule for an ERC-20 budget, with the token balance of the escrow.
    function testFuzz_tokenAccountingInvariant(uint256 deposit1, uint256 deposit2, uint256 paid, uint256 refunded)
        public
    {
        uint256 a = bound(deposit1, 1, 400 ether);
        uint256 b = bound(deposit2, 1, 400 ether);
        _depositToken(address(token), a);
        _depositToken(address(token), b);
        uint256 p = bound(paid, 0, a + b);
        _pay(address(token), payee, p);
        uint256 q = bound(refunded, 0, a + b - p);
        _refund(address(token), payer, q);
        uint256 credits = escrow.balanceOf(address(token), payee) + escrow.balanceOf(address(token), treasury)
            + escrow.balanceOf(address(token), payer);
        assertEq(escrow.totalLocked(address(token)), a + b - p - q, "locked");
        assertEq(token.balanceOf(address(escrow)), escrow.totalLocked(address(token)) + credits, "balance rule");
    }
}
