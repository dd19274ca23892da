"""devtools.bench.state_writes: the figures of a SKU's table writes on the bench workload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.bench import state_writes

SMALL = ["--records", "400", "--warmup", "2000", "--skus", "200", "--repeats", "1"]


def test_the_figures_are_written_and_within_their_bounds(tmp_path: Path) -> None:
    out = tmp_path / "sw.json"
    result = state_writes.main([*SMALL, "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert result["writes"] == 400
    assert 0 < result["holds_part_rewritten_share"] <= 1  # reserves and commits were decided
    assert result["keys_mean"] >= 1
    assert result["written_bytes_mean"] >= result["core_bytes_mean"] > 0
    assert result["holds_part_in_core_bytes_mean"] > result["core_bytes_mean"]
    assert result["split_state_us"] > 0


def test_facts_alone_never_write_a_holds_part(tmp_path: Path) -> None:
    result = state_writes.main([*SMALL, "--command-share", "0", "--out", str(tmp_path / "f")])
    assert result["holds_part_rewritten_share"] == 0
    assert result["holds_part_in_core_bytes_mean"] == result["core_bytes_mean"]


def test_a_command_share_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        state_writes.main([*SMALL, "--command-share", "1.5", "--out", str(tmp_path / "x")])
