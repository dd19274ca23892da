"""The gateway's decision follower restarts when it fails, and misses no decision meanwhile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from base.settings import Settings
from connectors.gateway.replies import DecisionFollower, Waiters
from ledger.codec import encode
from ledger.commands import Decision, Reserve
from tests.support.kafka_io import produce

pytestmark = pytest.mark.integration
RESTARTS = "tally_gateway_decision_follower_restarts_total"


def reserve(hold_id: str) -> Reserve:
    return Reserve(
        request_id=f"r-{hold_id}",
        hold_id=hold_id,
        sku="SKU-1",
        channel="web",
        qty=1,
        ttl_s=60,
        issued_at=datetime.now(UTC),
    )


def decision_of(command: Reserve) -> Decision:
    return Decision(
        request_id=command.request_id,
        hold_id=command.hold_id,
        sku=command.sku,
        command="reserve",
        outcome="accepted",
        location="A",
        available_after=3,
        decided_at=command.issued_at,
        channel=command.channel,
    )


async def _fail_once_then_answer(settings: Settings) -> None:
    waiters = Waiters(10)
    follower = DecisionFollower(settings, waiters)
    await follower.start(set(range(settings.topics.partitions)))
    restarts_before = REGISTRY.get_sample_value(RESTARTS) or 0.0
    try:
        assert follower.running
        consumer: Any = follower._consumer
        failing = asyncio.get_running_loop().create_future()

        async def broken_getmany(*args: Any, **kwargs: Any) -> Any:
            failing.set_result(None)
            raise ConnectionError("fetch failed")

        consumer.getmany = broken_getmany  # the follower's consumer dies on its next poll
        await asyncio.wait_for(failing, 5)
        assert not follower.running  # health reports it down while it waits to restart
        command = reserve("h-during-the-outage")
        with waiters.register(command) as answered:
            # Produced while no consumer follows: the restarted one resumes where the failed
            # one stopped (not at the log end), so the decision still reaches its waiter.
            await produce(
                settings, settings.topics.decisions, [(b"SKU-1", encode(decision_of(command)))]
            )
            got = await asyncio.wait_for(answered, 15)
        assert got.hold_id == "h-during-the-outage"
        assert follower.running and follower.restarts == 1
        assert REGISTRY.get_sample_value(RESTARTS) == restarts_before + 1
    finally:
        await follower.stop()


def test_a_failed_follower_restarts_and_answers_the_decisions_produced_meanwhile(
    isolated: Settings,
) -> None:
    asyncio.run(_fail_once_then_answer(isolated))
