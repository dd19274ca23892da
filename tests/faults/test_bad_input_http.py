"""The bad-input corpus through HTTP: every case gets a clear 4xx naming what is wrong,
nothing reaches Kafka, and the gateway goes on serving (Kafka and Redis faked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from base.settings import GatewaySettings, Settings
from connectors.gateway import create_app
from ledger import limits
from tests.connectors.test_gateway_fakes import FakeBus, FakeCatalog, FakeReads, Keys, make_keys

PAYLOAD_BYTES_MAX = 16_384
NOW = datetime.now(UTC)


def fact(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "received",
        "sku": "SKU-1",
        "location": "store-1",
        "qty": 3,
        "occurred_at": NOW.isoformat(),
        "source": "scanner-7",
        **fields,
    }


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # not orjson: it refuses integers beyond 64 bits


def events(*items: Any) -> bytes:
    return dumps({"events": list(items)})


def hold(**fields: Any) -> dict[str, Any]:
    return {"hold_id": "h-1", "sku": "SKU-1", "channel": "web", "qty": 1, "ttl_s": 60, **fields}


GOOD = events(fact())
DEEP_LIST = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
DEEP_IN_FIELD = b'{"events": [{"event_id": ' + b"[" * 3_000 + b"]" * 3_000 + b"}]}"

# (case id, body) for POST /v1/events; every one must be refused with 400/413/422.
EVENT_CORPUS: list[tuple[str, bytes]] = [
    ("empty body", b""),
    ("malformed json", b'{"events": [{"event_id": "x",'),
    ("truncated json", GOOD[: len(GOOD) // 2]),
    ("not utf-8", b'{"events": ["\xff\xfe"]}'),
    ("json null", b"null"),
    ("json string", b'"events"'),
    ("events not a list", dumps({"events": fact()})),
    ("event not an object", events("received")),
    ("wrong type qty string", events(fact(qty="3"))),
    ("wrong type qty float", events(fact(qty=3.0))),
    ("wrong type qty bool", events(fact(qty=True))),
    ("wrong type sku number", events(fact(sku=42))),
    ("missing event_id", events(without(fact(), "event_id"))),
    ("missing sku", events(without(fact(), "sku"))),
    ("missing location", events(without(fact(), "location"))),
    ("missing qty", events(without(fact(), "qty"))),
    ("missing occurred_at", events(without(fact(), "occurred_at"))),
    ("missing type", events(without(fact(), "type"))),
    ("unknown type", events(fact(type="teleported"))),
    ("hold event from the wire", events(fact(type="hold_placed"))),
    ("unknown field", events(fact(colour="red"))),
    ("per-type field missing", events(fact(type="adjusted", qty=-1))),
    ("bad disposition", events(fact(type="return_graded", disposition="burn"))),
    ("control character in sku", events(fact(sku="SKU\x001"))),
    ("newline in location", events(fact(location="store\n1"))),
    ("unicode in sku", events(fact(sku="SKÜ-1"))),
    ("space in event_id", events(fact(event_id="e 1"))),
    ("overlong sku", events(fact(sku="S" * (limits.ID_CHARS_MAX + 1)))),
    ("overlong event_id", events(fact(event_id="e" * (limits.ID_CHARS_MAX + 1)))),
    ("empty sku", events(fact(sku=""))),
    ("zero qty", events(fact(qty=0))),
    ("negative qty", events(fact(qty=-5))),
    ("huge qty", events(fact(qty=limits.QTY_UNITS_MAX + 1))),
    ("qty beyond 64 bits", events(fact(qty=2**70))),
    ("huge negative adjusted", events(fact(type="adjusted", qty=-(2**40), reason="x"))),
    ("timestamp far past", events(fact(occurred_at="1970-01-01T00:00:00Z"))),
    ("timestamp far future", events(fact(occurred_at="2999-01-01T00:00:00Z"))),
    (
        "timestamp ahead of the gateway",
        events(fact(occurred_at=(NOW + timedelta(hours=1)).isoformat())),
    ),
    ("timestamp a year late", events(fact(occurred_at=(NOW - timedelta(days=365)).isoformat()))),
    ("timestamp without zone", events(fact(occurred_at="2025-01-01T00:00:00"))),
    ("timestamp garbage", events(fact(occurred_at="yesterday"))),
    ("deeply nested list", DEEP_LIST),
    ("deeply nested object", DEEP_OBJECT),
    ("deeply nested field", DEEP_IN_FIELD),
    ("one bad item among good ones", events(fact(), fact(event_id="e-2", qty=-1))),
    ("over the size limit", events(*[fact(event_id=f"e-{n}") for n in range(80)])),
    ("over the size limit, not json", b"x" * (PAYLOAD_BYTES_MAX + 1)),
    ("over the batch limit", events(*[fact(event_id=f"e-{n}") for n in range(11)])),
]

# (case id, method, path, key name, body) for the other endpoints.
OTHER_CORPUS: list[tuple[str, str, str, str, bytes]] = [
    ("hold malformed", "post", "/v1/holds", "web", b'{"hold_id": '),
    ("hold deeply nested", "post", "/v1/holds", "web", DEEP_OBJECT),
    ("hold qty zero", "post", "/v1/holds", "web", dumps(hold(qty=0))),
    ("hold qty negative", "post", "/v1/holds", "web", dumps(hold(qty=-1))),
    ("hold qty huge", "post", "/v1/holds", "web", dumps(hold(qty=2**64))),
    ("hold qty string", "post", "/v1/holds", "web", dumps(hold(qty="1"))),
    ("hold ttl zero", "post", "/v1/holds", "web", dumps(hold(ttl_s=0))),
    ("hold ttl over a week", "post", "/v1/holds", "web", dumps(hold(ttl_s=10**7))),
    ("hold missing sku", "post", "/v1/holds", "web", dumps(without(hold(), "sku"))),
    ("hold control chars", "post", "/v1/holds", "web", dumps(hold(hold_id="h\x07"))),
    ("hold overlong sku", "post", "/v1/holds", "web", dumps(hold(sku="S" * 65))),
    ("hold unknown field", "post", "/v1/holds", "web", dumps(hold(price=3))),
    ("commit missing order", "post", "/v1/holds/h-1/commit", "web", b'{"sku": "SKU-1"}'),
    (
        "commit bad hold id",
        "post",
        "/v1/holds/h%201/commit",
        "web",
        b'{"sku": "S", "order_id": "o"}',
    ),
    ("release overlong hold id", "post", f"/v1/holds/{'h' * 65}/release", "web", b'{"sku": "S"}'),
    (
        "policy negative buffer",
        "put",
        "/v1/policy/channels/web",
        "admin",
        b'{"locations": ["a"], "buffer_units": -1}',
    ),
    (
        "policy twice a location",
        "put",
        "/v1/policy/channels/web",
        "admin",
        b'{"locations": ["a", "a"]}',
    ),
    ("policy deeply nested", "put", "/v1/policy/channels/web", "admin", DEEP_LIST),
    ("read overlong sku", "get", f"/v1/availability/web/{'S' * 65}", "web", b""),
    ("read control char sku", "get", "/v1/availability/web/S%00K", "web", b""),
    ("read too many skus", "get", "/v1/availability/web?" + "&".join(["sku=A"] * 101), "web", b""),
    ("read a bad sku in a batch", "get", "/v1/availability/web?sku=A&sku=B%0A", "web", b""),
    ("locations bad sku", "get", "/v1/locations/S%20K", "web", b""),
]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[TestClient, FakeBus, Keys]]:
    keys = make_keys(tmp_path / "keys.json")
    bus = FakeBus()
    settings = Settings(
        gateway=GatewaySettings(batch_events_max=10, payload_bytes_max=PAYLOAD_BYTES_MAX)
    )
    app = create_app(settings, bus=bus, reads=FakeReads(), keys=keys.store, catalog=FakeCatalog())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, bus, keys


def assert_clear_refusal(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"], body


@pytest.mark.parametrize(("case", "body"), EVENT_CORPUS, ids=[c for c, _ in EVENT_CORPUS])
def test_a_bad_event_batch_is_a_clear_4xx_and_nothing_is_produced(
    gateway: tuple[TestClient, FakeBus, Keys], case: str, body: bytes
) -> None:
    client, bus, keys = gateway
    response = client.post("/v1/events", headers=keys.bearer("scanner"), content=body)
    assert_clear_refusal(response)
    assert bus.produced == []
    # still serving: the next good batch goes through
    ok = client.post("/v1/events", headers=keys.bearer("scanner"), content=GOOD)
    assert ok.status_code == 202, ok.text


def test_an_invalid_item_is_named_by_index_and_field(
    gateway: tuple[TestClient, FakeBus, Keys],
) -> None:
    client, bus, keys = gateway
    body = events(fact(), fact(event_id="e-2", qty=0), fact(event_id="e-3", sku="S" * 65))
    response = client.post("/v1/events", headers=keys.bearer("scanner"), content=body)
    assert response.status_code == 422
    named = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert named == [(1, "qty"), (2, "sku")]
    assert bus.produced == []


@pytest.mark.parametrize(
    ("case", "method", "path", "who", "body"), OTHER_CORPUS, ids=[c[0] for c in OTHER_CORPUS]
)
def test_a_bad_request_elsewhere_is_a_clear_4xx(
    gateway: tuple[TestClient, FakeBus, Keys],
    case: str,
    method: str,
    path: str,
    who: str,
    body: bytes,
) -> None:
    client, bus, keys = gateway
    headers = {**keys.bearer(who), "content-type": "application/json"}
    response = client.request(method, path, headers=headers, content=body or None)
    assert_clear_refusal(response)
    assert bus.produced == [] and bus.asked == []
