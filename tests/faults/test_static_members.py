"""devtools.faults.procs: `--static-members` gives each worker an instance id of its own, kept
across its restarts (its settings); without it the workers join as dynamic members."""

from __future__ import annotations

from pathlib import Path

from base.settings import Settings
from devtools.faults.procs import WORKERS, supervisor


def _ids(settings: Settings, tmp_path: Path) -> list[str | None]:
    run = supervisor(settings, "web", "http://127.0.0.1:1/hooks", tmp_path)
    return [worker.worker.group_instance_id for worker in run.worker_settings]


def test_static_members_get_an_id_each(tmp_path: Path) -> None:
    base = Settings()
    static = base.model_copy(
        update={"worker": base.worker.model_copy(update={"group_instance_id": "fault-worker"})}
    )
    assert _ids(static, tmp_path) == [f"fault-worker-{i}" for i in range(WORKERS)]


def test_dynamic_members_by_default(tmp_path: Path) -> None:
    assert _ids(Settings(), tmp_path) == [None] * WORKERS
