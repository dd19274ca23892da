"""Follow the whole `tally.policy` topic into a PolicyBook of one's own.

Policy is global (every SKU consults it), so each process that needs it (a stream worker, the
order processor, a gateway) follows all of it with a plain consumer (no group); a worker, on
each change after start-up, republishes the figures of the SKUs it owns. The offset of the
last applied record + 1 is the policy version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from base.kafka_client import client_options, start_or_close
from base.policy_log import PolicyLog, RecordRefused
from base.settings import Settings
from ledger.policy import PolicyBook

log = logging.getLogger("tally.policy")

# Called with (old book, new book) after start-up, once per polled batch that changed policy.
PolicyChanged = Callable[[PolicyBook, PolicyBook], Awaitable[None]]
InvalidRecord = Callable[[RecordRefused], None]  # told of each record skipped as invalid

POLL_TIMEOUT_MS = 500
POLL_RECORDS_MAX = 1_000


class PolicyTopicMisconfigured(RuntimeError):
    """The policy topic does not have exactly one partition."""


class PolicyFollower:
    def __init__(self, settings: Settings, on_invalid: InvalidRecord | None = None) -> None:
        self._settings = settings
        self._on_invalid = on_invalid
        self._log = PolicyLog()
        self.ready = asyncio.Event()  # set once the topic has been read to its end

    @property
    def book(self) -> PolicyBook:
        return self._log.book

    @property
    def version(self) -> int:
        return self._log.version

    def apply(self, offset: int, raw: bytes | None) -> None:
        """Apply one record; an invalid one is logged, counted and skipped."""
        error = self._log.apply(offset, raw)
        if error is not None:
            if self._on_invalid is not None:
                self._on_invalid(error)
            log.error("policy record at offset %d ignored: %s", offset, error.reason)

    async def run(self, on_change: PolicyChanged) -> None:
        partition = TopicPartition(self._settings.topics.policy, 0)
        consumer = AIOKafkaConsumer(
            **client_options(self._settings.kafka),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await start_or_close(consumer)
        try:
            await self._check_single_partition(consumer)
            consumer.assign([partition])
            # An explicit seek: seek_to_beginning on a fresh assignment can lose a race with
            # the initial offset reset and start at the end, silently skipping every record.
            first_offset = (await consumer.beginning_offsets([partition]))[partition]
            consumer.seek(partition, first_offset)
            end_offset = (await consumer.end_offsets([partition]))[partition]
            if end_offset == 0:
                self._mark_ready()
            while True:
                batches = await consumer.getmany(
                    partition, timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS_MAX
                )
                old_book = self.book
                for record in batches.get(partition, []):
                    self.apply(record.offset, record.value)
                if not self.ready.is_set():
                    if await consumer.position(partition) >= end_offset:
                        self._mark_ready()
                elif self.book is not old_book:
                    await on_change(old_book, self.book)
        finally:
            await consumer.stop()

    async def _check_single_partition(self, consumer: AIOKafkaConsumer) -> None:
        """The policy version is an offset: with more than one partition it would not be."""
        topic = self._settings.topics.policy
        await consumer.topics()  # refreshes the cluster metadata
        partitions = consumer.partitions_for_topic(topic)
        if partitions is not None and len(partitions) != 1:
            raise PolicyTopicMisconfigured(
                f"{topic} has {len(partitions)} partitions; it must have exactly 1 "
                "(create it with base.topics.ensure_topics before producing to it)"
            )

    def _mark_ready(self) -> None:
        log.info(
            "policy loaded: %d channels, %d locations, version %d",
            len(self.book.channels), len(self.book.locations), self.version,
        )  # fmt: skip
        self.ready.set()
