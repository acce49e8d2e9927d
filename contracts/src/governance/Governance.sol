// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Governance
/// @notice OpenZeppelin's TimelockController, the admin and governor of every PolkaCompute contract: a
/// parameter change, a role grant or an admin transfer is proposed, waits `minDelay`, then executes.
/// @dev No admin of its own (the timelock administers itself); `executors` may include address(0) so
/// that anyone executes a proposal once its delay has passed.
contract Governance is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors)
        TimelockController(minDelay, proposers, executors, address(0))
    {}
}
