"""Who may talk to the MLLP listener, and for how long: sender networks, a cap on connections, an idle
timeout, a deadline for a frame once its first byte arrives, and TLS (with client certificates when a
CA is given)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class ListenerPolicy:
    """The listener's limits; the defaults admit loopback only."""

    allow: tuple[Network, ...] = LOOPBACK
    max_connections: int = 50
    idle_seconds: float = 300.0
    frame_seconds: float = 30.0
    tls: ssl.SSLContext | None = field(default=None, compare=False)

    def admits(self, address: str) -> bool:
        """Whether a sender at `address` is on an allowed network."""
        try:
            peer = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        return any(peer.version == network.version and peer in network for network in self.allow)


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """`--allow` values as networks (ValueError naming the one that is not a network)."""
    found = []
    for cidr in cidrs:
        try:
            found.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--allow {cidr!r} is not an address or a network (CIDR)") from None
    return tuple(found)


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer); with `client_ca`, senders must show a certificate it
    signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context
