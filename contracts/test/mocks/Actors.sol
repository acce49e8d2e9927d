// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {PaymentEscrow} from "../../src/PaymentEscrow.sol";
import {ProviderRegistry} from "../../src/ProviderRegistry.sol";

/// @notice A payee that re-enters on receiving native value: tries to withdraw again.
contract ReentrantReceiver {
    PaymentEscrow public immutable escrow;
    ProviderRegistry public immutable registry;
    uint256 public reentries;
    bool public reentrySucceeded;

    constructor(PaymentEscrow escrow_, ProviderRegistry registry_) {
        escrow = escrow_;
        registry = registry_;
    }

    function register(uint32 caps) external payable {
        registry.register{value: msg.value}(caps, bytes32(0), "", "");
    }

    function unbondAll(uint96 amount) external {
        registry.requestUnbond(amount);
    }

    function withdrawUnbonded() external {
        registry.withdrawUnbonded();
    }

    function withdraw() external {
        escrow.withdraw(address(0));
    }

    receive() external payable {
        if (reentries == 0) {
            ++reentries;
            (bool ok1,) = address(escrow).call(abi.encodeCall(PaymentEscrow.withdraw, (address(0))));
            (bool ok2,) = address(registry).call(abi.encodeCall(ProviderRegistry.withdrawUnbonded, ()));
            reentrySucceeded = ok1 || ok2;
        }
    }
}

/// @notice A contract that refuses native value.
contract RejectingReceiver {
    receive() external payable {
        revert("no thanks");
    }
}
