"""The Tally stream worker, read top-down: app, topics, table, agent, timers.

One agent consumes `tally.events` and `tally.commands` together (both keyed and
partitioned by SKU), so every fact and every hold decision for a SKU is applied in one
place, in log order, at concurrency 1 (faust-streaming #606): no locks, no oversell race.
Each batch is folded by `processors.batch`, written to the positions table once per SKU,
and its changed figures pushed to Redis with compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust
import redis.asyncio as aioredis
from aiokafka.errors import IllegalStateError, KafkaError
from faust.streams import _current_event  # the changelog partition follows the current event
from faust.types import TP

from base.dead_letters import dead_letter_record
from base.settings import Settings
from base.table_layout import read_all_states, read_state, state_writes
from base.topics import POSITIONS_TABLE
from ledger.availability import Figures, figures, policy_changed_figures
from ledger.codec import encode
from ledger.commands import Expire
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors import changelog_highwater, metrics, transaction_watch
from processors.batch import BatchOutcome, RawMessage, TopicKind, figures_from, process_batch
from processors.commit_watch import CommitWatch
from processors.expiry import ExpiryIndex, next_expiry_ms
from processors.ordering import InOrder
from processors.policy_follower import PolicyFollower
from processors.publisher import Figure, RedisPublisher
from processors.restart import restart_after_crash
from processors.rewind import install as rewind_uncommitted_on_seek
from processors.side_producer import Record, SideProducer, is_spurious
from processors.starvation_watch import StarvationWatch, Waiting
from processors.state_cache import StateCache

log = logging.getLogger("tally.worker")

REPUBLISH_CHUNK_FIGURES = 2_000  # figures per Redis call when a policy change republishes
STARVATION_CHECK_S = 5.0  # well inside worker.starved_s (>= 5 s, 30 by default)


@dataclass
class Worker:
    """The Faust app and the pieces the agent shares (no module-level mutable state)."""

    app: faust.App
    settings: Settings
    positions: Any  # faust Table[bytes, bytes]
    publisher: RedisPublisher
    redis: aioredis.Redis
    policy: PolicyFollower
    expiry: ExpiryIndex
    side_producer: SideProducer
    commit_watch: CommitWatch
    starvation_watch: StarvationWatch
    states: StateCache
    in_order: InOrder
    # (topic, partition) -> offset of the last message processed, for lag and commit watch
    last_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    first_offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # since assignment
    holes: set[tuple[str, int]] = field(default_factory=set)  # a skipped offset was seen
    # (topic, partition) -> its log end when this worker first processed it since assignment:
    # records before it may have been processed by a run whose writes were lost
    replay_ends: dict[tuple[str, int], int] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)  # held until done
    # Held by a batch from its table writes to their changelog acks: whoever reads the table
    # to publish takes it too, so nothing reaches Redis before it is durable.
    durable: asyncio.Lock = field(default_factory=asyncio.Lock)


def app_options(settings: Settings) -> dict[str, Any]:
    """The worker's faust.App settings, from ours (pure: nothing connects)."""
    worker_settings = settings.worker
    return {
        "broker": f"kafka://{settings.kafka.bootstrap}",
        "store": "rocksdb://",
        "processing_guarantee": worker_settings.processing_guarantee,
        "topic_partitions": settings.topics.partitions,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "datadir": str(worker_settings.data_dir),
        "web_enabled": True,
        "web_host": "127.0.0.1",
        "web_port": worker_settings.web_port,
        "table_standby_replicas": 0,
        "broker_commit_interval": worker_settings.commit_interval_s,
        "broker_session_timeout": worker_settings.session_timeout_s,
        "broker_heartbeat_interval": worker_settings.heartbeat_interval_s,
        "consumer_auto_offset_reset": "earliest",
        "consumer_metadata_max_age_ms": round(worker_settings.metadata_max_age_s * 1000),
        "producer_acks": -1,
        "producer_max_batch_size": worker_settings.producer_batch_bytes_max,
        "stream_wait_empty": False,
        "logging_config": None,
    }


