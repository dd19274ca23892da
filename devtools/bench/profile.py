"""Profile a running worker with py-spy while it drains, and summarise where the time goes
(or draw it: a flame graph SVG).

`py-spy record --format raw` writes collapsed stacks (`frame;frame;... count`); the summary
is the share of samples per function, inclusive (anywhere on the stack) and self (on top),
so a missed target names the functions to fix.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOP_FUNCTIONS = 25
SAMPLE_RATE_HZ = 200


def _record(pid: int, duration_s: float, fmt: str, out: Path) -> subprocess.Popen[bytes] | None:
    """`py-spy record` of `pid` in the background (None: py-spy is not installed)."""
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, when not on PATH
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(duration_s))),
         "--rate", str(SAMPLE_RATE_HZ), "--format", fmt, "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class FlameGraph:
    """`py-spy record --format flamegraph` of a running process, to an SVG."""

    process: subprocess.Popen[bytes] | None
    out: Path

    @classmethod
    def start(cls, pid: int, duration_s: float, out: Path) -> FlameGraph:
        return cls(_record(pid, duration_s, "flamegraph", out), out)

    def finish(self) -> Path | None:
        """The SVG, once py-spy wrote it (None: py-spy missing or failed)."""
        if self.process is None:
            return None
        _wait(self.process)
        return self.out if self.out.exists() else None


@dataclass
class ProfileRun:
    process: subprocess.Popen[bytes] | None
    out: Path

    @classmethod
    def start(cls, pid: int, duration_s: float, work_dir: Path, name: str) -> ProfileRun:
        out = work_dir / f"profile-{name}.txt"
        return cls(_record(pid, duration_s, "raw", out), out)

    def finish(self) -> dict[str, Any]:
        if self.process is None:
            return {"error": "py-spy not installed"}
        _wait(self.process)
        if not self.out.exists():
            return {"error": "py-spy wrote no profile"}
        return summarise(self.out.read_text())


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{name} ({short})"


def summarise(collapsed: str) -> dict[str, Any]:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count

    def top(table: dict[str, int]) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:TOP_FUNCTIONS]
        return [{"function": k, "pct": round(100 * v / total, 1)} for k, v in ranked]

    return {"samples": total, "inclusive": top(inclusive), "self": top(own)}
