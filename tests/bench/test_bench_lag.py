"""The latency levels' consumer-lag summary: where a backlog waits, if not in the batch."""

from __future__ import annotations

from devtools.bench.stages import _lag_summary


def test_the_summary_is_the_mean_and_the_max_of_the_samples() -> None:
    assert _lag_summary([3.0, 1.0, 8.0]) == {"samples": 3, "mean": 4.0, "max": 8.0}


def test_no_samples_says_so_rather_than_a_zero_lag_measured() -> None:
    assert _lag_summary([])["samples"] == 0
