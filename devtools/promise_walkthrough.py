"""`python -m devtools.promise_walkthrough`: the promise end to end on the local stack, printed
as the requests a storefront makes and what comes back (the output pasted in docs/PROMISE.md).

Starts a worker, an order processor and a gateway on topics, app ids and ports of its own
(Kafka and Redis must be up: `tally up`); a sold-out SKU gets a receipt in 3 days; a
backorder is placed on it; the receipt is late; the units arrive, ship and are delivered.
Stops what it started.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import orjson
import redis
import typer
import uvicorn
from aiokafka import AIOKafkaProducer

from base import redis_keys
from base.settings import Settings, TopicSettings, get_settings
from base.topics import ensure_topics
from connectors.auth import new_key, save_keys
from connectors.gateway import create_app
from ops.child_worker import ChildOrderProcessor, ChildWorker
from ops.stack.ports import free_port

T = TypeVar("T")
DC = "dc-newark"
WAIT_S = 90.0


def own_settings(base: Settings, home: Path, run_id: str) -> Settings:
    """Topics, app ids, data dirs and ports of this run's own, beside anything else running."""
    ports = {"web_port": free_port(), "metrics_port": free_port()}
    worker = base.worker.model_copy(
        update={"app_id": f"tally-walk-{run_id}", "data_dir": home / "worker", **ports}
    )
    ports = {"web_port": free_port(), "metrics_port": free_port()}
    orders = base.orders.model_copy(
        update={"app_id": f"tally-orders-walk-{run_id}", "data_dir": home / "orders", **ports}
    )
    postal_codes = home / "postal_codes.csv"
    postal_codes.write_text("postal_code,latitude,longitude\n10001,40.7506,-73.9972\n")
    keys = home / "keys.json"
    gateway = base.gateway.model_copy(
        update={"port": free_port(), "keys_file": keys, "postal_codes_file": postal_codes}
    )
    topics = TopicSettings.named(f"walk{run_id}", 4)
    return base.model_copy(
        update={"topics": topics, "worker": worker, "orders": orders, "gateway": gateway}
    )


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT_S:.0f} s for {what}")
        time.sleep(0.2)


