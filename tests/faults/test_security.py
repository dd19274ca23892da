"""Security checks: keys, roles, one channel acting for another, oversized headers and
bodies over a real HTTP server, keys never logged, and the local Redis locked down."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from base.settings import GatewaySettings, Settings
from connectors.auth import new_key, save_keys
from connectors.gateway import create_app
from ops.stack.ports import free_port
from tests.connectors.test_gateway_fakes import FakeBus, FakeReads, make_keys
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.waiting import redis_client, wait_until
from tests.support.worker_process import WorkerProcess

START_TIMEOUT_S = 60.0
BODY_BYTES_MAX = 8_192


@dataclass
class Served:
    url: str
    keys: dict[str, str]
    port: int

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


def serve(settings: Settings, plain: dict[str, str], **backends: Any) -> Iterator[Served]:
    port = settings.gateway.port
    config = uvicorn.Config(
        create_app(settings, **backends), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive(), "gateway failed to start"
        assert time.monotonic() < deadline, "gateway not started in time"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", plain, port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def faked(tmp_path: Path) -> Iterator[Served]:
    """The gateway over real HTTP (uvicorn) with Kafka and Redis faked."""
    keys = make_keys(tmp_path / "keys.json")
    settings = Settings(
        gateway=GatewaySettings(
            port=free_port(), payload_bytes_max=BODY_BYTES_MAX, keys_file=tmp_path / "keys.json"
        )
    )
    yield from serve(settings, keys.plain, bus=FakeBus(), reads=FakeReads(), keys=keys.store)


def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes as they are (no client-side checks); the answer's first bytes, or b""."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
            return sock.recv(4_096)
        except OSError:
            return b""  # the server closed the connection: a refusal too


def status_of(reply: bytes) -> int | None:
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@pytest.mark.parametrize(
    "header_bytes",
    [
        17_000,
        70_000,
        200_000,
        1_000_000,
    ],
)
def test_an_oversized_header_is_refused_and_the_server_goes_on(
    faked: Served, header_bytes: int
) -> None:
    head = (
        b"GET /v1/availability/web/SKU-1 HTTP/1.1\r\nHost: x\r\n"
        + b"X-Big: " + b"a" * header_bytes + b"\r\n"
        + f"Authorization: Bearer {faked.keys['web']}\r\n\r\n".encode()
    )  # fmt: skip
    status = status_of(raw_request(faked.port, head))
    assert status is None or 400 <= status < 500, status
    ok = httpx.get(f"{faked.url}/v1/availability/web/SKU-1", headers=faked.bearer("web"))
    assert ok.status_code == 200


def test_an_oversized_bearer_token_is_401_not_a_crash(faked: Served) -> None:
    token = "tly_" + "x" * 12_000
    reply = httpx.get(
        f"{faked.url}/v1/availability/web/SKU-1", headers={"Authorization": f"Bearer {token}"}
    )
    assert 400 <= reply.status_code < 500


@pytest.mark.parametrize(
    "declared", [b"9999999999999999999999", b"-1", b"12abc", str(BODY_BYTES_MAX + 1).encode()]
)
def test_a_lying_or_oversized_content_length_is_refused(faked: Served, declared: bytes) -> None:
    head = (
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {faked.keys['scanner']}\r\n".encode()
        + b"Content-Length: " + declared + b"\r\n\r\n"
    )  # fmt: skip
    status = status_of(raw_request(faked.port, head, b"{}"))
    assert status is None or 400 <= status < 500, status


def test_an_oversized_streamed_body_is_413(faked: Served) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1_000

    reply = httpx.post(f"{faked.url}/v1/events", headers=faked.bearer("scanner"), content=chunks())
    assert reply.status_code == 413


def test_keys_are_never_logged(faked: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_role = faked.keys["scanner"]
    unknown = "tly_deadbeef_" + "s" * 43
    other_channel = faked.keys["pos"]
    path = "/v1/availability/web/SKU-1"
    with httpx.Client(base_url=faked.url) as client:
        replies = [
            client.get(path, headers={"Authorization": f"Bearer {unknown}"}),
            client.get(path, headers={"Authorization": f"Bearer {wrong_role}"}),
            client.get(path, headers={"Authorization": f"Bearer {other_channel}"}),
            client.post("/v1/events", headers={"Authorization": f"Bearer {other_channel}"}),
            client.get(path, headers={"Authorization": f"Basic {wrong_role}"}),
        ]
    assert [r.status_code for r in replies] == [401, 403, 403, 403, 401]
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for key in (wrong_role, unknown, other_channel):
        # `tly_{key_id}_{secret}`: the key id has no underscore, the url-safe secret may.
        secret = key.split("_", 2)[2]
        assert len(secret) >= 43
        assert key not in logged and secret not in logged
        assert all(key not in r.text for r in replies), "a refusal never echoes the key"


# --- the local Redis ------------------------------------------------------------------------


@pytest.mark.integration
def test_the_local_redis_listens_on_loopback_only_and_wants_a_password(
    live_stack: Settings,
) -> None:
    client = redis_client(live_stack)
    bind = str(client.config_get("bind")["bind"]).split()
    assert bind and all(address in ("127.0.0.1", "::1", "-::1") for address in bind), bind
    assert client.config_get("protected-mode")["protected-mode"] == "yes"
    assert client.config_get("requirepass")["requirepass"]
    anonymous = redis.Redis(host="127.0.0.1", port=live_stack.redis.port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("tally:anything")
    wrong = redis.Redis(
        host="127.0.0.1", port=live_stack.redis.port, password="not-it", socket_timeout=5
    )
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()


# --- one channel acting on another's holds (real worker) ------------------------------------


@pytest.fixture
def live(isolated: Settings, worker: WorkerProcess, tmp_path: Path) -> Iterator[Served]:
    keys: dict[str, str] = {}
    records = []
    for name, role in {"web": "channel:web", "pos": "channel:pos"}.items():
        keys[name], record = new_key(role)
        records.append(record)
    save_keys(tmp_path / "keys.json", records)
    settings = isolated.model_copy(
        update={
            "gateway": isolated.gateway.model_copy(
                update={
                    "port": free_port(),
                    "keys_file": tmp_path / "keys.json",
                    "hold_wait_timeout_s": 60.0,
                }
            )
        }
    )
    yield from serve(settings, keys)


@pytest.mark.integration
def test_a_channel_cannot_release_or_commit_another_channels_hold(
    isolated: Settings, live: Served
) -> None:
    sku, store = unique("SKU"), unique("store")
    asyncio.run(
        produce_json(
            isolated,
            isolated.topics.policy,
            [channel_policy("web", [store]), channel_policy("pos", [store])],
            "channel",
        )
    )
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 5)]
        )
    )
    client = redis_client(isolated)
    wait_until(
        lambda: client.hget("tally:ats:web", sku),
        lambda value: value == "5",
        timeout_s=60,
        what="web ATS 5",
    )
    with httpx.Client(base_url=live.url, timeout=90) as http:
        held = http.post(
            "/v1/holds",
            headers=live.bearer("web"),
            json={"hold_id": unique("h"), "sku": sku, "channel": "web", "qty": 2, "ttl_s": 600},
        )
        assert held.status_code == 201, held.text
        hold_id = held.json()["hold_id"]
        released = http.post(
            f"/v1/holds/{hold_id}/release", headers=live.bearer("pos"), json={"sku": sku}
        )
        committed = http.post(
            f"/v1/holds/{hold_id}/commit",
            headers=live.bearer("pos"),
            json={"sku": sku, "order_id": "o-evil"},
        )
    assert released.status_code in (403, 404), released.text
    assert committed.status_code in (403, 404), committed.text
