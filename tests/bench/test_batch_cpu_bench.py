"""devtools.bench.batch_cpu: the worker's batch core per record, and the same measured for
another checkout in the same run, with the ratios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.bench import batch_cpu

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--records", "200", "--warmup", "1000", "--repeats", "1", "--sizes", "10", "100"]


def _within_bounds(row: dict[str, float]) -> None:
    assert row["us_per_record"] > 0
    assert 0 < row["changed_skus_per_record"] <= 1  # a record changes at most its own SKU
    # per changed SKU is per record over the SKUs changed per record
    assert row["us_per_changed_sku"] >= row["us_per_record"] * 0.99


def test_each_batch_size_has_its_figures_written(tmp_path: Path) -> None:
    out = tmp_path / "bc.json"
    result = batch_cpu.main([*SMALL, "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert set(result["figures"]) == {"10", "100"}
    for row in result["figures"].values():
        _within_bounds(row)


def test_another_tree_is_measured_alternately_with_the_ratios(tmp_path: Path) -> None:
    result = batch_cpu.main(
        [*SMALL, "--against", str(REPO), "--rounds", "1", "--out", str(tmp_path / "c")]
    )
    for side in ("before", "after"):
        for row in result[side].values():
            _within_bounds(row)
    for size, ratio in result["after_over_before_us_per_record"].items():
        after, before = result["after"][size], result["before"][size]
        assert ratio == round(after["us_per_record"] / before["us_per_record"], 3)


@pytest.mark.parametrize(
    "bad", [["--records", "0"], ["--sizes", "0"], ["--rounds", "0"], ["--hot-rounds", "0"]]
)
def test_bounds_are_checked(bad: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        batch_cpu.main([*SMALL, *bad, "--out", str(tmp_path / "x")])


def test_a_hot_sku_is_measured_with_both_kinds_of_commit(tmp_path: Path) -> None:
    hot = ["--hot-sku", "--clients", "8", "--hot-rounds", "2", "--repeats", "1"]
    result = batch_cpu.main([*hot, "--out", str(tmp_path / "h")])
    assert set(result["figures"]) == {"admin", "channel"}
    assert all(row["us_per_command"] > 0 for row in result["figures"].values())
    compared = batch_cpu.main(
        [*hot, "--against", str(REPO), "--rounds", "1", "--out", str(tmp_path / "c")]
    )
    ratios = compared["after_over_before_us_per_command"]
    for kind, ratio in ratios.items():
        after, before = compared["after"][kind], compared["before"][kind]
        assert ratio == round(after["us_per_command"] / before["us_per_command"], 3)
