"""Which addresses a port is listened on, read from /proc/net (Linux; no psutil needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


def listening_addresses(port: int) -> set[str]:
    """Every local address with a TCP socket listening on `port` (IPv4 and IPv6)."""
    found: set[str] = set()
    for table, width in (("tcp", 4), ("tcp6", 16)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == _LISTEN and int(port_hex, 16) == port:
                found.add(_address(bytes.fromhex(address), width))
    return found


def _address(raw: bytes, width: int) -> str:
    # /proc/net writes each 32-bit word in host (little-endian) order.
    words = [raw[i : i + 4][::-1] for i in range(0, width, 4)]
    return str(ipaddress.ip_address(b"".join(words)))
