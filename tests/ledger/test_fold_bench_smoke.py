"""The fold benchmark harness runs end to end at a tiny size (never asserts timing)."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from devtools.bench import fold_bench
from processors.gc_tuning import (
    PYTHON_DEFAULT_THRESHOLDS,
    YOUNG_THRESHOLD_OBJECTS,
    tune_for_worker,
    worker_thresholds,
)


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
    settings = result["by_gc_setting"]
    assert settings["worker"]["gc_thresholds"] == list(worker_thresholds())
    assert settings["python_default"]["gc_thresholds"] == list(PYTHON_DEFAULT_THRESHOLDS)
    assert result["ratio"] == settings["worker"]["ratio"]
    for figures in settings.values():
        assert len(figures["round_ratios"]) == 1  # one per repeat
        assert all(ratio > 0 for ratio in figures["round_ratios"])
    assert len(result["load_average_before"]) == len(result["load_average_after"]) == 3


def test_a_gc_setting_is_restored_after_its_runs() -> None:
    before = gc.get_threshold()
    figures = fold_bench._under_gc_setting(
        fold_bench.make_events(50, skus=5, locations=2, seed=3), (1_234, 5, 6), repeats=1
    )
    assert figures["gc_thresholds"] == [1_234, 5, 6]
    assert gc.get_threshold() == before


def test_the_worker_collects_the_young_generation_less_often_than_python() -> None:
    before = gc.get_threshold()
    try:
        tune_for_worker()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD_OBJECTS > PYTHON_DEFAULT_THRESHOLDS[0]
    finally:
        gc.set_threshold(*before)


def test_the_mix_decodes_and_folds_every_event() -> None:
    raws = fold_bench.make_events(300, skus=7, locations=3, seed=1)
    assert fold_bench.run_fold(raws) == 300  # no duplicates in the mix
    assert fold_bench.run_baseline(raws) == 300