def build_worker(settings: Settings) -> Worker:
    worker_settings, topics = settings.worker, settings.topics
    changelog_highwater.install()  # exactly-once recovery must see the changelog's end
    transaction_watch.install()  # transaction failures Faust only logs, as metrics
    app = faust.App(worker_settings.app_id, **app_options(settings))
    source = app.topic(
        topics.events,
        topics.commands,
        key_serializer="raw",
        value_serializer="raw",
        partitions=topics.partitions,
    )
    positions = app.Table(
        POSITIONS_TABLE,
        default=None,
        partitions=topics.partitions,
        key_type=bytes,  # raw bytes both ways: ledger.codec owns the value's format
        value_type=bytes,
    )
    redis_client = aioredis.Redis.from_url(
        settings.redis.url, socket_timeout=settings.redis.socket_timeout_s
    )
    worker = Worker(
        app=app,
        settings=settings,
        positions=positions,
        publisher=RedisPublisher(
            redis_client, changes_len_max=worker_settings.changes_stream_len_max
        ),
        redis=redis_client,
        policy=PolicyFollower(settings),
        expiry=ExpiryIndex(),
        side_producer=SideProducer(settings),
        commit_watch=CommitWatch(worker_settings.commit_stall_s),
        starvation_watch=StarvationWatch(worker_settings.starved_s),
        states=StateCache(worker_settings.state_cache_skus_max),
        in_order=InOrder(),
    )
    kinds: dict[str, TopicKind] = {topics.events: "events", topics.commands: "commands"}
    pending = PendingFigures()

    @app.agent(source, concurrency=1)
    async def fold(stream: Any) -> None:  # faust.Stream; StreamT lacks take_events
        # The policy wait is inside the loop: waiting before iterating lost the records Faust
        # delivered in the meantime (the first batch started past the committed offset and
        # the partition's commits stalled for good).
        async for batch in stream.take_events(
            worker_settings.take_batch_max, within=worker_settings.take_within_s
        ):
            await worker.policy.ready.wait()
            try:
                await _finish_even_if_cancelled(_handle_batch(worker, batch, kinds, pending))
            except asyncio.CancelledError as error:
                if not is_spurious(error):
                    raise  # the batch completed; the worker is stopping
                _exit_for_replay(worker)
            except BaseException:
                # Bad input never raises (it is dead-lettered), so this is a broken invariant,
                # a bug or a lost dependency. Faust would restart the agent with the batch's
                # events already taken from the stream; dying now, before any commit, makes
                # the restarted worker replay them from the last committed offset instead.
                _exit_for_replay(worker)

    @app.task
    async def follow_policy() -> None:
        async def republish(old: PolicyBook, new: PolicyBook) -> None:
            await _republish_policy_change(worker, pending, old, new)

        await worker.policy.run(on_change=republish)

    @app.timer(interval=worker_settings.hold_expiry_tick_s)
    async def expire_holds() -> None:
        await _expire_due_holds(worker)

    @app.timer(interval=1.0)
    async def report_lag() -> None:
        _report_consumer_lag(worker, kinds)
        _restart_if_commits_stalled(worker)
        await pending.retry(worker.publisher)

    @app.timer(interval=STARVATION_CHECK_S)
    async def watch_starvation() -> None:
        await _unstarve(worker, kinds)

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
        # the table is restored; publishing runs beside the stream, not before it
        task = asyncio.ensure_future(_republish_after_rebalance(worker, pending))
        worker.background.add(task)
        task.add_done_callback(worker.background.discard)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        rewind_uncommitted_on_seek(app.consumer, tuple(kinds))  # before recovery seeks
        worker.expiry.request_rescan()
        worker.last_offsets.clear()
        worker.first_offsets.clear()
        worker.holes.clear()
        worker.replay_ends.clear()
        worker.in_order.reset()
        worker.commit_watch.reset()
        worker.starvation_watch.reset()
        worker.states.clear()

    return worker


def _exit_for_replay(worker: Worker) -> NoReturn:
    log.critical("batch failed; restarting so the batch is replayed", exc_info=True)
    restart_after_crash(worker.settings.worker.crash_restarts_max, "batch failed")


