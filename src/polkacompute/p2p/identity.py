"""A worker's libp2p identity, derived from its Ethereum account key.

The same keystore yields the same peer id on every start, so the peer id a worker registers in the
ProviderRegistry stays valid across restarts; the derivation is one-way and domain-separated, so the
libp2p key reveals nothing of the account key.
"""

from __future__ import annotations

from eth_utils.crypto import keccak
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from polkacompute.chain.accounts import Signer

DOMAIN = b"polkacompute/p2p/identity/v1"


def key_pair_of(signer: Signer) -> KeyPair:
    """The ed25519 key pair of `signer`'s libp2p identity."""
    return create_new_key_pair(keccak(DOMAIN + bytes(signer.account.key)))


def peer_id_of(signer: Signer) -> str:
    """`signer`'s libp2p peer id (base58, `12D3KooW...`)."""
    return ID.from_pubkey(key_pair_of(signer).public_key).to_base58()
