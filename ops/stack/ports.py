"""Free local ports for a service that starts later: chosen below the kernel's ephemeral range.

Binding port 0 hands out a port from the ephemeral range, the same range every outgoing
connection takes its source port from. Between choosing such a port and the service binding
it, any client socket (a Kafka or Redis connection of the same test run) may take it, and the
service then fails with "already in use". A port below that range is never given to an
outgoing connection, so only another listener can take it, and every port handed out here is
checked bindable and never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Linux's default ephemeral range starts here; used when the kernel's file cannot be read.
DEFAULT_EPHEMERAL_LOW = 32768
# Below this sit the fixed ports of common services and of our own stacks (the fault runner's
# Kafka on 29092, its Redis on 26379): a broker restarting there must find its port free.
LISTEN_PORT_LOW = 30000
PICK_ATTEMPTS = 200
LISTEN_PORTS_MIN = 1000

_handed_out: set[int] = set()
_lock = threading.Lock()


class NoFreePortError(RuntimeError):
    """No free port was found in the listening range."""


def ephemeral_low(range_file: Path = EPHEMERAL_RANGE_FILE) -> int:
    """The first port the kernel gives to outgoing connections."""
    try:
        return int(range_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def listen_range(range_file: Path = EPHEMERAL_RANGE_FILE) -> range:
    """The ports a later listener may be given: above the registered ones, below the ephemeral."""
    low = ephemeral_low(range_file)
    if low - LISTEN_PORT_LOW < LISTEN_PORTS_MIN:
        raise NoFreePortError(
            f"the kernel's ephemeral range starts at {low}, leaving fewer than "
            f"{LISTEN_PORTS_MIN} ports above {LISTEN_PORT_LOW} for listeners; "
            "raise net.ipv4.ip_local_port_range"
        )
    return range(LISTEN_PORT_LOW, low)


def free_port() -> int:
    """One free port for a listener started later."""
    return free_ports(lambda first: [first])


def free_ports(needed: Callable[[int], list[int]]) -> int:
    """A first port P such that every port of `needed(P)` is free and none was handed out."""
    candidates = listen_range()
    with _lock:
        for _ in range(PICK_ATTEMPTS):
            first = random.choice(candidates)
            wanted = needed(first)
            if max(wanted) >= candidates.stop or _handed_out.intersection(wanted):
                continue
            if all(bindable(port) for port in wanted):
                _handed_out.update(wanted)
                return first
    raise NoFreePortError(
        f"no free ports in {candidates.start}-{candidates.stop - 1} after {PICK_ATTEMPTS} tries"
    )


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing holds host:port now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
