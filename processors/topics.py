"""Create the wire-contract topics with the right shape before anything uses them."""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ops.settings import Settings

log = logging.getLogger("tally.topics")


def wanted_topics(settings: Settings) -> list[NewTopic]:
    topics = settings.topics
    keyed_by_sku = {"cleanup.policy": "delete"}
    return [
        NewTopic(topics.events, topics.partitions, 1, topic_configs=keyed_by_sku),
        NewTopic(topics.commands, topics.partitions, 1, topic_configs=keyed_by_sku),
        NewTopic(topics.decisions, topics.partitions, 1, topic_configs=keyed_by_sku),
        # One partition: its offsets are the global policy version; compacted, so the latest
        # record per channel/location is kept forever.
        NewTopic(topics.policy, 1, 1, topic_configs={"cleanup.policy": "compact"}),
        NewTopic(topics.dlq, 1, 1, topic_configs={"cleanup.policy": "delete"}),
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted_topics(settings) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                await admin.create_topics(missing)
            log.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()
