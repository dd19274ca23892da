"""The published forms of a SKU's future: its availability by date in a channel
(`tally:atp:{channel}`),

    {"first": "2026-12-05", "last": "2026-12-19", "steps": [["2026-12-05", 0], ["2026-12-08", 10]]}

`steps` are the days from which the units change, the first on `first`; empty steps: nothing
is expected, every day is the channel's figure of today (`tally:ats:{channel}`); and the
supply a backorder may still wait on at a location (`tally:supply:{location}`),

    [["2026-12-08T15:00:00+00:00", 10], ...]     (ETA, units not yet promised; earliest first)
"""

from __future__ import annotations

from datetime import date, datetime

import orjson

from ledger.promise.atp import Horizon


def horizon_json(horizon: Horizon) -> str:
    return orjson.dumps(
        {
            "first": horizon.first.isoformat(),
            "last": horizon.last.isoformat(),
            "steps": [[day.isoformat(), units] for day, units in horizon.steps],
        }
    ).decode()


def parse_horizon(raw: str | bytes) -> Horizon:
    """The horizon a worker published (ValueError, KeyError or TypeError if it is not one)."""
    doc = orjson.loads(raw)
    steps = tuple((date.fromisoformat(day), int(units)) for day, units in doc["steps"])
    return Horizon(date.fromisoformat(doc["first"]), date.fromisoformat(doc["last"]), steps)


def supply_json(supply: tuple[tuple[datetime, int], ...]) -> str:
    return orjson.dumps([[eta.isoformat(), units] for eta, units in supply]).decode()


def parse_supply(raw: str | bytes) -> tuple[tuple[datetime, int], ...]:
    """The open supply a worker published (ValueError, KeyError or TypeError if it is not)."""
    return tuple((datetime.fromisoformat(eta), int(units)) for eta, units in orjson.loads(raw))
