"""Restore a table's changelog into RocksDB in bulk, before Faust's own recovery reads it.

faust-streaming 0.15 restores a changelog through its per-record path (fetch loop, one
`Event` per record, a queue, a buffer), about 8-11k records/s on this machine: a million SKU
states take minutes. So, when Faust's recovery takes stock of its active changelog
partitions (`Recovery._build_offsets`, after their highwaters and before it seeks), the ones
behind their end (by `records_min` or more) are read here first with a plain consumer (large
fetches, the same isolation level as Faust's) and written to the partition's RocksDB in one
`WriteBatch` per fetched chunk (a tombstone deletes the key, as Faust's
`apply_changelog_batch` does). The partition's persisted offset is then set to the position
the read reached, less one, so Faust's recovery starts there and reads only what is left.
Anything not read here (a time-out, an error) is simply left to Faust: the persisted offset
never passes a record that is not in the store.

The position passes transaction markers and aborted records too. Under exactly-once every
changelog ends in a marker (a commit's; an abort's after a crash), and Faust's own path counts
it as a record still to come: it waits two 5 s idle spells of its queue before giving up on
it (`detect_aborted_tx`), and the worker folds nothing meanwhile. Read here, even a partition
one marker behind is done in one fetch (the default `records_min` is 1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faust.tables.recovery import Recovery
from faust.types import TP

from processors.faust_repairs.store_writes import write_store

log = logging.getLogger("tally.restore")

_FAUST_BUILD_OFFSETS = "_tally_faust_build_offsets"
_SETTINGS = "_tally_fast_restore"
FETCH_BYTES_MAX = 64 * 1024 * 1024
PARTITION_FETCH_BYTES_MAX = 16 * 1024 * 1024
IDLE_S_MAX = 10.0  # no record for this long: leave the rest to Faust
# A tail of transaction markers yields no records, only a position past them: asked this
# often, not after a long wait for records that never come (it was 500 ms a partition).
POLL_MS = 20


@dataclass(frozen=True)
class RestoreSettings:
    client_options: Mapping[str, Any]  # how this process connects (base.kafka_client)
    read_committed: bool  # exactly-once: skip aborted writes, as Faust's consumer does
    records_min: int  # a partition fewer records behind is left to Faust


def install(app: Any, settings: RestoreSettings) -> None:
    """Restore `app`'s active changelog partitions in bulk from now on (idempotent)."""
    setattr(app, _SETTINGS, settings)
    if hasattr(Recovery, _FAUST_BUILD_OFFSETS):
        return
    setattr(Recovery, _FAUST_BUILD_OFFSETS, Recovery._build_offsets)
    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]


async def _build_offsets(
    self: Any, consumer: Any, tps: set[TP], destination: Any, title: str
) -> None:
    settings: RestoreSettings | None = getattr(self.app, _SETTINGS, None)
    if settings is not None and title == "active" and tps:
        stores = {tp: self.tp_to_table[tp].data for tp in tps if tp in self.tp_to_table}
        # The store's own offsets, never Faust's in-memory counter: exactly-once's
        # aborted-transaction detection may have moved that past records the store never
        # got (recovery_offsets); a bulk read from there would skip them for good.
        persisted = {tp: self.tp_to_table[tp].persisted_offset(tp) for tp in stores}
        done = await restore(settings, stores, persisted)
        for tp, offset in done.items():
            destination[tp] = offset
    await getattr(Recovery, _FAUST_BUILD_OFFSETS)(self, consumer, tps, destination, title)


async def restore(
    settings: RestoreSettings, stores: Mapping[TP, Any], persisted: Mapping[TP, int | None]
) -> dict[TP, int]:
    """Bulk-restore the partitions behind; returns each one's new persisted offset."""
    stores = {tp: s for tp, s in stores.items() if hasattr(s, "_db_for_partition")}  # RocksDB
    if not stores:
        return {}
    consumer = _consumer(settings)
    await consumer.start()
    try:
        return await _restore_with(consumer, settings, stores, persisted)
    except KafkaError as error:
        log.warning("bulk restore stopped (%r); Faust's recovery reads the rest", error)
        return {}
    finally:
        await consumer.stop()


def _consumer(settings: RestoreSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **settings.client_options,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if settings.read_committed else "read_uncommitted",
        fetch_max_bytes=FETCH_BYTES_MAX,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES_MAX,
        fetch_max_wait_ms=100,
    )


async def _restore_with(
    consumer: AIOKafkaConsumer,
    settings: RestoreSettings,
    stores: Mapping[TP, Any],
    persisted: Mapping[TP, int | None],
) -> dict[TP, int]:
    tps = {TopicPartition(tp.topic, tp.partition): tp for tp in stores}
    consumer.assign(list(tps))
    firsts = await consumer.beginning_offsets(list(tps))
    ends = await consumer.end_offsets(list(tps))
    plan: dict[TopicPartition, int] = {}  # partition -> offset to read from
    for ktp in tps:
        stored = persisted.get(tps[ktp])  # offset 0 is an offset: not `or -1`
        start = max((-1 if stored is None else stored) + 1, firsts[ktp])
        if ends[ktp] - start >= settings.records_min:
            plan[ktp] = start
    if not plan:
        return {}
    consumer.assign(list(plan))
    for ktp, start in plan.items():
        consumer.seek(ktp, start)
    started, count = time.monotonic(), 0
    log.info("bulk restore: reading %s", _brief(plan, ends))
    reached = await _read_into_stores(consumer, stores, tps, {k: ends[k] for k in plan})
    done: dict[TP, int] = {}
    for ktp, position in reached.items():
        tp = tps[ktp]
        stores[tp].set_persisted_offset(tp, position - 1)
        done[tp] = position - 1
        count += position - plan[ktp]
    elapsed = time.monotonic() - started
    log.info(
        "bulk restore: %d offsets in %.2f s (%.0f/s); Faust's recovery goes on from %s",
        count, elapsed, count / elapsed if elapsed else 0.0, done,
    )  # fmt: skip
    return done


async def _read_into_stores(
    consumer: AIOKafkaConsumer,
    stores: Mapping[TP, Any],
    tps: Mapping[TopicPartition, TP],
    ends: Mapping[TopicPartition, int],
) -> dict[TopicPartition, int]:
    """Read each partition up to its end into its store; the position each one reached."""
    reached = {ktp: await consumer.position(ktp) for ktp in ends}
    waiting = {ktp for ktp in ends if reached[ktp] < ends[ktp]}
    last_progress = time.monotonic()
    while waiting and time.monotonic() - last_progress < IDLE_S_MAX:
        fetched = await consumer.getmany(*waiting, timeout_ms=POLL_MS)
        for ktp, records in fetched.items():
            tp = tps[ktp]
            write_store(stores[tp], tp.partition, [(r.key, r.value) for r in records])
            last_progress = time.monotonic()
        for ktp in list(waiting):
            # past the last record (a transaction marker may follow it): the fetch position
            reached[ktp] = await consumer.position(ktp)
            if reached[ktp] >= ends[ktp]:
                waiting.discard(ktp)
        await asyncio.sleep(0)  # the worker's heartbeats and timers go on meanwhile
    return reached


def _brief(plan: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]) -> str:
    return ", ".join(f"{k.topic}[{k.partition}] {s}..{ends[k]}" for k, s in sorted(plan.items()))
