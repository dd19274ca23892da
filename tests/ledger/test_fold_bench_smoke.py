"""The fold benchmark harness runs end to end at a tiny size (never asserts timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.bench import fold_bench


@pytest.mark.bench
def test_fold_bench_runs_and_writes_sane_numbers(tmp_path: Path) -> None:
    out = tmp_path / "fold_bench.json"
    args = ["--events", "400", "--skus", "20", "--repeats", "1", "--out", str(out)]
    result = fold_bench.main(args)
    written = json.loads(out.read_text())
    assert written == result
    assert result["fold_events_per_s"] > 0
    assert result["baseline_events_per_s"] > 0
    assert result["ratio"] > 0
    assert result["events"] == 400


def test_the_mix_decodes_and_folds_every_event() -> None:
    raws = fold_bench.make_events(300, skus=7, locations=3, seed=1)
    assert fold_bench.run_fold(raws) == 300  # no duplicates in the mix
    assert fold_bench.run_baseline(raws) == 300
