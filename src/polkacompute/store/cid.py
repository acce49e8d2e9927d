"""IPFS-compatible content addresses: CIDv1 with a sha2-256 multihash.

Programs, inputs and outputs are `raw` CIDs (the bytes themselves); results are `dag-cbor` CIDs (see
`polkacompute.sandbox.result`). Either way the multihash digest is the plain SHA-256 of the bytes,
which is what the contracts store (`programDigest`, `inputDigest`, `resultDigest`), so an on-chain
digest and a CID convert into each other without the content.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from multiformats import CID, multihash

from polkacompute.errors import ContentError

CODECS = ("raw", "dag-cbor")


def cid_of(data: bytes, codec: str = "raw") -> str:
    """The CIDv1 (base32, sha2-256) of `data`, e.g. `bafkrei...` for raw bytes."""
    return cid_from_digest(hashlib.sha256(data).digest(), codec)


@lru_cache(maxsize=4096)
def cid_from_digest(digest: bytes, codec: str = "raw") -> str:
    if len(digest) != 32:
        raise ContentError(f"a sha2-256 digest is 32 bytes, not {len(digest)}")
    if codec not in _PREFIX:
        raise ContentError(f"codec {codec!r} is not one of {', '.join(CODECS)}")
    return "b" + base64.b32encode(_PREFIX[codec] + digest).decode().lower().rstrip("=")


@lru_cache(maxsize=4096)
def digest_of(cid: str) -> bytes:
    """The SHA-256 digest a CID names (the on-chain form); refuses other hashes and codecs."""
    if len(cid) == 59 and cid[:1] == "b":  # CIDv1 base32 of a 36-byte sha2-256 CID: decoded directly
        try:
            raw = base64.b32decode(cid[1:].upper() + "======")  # 58 characters, padded to 64
        except ValueError:
            raw = b""
        if raw[:4] in _PREFIX.values():
            return raw[4:]
    try:
        parsed = CID.decode(cid)
    except (ValueError, KeyError) as exc:
        raise ContentError(f"{cid!r} is not a CID: {exc}") from None
    if parsed.hashfun.name != "sha2-256":
        raise ContentError(f"{cid} uses {parsed.hashfun.name}; PolkaCompute content is addressed by sha2-256")
    if parsed.codec.name not in CODECS:
        raise ContentError(f"{cid} has codec {parsed.codec.name}; expected one of {', '.join(CODECS)}")
    return bytes(parsed.raw_digest)


def verify(cid: str, data: bytes) -> bytes:
    """Returns `data` if its SHA-256 is the one `cid` names, else raises ContentError."""
    expected = digest_of(cid)
    actual = hashlib.sha256(data).digest()
    if actual != expected:
        raise ContentError(
            f"content does not match {cid}: its sha2-256 is {actual.hex()}, not {expected.hex()}",
            hint="the source served wrong or corrupted bytes; fetch from another",
        )
    return data


# multiformats validates its arguments at run time (~0.4 ms a CID), too slow for a worker making
# several per job: it gives the binary prefix of each codec once, and the base32 text form (RFC 4648,
# lower case, no padding, multibase prefix "b") is the standard library's. tests/store checks both agree.
_PREFIX = {codec: bytes(CID("base32", 1, codec, multihash.wrap(bytes(32), "sha2-256")))[:4] for codec in CODECS}
