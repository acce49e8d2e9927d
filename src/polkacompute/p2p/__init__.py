"""Peer-to-peer networking between workers (libp2p): identities from account keys, a Noise-only host."""

from polkacompute.p2p.identity import key_pair_of, peer_id_of
from polkacompute.p2p.node import Node

__all__ = ["Node", "key_pair_of", "peer_id_of"]
