"""devtools.bench.send_cpu on the live stack: both ways of handing records to Kafka timed at
every chunk size, written with the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base.settings import Settings
from devtools.bench import send_cpu

pytestmark = pytest.mark.integration


def test_both_ways_are_timed_at_each_chunk_size(live_stack: Settings, tmp_path: Path) -> None:
    out = tmp_path / "sc.json"
    send_cpu.main(["--records", "200", "--chunks", "8", "50", "--rounds", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["command"].startswith(send_cpu.COMMAND)
    assert set(result["by_chunk"]) == {"8", "50"}
    for row in result["by_chunk"].values():
        per_record = row["cpu_us_per_record"]
        assert set(per_record) == set(send_cpu.WAYS)
        assert all(us > 0 for us in per_record.values()), per_record
        ratio = per_record["record batches"] / per_record["send per record"]
        assert row["batches_over_send"] == round(ratio, 3)


def test_a_chunk_of_no_records_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        send_cpu.main(["--chunks", "0", "--out", str(tmp_path / "x")])
