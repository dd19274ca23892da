"""Point Faust's current event at a SKU's own partition before touching the table.

Faust's table picks the store (and the changelog partition) of a key from the current event,
a context variable it sets per event (`faust.streams._current_event`, private). Inside a
batch from `take_events` the current event is whichever came last; a SKU's state lives in
the store and changelog of the SKU's own partition, so each access names it explicitly.
"""

from __future__ import annotations

import weakref

import faust
from faust.streams import _current_event  # the changelog partition follows the current event


def enter_partition(event: faust.EventT[bytes]) -> None:
    """Make `event` Faust's current event: table reads and changelog writes use its partition."""
    _current_event.set(weakref.ref(event))
