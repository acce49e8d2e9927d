"""Outbound requests to remotes named by the chain, a peer or a requester: the policy (`policy`), and
the two ways it is applied, HTTP (`http`) and libp2p dials (`dial`). docs/security.md, "Outbound requests"."""

from polkacompute.net.policy import LOCAL, OutboundPolicy

__all__ = ["LOCAL", "OutboundPolicy"]
