"""Hand an agent its source records in batches, straight from the fetch, instead of one by one.

faust-streaming 0.15 delivers each fetched record on its own: the fetch loop
(`Consumer._drain_messages`) awaits a `wait_first` (two tasks) per record, the conductor
builds an `Event`, a channel queue carries it, the stream sets its context and runs its
sensors, and `take_events` buffers it again and waits a fixed window (`within`) for more.
That path alone tops out near 12k records/s on this machine, and a trickle waits the whole
window on every record.

Here the fetch loop (same code, same offsets bookkeeping) collects the records of the topics
an inbox was opened for and puts each fetched chunk into that `BatchInbox` in one step; the
agent takes whatever is there the moment it asks (bounded by count and bytes), with no
window. Faust keeps the rest: the subscription (the agent's topic), partition assignment,
the commit of acknowledged offsets (`Consumer.ack`; under exactly-once the transactions),
the changelog, rebalancing. Records of any other topic (changelogs, during recovery) take
Faust's own path.

As in Faust's stream: a chunk waits for flow control (suspended during a rebalance) and is
abandoned when flow is suspended meanwhile; the inbox is cleared when flow resumes (its
records come again from the committed offsets); a record of an older consumer generation is
dropped when taken. Nothing is acknowledged here: the taker acks each record once it is done.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import TP

_INBOX = "_tally_batch_inbox"
_FAUST_DRAIN = "_tally_faust_drain_messages"


class Delivered:
    """One fetched record as the repairs see an event: its faust `Message` under `.message`
    (and weakly referable, to stand as Faust's current event for the table)."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


class BatchInbox:
    """Fetched records of `topics` (faust `Message`s), waiting for their one taker."""

    def __init__(
        self,
        app: Any,
        topics: Collection[str],
        records_max: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._clock = clock
        self.topics = frozenset(topics)
        self._records_max = records_max  # the fetch loop waits while this many are queued
        # fetched chunks, each with when it arrived (time.monotonic)
        self._chunks: deque[tuple[float, list[Any]]] = deque()
        self._count = 0
        self.oldest_taken_at = 0.0  # when (by `clock`) the last take's oldest record arrived
        self._arrived = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        """Drop every queued record (flow control, on a rebalance): they come again."""
        self._chunks.clear()
        self._count = 0
        self._arrived.clear()
        self._drained.set()

    async def put(self, chunk: list[Any]) -> None:
        """Queue one fetched chunk, in fetch order; waits while the inbox is full."""
        await self.app.flow_control.acquire()
        while self._count >= self._records_max:
            self._drained.clear()
            await self._drained.wait()
        self._chunks.append((self._clock(), chunk))
        self._count += len(chunk)
        self._arrived.set()

    async def take(self, records_max: int, bytes_max: int) -> list[Delivered]:
        """The records waiting now, oldest first (at least one: waits for the first)."""
        while not self._count:
            self._arrived.clear()
            await self._arrived.wait()
        generation = self.app.consumer_generation_id
        taken: list[Any] = []
        size = 0
        chunks = self._chunks
        self.oldest_taken_at = chunks[0][0]
        while chunks and len(taken) < records_max and size < bytes_max:
            arrived_at, chunk = chunks[0]
            room = records_max - len(taken)
            head, rest = chunk[:room], chunk[room:]
            if rest:
                chunks[0] = (arrived_at, rest)
            else:
                chunks.popleft()
            self._count -= len(head)
            for message in head:
                size += message.serialized_value_size or 0
            taken += head
        self._drained.set()
        # Records of an older generation were fetched before a rebalance: Faust's stream
        # skips them too (they are fetched again from the committed offsets).
        return [Delivered(m) for m in taken if m.generation_id == generation]


def open_inbox(app: Any, topics: Collection[str], records_max: int) -> BatchInbox:
    """Route `topics`' fetched records of `app`'s consumer into an inbox (before the fetch
    starts; the same inbox again if one is open)."""
    install()
    opened: BatchInbox | None = getattr(app.consumer, _INBOX, None)
    if opened is not None:
        return opened
    inbox = BatchInbox(app, topics, records_max)
    app.flow_control.manage_queue(inbox)  # cleared when flow resumes, like Faust's queues
    setattr(app.consumer, _INBOX, inbox)
    return inbox


def install() -> None:
    """Wrap Faust's fetch loop (idempotent): consumers with an inbox deliver in batches."""
    if hasattr(Consumer, _FAUST_DRAIN):
        return
    setattr(Consumer, _FAUST_DRAIN, Consumer._drain_messages)
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]


async def _drain_messages(self: Any, fetcher: Any) -> None:
    inbox: BatchInbox | None = getattr(self, _INBOX, None)
    if inbox is None:
        await getattr(Consumer, _FAUST_DRAIN)(self, fetcher)
        return
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            chunk = await _fetch_chunk(self, inbox)
            if chunk:
                await self.wait_first(inbox.put(chunk), self.suspend_flow.wait())
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


async def _fetch_chunk(self: Any, inbox: BatchInbox) -> list[Any]:
    """One `getmany`, as Faust's loop runs it: the inbox's records are kept (tracked as
    unacknowledged, read offsets moved on), any other record goes through Faust's callback."""
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    ait = self.getmany(timeout=1.0)
    # Faust sleeps here too: getmany can return at once, over and over, never yielding.
    await self.sleep(0)
    chunk: list[Any] = []
    if self.should_stop:
        return chunk
    async for tp, message in ait:
        offset = message.offset
        r_offset = get_read_offset(tp)
        if r_offset is not None and offset < r_offset:
            continue  # read before (Faust drops these too)
        if r_offset and offset - r_offset > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, r_offset + 1, offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        if tp.topic in inbox.topics:
            self.track_message(message)
            chunk.append(message)
        else:
            if chunk:  # keep delivery in fetch order across the two paths
                await self.wait_first(inbox.put(chunk), self.suspend_flow.wait())
                chunk = []
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
        set_read_offset(cast(TP, tp), offset)
    return chunk
