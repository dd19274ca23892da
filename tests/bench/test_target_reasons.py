"""A missed target's measured reason: the figures it states come from the run's own JSON."""

from __future__ import annotations

from typing import Any

from devtools.bench import report, target_reasons


def _run() -> dict[str, Any]:
    """A run's JSON cut down to the figures the reasons read (numbers chosen by hand)."""
    return {
        "mode": "full",
        "machine": {"cores": 2},
        "throughput": {
            "floor": {"steady_records_per_s": 30_000.0, "records_per_s": 29_000.0},
            "exactly_once": {
                "steady_records_per_s": 9_000.0,
                "cpu_us_per_record": 80.0,
                "mean_batch_records": 1000.0,
                "cpu_cores": {"worker": 0.72, "bench": 0.1, "machine": 1.9, "worker_loop": 0.6},
            },
            "at_least_once": {"steady_records_per_s": 20_000.0, "cpu_us_per_record": 40.0},
        },
        "latency": {
            "processing_guarantee": "exactly_once",
            "levels": [
                {
                    "trickle": True,
                    "load": 0.01,
                    "offered_rate": 100.0,
                    "achieved_rate": 100.0,
                    "tally_sync_ms": {"p50": 5.0, "p99": 12.0},
                    "kafka_ms": {"p50": 2.5, "p99": 4.0},
                },
                {
                    "trickle": False,
                    "load": 0.25,
                    "offered_rate": 2_000.0,
                    "achieved_rate": 2_000.0,
                    "tally_sync_ms": {"p50": 30.0, "p99": 90.0},
                    "kafka_ms": {"p50": 2.4, "p99": 5.0},
                    "mean_batch_records": 16.0,
                    "cpu_cores": {"worker": 0.8, "bench": 0.3, "machine": 1.5, "worker_loop": 0.7},
                    "commits": {"count": 20, "mean_ms": 40.0},
                },
            ],
        },
        "holds": {
            "tally": {
                "clients": 32,
                "elapsed_s": 3.0,
                "holds_per_s": 1_500.0,
                "oversells": 0,
                "decision_latency_ms": {"p50": 9.0, "p99": 25.0},
                "decision_split": {
                    "command_sent_to_decision_sent_ms": {"p50": 6.0, "p99": 18.0},
                    "decision_sent_to_read_ms": {"p50": 2.5, "p99": 6.0},
                },
                "worker_batches": {
                    "batches": 300.0,
                    "mean_batch_records": 32.0,
                    "phase_mean_ms": {"fold": 3.0, "idle": 6.5},
                },
            },
            "postgres_conditional": {
                "holds_per_s": 3_000.0,
                "oversells": 0,
                "decision_latency_ms": {"p50": 5.0, "p99": 12.0},
            },
            "postgres_for_update": {"holds_per_s": 500.0, "oversells": 0},
        },
    }


def _says(why: str | None, *phrases: str) -> None:
    """`why` is a reason holding every one of `phrases` (all the missing ones reported)."""
    assert why is not None
    missing = [phrase for phrase in phrases if phrase not in why]
    assert not missing, (missing, why)


def test_throughput_reason_is_one_core_at_the_measured_cost() -> None:
    # 1e6 / 80 us = 12,500 records/s = 0.42 x 30,000; 0.5 x 30,000 = 15,000/s needs 67 us
    _says(
        target_reasons.throughput(_run(), "exactly_once", 0.5),
        "80 us of CPU a record",
        "busy 0.72 cores (its event loop's thread 0.6; the machine 1.9 of 2)",
        "holds 12,500 records/s (0.42 x the floor)",
        "needs at most 67 us",
    )


def test_throughput_reason_without_cores_leaves_them_out() -> None:
    why = target_reasons.throughput(_run(), "at_least_once", 0.6)
    _says(why, "holds 25,000 records/s (0.83 x the floor)")  # 1e6 / 40
    assert why is not None and "busy" not in why


def test_latency_reason_is_cpu_per_record_against_the_drain() -> None:
    # 0.8 cores / 2,000 records/s = 400 us a record = 5.0 x the drain's 80 us
    _says(
        target_reasons.latency(_run(), _run()["latency"]["levels"][1]),
        "kept 0.8 cores busy (its event loop's thread 0.7; the machine 1.5)",
        "400 us of CPU a record in batches of 16",
        "5.0 x the drain's 80 us in batches of 1,000",
        "20 commits of 40.0 ms each",
    )


def test_holds_reason_is_the_hops_and_the_rounds() -> None:
    _says(
        target_reasons.holds_rate(_run()),
        "command sent -> decision sent p50 6.0 ms",
        "decision sent -> read p50 2.5 ms",
        "Kafka's own hop p50 2.5 ms at a trickle",
        "300 rounds of 32 commands, 10.0 ms each",  # 3.0 s / 300
        "PostgreSQL answered a statement in p50 5.0 ms",
    )
    assert target_reasons.decision_p99(_run()) == (
        "command sent -> decision sent p99 18.0 ms, decision sent -> read p99 6.0 ms"
    )


def test_reasons_are_none_where_the_run_lacks_the_figures() -> None:
    run = _run()
    del run["throughput"]["exactly_once"]["cpu_us_per_record"]
    del run["holds"]["tally"]["decision_split"]
    level = run["latency"]["levels"][0]  # the trickle: no cores sampled here
    assert target_reasons.throughput(run, "exactly_once", 0.5) is None
    assert target_reasons.latency(run, level) is None
    assert target_reasons.holds_rate(run) is None
    assert target_reasons.decision_p99(run) is None


def test_report_gives_the_reason_of_missed_targets_only() -> None:
    lines = report._targets(_run())
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert rows["full pipeline (exactly_once) >= 0.5 x raw floor"].endswith(
        "| **missed** | " + str(target_reasons.throughput(_run(), "exactly_once", 0.5)) + " |"
    )
    assert rows["sync p99 at 25% of max <= 25 ms"].count("**missed**") == 1
    assert "400 us of CPU a record" in rows["sync p99 at 25% of max <= 25 ms"]
    # met: the trickle's p50 (5 ms <= 10 ms) and at_least_once (0.67 x >= 0.6 x)
    assert rows["sync p50 at a trickle (100/s) <= 10 ms"].endswith("| met |  |")
    assert rows["full pipeline (at_least_once) >= 0.6 x raw floor"].endswith("| met |  |")
