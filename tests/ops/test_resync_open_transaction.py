"""`tally resync` after Redis lost a figure the worker published from a transaction still
open: resync must wait for that transaction, not write the older committed figure over it.

A worker publishes a batch's figures once its changelog records are acknowledged, before its
transaction commits. These tests stand in for the worker with a transactional producer on a
real broker: a SKU's committed state (10 units at the location), then a newer state (15)
written inside a transaction that is still open when resync starts. Redis is empty, as after
a flush.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from base import redis_keys
from base.kafka_client import client_options
from base.settings import Settings
from base.table_layout import state_writes
from base.topics import changelog_topic
from ledger.fold import fold
from ledger.state import SkuState
from ops.resync import ResyncReport, resync
from tests.ops.test_cli_ledger import run_cli
from tests.support.isolation import unique
from tests.support.ledger_builders import fact
from tests.support.waiting import redis_client

pytestmark = pytest.mark.integration

LOCATION = "wh"
COMMITTED_UNITS = 10
OPEN_UNITS = 15
STILL_OPEN_S = 1.5  # the transaction stays open this long after resync started


def _states(sku: str) -> tuple[SkuState, SkuState]:
    committed = fold([fact("received", LOCATION, COMMITTED_UNITS, sku=sku)], SkuState(sku))
    newer = fold([fact("received", LOCATION, OPEN_UNITS - COMMITTED_UNITS, sku=sku)], committed)
    return committed, newer


@asynccontextmanager
async def _newer_state_in_an_open_transaction(
    settings: Settings, sku: str
) -> AsyncIterator[AIOKafkaProducer]:
    """The changelog holds the committed state, then the newer one in a transaction left
    open; yields its producer (the caller commits, or not)."""
    topic = changelog_topic(settings)
    admin = AIOKafkaAdminClient(**client_options(settings.kafka))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    committed, newer = _states(sku)
    producer = AIOKafkaProducer(**client_options(settings.kafka), transactional_id=unique("tx"))
    await producer.start()
    try:
        async with producer.transaction():
            for key, value in state_writes(committed, None):
                await producer.send_and_wait(topic, value, key=key, partition=0)
        await producer.begin_transaction()
        for key, value in state_writes(newer, committed):
            await producer.send_and_wait(topic, value, key=key, partition=0)
        yield producer
    finally:
        await producer.stop()


def _published_units(settings: Settings, sku: str) -> str | None:
    return cast(str | None, redis_client(settings).hget(redis_keys.loc_key(LOCATION), sku))


async def _resync_while_open_then_commit(settings: Settings, sku: str) -> tuple[bool, ResyncReport]:
    async with _newer_state_in_an_open_transaction(settings, sku) as producer:
        running = asyncio.create_task(resync(settings, open_transaction_wait_s=60))
        await asyncio.sleep(STILL_OPEN_S)
        waited = not running.done()
        await producer.commit_transaction()
        return waited, await running


def test_resync_waits_for_an_open_transaction_and_writes_its_newer_figure(
    isolated: Settings,
) -> None:
    sku = unique("SKU")
    waited, report = asyncio.run(_resync_while_open_then_commit(isolated, sku))
    assert _published_units(isolated, sku) == str(OPEN_UNITS)
    assert waited, "resync finished while a transaction it had to read was still open"
    assert (report.written, report.unsettled) == (1, [])


async def _cli_while_the_transaction_stays_open(settings: Settings, sku: str) -> tuple[int, str]:
    async with _newer_state_in_an_open_transaction(settings, sku):
        result = await asyncio.to_thread(
            run_cli, settings, "resync", "--wait-open-s", "1", "--json"
        )
    return result.exit_code, result.stdout


def test_resync_gives_up_on_a_transaction_left_open_and_says_to_run_again(
    isolated: Settings,
) -> None:
    sku = unique("SKU")
    code, out = asyncio.run(_cli_while_the_transaction_stays_open(isolated, sku))
    assert code == 4, out
    body = json.loads(out)
    assert body["unsettled"] == [0]
    # what the committed log says, never nothing
    assert _published_units(isolated, sku) == str(COMMITTED_UNITS)


def test_resync_refuses_a_wait_out_of_bounds(isolated: Settings) -> None:
    result = run_cli(isolated, "resync", "--wait-open-s", "0")
    assert result.exit_code == 2
    assert "--wait-open-s" in result.output
