"""The latency levels' consumer-lag and CPU figures: where a backlog waits, who had the cores."""

from __future__ import annotations

import os
import time
from pathlib import Path

from devtools.bench.env import CpuSnapshot, machine_busy_s, thread_cpu_s
from devtools.bench.stages import _lag_summary


def test_the_summary_is_the_mean_and_the_max_of_the_samples() -> None:
    assert _lag_summary([3.0, 1.0, 8.0]) == {"samples": 3, "mean": 4.0, "max": 8.0}


def test_no_samples_says_so_rather_than_a_zero_lag_measured() -> None:
    assert _lag_summary([])["samples"] == 0


def test_machine_busy_counts_every_state_but_idle_and_iowait(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal (ticks)
    stat.write_text("cpu  100 20 30 5000 400 5 6 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    assert machine_busy_s(stat) == (100 + 20 + 30 + 5 + 6 + 7) / os.sysconf("SC_CLK_TCK")
    assert machine_busy_s(tmp_path / "absent") == 0.0


def test_cores_are_cpu_seconds_over_wall_seconds() -> None:
    before = CpuSnapshot(wall_s=10.0, worker_s=1.0, bench_s=2.0, machine_busy_s=100.0)
    after = CpuSnapshot(wall_s=14.0, worker_s=3.0, bench_s=4.0, machine_busy_s=107.0)
    assert before.cores_until(after) == {"worker": 0.5, "bench": 0.5, "machine": 1.75}
    assert before.cores_until(before) == {}  # no time passed: no figure, not a division by 0


def test_the_loop_threads_cores_come_with_both_snapshots_only() -> None:
    before = CpuSnapshot(10.0, 1.0, 2.0, 100.0, worker_loop_s=0.5)
    after = CpuSnapshot(14.0, 3.0, 4.0, 107.0, worker_loop_s=2.1)
    assert before.cores_until(after)["worker_loop"] == 0.4
    unknown = CpuSnapshot(14.0, 3.0, 4.0, 107.0)
    assert "worker_loop" not in before.cores_until(unknown)


def test_a_threads_cpu_is_its_utime_and_stime_after_the_command_name(tmp_path: Path) -> None:
    task = tmp_path / "42" / "task" / "43"
    task.mkdir(parents=True)
    # a command name with a space and a ")" must not shift the fields (utime 14, stime 15)
    fields = ["S"] + [str(n) for n in range(4, 14)] + ["250", "50"] + ["0"] * 30
    (task / "stat").write_text("43 (python (x) y) " + " ".join(fields) + "\n")
    assert thread_cpu_s(42, 43, proc=tmp_path) == 300 / os.sysconf("SC_CLK_TCK")
    assert thread_cpu_s(42, 99, proc=tmp_path) == 0.0  # gone: no figure, not an error


def test_this_threads_cpu_grows_as_it_works() -> None:
    pid = os.getpid()  # the main thread's id is the process id
    before = thread_cpu_s(pid, pid)
    spent = time.process_time()
    while time.process_time() - spent < 0.1:
        pass
    assert thread_cpu_s(pid, pid) - before >= 0.05
