"""What a batch of plans reads from Redis: every plan its own figures, all read in one trip."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import orjson
import pytest
import redis.asyncio as aioredis

from base.redis_keys import capacity_key, loc_key, supply_key
from base.settings import Settings
from processors.orders.stock_view import PlanAsk, PlanView, read_plan_views

pytestmark = pytest.mark.integration
DAY, NEXT_DAY = date(2026, 12, 6), date(2026, 12, 7)


class CountingPipelines:
    """The client, counting the pipelines executed through it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client, self.executed = client, 0

    def pipeline(self, transaction: bool = True) -> aioredis.client.Pipeline:
        pipe = self.client.pipeline(transaction=transaction)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> list[object]:
            self.executed += 1
            return await execute(raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


async def _read(
    settings: Settings, asks: list[PlanAsk], a: str, b: str
) -> tuple[list[PlanView], int]:
    client = aioredis.Redis.from_url(settings.redis.url)
    keys = [loc_key(a), loc_key(b), supply_key(a), capacity_key(a), capacity_key(b)]
    try:
        await client.hset(loc_key(a), mapping={"S1": 4, "S2": 0})
        await client.hset(loc_key(b), mapping={"S1": 7})
        eta = [["2026-12-10T00:00:00+00:00", 5]]
        await client.hset(supply_key(a), mapping={"S2": orjson.dumps(eta), "S3": b"not json"})
        await client.hset(capacity_key(a), mapping={DAY.isoformat(): 3})
        await client.hset(capacity_key(b), mapping={NEXT_DAY.isoformat(): 9})
        counting = CountingPipelines(client)
        views = await read_plan_views(counting, asks)  # type: ignore[arg-type]
        return views, counting.executed
    finally:
        await client.delete(*keys)
        await client.aclose()


def test_each_plan_reads_its_own_figures_in_one_trip(live_stack: Settings) -> None:
    a, b = f"view-{uuid.uuid4().hex[:8]}-a", f"view-{uuid.uuid4().hex[:8]}-b"
    asks = [
        PlanAsk(["S1", "S2"], [a, b], {a: DAY, b: DAY}, with_supply=False),
        PlanAsk(["S2", "S3"], [a], {a: NEXT_DAY}, with_supply=True),
        PlanAsk(["S1"], [b], {b: NEXT_DAY}, with_supply=False),
        PlanAsk([], [], {}, with_supply=False),
    ]
    views, trips = asyncio.run(_read(live_stack, asks, a, b))
    assert trips == 1
    first, second, third, empty = views
    assert first.stock == {"S1": {a: 4, b: 7}, "S2": {a: 0}} and first.supply is None
    assert first.taken == {a: 3}  # b took nothing on DAY
    assert second.stock == {"S2": {a: 0}, "S3": {}}
    assert second.supply is not None and set(second.supply) == {"S2", "S3"}
    assert [units for _eta, units in second.supply["S2"][a]] == [5]
    assert second.supply["S3"] == {}  # unreadable: logged and left out, not a failure
    assert second.taken == {}  # a's count is for DAY, this plan's day is NEXT_DAY
    assert third.stock == {"S1": {b: 7}} and third.taken == {b: 9}
    assert empty == PlanView({}, None, {})
