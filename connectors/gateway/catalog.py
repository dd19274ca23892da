"""What the gateway checks an order against before it reaches the log: the channel's and the
locations' policy (followed from `tally.policy`), SKUs the channel has figures for (Redis),
and postal codes (a table from `settings.gateway.postal_codes_file`, code,latitude,longitude).

An order the ledger could never fill (an unknown SKU, a pickup where the channel does not
hand over) is refused at the edge with the field, and nothing is produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from base.policy_follower import PolicyFollower
from base.settings import Settings
from connectors.gateway.backends import Reads
from ledger.policy import ChannelPolicy, PolicyBook

log = logging.getLogger("tally.gateway.catalog")
POSTAL_CODES_MAX = 2_000_000  # rows of the postal-code table


class Catalog(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def channel(self, name: str) -> ChannelPolicy | None: ...
    def may_hand_over(self, channel: ChannelPolicy, location: str) -> bool: ...
    async def unknown_skus(self, channel: str, skus: Sequence[str]) -> list[int]: ...
    def place(self, postal_code: str) -> tuple[float, float] | None: ...
    def policy_book(self) -> PolicyBook:
        """Every channel's and location's current record (calendars, for promise dates)."""
        ...


def load_postal_codes(path: Path | None) -> dict[str, tuple[float, float]]:
    """code -> (latitude, longitude); codes are matched without spaces, upper case."""
    if path is None:
        return {}
    table: dict[str, tuple[float, float]] = {}
    with path.open(newline="") as rows:
        for row in csv.reader(rows):
            if not row or row[0].startswith("#") or row[0] == "postal_code":
                continue
            if len(table) >= POSTAL_CODES_MAX:
                raise ValueError(f"{path}: more than {POSTAL_CODES_MAX} postal codes")
            table[normal_code(row[0])] = (float(row[1]), float(row[2]))
    return table


def normal_code(code: str) -> str:
    return code.replace(" ", "").upper()


def hands_over(book: PolicyBook, channel: ChannelPolicy, location: str) -> bool:
    """The channel lists `location` for pickup, and its record (if any) allows pickup."""
    if location not in channel.pickup_locations:
        return False
    record = book.locations.get(location)
    return record is None or record.may("pickup")


class PolicyCatalog:
    """The real catalog: a policy follower of the gateway's own, Redis for SKUs."""

    def __init__(self, settings: Settings, reads: Reads) -> None:
        self._follower = PolicyFollower(settings)
        self._reads = reads
        self._postal = load_postal_codes(settings.gateway.postal_codes_file)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        async def nothing(old: PolicyBook, new: PolicyBook) -> None:
            return None

        await self._follower.run(on_change=nothing)

    async def stop(self) -> None:
        """Stop following; waits for the follower to close its consumer (its sockets)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def channel(self, name: str) -> ChannelPolicy | None:
        return self._follower.book.channels.get(name)

    def may_hand_over(self, channel: ChannelPolicy, location: str) -> bool:
        return hands_over(self._follower.book, channel, location)

    async def unknown_skus(self, channel: str, skus: Sequence[str]) -> list[int]:
        figures = await self._reads.ats(channel, skus)
        return [i for i, figure in enumerate(figures) if figure.version is None]

    def place(self, postal_code: str) -> tuple[float, float] | None:
        return self._postal.get(normal_code(postal_code))

    def policy_book(self) -> PolicyBook:
        return self._follower.book
