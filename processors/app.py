"""The Tally stream worker, read top-down: app, source topics, table, agent, timers, signals.

One agent consumes `tally.events` and `tally.commands` together (both keyed and
partitioned by SKU), so every fact and every hold decision for a SKU is applied in one
place, in log order, at concurrency 1 (faust-streaming #606): no locks, no oversell race.
Records reach the agent in batches straight from the fetch (no fixed wait) and go through
`processors.pipeline`: folded by `processors.batch`, written to the positions table once per
SKU, and its changed figures pushed to Redis with compare-and-set, the next batch folded
while the last one's round trips are under way. Faust's own faults are worked around
behind `processors.faust_repairs`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import redis.asyncio as aioredis

from base.kafka_client import client_options
from base.log_ends import LogEnds
from base.policy_follower import PolicyFollower
from base.settings import Settings
from base.topics import POSITIONS_TABLE, changelog_configs
from ledger.policy import PolicyBook
from processors import metrics
from processors.batch import TopicKind
from processors.expiry import ExpiryIndex
from processors.faust_process import faust_options
from processors.faust_repairs import ChangelogSender, FaustRepairs
from processors.hold_expiry import expire_due_holds
from processors.kpi_metrics import KpiTracker
from processors.lag import report_consumer_lag
from processors.parts import Worker
from processors.pipeline import BatchPipeline
from processors.publisher import RedisPublisher, policy_low_stock
from processors.republish import republish_after_rebalance, republish_policy_change
from processors.side_producer import SideProducer
from processors.state_cache import StateCache
from processors.stranded import StrandedTracker
from processors.task_dump import dump_on_signal, log_task_dump

LAG_REPORT_S = 1.0  # also how often commits are checked for a stall and figures retried
STARVATION_CHECK_S = 5.0  # well inside worker.starved_s (>= 5 s, 30 by default)


def app_options(settings: Settings) -> dict[str, Any]:
    """The worker's faust.App settings, from ours (pure: nothing connects)."""
    worker_settings = settings.worker
    return {
        **faust_options(settings, worker_settings),
        "producer_max_batch_size": worker_settings.producer_batch_bytes_max,
        # a fetched chunk at most one batch: the inbox's bound holds within a chunk (one
        # unbounded getmany after a backlog handed over 12,500 records into a 4,000 inbox)
        "broker_max_poll_records": worker_settings.take_batch_max,
    }


def build_worker(settings: Settings) -> Worker:
    """The app, its source topics and table, and the agent, tasks, timers and signals."""
    worker_settings, topics = settings.worker, settings.topics
    FaustRepairs.install()  # Faust's classes, patched once per process, before the app
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
        extra_topic_configs=changelog_configs(settings),
    )
    kinds: dict[str, TopicKind] = {topics.events: "events", topics.commands: "commands"}
    worker = _worker(settings, app, kinds, positions)
    worker.repairs.restore_in_bulk(
        client_options(settings.kafka),
        read_committed=worker_settings.processing_guarantee == "exactly_once",
        records_min=worker_settings.bulk_restore_records_min,
    )
    _add_fold_agent(worker, source)
    _add_tasks_and_timers(worker)
    _connect_rebalance_signals(worker)
    return worker


def _worker(
    settings: Settings, app: faust.App, kinds: dict[str, TopicKind], positions: Any
) -> Worker:
    worker_settings = settings.worker
    redis_client = aioredis.Redis.from_url(
        settings.redis.url, socket_timeout=settings.redis.socket_timeout_s
    )
    policy = PolicyFollower(settings, on_invalid=_count_invalid_policy)
    return Worker(
        app=app,
        settings=settings,
        kinds=kinds,
        positions=positions,
        changelog=ChangelogSender(app, positions),
        repairs=FaustRepairs(app, worker_settings, kinds, LogEnds(settings.kafka)),
        publisher=RedisPublisher(
            redis_client,
            changes_len_max=worker_settings.changes_stream_len_max,
            low_stock_units=policy_low_stock(lambda: policy.book),
        ),
        redis=redis_client,
        policy=policy,
        expiry=ExpiryIndex(),
        side_producer=SideProducer(settings),
        states=StateCache(worker_settings.state_cache_skus_max),
        kpis=KpiTracker(
            StrandedTracker(worker_settings.stranded_tracked_max, worker_settings.stranded_top_skus)
        ),
    )


def _count_invalid_policy(error: object) -> None:
    metrics.DEAD_LETTERS.labels("policy", "invalid").inc()


def _add_fold_agent(worker: Worker, source: faust.TopicT) -> None:
    @worker.app.agent(source, concurrency=1)
    async def fold(stream: Any) -> None:  # faust.Stream: subscribes, its records come batched
        inbox = worker.repairs.deliver_in_batches(stream, worker.settings.worker.inbox_records_max)
        # The policy wait is inside the loop: waiting before taking lost the records Faust
        # delivered in the meantime (the first batch started past the committed offset and
        # the partition's commits stalled for good).
        await BatchPipeline(worker, inbox).run()


def _add_tasks_and_timers(worker: Worker) -> None:
    app, repairs = worker.app, worker.repairs

    def other_loops() -> dict[str, asyncio.AbstractEventLoop | None]:
        return {"consumer thread": repairs.consumer_loop()}

    @app.task
    async def dump_tasks_on_sigusr1() -> None:
        dump_on_signal(asyncio.get_running_loop(), repairs.state_lines, other_loops)

    # a restart for a stuck partition logs where every task waited first
    repairs.before_restart = lambda: log_task_dump(repairs.state_lines, other_loops)

    @app.task
    async def follow_policy() -> None:
        async def republish(old: PolicyBook, new: PolicyBook) -> None:
            await republish_policy_change(worker, old, new)

        await worker.policy.run(on_change=republish)

    @app.timer(interval=worker.settings.worker.hold_expiry_tick_s)
    async def expire_holds() -> None:
        await expire_due_holds(worker)

    @app.timer(interval=LAG_REPORT_S)
    async def report_lag() -> None:
        report_consumer_lag(worker)
        repairs.check_commits()
        await worker.pending.retry(worker.publisher)
        worker.kpis.tick()

    @app.timer(interval=STARVATION_CHECK_S)
    async def watch_starvation() -> None:
        await repairs.unstarve(policy_ready=worker.policy.ready.is_set())


def _connect_rebalance_signals(worker: Worker) -> None:
    app = worker.app

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
        # the table is restored; publishing runs beside the stream, not before it
        worker.run_in_background(republish_after_rebalance(worker))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        worker.repairs.on_partitions_assigned()  # first: it hooks Faust's seeks
        worker.on_partitions_assigned()