async def _finish_even_if_cancelled(batch: Coroutine[Any, Any, None]) -> None:
    """Run a batch to its end before letting a cancellation through.

    `take_events` acks a batch's events when the loop body exits, even by cancellation (on
    shutdown), so a half-processed batch would be committed as done.
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await task
        raise


def _enter_partition(event: faust.EventT[bytes]) -> None:
    """Make `event` Faust's current event: table reads and changelog writes use its partition.

    Inside a batch Faust's current event is whichever came last; a SKU's state lives in the
    store and changelog of the SKU's own partition, so each access names it explicitly.
    """
    _current_event.set(weakref.ref(event))


def _load_state(
    worker: Worker, events_by_partition: dict[int, faust.EventT[bytes]], sku: str, partition: int
) -> SkuState:
    cached = worker.states.get(sku)
    if cached is not None:
        return cached
    _enter_partition(events_by_partition[partition])
    state = read_state(worker.positions.get, sku)
    return SkuState.empty(sku) if state is None else state


async def _handle_batch(
    worker: Worker,
    batch: Sequence[faust.EventT[bytes]],
    kinds: dict[str, TopicKind],
    pending: PendingFigures,
) -> None:
    batch = await _in_partition_order(worker, batch)
    if not batch:
        return
    messages = [_raw_message(event, kinds) for event in batch]
    for message in messages:
        key = (message.topic, message.partition)
        last = worker.last_offsets.get(key)
        if last is not None and message.offset > last + 1:
            worker.holes.add(key)  # records between were never delivered to this agent
        worker.first_offsets.setdefault(key, message.offset)
        worker.last_offsets[key] = max(message.offset, last if last is not None else -1)
    metrics.BATCH_SIZE.observe(len(messages))
    events_by_partition = {event.message.partition: event for event in batch}
    outcome = process_batch(
        messages,
        lambda sku, partition: _load_state(worker, events_by_partition, sku, partition),
        worker.policy.book,
        worker.policy.version,
        _replay_test(worker, messages),
    )
    async with worker.durable:
        side_sent = await _write_durably(worker, events_by_partition, outcome)
    # Only now to Redis: a figure is published only once the state it comes from is durable.
    # Published before (fault seed 42), a crash between the two left Redis *ahead* of the
    # changelog; the replay folded from the older stored state, found the final figure equal
    # to that state's, and published nothing, so the crashed run's number stayed for good.
    await pending.publish(worker.publisher, outcome.figures)
    await side_sent  # a failed send fails the batch, before its offsets can commit
    _count(outcome)


async def _write_durably(
    worker: Worker, events_by_partition: dict[int, faust.EventT[bytes]], outcome: BatchOutcome
) -> asyncio.Future[None]:
    """The batch's table writes, acknowledged by Kafka; returns the sending of its decisions
    and dead letters, which goes on beside the acks and the Redis publish (it is not what
    makes the table durable)."""
    changelog_sent = _write_table(worker, events_by_partition, outcome)
    topics = worker.settings.topics
    records: list[Record] = [
        (topics.decisions, decision.sku.encode(), encode(decision))
        for decision in outcome.decisions
    ]
    for letter in outcome.dead_letters:
        metrics.DEAD_LETTERS.labels(letter.message.topic_kind, letter.reason_kind).inc()
        log.warning("dead letter: %s (%s)", letter.reason, letter.message.topic)
        message = letter.message
        record = dead_letter_record(
            reason=letter.reason,
            reason_kind=letter.reason_kind,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            raw=message.value,
        )
        records.append((topics.dlq, message.key, record))
    side_sent = asyncio.ensure_future(worker.side_producer.send_all(records))
    # Faust's exactly-once commit does not flush its send buffer first: a changelog record
    # still buffered would land in the partition's *next* transaction, which stays open
    # (blocking read_committed readers) until more traffic comes, or aborts on timeout and
    # loses the update. Waiting for every record's ack here puts it in this batch's
    # transaction, committed with these offsets.
    try:
        await asyncio.gather(*changelog_sent)
    except BaseException:
        side_sent.cancel()
        raise
    return side_sent


def _replay_test(worker: Worker, messages: Sequence[RawMessage]) -> Callable[[RawMessage], bool]:
    """Whether a message lies before its partition's log end as first seen since assignment
    (processors.batch: a replay publishes all figures of the SKUs it changes).

    The log end comes from the last fetch (no broker call); unknown, it counts as a replay.
    """
    consumer: Any = worker.app.consumer
    ends = worker.replay_ends
    for message in messages:
        key = (message.topic, message.partition)
        if key not in ends and (end := consumer.highwater(TP(*key))) is not None:
            ends[key] = end

    def replayed(message: RawMessage) -> bool:
        end = ends.get((message.topic, message.partition))
        return end is None or message.offset < end

    return replayed


def _committed_offsets(worker: Worker) -> Callable[[tuple[str, int]], int | None]:
    """(topic, partition) -> the offset Faust last committed (its own, private bookkeeping,
    which is exactly what goes wrong in faust-streaming #596)."""
    committed: Mapping[TP, int | None] = worker.app.consumer._committed_offset  # type: ignore[attr-defined]

    def committed_of(partition: tuple[str, int]) -> int | None:
        return committed.get(TP(*partition))

    return committed_of


async def _in_partition_order(
    worker: Worker, batch: Sequence[faust.EventT[bytes]]
) -> Sequence[faust.EventT[bytes]]:
    """The batch's records that continue each partition without a hole (processors.ordering);
    a partition with a hole is sought back, and its later records are neither processed nor
    acknowledged (they will come again)."""
    consumer: Any = worker.app.consumer
    committed_of = _committed_offsets(worker)
    keep, seek = worker.in_order.split(batch, committed_of)
    if not seek:
        return batch
    kept = {id(event) for event in keep}
    for event in batch:
        if id(event) not in kept:
            event.message.acked = True  # Faust must not count it as done: it comes again
    assigned = consumer.assignment()
    for (topic, partition), offset in seek.items():
        tp = TP(topic, partition)
        if tp not in assigned:
            continue  # revoked meanwhile: its next owner starts from the committed offset
        log.warning("hole in %s[%d] before offset %d: seeking back", topic, partition, offset)
        metrics.DELIVERY_REPAIRS.labels("hole_seek").inc()
        await consumer.seek(tp, offset)
    return keep


def _raw_message(event: faust.EventT[bytes], kinds: dict[str, TopicKind]) -> RawMessage:
    message = event.message
    return RawMessage(
        topic_kind=kinds[message.topic],
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=int(message.timestamp * 1000),
    )


def _write_table(
    worker: Worker, events_by_partition: dict[int, faust.EventT[bytes]], outcome: BatchOutcome
) -> list[asyncio.Future[Any]]:
    """Write each changed SKU once to its partition's store and changelog.

    Returns the changelog sends, resolved once Kafka acknowledged them. The store and the
    changelog are written directly (what `table[key] = value` does) to get those futures.
    Only what changed since the stored state is written (base.table_layout).
    """
    positions = worker.positions
    sent: list[asyncio.Future[Any]] = []
    for sku, state in outcome.states.items():
        partition = outcome.partitions[sku]
        _enter_partition(events_by_partition[partition])  # the store picks its partition db
        for key, value in state_writes(state, outcome.stored.get(sku)):
            if value is None:
                positions.data.pop(key, None)
            else:
                positions.data[key] = value
            # raw both ways; a None value is a tombstone (compaction drops the chunk)
            sent.append(positions.send_changelog(partition, key, value, "raw", "raw"))
        worker.states.put(state)
    for sku, state in (*outcome.states.items(), *outcome.unchanged.items()):
        worker.expiry.track(sku, next_expiry_ms(state))
    return sent


def _count(outcome: BatchOutcome) -> None:
    for (event_type, result), count in outcome.events_folded.items():
        metrics.EVENTS_FOLDED.labels(event_type, result).inc(count)
    for (command, result), count in outcome.hold_decisions.items():
        metrics.HOLD_DECISIONS.labels(command, result).inc(count)
    if outcome.holds_expired:
        metrics.HOLDS_EXPIRED.inc(outcome.holds_expired)
    for units in outcome.oversells:
        metrics.OVERSELLS.inc()
        metrics.OVERSOLD_UNITS.inc(units)
    if outcome.variance_units:
        metrics.CYCLE_COUNT_VARIANCE_UNITS.inc(outcome.variance_units)


class PendingFigures:
    """Figures not yet in Redis: published now, kept (newest per key) and retried on failure."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str, str], Figure] = {}

    async def publish(self, publisher: RedisPublisher, figures: Sequence[Figure]) -> None:
        for figure in figures:
            key = (figure.kind, figure.scope, figure.sku)
            waiting = self._waiting.get(key)
            # Batches and republishes interleave: an older figure must not displace a newer
            # one still waiting (Redis's compare-and-set would never see the newer one).
            if waiting is None or figure.version >= waiting.version:
                self._waiting[key] = figure
        await self.retry(publisher)

    async def retry(self, publisher: RedisPublisher) -> None:
        if not self._waiting:
            return
        batch = list(self._waiting.values())
        try:
            written = await publisher.publish(batch)
        except (aioredis.RedisError, OSError) as error:
            metrics.PUBLISH_ERRORS.inc()
            log.error("redis publish failed, %d figures kept for retry: %s", len(batch), error)
            return
        now_s = time.time()
        for figure, was_written in zip(batch, written, strict=True):
            key = (figure.kind, figure.scope, figure.sku)
            if self._waiting.get(key) is figure:
                del self._waiting[key]
            metrics.PUBLISHED_FIGURES.labels(
                figure.kind, "written" if was_written else "stale"
            ).inc()
            if was_written and figure.kind == "ats" and figure.ingested_ms:
                latency_s = max(0.0, now_s - figure.ingested_ms / 1000)
                metrics.SYNC_LATENCY.labels(figure.scope).observe(latency_s)


async def _republish_policy_change(
    worker: Worker, pending: PendingFigures, old: PolicyBook, new: PolicyBook
) -> None:
    """Recompute the figures a policy change altered, for every SKU this worker owns."""
    sku_count = await _republish(
        worker, pending, lambda state: policy_changed_figures(state, old, new)
    )
    log.info("policy v%d: republished changed figures of %d SKUs", worker.policy.version, sku_count)


async def _republish_after_rebalance(worker: Worker, pending: PendingFigures) -> None:
    """Publish every figure of the SKUs this worker now owns, under the current policy.

    A policy change that happened while a SKU's partition had no live owner (its worker
    killed, a rebalance under way) was never republished for it: the new owner loads the
    current policy as its starting point, so it sees no change. The publisher's version
    compare-and-set makes this write only the figures Redis holds older versions of.
    """
    await worker.policy.ready.wait()
    sku_count = await _republish(worker, pending, lambda state: figures(state, worker.policy.book))
    log.info(
        "after rebalance: republished %d SKUs under policy v%d", sku_count, worker.policy.version
    )


async def _republish(
    worker: Worker, pending: PendingFigures, figures_of: Callable[[SkuState], Figures]
) -> int:
    batch: list[Figure] = []
    sku_count = 0
    async with worker.durable:  # no batch's unacknowledged state in the snapshot
        table = dict(worker.positions.items())
    for state in read_all_states(table):
        batch += figures_from(state, figures_of(state), worker.policy.version, ingested_ms=0)
        sku_count += 1
        if len(batch) >= REPUBLISH_CHUNK_FIGURES:
            await pending.publish(worker.publisher, batch)
            batch = []
    await pending.publish(worker.publisher, batch)
    metrics.TABLE_SKUS.set(sku_count)
    return sku_count


async def _expire_due_holds(worker: Worker) -> None:
    if worker.expiry.rescan_requested:
        worker.expiry.rebuild(read_all_states(dict(worker.positions.items())))
    now = datetime.now(UTC)
    topic = worker.settings.topics.commands
    await worker.side_producer.send_all(
        [
            (topic, sku.encode(), encode(Expire(sku=sku, issued_at=now)))
            for sku in worker.expiry.pop_due(int(now.timestamp() * 1000))
        ]
    )


def _restart_if_commits_stalled(worker: Worker) -> None:
    """Unblock or restart a partition whose commits stalled (faust-streaming #596 family).

    When this worker processed every offset from the committed one on (no hole in what it
    saw), the stall is only Faust's ack bookkeeping: the missing acks are filled in and
    commits resume. Otherwise records were never delivered: restart and replay them.
    """
    consumer: Any = worker.app.consumer  # Faust's private commit bookkeeping, as in #596
    committed_of = _committed_offsets(worker)
    assigned = consumer.assignment()
    processed = {key: o for key, o in worker.last_offsets.items() if TP(*key) in assigned}
    stalled = worker.commit_watch.stalled(processed, committed_of, time.monotonic())
    replay: list[tuple[str, int]] = []
    for topic, partition in stalled:
        tp, key = TP(topic, partition), (topic, partition)
        start, first = committed_of(key), worker.first_offsets.get(key)
        acked = sorted(consumer._acked.get(tp, []))
        log.critical(
            "commit stalled on %s: committed %s, processed %s..%s, hole %s, acked head %s",
            tp, start, first, worker.last_offsets.get(key), key in worker.holes, acked[:3],
        )  # fmt: skip
        if start is not None and first is not None and first <= start and key not in worker.holes:
            missing = range(start, acked[0] if acked else worker.last_offsets[key] + 1)
            consumer._acked[tp].extend(missing)
            consumer._acked[tp].sort()
            consumer._acked_index[tp].update(missing)
            log.warning("filled in %d acks Faust lost on %s; commits resume", len(missing), tp)
            metrics.DELIVERY_REPAIRS.labels("acks_filled").inc()
        else:
            replay.append(key)
    if replay:
        log.critical("records never delivered on %s; restarting to replay them", replay)
        restart_after_crash(worker.settings.worker.crash_restarts_max, f"commits stalled {replay}")


async def _unstarve(worker: Worker, kinds: dict[str, TopicKind]) -> None:
    """Nudge, or restart for, assigned partitions whose waiting records never come
    (processors.starvation_watch)."""
    app: Any = worker.app
    if app.rebalancing or app.in_recovery or not worker.policy.ready.is_set():
        worker.starvation_watch.reset()  # records legitimately wait meanwhile
        return
    consumer: Any = app.consumer
    try:
        waiting = await _waiting_records(worker, kinds)
    except (KafkaError, IllegalStateError, AssertionError) as error:
        # Broker away or a rebalance starting: the next check asks again.
        log.info("starvation check skipped: %r", error)
        worker.starvation_watch.reset()
        return
    verdict = worker.starvation_watch.check(waiting, time.monotonic())
    assigned = consumer.assignment()
    for key in verdict.nudge:
        tp, expected = TP(*key), waiting[key].next_offset
        paused = tp in consumer._paused_partitions
        log.warning(
            "starved: %s has records %d..%d waiting and none processed for %.0f s "
            "(faust paused %s, flow active %s, read offset %s); seeking to %d",
            tp, expected, waiting[key].end_offset - 1, worker.settings.worker.starved_s,
            paused, consumer.flow_active, consumer._read_offset.get(tp), expected,
        )  # fmt: skip
        if tp not in assigned:
            continue
        if paused:
            consumer.resume_partitions({tp})
        await consumer.seek(tp, expected)
        metrics.DELIVERY_REPAIRS.labels("starved_seek").inc()
    if verdict.restart:
        log.critical("still starved after a nudge: %s; restarting to replay", verdict.restart)
        restart_after_crash(
            worker.settings.worker.crash_restarts_max, f"starved partitions {verdict.restart}"
        )


async def _waiting_records(
    worker: Worker, kinds: dict[str, TopicKind]
) -> dict[tuple[str, int], Waiting]:
    """(topic, partition) -> the next offset this worker expects and the log end, for every
    assigned source partition."""
    consumer: Any = worker.app.consumer
    assigned = [tp for tp in consumer.assignment() if tp.topic in kinds]
    if not assigned:
        return {}
    committed_of = _committed_offsets(worker)
    expected: dict[TP, int] = {}
    for tp in assigned:
        last = worker.last_offsets.get((tp.topic, tp.partition))
        offset = last + 1 if last is not None else committed_of((tp.topic, tp.partition))
        if offset is not None:
            expected[tp] = offset
    never_read = [tp for tp in assigned if tp not in expected]
    if never_read:  # nothing processed or committed: the partition starts at its first offset
        expected.update(await consumer.earliest_offsets(*never_read))
    # The log end as of the last fetch costs nothing; asking the broker goes through Faust's
    # consumer thread (seconds while it waits in a fetch), so only when no fetch told yet.
    ends: dict[TP, int | None] = {tp: consumer.highwater(tp) for tp in assigned}
    unknown_ends = [tp for tp, end in ends.items() if end is None]
    if unknown_ends:
        ends.update(await consumer.highwaters(*unknown_ends))
    return {
        (tp.topic, tp.partition): Waiting(next_offset=expected[tp], end_offset=end)
        for tp in assigned
        if tp in expected and (end := ends.get(tp)) is not None
    }


def _report_consumer_lag(worker: Worker, kinds: dict[str, TopicKind]) -> None:
    """Messages between the last one this worker processed and the log end, per topic kind."""
    lag_by_kind: dict[str, int] = dict.fromkeys(kinds.values(), 0)
    consumer = worker.app.consumer
    assigned = consumer.assignment()
    for (topic, partition), offset in list(worker.last_offsets.items()):
        tp = TP(topic, partition)
        if tp not in assigned:
            continue  # revoked in a rebalance in progress; asking about it would crash
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag_by_kind[kinds[topic]] += max(0, highwater - offset - 1)
    for topic_kind, lag in lag_by_kind.items():
        metrics.CONSUMER_LAG.labels(topic_kind).set(lag)
