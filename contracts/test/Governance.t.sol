// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MarketFixture} from "./MarketFixture.t.sol";
import {Governance} from "../src/governance/Governance.sol";
import {PaymentEscrow} from "../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../src/ProviderRegistry.sol";
import {BidBook} from "../src/BidBook.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobMarketExtension} from "../src/JobMarketExtension.sol";
import {IJobMarket, IJobMarketTypes} from "../src/interfaces/IJobMarket.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";

/// @notice Finding 8 of the contracts review: who can do what, and with what delay.
contract GovernanceTest is MarketFixture {
    bytes32 internal constant NOBODY = keccak256("NOBODY");
    uint256 internal constant TIMELOCK_DELAY = 2 days;

    // ------------------------------------------------------------------ powers over other people's money

    function test_finding8_escrowAdminCannotGrantItselfMarketRole() public {
        bytes32 marketRole = escrow.MARKET_ROLE();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, NOBODY));
        escrow.grantRole(marketRole, admin);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, NOBODY));
        escrow.revokeRole(marketRole, address(market));
        // nor re-wire the contracts: binding is the deployer's, once
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, NOBODY));
        escrow.bind(admin, admin);
        vm.expectRevert(abi.encodeWithSignature("AlreadyBound()"));
        escrow.bind(admin, admin);
        assertTrue(escrow.hasRole(marketRole, address(market)), "the market keeps its role");
        assertFalse(escrow.hasRole(marketRole, admin), "the admin has none");
    }

    function test_finding8_noRoleSlashesStakeOutsideAJob() public {
        bytes32 marketRole = registry.MARKET_ROLE();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, NOBODY));
        registry.grantRole(marketRole, arbiter);
        vm.prank(arbiter);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, arbiter, marketRole)
        );
        registry.slash(providers[0], 1, address(0), 1 ether, "ARBITRARY");
        assertEq(info(providers[0]).stake, 100 ether, "stake untouched");
        // the arbiter's only power: ruling on a disputed job, which slashes that job's collateral at most
        uint256 jobId = finalizedJob(3, 2, 1 days, 3);
        vm.prank(arbiter);
        vm.expectRevert(wrongStatus(jobId, IJobMarketTypes.JobStatus.Finalized));
        market.resolveDispute(jobId, false);
    }

    function test_finding8_withdrawalsWorkWhilePaused() public {
        uint256 jobId = finalizedJob(3, 2, 0, 3);
        address w0 = workerAt(jobId, 0);
        vm.prank(w0);
        registry.requestUnbond(10 ether);
        vm.warp(block.timestamp + UNBONDING);
        vm.startPrank(admin);
        escrow.pause();
        registry.pause();
        market.pause();
        vm.stopPrank();
        uint256 before = w0.balance;
        vm.startPrank(w0);
        escrow.withdraw(address(0));
        registry.withdrawUnbonded();
        vm.stopPrank();
        assertEq(w0.balance - before, PRICE - FEE + 10 ether, "payout and unbonded stake out while paused");
    }

    // ------------------------------------------------------------------ delays

    function test_finding8_defaultAdminTransferIsTwoStepAndDelayed() public {
        address next = address(0x4E3);
        IAccessControlDefaultAdminRules[4] memory all = [
            IAccessControlDefaultAdminRules(address(escrow)),
            IAccessControlDefaultAdminRules(address(registry)),
            IAccessControlDefaultAdminRules(address(book)),
            IAccessControlDefaultAdminRules(address(market))
        ];
        for (uint256 i; i < all.length; ++i) {
            uint48 delay = all[i].defaultAdminDelay();
            assertEq(delay, ADMIN_DELAY, "delay set at construction");
            vm.prank(admin);
            all[i].beginDefaultAdminTransfer(next);
            vm.prank(next);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector,
                    uint48(block.timestamp + delay)
                )
            );
            all[i].acceptDefaultAdminTransfer();
            vm.warp(block.timestamp + delay + 1);
            vm.prank(next);
            all[i].acceptDefaultAdminTransfer();
            assertEq(all[i].defaultAdmin(), next, "transferred after the delay");
            vm.warp(block.timestamp - delay - 1);
        }
    }

    function test_finding8_parameterChangesWaitForTheTimelock() public {
        address proposer = address(0x9809);
        address[] memory proposers = new address[](1);
        proposers[0] = proposer;
        address[] memory executors = new address[](1); // address(0): anyone executes
        Governance gov = new Governance(TIMELOCK_DELAY, proposers, executors);
        JobMarketExtension ext = new JobMarketExtension(registry, escrow, book);
        IJobMarket governed = IJobMarket(
            address(
                new JobMarket(
                    IJobMarketTypes.Roles(address(gov), ADMIN_DELAY, admin, arbiter),
                    registry,
                    escrow,
                    book,
                    address(ext),
                    defaultParams()
                )
            )
        );
        IJobMarketTypes.MarketParams memory p = defaultParams();
        p.collateralBps = 20_000;
        bytes memory call = abi.encodeCall(IJobMarket.setParams, (p));
        // the proposer itself cannot govern directly
        bytes32 governor = governed.GOVERNOR_ROLE();
        vm.prank(proposer);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, proposer, governor)
        );
        governed.setParams(p);
        vm.prank(proposer);
        gov.schedule(address(governed), 0, call, bytes32(0), bytes32(0), TIMELOCK_DELAY);
        vm.expectRevert(); // TimelockUnexpectedOperationState: not ready yet
        gov.execute(address(governed), 0, call, bytes32(0), bytes32(0));
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        vm.prank(address(0xA11));
        gov.execute(address(governed), 0, call, bytes32(0), bytes32(0));
        assertEq(governed.params().collateralBps, 20_000, "applied after the delay");
        assertEq(governed.paramsVersion(), 2, "a new version");
    }
}
