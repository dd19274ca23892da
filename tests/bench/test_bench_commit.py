"""devtools.bench.env.git_commit: a run is -dirty when the code it measures differs from the
commit, not when the bench's own results (devtools/bench/results) do."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devtools.bench.env import git_commit


def _git(tree: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=tree, check=True, capture_output=True)


def _checkout(tree: Path) -> Path:
    for path in ("ledger/fold.py", "devtools/bench/stages.py", "devtools/bench/results/b.json"):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text("1\n")
    _git(tree, "init", "-q")
    _git(tree, "add", "-A")
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    return tree


def test_new_results_leave_the_commit_clean(tmp_path: Path) -> None:
    tree = _checkout(tmp_path)
    (tree / "devtools/bench/results/b.json").write_text("2\n")
    (tree / "devtools/bench/results/new.json").write_text("2\n")
    assert not git_commit(tree).endswith("-dirty")


def test_changed_code_marks_it_dirty(tmp_path: Path) -> None:
    for changed in ("ledger/fold.py", "devtools/bench/stages.py"):
        tree = _checkout(tmp_path / changed.replace("/", "_"))
        (tree / changed).write_text("2\n")
        assert git_commit(tree).endswith("-dirty"), changed
