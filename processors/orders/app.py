"""The order processor, read top-down: app, topics, tables, agents, timers, signals.

Three agents, each at concurrency 1 on a topic keyed like its table: the order saga
(`tally.orders`, key: the order ref), location capacity (`tally.capacity`, key: location),
and the router of the ledger's decisions on order holds (`tally.decisions`). The asks they
send are idempotent, so the app runs at_least_once by default (docs/ORDERS.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust
import redis.asyncio as aioredis

from base.log_ends import LogEnds
from base.policy_follower import PolicyFollower
from base.settings import Settings
from base.topics import changelog_configs
from ledger.codec import encode
from ledger.orders.codec import decode_order_state
from ledger.orders.records import Timeout
from ledger.orders.saga import SagaRules
from ledger.policy import PolicyBook
from processors.faust_process import faust_options
from processors.faust_repairs import ChangelogSender, FaustRepairs
from processors.orders import metrics
from processors.orders.capacity_step import handle_capacity_batch
from processors.orders.order_step import handle_order_batch
from processors.orders.parts import OrderWorker
from processors.orders.routing import route_decisions
from processors.orders.timeouts import TimeoutIndex
from processors.orders.views import OrderViews
from processors.side_producer import SideProducer

ORDERS_TABLE = "orders"
CAPACITY_TABLE = "capacity"
REPAIRS_CHECK_S = 1.0
STARVATION_CHECK_S = 5.0
REPUBLISH_CHUNK = 1_000  # views per Redis pipeline when the table is scanned


def app_options(settings: Settings) -> dict[str, Any]:
    """The order processor's faust.App settings (pure: nothing connects)."""
    return faust_options(settings, settings.orders)


def build_order_app(settings: Settings) -> OrderWorker:
    orders, topics = settings.orders, settings.topics
    FaustRepairs.install()
    app = faust.App(orders.app_id, **app_options(settings))

    def source(name: str) -> faust.TopicT:
        return app.topic(
            name, key_serializer="raw", value_serializer="raw", partitions=topics.partitions
        )

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=topics.partitions,
            key_type=bytes,
            value_type=bytes,
            extra_topic_configs=changelog_configs(settings),
        )

    worker = _worker(settings, app, table(ORDERS_TABLE), table(CAPACITY_TABLE))
    _agent(worker, source(topics.orders), handle_order_batch)
    _agent(worker, source(topics.capacity), handle_capacity_batch)
    _agent(worker, source(topics.decisions), route_decisions)
    _tasks_and_timers(worker)
    _signals(worker)
    return worker


def _worker(settings: Settings, app: faust.App, orders: Any, capacity: Any) -> OrderWorker:
    bounds, topics = settings.orders, settings.topics
    client = aioredis.Redis.from_url(
        settings.redis.url, socket_timeout=settings.redis.socket_timeout_s
    )
    return OrderWorker(
        app=app,
        settings=settings,
        orders=orders,
        capacity=capacity,
        orders_changelog=ChangelogSender(app, orders),
        capacity_changelog=ChangelogSender(app, capacity),
        repairs=FaustRepairs(
            app,
            bounds,
            (topics.orders, topics.capacity, topics.decisions),
            LogEnds(settings.kafka),
        ),
        redis=client,
        views=OrderViews(client, bounds.changes_stream_len_max, bounds.view_ttl_s),
        policy=PolicyFollower(settings, on_invalid=_count_invalid_policy),
        side_producer=SideProducer(settings),
        rules=SagaRules(
            hold_ttl_s=bounds.hold_ttl_s,
            rounds_max=bounds.rounds_max,
            reroutes_max=bounds.reroutes_max,
            ask_retries_max=bounds.ask_retries_max,
        ),
        timeouts=TimeoutIndex(bounds.ask_timeout_s),
    )


def _count_invalid_policy(error: object) -> None:
    metrics.BAD_RECORDS.labels("policy").inc()


def _agent(worker: OrderWorker, topic: faust.TopicT, handle: Any) -> None:
    bounds = worker.settings.orders

    @worker.app.agent(topic, concurrency=1, name=f"processors.orders.{handle.__name__}")
    async def run(stream: Any) -> None:  # faust.Stream; StreamT lacks take_events
        async for batch in stream.take_events(bounds.take_batch_max, within=bounds.take_within_s):
            await worker.policy.ready.wait()  # inside the loop (see processors.app)
            await worker.repairs.run_batch(handle(worker, batch))


def _tasks_and_timers(worker: OrderWorker) -> None:
    app, repairs = worker.app, worker.repairs

    @app.task
    async def follow_policy() -> None:
        async def name_kpi_series(old: PolicyBook, new: PolicyBook) -> None:
            worker.kpis.follow(new)  # nothing to republish: only the KPI series to create

        await worker.policy.run(on_change=name_kpi_series)

    @app.timer(interval=worker.settings.orders.timeout_check_s)
    async def send_timeouts() -> None:
        await _send_timeouts(worker)

    @app.timer(interval=REPAIRS_CHECK_S)
    async def check_commits() -> None:
        repairs.check_commits()

    @app.timer(interval=STARVATION_CHECK_S)
    async def watch_starvation() -> None:
        await repairs.unstarve(policy_ready=worker.policy.ready.is_set())


async def _send_timeouts(worker: OrderWorker) -> None:
    if worker.timeouts.rescan_requested:
        async with worker.durable:
            table = dict(worker.orders.items())
        states = [decode_order_state(raw) for raw in table.values() if raw]
        worker.timeouts.rebuild(states)
        # A state made durable just before a crash may never have reached Redis, and no
        # record may come to replay it: every view once more (compare-and-set: a no-op
        # where Redis is current).
        for start in range(0, len(states), REPUBLISH_CHUNK):
            await worker.views.publish(states[start : start + REPUBLISH_CHUNK])
    now = datetime.now(UTC)
    topic = worker.settings.topics.orders
    due = worker.timeouts.pop_due(now)
    metrics.ORDER_TIMEOUTS.inc(len(due))
    await worker.side_producer.send_all(
        [
            (topic, ref.encode(), encode(Timeout(ref=ref, issued_at=now, step=version)))
            for ref, version in due
        ]
    )


def _signals(worker: OrderWorker) -> None:
    @worker.app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        worker.repairs.on_partitions_assigned()  # first: it hooks Faust's seeks
        worker.on_partitions_assigned()
