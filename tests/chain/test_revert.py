from eth_abi import encode
from eth_utils import keccak

from polkacompute.chain.revert import decode_revert
from polkacompute.errors import ContractError, TransactionError


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_known_custom_error_decodes_with_names_and_hint() -> None:
    data = selector("NativeValueMismatch(uint256,uint256)") + encode(["uint256", "uint256"], [3, 2])
    err = decode_revert("0x" + data.hex(), tx_hash="0xabc")
    assert isinstance(err, ContractError)
    assert err.name == "NativeValueMismatch"
    assert err.args_by_name == {"expected": 3, "received": 2}
    assert err.tx_hash == "0xabc"
    assert "replicas x maxPricePerReplica" in str(err)


def test_require_string_and_panic_decode() -> None:
    err = decode_revert(selector("Error(string)") + encode(["string"], ["nope"]))
    assert isinstance(err, ContractError)
    assert err.args_by_name == {"message": "nope"}
    panic = decode_revert(selector("Panic(uint256)") + encode(["uint256"], [0x11]))
    assert isinstance(panic, ContractError)
    assert panic.args_by_name == {"code": 0x11}


def test_unknown_empty_and_malformed_data() -> None:
    assert "unknown error 0xdeadbeef" in str(decode_revert("0xdeadbeef"))
    assert "without a reason" in str(decode_revert(b""))
    bad = decode_revert(selector("NativeValueMismatch(uint256,uint256)") + b"\x01")
    assert type(bad) is TransactionError
    assert "malformed" in str(bad)
