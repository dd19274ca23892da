"""Bad records straight onto the topics: each lands in the DLQ with a reason, the worker goes on."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from base import redis_keys
from base.settings import Settings
from base.topics import partition_for
from tests.support.isolation import unique
from tests.support.kafka_io import fact, produce, produce_json, read_all
from tests.support.waiting import hget, redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_bad_messages_are_dead_lettered_and_the_next_good_event_is_folded(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store = unique("SKU"), unique("store")
    key = sku.encode()
    good = fact(unique("e"), "received", sku, store, 4)
    wrong_type = {**fact(unique("e"), "received", sku, store, 1), "qty": "four"}
    missing_field = {
        k: v for k, v in fact(unique("e"), "received", sku, store, 1).items() if k != "location"
    }
    unknown_type = {**fact(unique("e"), "received", sku, store, 1), "type": "teleported"}
    other_key = fact(unique("e"), "received", sku, store, 1)
    bad = [
        (key, b'{"event_id": "x", "type": '),  # malformed JSON
        (key, orjson.dumps(wrong_type)),
        (key, orjson.dumps(missing_field)),
        (key, orjson.dumps(unknown_type)),
        (b"not-the-sku", orjson.dumps(other_key)),
    ]
    asyncio.run(produce(isolated, isolated.topics.events, [*bad, (key, orjson.dumps(good))]))
    asyncio.run(produce(isolated, isolated.topics.commands, [(key, b"[1, 2, 3]")]))

    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, "4")
    letters = wait_until(
        lambda: asyncio.run(read_all(isolated, isolated.topics.dlq, idle_ms=500)),
        lambda found: len(found) >= len(bad) + 1,
        timeout_s=30,
        what="dead letters",
    )
    assert len(letters) == len(bad) + 1
    reasons = [letter["reason"] for letter in letters]
    assert any("JSON" in r for r in reasons), reasons
    assert any("qty" in r for r in reasons), reasons
    assert any("location" in r for r in reasons), reasons
    assert any("teleported" in r or "type" in r for r in reasons), reasons
    assert any("does not match sku" in r for r in reasons), reasons
    for letter in letters:
        assert letter["topic"] in (isolated.topics.events, isolated.topics.commands)
        assert letter["raw_base64"]
        assert isinstance(letter["offset"], int)
    assert worker.alive()
    assert 'tally_dead_letters_total{reason="invalid",topic="events"} 4.0' in worker.metrics_text()


def test_resent_events_change_nothing(isolated: Settings, worker: WorkerProcess) -> None:
    sku, store = unique("SKU"), unique("store")
    received = fact(unique("e"), "received", sku, store, 9)
    sold = fact(unique("e"), "sold_in_store", sku, store, 2)
    asyncio.run(produce_json(isolated, isolated.topics.events, [received, sold]))
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, "7")
    version_before = hget(client, redis_keys.version_key("loc", store), sku)

    marker = fact(unique("e"), "received", sku, store, 1)  # proves the resends were processed
    asyncio.run(produce_json(isolated, isolated.topics.events, [received, sold, received, marker]))
    wait_for_figure(client, redis_keys.loc_key(store), sku, "8")
    version_after = hget(client, redis_keys.version_key("loc", store), sku)
    assert version_before is not None and version_after is not None
    # Exactly one version step: the marker's. The three resends were duplicates.
    assert int(version_after.split("-")[0]) == int(version_before.split("-")[0]) + 1
    assert (
        'tally_events_folded_total{outcome="duplicate",type="received"} 2.0'
        in worker.metrics_text()
    )


def test_a_record_near_the_broker_limit_is_dead_lettered_and_the_worker_goes_on(
    isolated: Settings, worker: WorkerProcess
) -> None:
    # Its letter once copied the value twice (~1.2 MB, over the producer's request size):
    # the worker restarted on the batch five times, exited 70, and stayed down on every start.
    sku, store = unique("SKU"), unique("store")
    huge = b'{"pad": "' + b"x" * (900 * 1024) + b'"}'
    good = fact(unique("e"), "received", sku, store, 3)
    asyncio.run(
        produce(
            isolated,
            isolated.topics.events,
            [(sku.encode(), huge), (sku.encode(), orjson.dumps(good))],
        )
    )
    wait_for_figure(redis_client(isolated), redis_keys.loc_key(store), sku, "3", timeout_s=60)
    [letter] = asyncio.run(read_all(isolated, isolated.topics.dlq, idle_ms=500))
    assert letter["raw_bytes"] == len(huge)
    assert letter["reason"].startswith("payload:")
    assert worker.alive(), worker.log_tail()


def test_a_record_off_its_skus_partition_is_dead_lettered_and_the_owner_folds_the_rest(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store = unique("SKU"), unique("store")
    home = partition_for(sku, isolated.topics.partitions)
    elsewhere = (home + 1) % isolated.topics.partitions
    stray = fact(unique("e"), "received", sku, store, 50)
    good = fact(unique("e"), "received", sku, store, 2)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka.bootstrap, acks="all")
        await producer.start()
        try:
            topic, key = isolated.topics.events, sku.encode()
            await producer.send_and_wait(topic, orjson.dumps(stray), key, partition=elsewhere)
            await producer.send_and_wait(topic, orjson.dumps(good), key, partition=home)
        finally:
            await producer.stop()

    asyncio.run(send())
    wait_for_figure(redis_client(isolated), redis_keys.loc_key(store), sku, "2", timeout_s=60)
    letters = wait_until(
        lambda: asyncio.run(read_all(isolated, isolated.topics.dlq, idle_ms=500)),
        lambda found: len(found) >= 1,
        timeout_s=30,
        what="the stray record's dead letter",
    )
    assert [(d["reason_kind"], d["partition"]) for d in letters] == [("wrong_partition", elsewhere)]
    assert worker.alive(), worker.log_tail()
