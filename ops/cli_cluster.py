"""`tally up --brokers N`: create the wire topics with the cluster's copies, say how to reach it.

The wire topics are created here, before any process with other settings can create them
with fewer copies (a worker or gateway creates only the topics that are missing).
"""

from __future__ import annotations

import asyncio

from base.settings import Settings
from base.topics import ensure_topics
from ops.stack.procs import Echo


def announce(settings: Settings, echo: Echo) -> None:
    created = asyncio.run(ensure_topics(settings))
    factor, insync = settings.topics.replication(settings.kafka.brokers)
    echo(
        f"up: {settings.kafka.brokers} brokers at {settings.kafka.bootstrap}; wire topics "
        f"with {factor} copies, {insync} in sync to acknowledge"
        + (f" (created {', '.join(created)})" if created else "")
    )
    echo(
        f"up: every Tally process needs TALLY_KAFKA__BROKERS={settings.kafka.brokers} "
        "(it bootstraps from every broker, so any one may be down)"
    )
