"""The policy preview: which figures a policy change would move, and by how much, computed
with the ledger's own functions over a bounded sample of SKU states (pure).

The sample is the first `console.preview_skus_max` SKUs, by name, that have a position at a
location the change touches (a pool's old or new locations, or a location whose safety stock
changes), read from the positions changelog; the page says when it was cut short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.availability import figures, policy_affected, policy_changed_figures
from ledger.policy import PolicyBook
from ledger.state import SkuState


@dataclass(frozen=True)
class FigureChange:
    sku: str
    kind: str  # "channel" or "location"
    name: str
    before: int
    after: int
    delta: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta", self.after - self.before)


def touched_locations(old: PolicyBook, new: PolicyBook) -> frozenset[str]:
    """Every location whose SKUs a change from `old` to `new` may re-figure."""
    affected = policy_affected(old, new)
    touched = set(affected.locations)
    for name in affected.channels:
        for book in (old, new):
            policy = book.channels.get(name)
            if policy is not None:
                touched.update(policy.locations)
    return frozenset(touched)


def figure_changes(
    states: Iterable[SkuState], old: PolicyBook, new: PolicyBook
) -> list[FigureChange]:
    """Each figure the change alters, before and after, SKU by SKU."""
    changes: list[FigureChange] = []
    for state in states:
        now = figures(state, old)
        moved = policy_changed_figures(state, old, new)
        for name, after in sorted(moved.channels.items()):
            changes.append(
                FigureChange(state.sku, "channel", name, now.channels.get(name, 0), after)
            )
        for name, after in sorted(moved.locations.items()):
            changes.append(
                FigureChange(state.sku, "location", name, now.locations.get(name, 0), after)
            )
    return changes
