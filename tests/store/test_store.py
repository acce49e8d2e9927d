"""CIDs (checked against IPFS's own values) and the local content store."""

import hashlib
from pathlib import Path

import pytest

from polkacompute.errors import ContentError
from polkacompute.store import ContentStore, cid_from_digest, cid_of, digest_of, verify


def test_cids_match_ipfs() -> None:
    # `ipfs add --cid-version 1 --raw-leaves` of "hello" (no newline) gives this CID.
    assert cid_of(b"hello") == "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
    assert digest_of(cid_of(b"hello")) == hashlib.sha256(b"hello").digest()
    assert cid_from_digest(hashlib.sha256(b"hello").digest()) == cid_of(b"hello")


@pytest.mark.parametrize("codec", ["raw", "dag-cbor"])
def test_fast_cids_agree_with_multiformats(codec: str) -> None:
    from multiformats import CID, multihash

    for i in range(200):
        digest = hashlib.sha256(i.to_bytes(4, "big")).digest()
        reference = str(CID("base32", 1, codec, multihash.wrap(digest, "sha2-256")))
        assert cid_from_digest(digest, codec) == reference
        assert digest_of(reference) == digest


@pytest.mark.parametrize(
    ("cid", "message"),
    [("not-a-cid", "is not a CID"),
     ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "codec dag-pb"),  # CIDv0: dag-pb
     ("bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4", "uses blake3")],
)  # fmt: skip
def test_bad_cids_are_refused_clearly(cid: str, message: str) -> None:
    with pytest.raises(ContentError, match=message):
        digest_of(cid)


def test_store_round_trip_and_dedup(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    cid = store.put(b"program bytes")
    assert store.put(b"program bytes") == cid
    assert store.has(cid)
    assert store.get(cid) == b"program bytes"
    assert store.size(cid) == 13


def test_corrupted_blob_is_never_returned(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    cid = store.put(b"the real program")
    blob = next((tmp_path / "blobs").rglob(cid))
    blob.write_bytes(b"a tampered program")
    with pytest.raises(ContentError, match=f"content does not match {cid}"):
        store.get(cid)
    with pytest.raises(ContentError, match="does not match"):
        verify(cid_of(b"x"), b"y")


def test_missing_content_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="is not in the store"):
        ContentStore(tmp_path).get(cid_of(b"never stored"))
