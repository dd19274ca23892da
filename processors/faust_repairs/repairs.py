"""`FaustRepairs`: the one object through which the worker uses its faust-streaming repairs.

It holds the repairs' state (what was processed, the hole, commit and starvation watches) and
is the only holder of Faust's consumer internals the repairs read or patch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any, Protocol

import faust
from faust.types import TP

from processors.faust_repairs import (
    batch_delivery,
    batch_exit,
    changelog_highwater,
    current_event,
    dirty_store,
    fast_restore,
    fetch_wait,
    flow_state,
    ordering,
    recovery_offsets,
    rewind,
    static_membership,
    transaction_watch,
    txn_backoff,
)
from processors.faust_repairs.commit_watch import (
    CommitWatch,
    fill_lost_acks_or_restart,
    restart_if_commit_hung,
)
from processors.faust_repairs.processed import Partition, ProcessedOffsets
from processors.faust_repairs.starvation_watch import (
    LogEndsReader,
    Source,
    StarvationWatch,
    Waiting,
    nudge_or_restart,
)


class RepairBounds(Protocol):
    """The settings the repairs read (the stream worker's and the order processor's)."""

    @property
    def crash_restarts_max(self) -> int: ...
    @property
    def starved_s(self) -> float: ...
    @property
    def commit_stall_s(self) -> float: ...
    @property
    def fetch_wait_max_ms(self) -> int: ...
    @property
    def group_instance_id(self) -> str | None: ...


class FaustRepairs:
    """The repairs of one worker's app, consuming `source_topics`."""

    def __init__(
        self,
        app: faust.App,
        settings: RepairBounds,
        source_topics: Collection[str],
        log_ends: LogEndsReader,
    ) -> None:
        self._app = app
        self._log_ends = log_ends
        # (topic, partition) -> what the last starvation check saw waiting (the broker's log
        # end): the consumer lag stays honest when this consumer's fetches stop completing
        self.waiting_seen: dict[Partition, Waiting] = {}
        self.before_restart: Callable[[], None] = _nothing  # e.g. log a task dump
        self._source_topics = tuple(source_topics)
        self._restarts_max = settings.crash_restarts_max
        self._starved_s = settings.starved_s
        self._in_order = ordering.InOrder()
        self._commit_watch = CommitWatch(settings.commit_stall_s)
        self._starvation_watch = StarvationWatch(settings.starved_s)
        self.processed = ProcessedOffsets()  # since the last assignment
        fetch_wait.set_fetch_wait(app, settings.fetch_wait_max_ms)
        static_membership.set_instance_id(app, settings.group_instance_id)

    @staticmethod
    def install() -> None:
        """Patch Faust's classes, once per process (idempotent), before the app is built."""
        changelog_highwater.install()  # exactly-once recovery must see the changelog's end
        recovery_offsets.install()  # ... and start where the local store really is
        transaction_watch.install()  # commits counted and timed, failures as metrics
        dirty_store.install()  # a store written past its last commit is rebuilt at a rebalance
        txn_backoff.install()  # a new transaction's first send retried after ~2 ms, not 20
        fetch_wait.install()  # an empty fetch holds the others back milliseconds, not 1.5 s
        static_membership.install()  # a restarted worker replaces its earlier self at once

    def state_lines(self) -> list[str]:
        """Faust's state a task dump shows: rebalancing, recovery, the consumer's flow and
        partitions, the transactions."""
        app: Any = self._app
        head = f"app rebalancing {app.rebalancing}, in recovery {app.in_recovery}"
        return [
            head,
            *flow_state.consumer_flow_lines(app.consumer),
            *flow_state.fetcher_lines(app.consumer),
            *transaction_watch.transaction_states(app.producer),
        ]

    def consumer_loop(self) -> asyncio.AbstractEventLoop | None:
        """The consumer thread's event loop, whose tasks a task dump lists too."""
        loop: asyncio.AbstractEventLoop | None = flow_state.consumer_thread_loop(self._app.consumer)
        return loop

    def on_partitions_assigned(self) -> None:
        """A new assignment: rewind never-committed partitions, and watch from scratch."""
        rewind.install(self._app.consumer, self._source_topics)  # before recovery seeks
        rewind.forget_log_starts(self._app.consumer)
        self.processed.clear()
        self.waiting_seen = {}
        self._in_order.reset()
        self._commit_watch.reset()
        self._starvation_watch.reset()

    def restore_in_bulk(
        self, client_options: Mapping[str, Any], *, read_committed: bool, records_min: int
    ) -> None:
        """Have recovery read changelog partitions behind in bulk (`fast_restore`);
        `client_options` connect its consumer (base.kafka_client)."""
        fast_restore.install(
            self._app, fast_restore.RestoreSettings(client_options, read_committed, records_min)
        )

    def deliver_in_batches(self, stream: Any, records_max: int) -> batch_delivery.BatchInbox:
        """Subscribe the agent's `stream` (a faust Stream, never iterated then) and have its
        records fetched into an inbox, in batches (`batch_delivery`). Before the app starts."""
        stream.channel.__aiter__()  # what iterating it would do: the conductor subscribes
        return batch_delivery.open_inbox(self._app, self._source_topics, records_max)

    def acknowledge(self, records: Sequence[batch_delivery.Delivered]) -> None:
        """Tell Faust these records are done: their offsets may commit."""
        ack = self._app.consumer.ack
        for record in records:
            ack(record.message)

    async def run_batch(self, batch: Coroutine[Any, Any, None]) -> None:
        """Run one batch whole, or restart the worker to replay it (never a half batch acked)."""
        await batch_exit.run_batch(batch, self._restarts_max)

    async def in_partition_order(
        self, batch: Sequence[faust.EventT[bytes]]
    ) -> Sequence[faust.EventT[bytes]]:
        """The batch's events that continue each partition without a hole; a partition with a
        hole is sought back (its later events come again)."""
        consumer = self._app.consumer
        kept: Sequence[faust.EventT[bytes]] = await ordering.in_partition_order(
            consumer, self._in_order, batch, self.committed_offset, rewind.log_starts(consumer)
        )
        return kept

    def note_processed(self, events: Sequence[faust.EventT[bytes]]) -> None:
        """Record the events about to be processed, in order (holes, first and last offsets)."""
        self.processed.note(events)

    @staticmethod
    def enter_partition(event: faust.EventT[bytes]) -> None:
        """Make table reads and changelog writes use `event`'s partition."""
        current_event.enter_partition(event)

    def committed_offset(self, partition: Partition) -> int | None:
        """The offset Faust last committed on (topic, partition): its own, private bookkeeping,
        which is exactly what goes wrong in faust-streaming #596."""
        consumer: Any = self._app.consumer
        committed: int | None = consumer._committed_offset.get(TP(*partition))
        return committed

    def check_commits(self) -> None:
        """Fill in acks Faust lost on a stalled partition, or restart to replay it; restart
        if an offsets commit hangs."""
        fill_lost_acks_or_restart(
            self._app.consumer,
            self._commit_watch,
            self.processed,
            self.committed_offset,
            self._restarts_max,
        )
        restart_if_commit_hung(
            self._app.producer, self.processed, self._commit_watch.stall_s, self._restarts_max
        )

    async def unstarve(self, *, policy_ready: bool) -> None:
        """Nudge, or restart for, assigned partitions whose waiting records never come."""
        app: Any = self._app
        if app.rebalancing or app.in_recovery or not policy_ready:
            self._starvation_watch.reset()  # records legitimately wait meanwhile
            return
        source = Source(
            app.consumer,
            self._source_topics,
            self.processed,
            self.committed_offset,
            self._log_ends,
        )
        waiting = await nudge_or_restart(
            source, self._starvation_watch, self._starved_s, self._restarts_max, self.before_restart
        )
        self.waiting_seen = waiting


def _nothing() -> None:
    pass
