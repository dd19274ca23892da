"""devtools.bench.txn_acks on the live stack: ack times inside a transaction and after a
commit, and commits of the four producers in turn and side by side, written with the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base.settings import Settings
from devtools.bench import txn_acks

pytestmark = pytest.mark.integration


def test_both_ways_to_commit_are_timed_and_written(live_stack: Settings, tmp_path: Path) -> None:
    out = tmp_path / "ta.json"
    txn_acks.main(["--records", "8", "--rounds", "16", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["command"].startswith(txn_acks.COMMAND)
    spans = result["spans"]
    # 16 rounds: every fourth after a commit, alternating the two ways
    assert spans["after a commit"]["count"] == 4 and spans["inside a transaction"]["count"] == 12
    assert spans["commit in turn"]["count"] == 2 and spans["commit side by side"]["count"] == 2
    for row in spans.values():
        assert 0 < row["median_ms"] <= row["max_ms"]
    ratio = spans["commit side by side"]["median_ms"] / spans["commit in turn"]["median_ms"]
    assert result["side_by_side_over_in_turn_median"] == round(ratio, 3)


def test_too_few_rounds_for_both_ways_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        txn_acks.main(["--rounds", "4", "--out", str(tmp_path / "x")])
