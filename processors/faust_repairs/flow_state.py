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


def consumer_thread_loop(consumer: Any) -> Any:
    """The event loop of Faust's consumer thread (aiokafka's fetcher, coordinator and
    connections run there, not in the worker's loop), or None."""
    return getattr(getattr(consumer, "_thread", None), "thread_loop", None)


def fetcher_lines(consumer: Any) -> list[str]:
    """aiokafka's view inside the consumer thread: the nodes with a fetch in flight, the
    partitions with fetched records, and each assigned partition's position and marks."""
    kafka: Any = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    fetcher = getattr(kafka, "_fetcher", None)
    if fetcher is None:
        return ["fetcher: none"]
    lines = [
        f"fetcher in flight to nodes {sorted(getattr(fetcher, '_in_flight', ()))}, "
        f"{len(getattr(fetcher, '_pending_tasks', ()))} pending tasks, "
        f"records for {_tps_text(getattr(fetcher, '_records', {}).keys())}"
    ]
    try:
        assignment = kafka._subscription.subscription.assignment
        states = {tp: assignment.state_value(tp) for tp in assignment.tps}
    except Exception as error:  # no subscription or assignment: say so, never fail
        return [*lines, f"fetcher assignment unavailable: {error!r}"]
    for tp, state in sorted(states.items(), key=lambda item: (item[0].topic, item[0].partition)):
        position = state.position if state.has_valid_position else "-"
        lines.append(
            f"  {tp.topic}[{tp.partition}]: position {position}, awaiting reset "
            f"{state.awaiting_reset}, paused {state.paused}, highwater {state.highwater}, "
            f"lso {state.lso}"
        )
    return lines
