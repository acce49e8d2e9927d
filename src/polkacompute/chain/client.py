"""The one chain-access layer: connection, contracts, calls and transactions (async core).

The SDK, worker, indexer and CLI all go through `ChainClient`. It checks the chain id on connect,
signs locally (keys never leave the process), keeps its own nonce per sender so concurrent sends from
one process do not collide, buffers gas estimates per network, polls for receipts at the network's pace,
and turns reverts into `ContractError`s with the Solidity error name and arguments.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3._utils.error_formatters_utils import raise_contract_logic_error_on_revert
from web3.contract.async_contract import AsyncContract, AsyncContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import BlockIdentifier, RPCEndpoint, TxParams

from polkacompute.chain.accounts import Signer
from polkacompute.chain.networks import Network
from polkacompute.chain.revert import decode_revert
from polkacompute.contracts import abi
from polkacompute.errors import (
    ChainIdMismatch,
    InsufficientFunds,
    NetworkError,
    PolkaComputeError,
    ReceiptTimeout,
    TransactionError,
)

Receipt = dict[str, Any]
log = logging.getLogger(__name__)


class ChainClient:
    """Async access to one network, optionally with a signer for transactions."""

    def __init__(self, network: Network, signer: Signer | None = None, *, request_timeout: float = 30.0) -> None:
        if signer is not None:
            signer.check_network(network)
        self.network = network
        self.signer = signer
        self.w3 = AsyncWeb3(AsyncHTTPProvider(network.rpc_url, request_kwargs={"timeout": request_timeout}))
        self._nonce: int | None = None
        self._nonce_lock = asyncio.Lock()
        self._automine: bool | None = None
        self._fee_cache: tuple[float, dict[str, int]] | None = None

    async def connect(self) -> None:
        """Checks that the endpoint answers and serves the network's chain id."""
        try:
            chain_id = await self.w3.eth.chain_id
        except PolkaComputeError:
            raise
        except Exception as exc:
            raise NetworkError(
                f"cannot reach the RPC endpoint of network {self.network.name!r} at {self.network.rpc_url}",
                hint="is the node running? for the devnet: `polkacompute devnet up`",
            ) from exc
        if chain_id != self.network.chain_id:
            raise ChainIdMismatch(self.network.name, self.network.chain_id, chain_id)

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    async def __aenter__(self) -> ChainClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()  # do not leak the HTTP session of a client that never connected
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ contracts and reads

    def contract(self, name: str, address: str) -> AsyncContract:
        return self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(address), abi=abi(name))

    async def call(self, fn: AsyncContractFunction, block: BlockIdentifier = "latest") -> Any:
        """A read-only call; a revert becomes a typed error."""
        try:
            return await fn.call(block_identifier=block)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise _revert_error(exc) from None

    async def balance(self, address: str) -> int:
        return int(await self.w3.eth.get_balance(AsyncWeb3.to_checksum_address(address)))

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    # ------------------------------------------------------------------ transactions

    async def send(
        self,
        fn: AsyncContractFunction,
        *,
        value: int = 0,
        gas: int | None = None,
        on_sent: Callable[[str], None] | None = None,
        at_time: int | None = None,
    ) -> Receipt:
        """Estimates, signs, sends and waits; returns the receipt of a successful transaction.

        `on_sent(tx_hash)` runs as soon as the node accepted the transaction, before waiting for it:
        a caller that must survive a crash records the hash there (see the worker's state).
        `at_time` estimates as if in a block with that timestamp: a call valid only from a deadline
        on can be sent before the block that reaches it (the caller knows that block comes next).
        """
        signer = self._require_signer()
        call: dict[str, Any] = {"from": signer.address, "to": fn.address, "data": _calldata(fn), "value": value}
        if gas is None:
            try:
                if at_time is None:
                    estimate = await self.w3.eth.estimate_gas(cast(TxParams, call))
                else:
                    estimate = await self._estimate_at(call, at_time)
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                raise _revert_error(exc) from None
            except (ValueError, Web3RPCError) as exc:
                raise _rpc_error(exc) from exc
            gas = int(estimate * self.network.gas_buffer)
        tx = {**call, "gas": gas, "chainId": self.network.chain_id, **await self._fees()}
        return await self._sign_and_send(tx, fn, on_sent)

    async def _estimate_at(self, call: dict[str, Any], timestamp: int) -> int:
        """eth_estimateGas with a block override of the timestamp (web3.py has no parameter for it)."""
        response = await self.w3.provider.make_request(
            cast(RPCEndpoint, "eth_estimateGas"),
            [{**call, "value": hex(call["value"])}, "latest", {}, {"time": hex(timestamp)}],
        )
        if "error" in response:
            raise_contract_logic_error_on_revert(response)  # a revert: raises it as web3 would
            raise Web3RPCError(str(response["error"]))
        return int(response["result"], 16)

    async def automines(self) -> bool:
        """Whether the node mines a block per transaction (anvil's default): then a block may share
        its parent's timestamp. Interval-mining nodes and real chains answer False."""
        if self._automine is None:
            response = await self.w3.provider.make_request(cast(RPCEndpoint, "anvil_getAutomine"), [])
            self._automine = bool(response.get("result", False))
        return self._automine

    async def send_raw(self, tx: dict[str, Any]) -> Receipt:
        """A prepared transaction dict (e.g. a contract deployment): fills gas, fees and nonce, then sends."""
        signer = self._require_signer()
        tx = {"from": signer.address, "chainId": self.network.chain_id, "value": 0, **tx}
        if "gas" not in tx:
            try:
                tx["gas"] = int(await self.w3.eth.estimate_gas(tx) * self.network.gas_buffer)  # type: ignore[arg-type]
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                raise _revert_error(exc) from None
            except (ValueError, Web3RPCError) as exc:
                raise _rpc_error(exc) from exc
        tx.update(await self._fees())
        return await self._sign_and_send(tx, None)

    async def _sign_and_send(
        self, tx: dict[str, Any], fn: AsyncContractFunction | None, on_sent: Callable[[str], None] | None = None
    ) -> Receipt:
        signer = self._require_signer()
        async with self._nonce_lock:
            if self._nonce is None:
                sender = AsyncWeb3.to_checksum_address(signer.address)
                self._nonce = int(await self.w3.eth.get_transaction_count(sender, "pending"))
            tx["nonce"] = self._nonce
            signed = signer.account.sign_transaction(tx)
            try:
                tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except (ValueError, Web3RPCError) as exc:
                self._nonce = None  # resync on the next send
                raise _rpc_error(exc) from exc
            except Exception as exc:
                self._nonce = None
                raise NetworkError(f"sending the transaction to {self.network.rpc_url} failed: {exc}") from exc
            self._nonce += 1
        if on_sent is not None:
            on_sent(tx_hash.to_0x_hex())
        receipt = await self.wait(tx_hash.to_0x_hex())
        if receipt["status"] != 1:
            raise await self._failure(tx, receipt, fn)
        return receipt

    async def wait(self, tx_hash: str, within: float | None = None) -> Receipt:
        """Polls for a receipt for `within` seconds (the network's default): at the network's pace at
        first, then backing off to 20 polls per block-ish interval (a local node mining every second
        would otherwise answer 200 polls a second per waiting sender)."""
        limit = within or self.network.receipt_timeout
        deadline = time.monotonic() + limit
        pause = self.network.poll_interval
        while True:
            try:
                return dict(await self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
            except TransactionNotFound:
                pass
            if time.monotonic() >= deadline:
                raise ReceiptTimeout(
                    f"no receipt for {tx_hash} after {limit:.0f}s",
                    tx_hash=tx_hash,
                    hint="it may still be mined: check it later, the nonce is taken",
                )
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, max(self.network.poll_interval, 0.05))

    async def _failure(
        self, tx: dict[str, Any], receipt: Receipt, fn: AsyncContractFunction | None
    ) -> TransactionError:
        """Replays a reverted transaction as a call at its block to recover the revert data."""
        tx_hash = receipt["transactionHash"].to_0x_hex()
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            await self.w3.eth.call(call, block_identifier=receipt["blockNumber"])  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            error = _revert_error(exc)
            error.tx_hash = tx_hash
            return error
        except Exception as exc:  # the replay itself failed; report what we know
            log.debug("replaying reverted transaction %s failed: %s", tx_hash, exc)
        return TransactionError(f"transaction {tx_hash} reverted (out of gas?)", tx_hash=tx_hash)

    async def _fees(self) -> dict[str, int]:
        """EIP-1559 fees (2x the base fee plus the tip), read at most once a second: a busy sender
        would otherwise spend two requests per transaction on them."""
        if self._fee_cache is not None and time.monotonic() - self._fee_cache[0] < 1.0:
            return self._fee_cache[1]
        fees = await self._read_fees()
        self._fee_cache = (time.monotonic(), fees)
        return fees

    async def _read_fees(self) -> dict[str, int]:
        block = await self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(await self.w3.eth.gas_price)}
        try:
            tip = int(await self.w3.eth.max_priority_fee)
        except Exception:  # nodes without eth_maxPriorityFeePerGas
            tip = 0
        return {"maxFeePerGas": 2 * int(base) + tip, "maxPriorityFeePerGas": tip}

    def _require_signer(self) -> Signer:
        if self.signer is None:
            raise TransactionError("this client has no signer", hint="load an account to send transactions")
        return self.signer


def _revert_error(exc: Exception) -> TransactionError:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return decode_revert(data)
    message = getattr(exc, "message", None) or str(exc)
    return TransactionError(f"transaction would revert: {message}")


def _calldata(fn: AsyncContractFunction) -> str:
    """The call's data, encoded once with eth_abi (web3 encodes through a slow normalizing layer, twice
    per send); arguments only web3 understands (hex strings for bytes, ENS names) take its path."""
    if not fn.kwargs:
        try:
            types = [collapse_if_tuple(dict(i)) for i in fn.abi["inputs"]]
            return "0x" + (function_abi_to_4byte_selector(fn.abi) + abi_encode(types, fn.args)).hex()
        except (TypeError, ValueError, EncodingError):
            pass
    return str(fn._encode_transaction_data())


def _rpc_error(exc: Exception) -> TransactionError:
    text = str(exc)
    if "insufficient funds" in text.lower():
        return InsufficientFunds("the sender cannot pay for value plus gas", hint="fund the account and retry")
    return TransactionError(f"the node rejected the transaction: {text}")
