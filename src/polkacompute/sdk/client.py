"""The SDK: `AsyncClient` is the one implementation; `Client` runs it on a private event loop.

async with AsyncClient("local", signer=dev_account(1)) as pc:
    handle = await pc.jobs.submit(spec)
    job = await pc.jobs.wait(handle.id, timeout=120)

with Client("local", signer=dev_account(1)) as pc:
    job = pc.jobs.get(1)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from polkacompute.chain.accounts import Signer
from polkacompute.chain.client import ChainClient, Receipt
from polkacompute.chain.deploy import Deployment, load_deployment
from polkacompute.chain.events import LogReader
from polkacompute.chain.networks import Network, get_network
from polkacompute.errors import ValidationError
from polkacompute.sdk.jobs import Jobs
from polkacompute.sdk.models import ZERO_ADDRESS, MarketParams, Provider
from polkacompute.sdk.portal import Portal
from polkacompute.sdk.work import Work


class AsyncClient:
    """Requester and provider operations on one network, over the shared chain layer."""

    def __init__(
        self,
        network: str | Network = "local",
        *,
        signer: Signer | None = None,
        deployment: Deployment | None = None,
        deployment_path: Path | None = None,
    ) -> None:
        self.network = get_network(network) if isinstance(network, str) else network
        self.chain = ChainClient(self.network, signer)
        self.deployment = deployment or load_deployment(self.network.name, deployment_path)
        self.market = self.chain.contract("JobMarket", self.deployment.address("JobMarket"))
        self.registry = self.chain.contract("ProviderRegistry", self.deployment.address("ProviderRegistry"))
        self.escrow_contract = self.chain.contract("PaymentEscrow", self.deployment.address("PaymentEscrow"))
        self.jobs = Jobs(self)
        self.providers = Providers(self)
        self.escrow = Escrow(self)
        self.work = Work(self)

    async def __aenter__(self) -> AsyncClient:
        await self.chain.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.chain.close()

    async def now(self) -> int:
        """The chain's latest block timestamp: deadlines are checked against it, not the local clock."""
        return int((await self.chain.w3.eth.get_block("latest"))["timestamp"])

    async def market_params(self) -> MarketParams:
        return MarketParams.from_tuple(await self.chain.call(self.market.functions.params()))


class Providers:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def register(
        self, *, stake: int, capabilities: int = 1, metadata_digest: bytes = b"\x00" * 32,
        peer_id: bytes = b"", region: str = "",
    ) -> Receipt:  # fmt: skip
        raw_region = region.encode()
        if len(raw_region) > 8:
            raise ValidationError("region", f"{region!r} is longer than 8 bytes", hint='e.g. "eu-west"')
        fn = self._c.registry.functions.register(capabilities, metadata_digest, peer_id, raw_region.ljust(8, b"\x00"))
        return await self._c.chain.send(fn, value=stake)

    async def add_stake(self, amount: int) -> Receipt:
        return await self._c.chain.send(self._c.registry.functions.addStake(), value=amount)

    async def unbond(self, amount: int) -> Receipt:
        return await self._c.chain.send(self._c.registry.functions.requestUnbond(amount))

    async def withdraw(self) -> Receipt:
        return await self._c.chain.send(self._c.registry.functions.withdrawUnbonded())

    async def peer_ids(self) -> dict[str, str]:
        """Provider address -> the peer id it registered last (a libp2p multiaddr, or a gateway URL)."""
        reader = LogReader(self._c.chain, self._c.deployment.addresses)
        found = await reader.read(self._c.deployment.block, await self._c.chain.block_number(),
                                  events=["ProviderRegistered", "ProviderUpdated"])  # fmt: skip
        return {str(e.args["provider"]): bytes(e.args["peerId"]).decode(errors="replace") for e in found}

    async def info(self, address: str | None = None) -> Provider:
        who = address or self._c.chain._require_signer().address
        data = await self._c.chain.call(self._c.registry.functions.providerInfo(who))
        return Provider.from_tuple(who, data)


class Escrow:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def balance(self, owner: str | None = None, token: str | None = None) -> int:
        who = owner or self._c.chain._require_signer().address
        fn = self._c.escrow_contract.functions.balanceOf(token or ZERO_ADDRESS, who)
        return int(await self._c.chain.call(fn))

    async def withdraw(self, token: str | None = None) -> Receipt:
        return await self._c.chain.send(self._c.escrow_contract.functions.withdraw(token or ZERO_ADDRESS))


class Client:
    """Blocking facade: every call runs the AsyncClient's coroutine on a private event loop thread."""

    def __init__(self, network: str | Network = "local", **kwargs: Any) -> None:
        self._portal = Portal()
        self._async = self._portal.run(_make(network, kwargs))
        self.jobs = _SyncNamespace(self._portal, self._async.jobs)
        self.providers = _SyncNamespace(self._portal, self._async.providers)
        self.escrow = _SyncNamespace(self._portal, self._async.escrow)

    def __enter__(self) -> Client:
        self._portal.run(self._async.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> int:
        """The chain's latest block timestamp."""
        return self._portal.run(self._async.now())

    def market_params(self) -> MarketParams:
        return self._portal.run(self._async.market_params())

    def close(self) -> None:
        self._portal.run(self._async.__aexit__())
        self._portal.close()


async def _make(network: str | Network, kwargs: dict[str, Any]) -> AsyncClient:
    return AsyncClient(network, **kwargs)  # built on the portal's loop, where its sessions live


class _SyncNamespace:
    """Wraps a namespace's coroutine methods into blocking calls and its async generators into iterators."""

    def __init__(self, portal: Portal, target: object) -> None:
        self._portal = portal
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.isasyncgenfunction(attr):
            return lambda *args, **kwargs: self._portal.iterate(attr(*args, **kwargs))
        if not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            coro: Coroutine[Any, Any, Any] = attr(*args, **kwargs)
            return self._portal.run(coro)

        return call


def _hex(value: Any) -> str:
    return value.to_0x_hex() if hasattr(value, "to_0x_hex") else str(value)
