"""`GET /v1/stock/{sku}?at=TIME`'s reply: a SKU's positions as they were at a past time,
rebuilt from the event log (connectors/as_of.py). The fields are `tally stock SKU --at
TIME --json`'s."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from connectors.as_of import ChannelAsOf, PositionAsOf, StockAsOf


class StockAsOfReply(BaseModel):
    sku: str
    at: datetime = Field(description="The time asked for (UTC when it came without offset).")
    known: bool = Field(description="Any fact or command of the SKU up to `at`.")
    version: str = Field(description="The SKU's ledger version and the policy version then.")
    clock: datetime | None = Field(description="Log time of the last event applied.")
    pending_holds: int
    records: int = Field(description="Facts and commands replayed.")
    complete: bool = Field(
        description="False when records before `at` were deleted (retention) or the scan "
        "bound was reached: `notes` says which."
    )
    notes: list[str]
    decisions_checked: int = Field(
        description="Replayed decisions the worker also recorded up to `at`."
    )
    decisions_differing: list[str] = Field(
        description="Request ids whose replayed decision differs from the recorded one."
    )
    locations: list[PositionAsOf] = Field(
        description="Each location's buckets then; `available` is after safety stock, "
        "negative when oversold."
    )
    channels: list[ChannelAsOf] = Field(
        description="Each channel's available-to-sell then, and its stranded units (sellable "
        "units outside its pool while it showed 0): every channel for an admin key, its own "
        "for a channel key."
    )

    @classmethod
    def of(cls, report: StockAsOf, channel: str | None) -> StockAsOfReply:
        """The reply to a key of `channel` (None: an admin key, which sees every channel)."""
        return cls(
            sku=report.sku,
            at=report.at,
            known=report.known,
            version=report.version.wire(),
            clock=report.clock,
            pending_holds=report.pending_holds,
            records=report.records,
            complete=report.complete,
            notes=report.notes,
            decisions_checked=report.decisions_checked,
            decisions_differing=report.decisions_differing,
            locations=report.locations,
            channels=[row for row in report.channels if channel is None or row.channel == channel],
        )