async def _produce(settings: Settings, topic: str, records: list[tuple[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, orjson.dumps(value), key=key.encode())
    finally:
        await producer.stop()


def produce(settings: Settings, topic: str, *records: tuple[str, Any]) -> None:
    asyncio.run(_produce(settings, topic, list(records)))


def fact(kind: str, sku: str, qty: int, **extra: Any) -> tuple[str, dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    body = {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "sku": sku,
        "location": DC,
        "qty": qty,
        "source": "walkthrough",
        "occurred_at": now,
        "ingested_at": now,
        **extra,
    }
    return sku, body


def set_policy(settings: Settings) -> None:
    now = datetime.now(UTC).isoformat()
    location = {
        "kind": "location",
        "location": DC,
        "latitude": 40.7357,
        "longitude": -74.1724,
        "time_zone": "America/New_York",
        "cutoff_local": "14:00",
        "open_days": ["mon", "tue", "wed", "thu", "fri"],
        "version": 1,
        "updated_at": now,
    }
    channel = {"kind": "channel", "channel": "web", "locations": [DC], "version": 1}
    produce(
        settings,
        settings.topics.policy,
        (f"location:{DC}", location),
        ("channel:web", {**channel, "updated_at": now}),
    )


@contextmanager
def gateway(settings: Settings) -> Iterator[httpx.Client]:
    """The gateway in a thread of this process, and a client with a `web` channel key."""
    web, record = new_key("channel:web")
    admin, admin_record = new_key("admin")
    save_keys(settings.gateway.keys_file, [record, admin_record])
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.gateway.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    wait_for(lambda: server.started, bool, "the gateway")
    url = f"http://127.0.0.1:{settings.gateway.port}"
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {web}"}) as c:
        c.headers["X-Admin"] = admin  # read back by `admin_post`
        try:
            yield c
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def show(method: str, path: str, reply: httpx.Response, body: Any = None, key: str = "WEB") -> Any:
    sent = "" if body is None else f" -d '{orjson.dumps(body).decode()}'"
    verb = "-X POST " if method == "POST" else ""
    typer.echo(f'$ curl -s {verb}"$G{path}" -H "${key}"{sent}')
    typer.echo(reply.text)
    return reply.json()


def get(http: httpx.Client, path: str) -> Any:
    return show("GET", path, http.get(path))


def post(http: httpx.Client, path: str, body: Any, admin: bool = False) -> Any:
    if not admin:
        return show("POST", path, http.post(path, json=body), body)
    headers = {"Authorization": f"Bearer {http.headers['X-Admin']}"}
    return show("POST", path, http.post(path, json=body, headers=headers), body, "ADMIN")


def sold_out_with_a_receipt(settings: Settings, http: httpx.Client, sku: str) -> datetime:
    produce(settings, settings.topics.events, fact("received", sku, 2))
    produce(settings, settings.topics.events, fact("sold_in_store", sku, 2))
    eta = datetime.now(UTC) + timedelta(days=3)
    supply = fact("supply_expected", sku, 10, order_id="PO-7", eta=eta.isoformat())
    produce(settings, settings.topics.events, supply)
    path = f"/v1/availability/web/{sku}?by={eta.date().isoformat()}"
    wait_for(lambda: http.get(path).json(), lambda r: r.get("available") == 10, "the horizon")
    typer.echo(f"# {sku}: 2 received, 2 sold; 10 expected on {eta.isoformat(timespec='minutes')}")
    get(http, f"/v1/availability/web/{sku}")
    get(http, f"/v1/availability/web/{sku}?by={(eta - timedelta(days=1)).date().isoformat()}")
    get(http, path)
    get(http, f"/v1/availability/web/{sku}?by={(eta + timedelta(days=30)).date().isoformat()}")
    return eta


def view(http: httpx.Client, order_id: str) -> Any:
    return http.get(f"/v1/orders/{order_id}").json()


PROMISE_FIELDS = ("location", "status", "ship_on", "deliver_on", "waits_until")
JQ = (
    "{status, promised, promised_before, shipments: [.shipments[] | "
    "{location, status, ship_on, deliver_on, waits_until}]}"
)


def show_promise(http: httpx.Client, order_id: str) -> None:
    """The order's promise: its view (`GET /v1/orders/{id}`) cut to the dates, as jq would."""
    order = view(http, order_id)
    typer.echo(f'$ curl -s "$G/v1/orders/{order_id}" -H "$WEB" | jq -c \'{JQ}\'')
    shipments = [{name: s[name] for name in PROMISE_FIELDS} for s in order["shipments"]]
    cut = {name: order[name] for name in ("status", "promised", "promised_before")}
    typer.echo(orjson.dumps({**cut, "shipments": shipments}).decode())


def backorder_moved_by_a_late_receipt(
    settings: Settings, http: httpx.Client, sku: str, eta: datetime, order_id: str
) -> None:
    get(http, f"/v1/promise?sku={sku}&qty=3&to=10001")
    order = {
        "order_id": order_id,
        "lines": [{"sku": sku, "qty": 3}],
        "delivery": {"mode": "ship_to_postal_code", "postal_code": "10001"},
        "allow_backorder": True,
    }
    post(http, "/v1/orders", order)
    wait_for(lambda: view(http, order_id), lambda v: v.get("promised") is not None, "dates")
    show_promise(http, order_id)
    late = eta + timedelta(days=4)
    typer.echo(f"# the supplier moves PO-7 to {late.isoformat(timespec='minutes')}")
    supply = fact("supply_expected", sku, 10, order_id="PO-7", eta=late.isoformat())
    produce(settings, settings.topics.events, supply)
    wait_for(lambda: view(http, order_id), lambda v: v.get("promised_before"), "the change")
    show_promise(http, order_id)
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    stream = cast(
        list[tuple[str, dict[str, str]]], client.xrange(redis_keys.order_changes_key("web"))
    )
    changes = [f for _, f in stream if f.get("order_id") == order_id]
    typer.echo(f"$ redis-cli XRANGE {redis_keys.order_changes_key('web')} - +   # this order's")
    for fields in changes:
        typer.echo(orjson.dumps(fields).decode())


def report_step(http: httpx.Client, order_id: str, step: str) -> None:
    post(http, f"/v1/orders/{order_id}/{step}?channel=web", {"location": DC}, admin=True)
    wait_for(lambda: view(http, order_id), lambda v: v["shipments"][0]["status"] == step, step)


def delivered_and_scored(
    settings: Settings, http: httpx.Client, orders: ChildOrderProcessor, sku: str, order_id: str
) -> None:
    typer.echo("# PO-7 arrives; the shipment is picked, shipped and delivered")
    produce(settings, settings.topics.events, fact("received", sku, 10, order_id="PO-7"))
    wait_for(
        lambda: view(http, order_id),
        lambda v: v["shipments"][0]["status"] == "allocated",
        "the units",
    )
    for step in ("picked", "shipped"):
        report_step(http, order_id, step)
    today = datetime.now(UTC).date()
    future = {"location": DC, "delivered_on": (today + timedelta(days=2)).isoformat()}
    post(http, f"/v1/orders/{order_id}/delivered?channel=web", future, admin=True)
    delivered = {"location": DC, "delivered_on": today.isoformat()}
    post(http, f"/v1/orders/{order_id}/delivered?channel=web", delivered, admin=True)
    metric = "tally_promise_deliveries_total"

    def line() -> str:
        return next((s for s in orders.metrics_text().splitlines() if s.startswith(metric)), "")

    typer.echo(f"$ curl -s localhost:{settings.orders.metrics_port}/metrics | grep ^{metric}")
    typer.echo(wait_for(line, bool, "the score"))


def walk(settings: Settings, run_id: str) -> None:
    sku, order_id = f"TEE-RED-{run_id[:4].upper()}", f"P-{run_id[:6]}"
    asyncio.run(ensure_topics(settings))
    set_policy(settings)
    home = settings.worker.data_dir.parent
    worker = ChildWorker(settings, home / "worker.log").start()
    orders = ChildOrderProcessor(settings, home / "orders.log").start()
    try:
        worker.wait_metrics_up()
        orders.wait_metrics_up()
        with gateway(settings) as http:
            eta = sold_out_with_a_receipt(settings, http, sku)
            backorder_moved_by_a_late_receipt(settings, http, sku, eta, order_id)
            delivered_and_scored(settings, http, orders, sku, order_id)
    finally:
        orders.stop()
        worker.stop()


def main() -> None:
    run_id = uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="tally-walk-") as home:
        walk(own_settings(get_settings(), Path(home), run_id), run_id)


if __name__ == "__main__":
    main()
