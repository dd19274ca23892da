"""The gateway over HTTP against the real stack: a real worker, Kafka and Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from base import redis_keys
from base.settings import Settings
from connectors.auth import new_key, save_keys
from connectors.gateway import create_app
from ops.stack.ports import free_port
from tests.support.isolation import unique
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 60.0


@dataclass
class LiveGateway:
    url: str
    keys: dict[str, str]

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


@pytest.fixture
def gateway(isolated: Settings, tmp_path: Path) -> Iterator[LiveGateway]:
    """A gateway served by uvicorn in a thread of this process, on a free port."""
    roles = {"admin": "admin", "scanner": "scanner", "web": "channel:web", "pos": "channel:pos"}
    keys: dict[str, str] = {}
    records = []
    for name, role in roles.items():
        keys[name], record = new_key(role)
        records.append(record)
    keys_file = tmp_path / "keys.json"
    save_keys(keys_file, records)
    port = free_port()
    settings = isolated.model_copy(
        update={
            "gateway": isolated.gateway.model_copy(
                update={
                    "port": port,
                    "keys_file": keys_file,
                    "hold_wait_timeout_s": 60.0,  # 2 shared cores: never a timing assertion
                    "requests_burst_per_key_max": 10_000,
                    "location_keys_cache_s": 0.0,
                }
            )
        }
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
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
        yield LiveGateway(f"http://127.0.0.1:{port}", keys)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def fact(sku: str, location: str, qty: int) -> dict[str, Any]:
    return {
        "event_id": unique("e"),
        "type": "received",
        "sku": sku,
        "location": location,
        "qty": qty,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "it",
    }


def set_channel(gw: LiveGateway, client: httpx.Client, channel: str, store: str) -> None:
    response = client.put(
        f"/v1/policy/channels/{channel}", json={"locations": [store]}, headers=gw.headers("admin")
    )
    assert response.status_code == 202, response.text


def test_a_scanner_posts_and_the_channel_reads_the_new_figure(
    isolated: Settings, worker: WorkerProcess, gateway: LiveGateway
) -> None:
    sku, store = unique("SKU"), unique("store")
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        assert client.get("/healthz").json() == {"kafka": "ok", "redis": "ok"}
        set_channel(gateway, client, "web", store)
        posted = client.post(
            "/v1/events", json={"events": [fact(sku, store, 7)]}, headers=gateway.headers("scanner")
        )
        assert posted.status_code == 202, posted.text
        read = wait_until(
            lambda: client.get(f"/v1/availability/web/{sku}", headers=gateway.headers("web")),
            lambda r: r.status_code == 200 and r.json()["available"] == 7,
            timeout_s=60,
            what="web availability 7",
        )
        assert read.json()["version"] is not None
        where = client.get(f"/v1/locations/{sku}", headers=gateway.headers("web")).json()
        assert {"location": store, "available": 7} in where["locations"]

        # every auth case is refused over HTTP too
        path = f"/v1/availability/web/{sku}"
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer tly_x_y"}).status_code == 401
        assert client.get(path, headers=gateway.headers("pos")).status_code == 403
        assert client.get(path, headers=gateway.headers("scanner")).status_code == 403
        hold = {"hold_id": unique("h"), "sku": sku, "channel": "web", "qty": 1, "ttl_s": 60}
        assert (
            client.post("/v1/holds", json=hold, headers=gateway.headers("pos")).status_code == 403
        )
        events = {"events": [fact(sku, store, 1)]}
        assert (
            client.post("/v1/events", json=events, headers=gateway.headers("web")).status_code
            == 403
        )


def test_last_unit_storm_over_http_holds_exactly_the_stock(
    isolated: Settings, worker: WorkerProcess, gateway: LiveGateway
) -> None:
    sku, store, units, holds = unique("SKU"), unique("store"), 10, 200
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        set_channel(gateway, client, "web", store)
        posted = client.post(
            "/v1/events",
            json={"events": [fact(sku, store, units)]},
            headers=gateway.headers("scanner"),
        )
        assert posted.status_code == 202
        wait_for_figure(
            redis_client(isolated), redis_keys.ats_key("web"), sku, str(units), timeout_s=60
        )

    async def storm() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=120, limits=limits) as client:
            bodies = [
                {"hold_id": f"h-{sku}-{i}", "sku": sku, "channel": "web", "qty": 1, "ttl_s": 600}
                for i in range(holds)
            ]
            return list(
                await asyncio.gather(
                    *(
                        client.post("/v1/holds", json=b, headers=gateway.headers("web"))
                        for b in bodies
                    )
                )
            )

    responses = asyncio.run(storm())
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: units, 409: holds - units}, statuses
    assert all(r.json()["available"] == 0 for r in responses if r.status_code == 409)
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    wait_for_figure(redis_client(isolated), redis_keys.ats_key("web"), sku, "0", timeout_s=60)

    with httpx.Client(base_url=gateway.url, timeout=90) as client:
        won = next(r.json() for r in responses if r.status_code == 201)
        again = client.post(
            "/v1/holds",
            json={
                "hold_id": won["hold_id"],
                "sku": sku,
                "channel": "web",
                "qty": 1,
                "ttl_s": 600,
                "request_id": unique("r"),
            },
            headers=gateway.headers("web"),
        )
        assert again.status_code == 201 and again.json() == won  # the same first decision
        commit = client.post(
            f"/v1/holds/{won['hold_id']}/commit",
            json={"sku": sku, "order_id": unique("o")},
            headers=gateway.headers("web"),
        )
        assert commit.status_code == 201, commit.text
        unknown = client.post(
            f"/v1/holds/{unique('h')}/release", json={"sku": sku}, headers=gateway.headers("web")
        )
        assert unknown.status_code == 404 and unknown.json()["reason"] == "hold_not_found"


def test_stock_as_of_a_past_time_is_rebuilt_from_the_log(
    isolated: Settings, worker: WorkerProcess, gateway: LiveGateway
) -> None:
    """Before a hold: 7 on hand, web at 7; after it: 2 reserved, web at 5, the reserve
    replayed as the worker decided it. A channel key sees its own channel only."""
    sku, store = unique("SKU"), unique("store")
    with httpx.Client(base_url=gateway.url, timeout=90) as client:
        set_channel(gateway, client, "web", store)
        set_channel(gateway, client, "pos", store)
        events = {"events": [fact(sku, store, 7)]}
        assert client.post("/v1/events", json=events, headers=gateway.headers("scanner")).is_success
        wait_for_figure(redis_client(isolated), redis_keys.ats_key("web"), sku, "7", timeout_s=60)
        time.sleep(0.05)
        before_hold = datetime.now(UTC)
        time.sleep(0.05)
        hold = {"hold_id": unique("h"), "sku": sku, "channel": "web", "qty": 2, "ttl_s": 600}
        held = client.post("/v1/holds", json=hold, headers=gateway.headers("web"))
        assert held.status_code == 201, held.text

        then = client.get(
            f"/v1/stock/{sku}",
            params={"at": before_hold.isoformat()},
            headers=gateway.headers("web"),
        )
        assert then.status_code == 200, then.text
        body = then.json()
        assert (body["known"], body["complete"], body["pending_holds"]) == (True, True, 0)
        assert [(r["location"], r["on_hand"], r["reserved"]) for r in body["locations"]] == [
            (store, 7, 0)
        ]
        assert body["channels"] == [{"channel": "web", "ats": 7, "stranded_units": 0}]

        now = wait_until(
            lambda: client.get(
                f"/v1/stock/{sku}",
                params={"at": datetime.now(UTC).isoformat()},
                headers=gateway.headers("admin"),
            ).json(),
            lambda reply: reply.get("decisions_checked") == 1,
            timeout_s=30,
            what="the reserve's decision in the log",
        )
        assert (now["pending_holds"], now["decisions_differing"]) == (1, [])
        assert [(r["on_hand"], r["reserved"]) for r in now["locations"]] == [(7, 2)]
        assert {r["channel"]: r["ats"] for r in now["channels"]} == {"pos": 5, "web": 5}
