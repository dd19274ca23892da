"""`tally import`: parsing, deterministic ids, rejects, and resuming without double counting."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from base.settings import Settings
from connectors.bulk_import import (
    checkpoint_path,
    csv_rows,
    derived_event_id,
    file_digest,
    jsonl_rows,
    run_import,
    to_fact,
)
from tests.support.isolation import unique
from tests.support.kafka_io import read_all

NOW = datetime.now(UTC).isoformat()


def jsonl_line(event_id: str, sku: str, qty: int = 1) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "type": "received",
            "sku": sku,
            "location": "dc-1",
            "qty": qty,
            "occurred_at": NOW,
            "source": "wms",
        }
    )


def test_file_digest_counts_lines_with_or_without_a_final_newline(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x\ny\n")
    b.write_bytes(b"x\ny")
    assert file_digest(a)[1] == file_digest(b)[1] == 2


def test_csv_rows_without_event_ids_get_deterministic_ids(tmp_path: Path) -> None:
    path = tmp_path / "count.csv"
    path.write_text(
        "type,sku,location,qty,occurred_at,source\n"
        f"counted,S-1,store-1,5,{NOW},nightly\n"
        f"counted,S-2,store-1,x,{NOW},nightly\n"
        "counted,S-3\n"
    )
    sha, _ = file_digest(path)
    with path.open("rb") as handle:
        rows = list(csv_rows(handle, skip_lines=0))
    results = [to_fact(line, parsed, sha, NOW) for line, _, parsed in rows]
    first = results[0]
    assert not isinstance(first, str)
    key, value = first
    assert key == b"S-1"
    assert orjson.loads(value)["event_id"] == derived_event_id(sha, 2) == f"imp-{sha[:16]}-2"
    assert results[1] == "qty: Input should be a valid integer"
    assert "cells" in str(results[2])


def test_jsonl_rows_skip_blank_lines_and_flag_malformed_ones(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text(jsonl_line("e1", "S") + "\n\n{oops\n" + jsonl_line("e2", "S") + "\n")
    with path.open("rb") as handle:
        rows = list(jsonl_rows(handle, skip_lines=0))
    assert [line for line, _, _ in rows] == [1, 3, 4]
    assert to_fact(3, rows[1][2], "0" * 64, NOW) == "malformed JSON"
    with path.open("rb") as handle:
        assert [line for line, _, _ in jsonl_rows(handle, skip_lines=3)] == [4]


@pytest.mark.integration
def test_import_writes_rejects_and_a_rerun_sends_nothing_again(
    isolated: Settings, tmp_path: Path
) -> None:
    sku = unique("SKU")
    settings = isolated.model_copy(
        update={"gateway": isolated.gateway.model_copy(update={"import_batch_rows": 3})}
    )
    lines = [jsonl_line(f"{sku}-{i}", sku) for i in range(10)]
    lines.insert(4, '{"type": "received", "sku": "bad sku"}')
    path = tmp_path / "load.jsonl"
    path.write_text("\n".join(lines) + "\n")

    first = asyncio.run(run_import(settings, path))
    assert (first.accepted, first.rejected, first.lines_total) == (10, 1, 11)
    (reject,) = [json.loads(x) for x in first.rejects_path.read_text().splitlines()]
    assert reject["line"] == 5 and "sku" in reject["reason"] and "bad sku" in reject["raw"]
    assert json.loads(checkpoint_path(path).read_text())["lines_done"] == 11

    again = asyncio.run(run_import(settings, path))
    assert again.resumed_after_line == 11 and again.accepted == 10  # nothing new sent
    produced = asyncio.run(read_all(settings, settings.topics.events))
    assert sorted(r["event_id"] for r in produced) == sorted(f"{sku}-{i}" for i in range(10))
    assert first.rejects_path.read_text().count("\n") == 1


@pytest.mark.integration
def test_a_resumed_import_continues_after_the_checkpoint(
    isolated: Settings, tmp_path: Path
) -> None:
    sku = unique("SKU")
    path = tmp_path / "load.jsonl"
    path.write_text("\n".join(jsonl_line(f"{sku}-{i}", sku) for i in range(6)) + "\n")
    sha, _ = file_digest(path)
    checkpoint_path(path).write_text(
        json.dumps(
            {"file_sha256": sha, "lines_done": 4, "rejects_bytes": 0, "accepted": 4, "rejected": 0}
        )
    )
    summary = asyncio.run(run_import(isolated, path))
    assert summary.resumed_after_line == 4 and summary.accepted == 6
    produced = asyncio.run(read_all(isolated, isolated.topics.events))
    assert sorted(r["event_id"] for r in produced) == [f"{sku}-4", f"{sku}-5"]


@pytest.mark.integration
def test_an_import_stops_once_rejects_pass_the_max_and_checkpoints_that_line(
    isolated: Settings, tmp_path: Path
) -> None:
    sku = unique("SKU")
    gateway = isolated.gateway.model_copy(update={"import_batch_rows": 2, "import_rejects_max": 1})
    settings = isolated.model_copy(update={"gateway": gateway})
    bad = '{"type": "received", "sku": "bad sku"}'
    good = [jsonl_line(f"{sku}-{i}", sku) for i in range(5)]
    path = tmp_path / "load.jsonl"
    path.write_text("\n".join([*good[:3], bad, good[3], bad, good[4]]) + "\n")

    summary = asyncio.run(run_import(settings, path))
    assert summary.aborted and (summary.accepted, summary.rejected) == (4, 2)
    assert [json.loads(x)["line"] for x in summary.rejects_path.read_text().splitlines()] == [4, 6]
    assert json.loads(checkpoint_path(path).read_text())["lines_done"] == 6
    produced = asyncio.run(read_all(settings, settings.topics.events))
    assert sorted(r["event_id"] for r in produced) == [f"{sku}-{i}" for i in range(4)]
