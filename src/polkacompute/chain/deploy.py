"""Deploying the protocol to a network, and finding a deployment again by network name.

A deployment file (`deployments/<network>.json`) records the chain id, the block, every address, the
keccak256 of every contract's on-chain runtime code and the compiler settings, so a client can check
that it talks to the code it was built for.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from polkacompute.chain.accounts import home
from polkacompute.chain.client import ChainClient
from polkacompute.contracts import artifact
from polkacompute.errors import DeploymentError

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class DeployConfig:
    """Initial parameters; governance can change them later within the contracts' bounds."""

    treasury: str | None = None  # default: the deployer
    guardian: str | None = None  # may pause (stops money entering, never withdrawals); default: the deployer
    arbiter: str | None = None  # rules disputes; default: the deployer
    governance_delay: int = 2 * 86_400  # the timelock's minimum delay on every governance action
    admin_delay: int = 86_400  # a default-admin transfer is accepted only this long after it began
    min_stake: int = 10**18
    unbonding_period: int = 86_400
    # MarketParams, field for field: collateral, mismatch and no-show slash (bps), reputation reward and
    # penalties, protocol fee (bps), minimum commit window (s), least price per replica that earns
    # reputation (wei), minimum reveal window, reveal grace, ruling period, maximum bid window, job
    # duration and dispute window (s), dispute bond (wei).
    market_params: tuple[int, ...] = (
        10_000,
        10_000,
        5_000,
        10,
        1_000,
        300,
        100,
        30,
        10**15,
        30,
        300,
        3 * 86_400,
        86_400,
        30 * 86_400,
        7 * 86_400,
        10**17,
    )


@dataclass(frozen=True)
class Deployment:
    network: str
    chain_id: int
    block: int
    deployer: str
    addresses: dict[str, str]
    code_hashes: dict[str, str]
    compiler: dict[str, Any] = field(default_factory=dict)
    deployed_at: int = 0

    def address(self, name: str) -> str:
        try:
            return self.addresses[name]
        except KeyError:
            raise DeploymentError(f"deployment for {self.network!r} has no {name}") from None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        return cls(**json.loads(text))


def deployment_paths(network: str) -> list[Path]:
    """Where a network's deployment is looked for, in order."""
    paths = []
    if env := os.environ.get("POLKACOMPUTE_DEPLOYMENTS"):
        paths.append(Path(env) / f"{network}.json")
    if network == "local":  # written by `polkacompute devnet up`
        paths.append(Path.cwd() / ".polkacompute" / "devnet" / "deployments" / "local.json")
    paths += [Path.cwd() / "deployments" / f"{network}.json", home() / "deployments" / f"{network}.json"]
    return paths


def load_deployment(network: str, path: Path | None = None) -> Deployment:
    for candidate in [path] if path else deployment_paths(network):
        if candidate.exists():
            return Deployment.from_json(candidate.read_text())
    raise DeploymentError(
        f"no deployment found for network {network!r}",
        hint=f"deploy with `polkacompute deploy --network {network}` (looked in "
        + ", ".join(str(p) for p in ([path] if path else deployment_paths(network)))
        + ")",
    )


def save_deployment(deployment: Deployment, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{deployment.network}.json"
    path.write_text(deployment.to_json())
    return path


async def deploy(client: ChainClient, config: DeployConfig | None = None) -> Deployment:
    """Deploys and wires every contract. Governance (the admin and governor of every contract) is a
    timelock whose proposer is the deployer; the deployer is also guardian and arbiter unless the config
    names others, and wires the contracts to each other once (nobody can re-wire them later)."""
    config = config or DeployConfig()
    signer = client._require_signer()
    deployer = signer.address
    start = await client.block_number()
    addresses: dict[str, str] = {}

    async def create(name: str, *args: Any) -> str:
        art = artifact(name)
        factory = client.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = await client.send_raw({"data": data})
        address = str(receipt["contractAddress"])
        addresses[name] = address
        return address

    # Anyone may execute a proposal once its delay has passed (executor address(0)).
    admin = await create("Governance", config.governance_delay, [deployer], [ZERO_ADDRESS])
    delay, guardian = config.admin_delay, config.guardian or deployer
    escrow = await create("PaymentEscrow", admin, delay, guardian, config.treasury or deployer)
    registry = await create(
        "ProviderRegistry", admin, delay, guardian, escrow, config.min_stake, config.unbonding_period
    )
    book = await create("BidBook", admin, delay, guardian, registry)
    extension = await create("JobMarketExtension", registry, escrow, book)
    roles = (admin, delay, guardian, config.arbiter or deployer)
    market = await create("JobMarket", roles, registry, escrow, book, extension, config.market_params)

    # Contract-to-contract roles, wired once by the deployer: nobody can grant or revoke them later.
    for fn in (
        client.contract("PaymentEscrow", escrow).functions.bind(market, registry),
        client.contract("ProviderRegistry", registry).functions.bind(market, book),
        client.contract("BidBook", book).functions.bindMarket(market),
    ):
        await client.send(fn)

    hashes = {}
    for name, address in addresses.items():
        code = await client.w3.eth.get_code(address)  # type: ignore[arg-type]
        if not code:
            raise DeploymentError(f"{name} at {address} has no code after deployment")
        hashes[name] = "0x" + keccak(bytes(code)).hex()
    art = artifact("JobMarket")
    return Deployment(
        network=client.network.name,
        chain_id=client.network.chain_id,
        block=start,
        deployer=deployer,
        addresses=addresses,
        code_hashes=hashes,
        compiler={"version": art.compiler, **art.settings},
        deployed_at=int(time.time()),
    )


async def verify_deployment(client: ChainClient, deployment: Deployment) -> None:
    """Fails unless the chain id matches and every contract's runtime code is the recorded one."""
    if deployment.chain_id != client.network.chain_id:
        net = client.network
        raise DeploymentError(f"deployment is for chain {deployment.chain_id}, network {net.name!r} is {net.chain_id}")
    for name, address in deployment.addresses.items():
        code = await client.w3.eth.get_code(address)  # type: ignore[arg-type]
        if "0x" + keccak(bytes(code)).hex() != deployment.code_hashes.get(name):
            raise DeploymentError(
                f"{name} at {address} does not hold the deployed code",
                hint="the chain was reset or the deployment file is stale: deploy again",
            )
