"""Content addressing (IPFS-compatible CIDs) and the local content store."""

from polkacompute.store.cid import cid_from_digest, cid_of, digest_of, verify
from polkacompute.store.local import ContentStore

__all__ = ["ContentStore", "cid_from_digest", "cid_of", "digest_of", "verify"]
