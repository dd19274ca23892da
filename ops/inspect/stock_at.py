"""`tally stock SKU --at TIME`: the SKU's positions as they were at TIME, rebuilt from the log
(connectors/as_of.py, which the gateway can serve too)."""

from __future__ import annotations

from datetime import datetime

from base.settings import Settings
from connectors.as_of import StockAsOf, stock_as_of
from connectors.inspect.kafka_read import kafka_consumer


async def stock_at(settings: Settings, sku: str, at: datetime) -> StockAsOf:
    async with kafka_consumer(settings) as consumer:
        return await stock_as_of(consumer, settings.topics, sku, at)
