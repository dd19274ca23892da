"""The fault runs' relay (devtools/faults/relay.py) passes bytes both ways, and delays,
stalls and drops them on demand: the network faults between the workers and the brokers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from devtools.faults.relay import Relay
from ops.stack.ports import free_port


@pytest.fixture
def echo() -> Iterator[int]:
    """An echo server on loopback; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    port: int = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


@pytest.fixture
def relay(echo: int) -> Iterator[Relay]:
    relay = Relay(free_port(), echo).start()
    yield relay
    relay.stop()


def _round_trip(client: socket.socket, payload: bytes) -> float:
    started = time.monotonic()
    client.sendall(payload)
    assert client.recv(4096) == payload
    return time.monotonic() - started


def test_bytes_pass_both_ways(relay: Relay) -> None:
    with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5) as client:
        assert _round_trip(client, b"ping") < 1.0


def test_a_delay_holds_each_chunk_each_way(relay: Relay) -> None:
    with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5) as client:
        relay.delay(0.3)
        assert _round_trip(client, b"slow") >= 0.6
        relay.normal()
        assert _round_trip(client, b"fast") < 0.3


def test_a_stall_passes_nothing_until_it_ends(relay: Relay) -> None:
    with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5) as client:
        relay.stall()
        client.sendall(b"held")
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):
            client.recv(4096)
        relay.normal()
        client.settimeout(5)
        assert client.recv(4096) == b"held"


def test_a_drop_cuts_every_connection_and_new_ones_work(relay: Relay) -> None:
    with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5) as client:
        _round_trip(client, b"before")
        relay.drop()
        assert relay.dropped == 1
        with pytest.raises(OSError):
            client.sendall(b"after")
            if not client.recv(4096):
                raise ConnectionResetError("closed")
    with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5) as again:
        assert _round_trip(again, b"again") < 1.0
