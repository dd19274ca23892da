"""Faust's consumer flow state, as lines for a task dump: why a fetch loop may get nothing.

faust-streaming 0.15 fetches only from its *active* partitions: the assignment less the
partitions it paused (recovery pauses the stream partitions until the tables are read) and
less those whose stream buffer was full (`on_buffer_full`, until `on_buffer_drop`). With its
flow suspended (`flow_active` false, during a rebalance) `getmany` waits for the flow to
resume. Fault seed 49 once hung with every task waiting and the fetch loop inside `getmany`;
these are the facts that tell those causes apart. Read-only, every attribute optional.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def consumer_flow_lines(consumer: Any) -> list[str]:
    """The consumer's flow flag and its assigned, active, paused and buffered partitions."""
    resume = getattr(consumer, "can_resume_flow", None)
    resume_set = resume.is_set() if resume is not None else "-"
    lines = [
        f"consumer flow active {getattr(consumer, 'flow_active', '-')}, can resume {resume_set}"
    ]
    try:
        assigned: Iterable[Any] = consumer.assignment()
    except Exception as error:  # a dump must never fail on a consumer half torn down
        lines.append(f"consumer assignment unavailable: {error!r}")
        assigned = ()
    for name, tps in (
        ("assigned", assigned),
        ("active", getattr(consumer, "_active_partitions", None)),
        ("paused", getattr(consumer, "_paused_partitions", None)),
        ("buffered", getattr(consumer, "_buffered_partitions", None)),
    ):
        lines.append(f"consumer {name}: {_tps_text(tps)}")
    return lines


def _tps_text(tps: Iterable[Any] | None) -> str:
    if tps is None:
        return "None"
    named = sorted(f"{tp.topic}[{tp.partition}]" for tp in tps)
    return ", ".join(named) if named else "(none)"
