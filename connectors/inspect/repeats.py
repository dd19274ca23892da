"""Which of a SKU's records the ledger ignored as repeats, replayed for `tally history`.

The ledger is idempotent per SKU: a fact whose event_id it has seen changes nothing
(`ledger.fold`), and a command whose request_id its channel has asked before, or a reserve
whose hold_id its channel knows, is answered with the first decision again
(`ledger.decide.first_decision`; ids are each channel's own).
`Repeats` keeps the same bounded memory (`ledger.limits`) over the records in log order, so
history marks what the worker ignored. Only the records read count: with `--since`, or past
the topic's retention, a repeat of an older record is not recognised.
"""

from __future__ import annotations

from ledger import limits
from ledger.commands import CommandUnion, Expire, Reserve
from ledger.events import Fact
from ledger.state import Journal, SeenIds, hold_key, journal_put, seen_add

DUPLICATE_EVENT_ID = "duplicate event_id"
DUPLICATE_REQUEST_ID = "duplicate request_id: answered with its first decision"
DUPLICATE_HOLD_ID = "duplicate hold_id: answered with that hold's first decision"


class Repeats:
    """One SKU's idempotency memory, fed its facts and commands in log (offset) order."""

    def __init__(self) -> None:
        self._event_ids = SeenIds()
        self._request_ids: Journal[bool] = Journal()
        # The ledger knows a hold_id while the hold is pending or among its resolved holds;
        # remembering the newest reserves' hold_ids is that, short of >1,000 holds per SKU.
        self._hold_ids: Journal[bool] = Journal()

    def of_fact(self, fact: Fact) -> str | None:
        """Why the ledger ignores `fact` (None: it applies it)."""
        if fact.event_id in self._event_ids:
            return DUPLICATE_EVENT_ID
        self._event_ids = seen_add(self._event_ids, fact.event_id)
        return None

    def of_command(self, command: CommandUnion) -> str | None:
        """Why the ledger answers `command` with an earlier decision (None: it decides it)."""
        if isinstance(command, Expire):
            return None  # a timer tick: no request_id, and expiring twice changes nothing
        request = hold_key(command.channel or "", command.request_id)  # the same scoping
        if self._request_ids.has(request):
            return DUPLICATE_REQUEST_ID
        if isinstance(command, Reserve):
            hold = hold_key(command.channel, command.hold_id)
            if self._hold_ids.has(hold):
                return DUPLICATE_HOLD_ID
            self._hold_ids = journal_put(
                self._hold_ids, hold, True, limits.RESOLVED_HOLDS_PER_SKU_MAX
            )
        self._request_ids = journal_put(
            self._request_ids, request, True, limits.DECISIONS_PER_SKU_MAX
        )
        return None
