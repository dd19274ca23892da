"""tests.support.worker_dumps: a timed-out wait fails with each worker's dump and log tail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import worker_dumps


@dataclass
class FakeWorker:
    log_path: Path
    dumped: int = 0

    def dump_tasks(self) -> None:
        self.dumped += 1
        self.log_path.write_text("Worker ready\ntask dump: fold waiting in getmany\n")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])


def test_a_failed_wait_carries_the_dumps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_dumps, "DUMP_WAIT_S", 0.0)
    workers = [FakeWorker(tmp_path / "a.log"), FakeWorker(tmp_path / "b.log")]
    with pytest.raises(AssertionError) as failure, worker_dumps.dumps_on_timeout(*workers):
        raise AssertionError("timed out after 90s waiting for x")
    text = str(failure.value)
    assert text.startswith("timed out after 90s waiting for x")
    assert all(worker.dumped == 1 for worker in workers)
    assert text.count("task dump: fold waiting in getmany") == 2
    assert str(tmp_path / "b.log") in text


def test_a_passing_block_asks_for_nothing(tmp_path: Path) -> None:
    worker = FakeWorker(tmp_path / "a.log")
    with worker_dumps.dumps_on_timeout(worker):
        pass
    assert worker.dumped == 0
