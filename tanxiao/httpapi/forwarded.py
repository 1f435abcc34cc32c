"""Which address an HTTP request came from, for the gateway's throttling and its log.

``X-Forwarded-For`` is any client's to write, so it is believed only as far as it was written by
proxies we trust (TANXIAO_HTTP_TRUSTED_PROXIES): when the socket peer is one of them, the header is
read from the right (each proxy appends the address it saw) past the trusted proxies, and the first
address that is not one of them is the client. A client's own entries are further left and never
reached, so it cannot pick its address. With no trusted proxies (the default), or a peer that is not
one, the header is ignored and the socket peer is the client. An entry that is not an address, met
before any untrusted one, stops the walk at the last proxy we trusted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """Addresses and networks (CIDR) of the reverse proxies in front of the console."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """``"10.0.0.5, 10.1.0.0/16, ::1"``; ValueError naming a bad entry."""
        networks = []
        for entry in filter(None, (part.strip() for part in text.split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {entry!r}") from None
        return cls(networks)

    def __contains__(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


def parse_address(text: str) -> Address | None:
    """``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:443`` -> the address; None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has two colons at least)
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: TrustedProxies) -> str:
    """The client's address: ``peer`` (the socket's), or, when ``peer`` is a trusted proxy, the
    right-most address of the X-Forwarded-For headers (``forwarded_for``, in arrival order) that is not
    a trusted proxy. "" when the peer is unknown."""
    hop = parse_address(peer or "")
    if hop is None or hop not in trusted:
        return peer or ""
    entries = [entry for header in forwarded_for for entry in header.split(",") if entry.strip()]
    for entry in reversed(entries):
        address = parse_address(entry)
        if address is None:
            break  # a malformed entry: nothing left of it can be trusted
        hop = address
        if address not in trusted:
            break
    return str(hop)
