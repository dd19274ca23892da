"""The bad-input corpus straight onto the topics, past the gateway: each bad record lands in
the DLQ with a reason (and its raw bytes), the worker stays alive, and every good record
around them is folded. Also: the same event_id with different content, commands for holds
that never existed, and garbage on the policy topic."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections import Counter
from typing import Any

import orjson
import pytest

from base import redis_keys
from base.dead_letters import RAW_PREVIEW_BYTES_MAX
from base.settings import Settings
from ledger import limits
from tests.support.isolation import unique
from tests.support.kafka_io import (
    channel_policy,
    fact,
    now_iso,
    produce,
    produce_json,
    read_all,
)
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # not orjson: it refuses integers beyond 64 bits


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


def bad_events(sku: str, store: str) -> list[tuple[str, bytes | None, bytes | None]]:
    """(case, key, value) records that must each be dead-lettered."""
    key = sku.encode()

    def f(**changes: Any) -> dict[str, Any]:
        return {**fact(unique("bad"), "received", sku, store, 1), **changes}

    good_bytes = orjson.dumps(f())
    return [
        ("malformed json", key, b'{"event_id": "x", "type": '),
        ("truncated json", key, good_bytes[: len(good_bytes) // 2]),
        ("not utf-8", key, b'{"event_id": "\xff\xfe"}'),
        ("empty bytes", key, b""),
        ("tombstone", key, None),
        ("json array", key, b"[1, 2, 3]"),
        ("json number", key, b"42"),
        ("qty as string", key, dumps(f(qty="1"))),
        ("qty as float", key, dumps(f(qty=1.0))),
        ("qty as bool", key, dumps(f(qty=True))),
        ("missing event_id", key, dumps(without(f(), "event_id"))),
        ("missing location", key, dumps(without(f(), "location"))),
        ("missing occurred_at", key, dumps(without(f(), "occurred_at"))),
        ("unknown type", key, dumps(f(type="teleported"))),
        ("hold event on the facts topic", key, dumps(f(type="hold_placed"))),
        ("unknown field", key, dumps(f(colour="red"))),
        ("zero qty", key, dumps(f(qty=0))),
        ("negative qty", key, dumps(f(qty=-3))),
        ("huge qty", key, dumps(f(qty=limits.QTY_UNITS_MAX + 1))),
        ("qty beyond 64 bits", key, dumps(f(qty=2**80))),
        ("timestamp 1970", key, dumps(f(occurred_at="1970-01-01T00:00:00Z"))),
        ("timestamp 2999", key, dumps(f(occurred_at="2999-01-01T00:00:00Z"))),
        ("timestamp without zone", key, dumps(f(occurred_at="2025-01-01T00:00:00"))),
        (
            "source clock an hour ahead of the stamp",
            key,
            dumps(f(occurred_at="2025-01-01T01:00:00Z", ingested_at="2025-01-01T00:00:00Z")),
        ),
        ("control character in event_id", key, dumps(f(event_id="e\x00x"))),
        ("overlong event_id", key, dumps(f(event_id="e" * (limits.ID_CHARS_MAX + 1)))),
        ("deeply nested", key, b"[" * 2_000 + b"]" * 2_000),
        ("deeply nested field", key, b'{"event_id": ' + b"[" * 1_500 + b"]" * 1_500 + b"}"),
        ("over the payload limit", key, dumps(f(source="s" * (limits.PAYLOAD_BYTES_MAX + 10)))),
        ("keyed by another sku", b"not-the-sku", dumps(f())),
        ("no key", None, dumps(f())),
        ("control character in sku", b"SKU\x01", dumps(f(sku="SKU\x01"))),
        ("overlong sku", b"S" * 65, dumps(f(sku="S" * 65))),
    ]


def bad_commands(sku: str) -> list[tuple[str, bytes | None, bytes | None]]:
    key = sku.encode()
    reserve = {
        "type": "reserve",
        "request_id": unique("r"),
        "hold_id": unique("h"),
        "sku": sku,
        "channel": "web",
        "qty": 1,
        "ttl_s": 60,
        "issued_at": now_iso(),
    }
    return [
        ("command malformed", key, b'{"type": "reserve"'),
        ("command unknown type", key, dumps({**reserve, "type": "steal"})),
        ("reserve zero qty", key, dumps({**reserve, "qty": 0})),
        ("reserve ttl zero", key, dumps({**reserve, "ttl_s": 0})),
        ("reserve ttl over a week", key, dumps({**reserve, "ttl_s": limits.HOLD_TTL_S_MAX + 1})),
        ("reserve missing request_id", key, dumps(without(reserve, "request_id"))),
        ("reserve issued in 2999", key, dumps({**reserve, "issued_at": "2999-01-01T00:00:00Z"})),
        ("commit without order_id", key, dumps({**without(reserve, "qty"), "type": "commit"})),
        ("command deeply nested", key, b'{"type": ' + b"[" * 1_500 + b"]" * 1_500 + b"}"),
    ]


def test_every_bad_record_is_dead_lettered_with_a_reason_and_no_good_event_is_lost(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store = unique("SKU"), unique("store")
    web = unique("web")
    asyncio.run(
        produce_json(isolated, isolated.topics.policy, [channel_policy(web, [store])], "channel")
    )
    events = bad_events(sku, store)
    commands = bad_commands(sku)
    # Interleave: a good fact after every bad record; the same event_id with other content.
    first = fact(unique("e"), "received", sku, store, 4)
    same_id_other_content = {**first, "qty": 100, "location": unique("store")}
    records: list[tuple[bytes | None, bytes | None]] = [(sku.encode(), orjson.dumps(first))]
    good_units = 4
    for _, key, value in events:
        records.append((key, value))
        records.append((sku.encode(), orjson.dumps(fact(unique("e"), "received", sku, store, 1))))
        good_units += 1
    records.append((sku.encode(), orjson.dumps(same_id_other_content)))
    asyncio.run(produce(isolated, isolated.topics.events, records))  # type: ignore[arg-type]
    asyncio.run(produce(isolated, isolated.topics.commands, [(k, v) for _, k, v in commands]))  # type: ignore[misc]

    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, str(good_units), timeout_s=60)
    expected_letters = len(events) + len(commands)
    letters = wait_until(
        lambda: asyncio.run(read_all(isolated, isolated.topics.dlq, idle_ms=500)),
        lambda found: len(found) >= expected_letters,
        timeout_s=60,
        what=f"{expected_letters} dead letters",
    )
    assert len(letters) == expected_letters, [letter["reason"] for letter in letters]
    raws = Counter(
        (letter["raw_sha256"], letter["raw_bytes"], base64.b64decode(letter["raw_base64"]))
        for letter in letters
    )
    sent = Counter(
        (hashlib.sha256(value).hexdigest(), len(value), value[:RAW_PREVIEW_BYTES_MAX])
        for value in (value or b"" for _, _, value in (*events, *commands))
    )
    assert raws == sent, "every bad record, byte for byte (digest, size, prefix), is in the DLQ"
    for letter in letters:
        assert letter["reason"] and letter["reason_kind"], letter
        assert letter["topic"] in (isolated.topics.events, isolated.topics.commands)
        assert isinstance(letter["offset"], int) and isinstance(letter["partition"], int)
    assert worker.alive(), worker.log_tail()
    # The duplicate event_id changed nothing: its other location never got a figure.
    assert client.hget(redis_keys.loc_key(same_id_other_content["location"]), sku) is None
    assert client.hget(redis_keys.loc_key(store), sku) == str(good_units)


def test_commands_for_holds_that_never_existed_are_typed_rejections(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store, web = unique("SKU"), unique("store"), unique("web")
    asyncio.run(
        produce_json(isolated, isolated.topics.policy, [channel_policy(web, [store])], "channel")
    )
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 2)]
        )
    )
    ghost = unique("ghost")
    commands: list[dict[str, Any]] = [
        {"type": "commit", "request_id": unique("c"), "hold_id": ghost, "sku": sku,
         "order_id": "o-1", "issued_at": now_iso()},
        {"type": "release", "request_id": unique("x"), "hold_id": ghost, "sku": sku,
         "issued_at": now_iso()},
        {"type": "reserve", "request_id": unique("r"), "hold_id": unique("h"), "sku": sku,
         "channel": unique("nochannel"), "qty": 1, "ttl_s": 60, "issued_at": now_iso()},
    ]  # fmt: skip
    asyncio.run(produce_json(isolated, isolated.topics.commands, commands))
    decisions = wait_until(
        lambda: asyncio.run(read_all(isolated, isolated.topics.decisions, idle_ms=500)),
        lambda found: len(found) >= len(commands),
        timeout_s=60,
        what="three decisions",
    )
    by_request = {d["request_id"]: d for d in decisions}
    reasons = [by_request[c["request_id"]]["reason"] for c in commands]
    assert reasons == ["hold_not_found", "hold_not_found", "unknown_channel"]
    assert all(by_request[c["request_id"]]["outcome"] == "rejected" for c in commands)
    assert worker.alive()
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, "2")


def test_garbage_on_the_policy_topic_is_skipped_and_counted(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store, web = unique("SKU"), unique("store"), unique("web")
    garbage: list[tuple[bytes | None, bytes]] = [
        (b"x", b"{not json"),
        (b"x", b"[" * 2_000 + b"]" * 2_000),
        (b"x", dumps({"kind": "channel", "channel": web})),
        (b"x", dumps({"kind": "galaxy"})),
    ]
    asyncio.run(produce(isolated, isolated.topics.policy, garbage))
    asyncio.run(
        produce_json(isolated, isolated.topics.policy, [channel_policy(web, [store])], "channel")
    )
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 5)]
        )
    )
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.ats_key(web), sku, "5", timeout_s=60)
    assert worker.alive()
    assert 'tally_dead_letters_total{reason="invalid",topic="policy"} 4.0' in worker.metrics_text()
