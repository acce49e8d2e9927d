// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The few Foundry cheatcodes these tests use, declared by hand: the npm `forge-std` package
/// is an unofficial 1.1.2 that predates forge 1.x, and the official one is not on a registry we reach.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert() external;
    function expectEmit() external;
    function expectEmit(address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;
    function assume(bool condition) external pure;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function getCode(string calldata artifactPath) external view returns (bytes memory);
    function getDeployedCode(string calldata artifactPath) external view returns (bytes memory);
    function readFile(string calldata path) external view returns (string memory);
    function snapshotState() external returns (uint256);
    function revertToState(uint256 snapshotId) external returns (bool);
}
