"""Gateway unit tests: validation, auth, limits and status codes, with Kafka/Redis faked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from base.settings import GatewaySettings, Settings
from connectors.auth import KeyRecord, RateLimiter, hash_key, load_keys, new_key
from connectors.gateway import create_app
from connectors.gateway.models import derived_request_id
from connectors.gateway.replies import TooManyWaiters, Waiters
from ledger.commands import Decision, HoldCommand, Reserve
from tests.connectors.test_gateway_fakes import FakeBus, FakeCatalog, FakeReads, Keys, make_keys
from tests.support.waiting import wait_until


def fact(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "received",
        "sku": "SKU-1",
        "location": "store-1",
        "qty": 3,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "scanner-7",
        **fields,
    }


def hold(**fields: Any) -> dict[str, Any]:
    return {"hold_id": "h-1", "sku": "SKU-1", "channel": "web", "qty": 1, "ttl_s": 600, **fields}


class Gateway:
    def __init__(self, client: TestClient, bus: FakeBus, reads: FakeReads, keys: Keys) -> None:
        self.client, self.bus, self.reads, self.keys = client, bus, reads, keys

    def post(self, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {} if who is None else self.keys.bearer(who)
        return self.client.post(path, headers=headers, **kwargs)

    def get(self, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {} if who is None else self.keys.bearer(who)
        return self.client.get(path, headers=headers, **kwargs)

    def put(self, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {} if who is None else self.keys.bearer(who)
        return self.client.put(path, headers=headers, **kwargs)


def build(tmp_path: Path, **gateway: Any) -> Iterator[Gateway]:
    keys = make_keys(tmp_path / "keys.json")
    bus, reads = FakeBus(), FakeReads()
    settings = Settings(gateway=GatewaySettings(**gateway))
    app = create_app(settings, bus=bus, reads=reads, keys=keys.store, catalog=FakeCatalog())
    with TestClient(app) as client:
        yield Gateway(client, bus, reads, keys)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    yield from build(tmp_path, batch_events_max=5, payload_bytes_max=4096)


# --- events ---------------------------------------------------------------------------------


def test_a_valid_batch_is_stamped_produced_keyed_by_sku_and_accepted(gw: Gateway) -> None:
    response = gw.post("/v1/events", "scanner", json={"events": [fact(), fact(event_id="e-2")]})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    assert [(t, k) for t, k, _ in gw.bus.produced] == [("tally.events", b"SKU-1")] * 2
    value = orjson.loads(gw.bus.produced[0][2])
    assert value["ingested_at"] is not None and value["event_id"] == "e-1"


def test_a_client_ingested_at_is_overwritten_by_the_gateway(gw: Gateway) -> None:
    gw.post("/v1/events", "scanner", json={"events": [fact(ingested_at="2030-01-01T00:00:00Z")]})
    stamped = orjson.loads(gw.bus.produced[0][2])["ingested_at"]
    assert not stamped.startswith("2030")


def test_every_bad_item_is_listed_and_nothing_is_produced(gw: Gateway) -> None:
    events = [fact(), fact(qty="3"), {"type": "teleported"}, 7, fact(sku="bad sku!", qty=0)]
    response = gw.post("/v1/events", "scanner", json={"events": events})
    assert response.status_code == 422
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert {(1, "qty"), (2, "type"), (3, ""), (4, "sku"), (4, "qty")} <= errors
    assert not any(index == 0 for index, _ in errors)
    assert gw.bus.produced == []


def test_a_source_clock_far_ahead_of_the_gateway_is_refused(gw: Gateway) -> None:
    response = gw.post(
        "/v1/events", "scanner", json={"events": [fact(occurred_at="2099-01-01T00:00:00Z")]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "occurred_at"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 422),
        (b'{"events": []}', 422),
        (b'{"events": {}}', 422),
        (b'{"events": [], "extra": 1}', 422),
    ],
)
def test_malformed_bodies_are_4xx(gw: Gateway, body: bytes, status: int) -> None:
    response = gw.post("/v1/events", "scanner", content=body)
    assert response.status_code == status
    assert gw.bus.produced == []


def test_count_and_bytes_are_bounded_before_validation(gw: Gateway) -> None:
    too_many = gw.post("/v1/events", "scanner", json={"events": [fact()] * 6})
    assert too_many.status_code == 413
    too_big = gw.post("/v1/events", "scanner", content=b"x" * 5000)
    assert too_big.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(5):
            yield b"x" * 1000

    streamed = gw.post("/v1/events", "scanner", content=chunks())
    assert streamed.status_code == 413


def test_a_scanner_limited_to_locations_posts_only_there(gw: Gateway) -> None:
    ok = gw.post("/v1/events", "scanner-store-1", json={"events": [fact()]})
    assert ok.status_code == 202
    refused = gw.post(
        "/v1/events", "scanner-store-1", json={"events": [fact(), fact(location="store-2")]}
    )
    assert refused.status_code == 403
    assert [e["index"] for e in refused.json()["errors"]] == [1]


def test_kafka_down_is_503(gw: Gateway) -> None:
    gw.bus.down = True
    assert gw.post("/v1/events", "scanner", json={"events": [fact()]}).status_code == 503
    assert gw.post("/v1/holds", "web", json=hold()).status_code == 503


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/events", {"events": [fact()]}),
        ("post", "/v1/holds", hold()),
        ("post", "/v1/holds/h-1/commit", {"sku": "SKU-1", "order_id": "o-1"}),
        ("post", "/v1/holds/h-1/release", {"sku": "SKU-1"}),
        ("get", "/v1/availability/web/SKU-1", None),
        ("get", "/v1/availability/web?sku=SKU-1", None),
        ("get", "/v1/locations/SKU-1", None),
        ("put", "/v1/policy/channels/web", {"locations": ["store-1"]}),
    ],
)
def test_no_key_and_an_unknown_key_are_401(gw: Gateway, method: str, path: str, body: Any) -> None:
    kwargs = {} if body is None else {"json": body}
    missing = gw.client.request(method, path, **kwargs)
    unknown = gw.client.request(
        method, path, headers={"Authorization": "Bearer tly_nope_nope"}, **kwargs
    )
    assert (missing.status_code, unknown.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("web", "post", "/v1/events", {"events": [fact()]}),
        ("scanner", "post", "/v1/holds", hold()),
        ("pos", "post", "/v1/holds", hold()),  # another channel
        ("scanner", "post", "/v1/holds/h-1/commit", {"sku": "SKU-1", "order_id": "o-1"}),
        ("scanner", "get", "/v1/availability/web/SKU-1", None),
        ("pos", "get", "/v1/availability/web/SKU-1", None),
        ("pos", "get", "/v1/availability/web?sku=SKU-1", None),
        ("scanner", "get", "/v1/locations/SKU-1", None),
        ("web", "put", "/v1/policy/channels/web", {"locations": ["store-1"]}),
        ("scanner", "put", "/v1/policy/channels/web", {"locations": ["store-1"]}),
    ],
)
def test_outside_its_role_a_key_is_403(
    gw: Gateway, who: str, method: str, path: str, body: Any
) -> None:
    kwargs = {} if body is None else {"json": body}
    response = gw.client.request(method, path, headers=gw.keys.bearer(who), **kwargs)
    assert response.status_code == 403, response.text
    assert gw.bus.produced == [] and gw.bus.asked == []


def test_admin_may_do_everything(gw: Gateway) -> None:
    assert gw.post("/v1/events", "admin", json={"events": [fact()]}).status_code == 202
    assert gw.post("/v1/holds", "admin", json=hold()).status_code == 201
    assert gw.get("/v1/availability/pos/SKU-1", "admin").status_code == 200
    assert gw.get("/v1/locations/SKU-1", "admin").status_code == 200
    assert gw.put("/v1/policy/channels/web", "admin", json={"locations": ["a"]}).status_code == 202


def test_the_rate_limit_is_per_key_429(tmp_path: Path) -> None:
    for gw in build(tmp_path, requests_per_s_per_key_max=0.001, requests_burst_per_key_max=2):
        statuses = [gw.get("/v1/availability/web/SKU-1", "web").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert gw.get("/v1/availability/pos/SKU-1", "pos").status_code == 200  # its own bucket


def test_keys_are_stored_hashed_and_never_in_the_file(tmp_path: Path) -> None:
    gw = next(build(tmp_path))
    stored = (tmp_path / "keys.json").read_text()
    assert all(key not in stored for key in gw.keys.plain.values())
    assert {r.sha256 for r in load_keys(tmp_path / "keys.json").values()} == {
        hash_key(k) for k in gw.keys.plain.values()
    }


def test_a_key_record_refuses_locations_for_a_non_scanner() -> None:
    with pytest.raises(ValueError, match="locations"):
        new_key("channel:web", ["store-1"])
    with pytest.raises(ValueError):
        KeyRecord(key_id="a", sha256="0" * 64, role="superuser")


def test_token_bucket_refills_with_time() -> None:
    limiter = RateLimiter(rate_per_s=1_000_000.0, burst=1)
    assert limiter.take("k") == 0.0
    assert limiter.take("k") >= 0.0  # refilled at once or a tiny wait: never negative


# --- holds ----------------------------------------------------------------------------------


def reject(reason: str, available_after: int) -> Any:
    def decide(command: HoldCommand) -> Decision:
        return Decision(
            request_id=command.request_id,
            hold_id=command.hold_id,
            sku=command.sku,
            command=command.type,
            outcome="rejected",
            reason=reason,
            location=None,
            available_after=available_after,
            decided_at=datetime.now(UTC),
        )

    return decide


def test_a_hold_is_stamped_with_issued_at_and_a_derived_request_id(gw: Gateway) -> None:
    response = gw.post("/v1/holds", "web", json=hold())
    assert response.status_code == 201
    (command,) = gw.bus.asked
    assert isinstance(command, Reserve)
    assert command.request_id == "reserve:h-1" and command.issued_at.tzinfo is not None
    assert response.json()["outcome"] == "accepted"


@pytest.mark.parametrize(
    ("reason", "status"),
    [("insufficient_stock", 409), ("hold_not_found", 404), ("hold_already_committed", 409)],
)
def test_rejections_map_to_status_codes(gw: Gateway, reason: str, status: int) -> None:
    gw.bus.decide = reject(reason, -2)
    response = gw.post("/v1/holds/h-1/commit", "web", json={"sku": "SKU-1", "order_id": "o-1"})
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert response.json()["available"] == 0  # never negative; the raw figure is beside it
    assert response.json()["available_after"] == -2


def test_hold_bodies_are_validated(gw: Gateway) -> None:
    for bad in (hold(qty=0), hold(qty="1"), hold(ttl_s=0), hold(sku="a b"), hold(extra=1)):
        assert gw.post("/v1/holds", "web", json=bad).status_code == 422
    assert gw.bus.asked == []


def test_derived_request_ids_fit_the_wire_bound() -> None:
    assert derived_request_id("commit", "h") == "commit:h"
    long_id = derived_request_id("release", "h" * 64)
    assert len(long_id) == 64 and long_id == derived_request_id("release", "h" * 64)


async def test_waiters_match_by_request_and_a_repeated_hold_by_hold_id() -> None:
    waiters = Waiters(waiters_max=2)
    first = Reserve(
        request_id="r-1",
        hold_id="h-1",
        sku="S",
        channel="web",
        qty=1,
        ttl_s=60,
        issued_at=datetime.now(UTC),
    )
    again = first.model_copy(update={"request_id": "r-2"})
    with waiters.register(first) as a, waiters.register(again) as b:
        with pytest.raises(TooManyWaiters), waiters.register(first):
            pass
        decision = Decision(
            request_id="r-1",
            hold_id="h-1",
            sku="S",
            command="reserve",
            outcome="accepted",
            location="L",
            available_after=0,
            decided_at=datetime.now(UTC),
            channel="web",
        )
        # Another channel's decision on the same ids answers neither: ids are per channel.
        assert waiters.dispatch(decision.model_copy(update={"channel": "market"})) == 0
        assert waiters.dispatch(decision.model_copy(update={"channel": None})) == 0
        assert not a.done() and not b.done()
        assert waiters.dispatch(decision) == 2
        assert a.result() is decision and b.result() is decision
    assert len(waiters) == 0


# --- reads, policy, health ------------------------------------------------------------------


def test_availability_reads(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 5
    one = gw.get("/v1/availability/web/SKU-1", "web").json()
    assert (one["available"], one["version"]) == (5, "1-1")
    batch = gw.get("/v1/availability/web", "web", params=[("sku", "SKU-1"), ("sku", "SKU-2")])
    assert [i["available"] for i in batch.json()["items"]] == [5, 0]
    skus = [("sku", f"S{i}") for i in range(101)]
    assert gw.get("/v1/availability/web", "web", params=skus).status_code == 413
    bad = gw.get("/v1/availability/web", "web", params=[("sku", "a b")])
    assert bad.status_code == 422


def test_locations_lists_every_location_with_a_figure(gw: Gateway) -> None:
    gw.reads.loc_units = {"store-2": {"SKU-1": 2}, "store-1": {"SKU-1": 0}, "dc": {"X": 1}}
    body = gw.get("/v1/locations/SKU-1", "web").json()
    assert body["locations"] == [
        {"location": "store-1", "available": 0},
        {"location": "store-2", "available": 2},
    ]


def test_channel_policy_is_produced_keyed_by_channel(gw: Gateway) -> None:
    response = gw.put(
        "/v1/policy/channels/web", "admin", json={"locations": ["a", "b"], "buffer_units": 2}
    )
    assert response.status_code == 202
    ((topic, key, value),) = gw.bus.produced
    record = orjson.loads(value)
    assert (topic, key) == ("tally.policy", b"channel:web")
    assert record["kind"] == "channel" and record["version"] > 0 and record["buffer_units"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"locations": ["a", "a"]},
        {"locations": ["a"], "buffer_units": -1},
        {"locations": ["a"], "buffer_units": "2"},
        {"locations": ["a"], "strategy": "random"},
        {"locations": ["bad loc"]},
        {},
    ],
)
def test_invalid_channel_policy_is_422(gw: Gateway, body: dict[str, Any]) -> None:
    assert gw.put("/v1/policy/channels/web", "admin", json=body).status_code == 422
    assert gw.bus.produced == []


@pytest.fixture
def quick_health(tmp_path: Path) -> Iterator[Gateway]:
    yield from build(tmp_path, health_interval_s=0.05)


def test_healthz_names_what_is_down(quick_health: Gateway) -> None:
    gw = quick_health
    assert gw.client.get("/healthz").status_code == 200
    gw.reads.down = True
    response = wait_until(
        lambda: gw.client.get("/healthz"),
        lambda r: r.status_code == 503,
        timeout_s=5,
        what="the next probe to see Redis down",
    )
    assert response.json()["kafka"] == "ok" and response.json()["redis"].startswith("unreachable")


def test_healthz_is_answered_from_the_last_probe_not_a_broker_call_per_request(
    gw: Gateway,
) -> None:
    # Each call once made a Kafka metadata request: a load balancer polling /healthz hard
    # put that load on the brokers.
    pings_before = gw.bus.pings
    started = time.monotonic()
    for _ in range(200):
        assert gw.client.get("/healthz").status_code == 200
    elapsed_s = time.monotonic() - started
    probes_due = elapsed_s / Settings().gateway.health_interval_s + 1
    assert gw.bus.pings - pings_before <= probes_due


def test_metrics_use_the_fixed_names_with_route_templates(gw: Gateway) -> None:
    gw.get("/v1/availability/web/SKU-1", "web")
    text = gw.client.get("/metrics").text
    assert (
        'tally_gateway_requests_total{route="/v1/availability/{channel}/{sku}",status="200"}'
        in text
    )
    assert "tally_gateway_request_seconds_bucket" in text
