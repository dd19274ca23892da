"""ops.child_process: start a module as a child, wait on it, stop it, kill it, read its log.

Runs standard-library modules as the children, so no stack is needed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.child_process import ChildProcess

SERVING = "Serving HTTP"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChildProcess]:
    """A long-running child (`python -m http.server`) that logs a line once it is up."""
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # children inherit this process's environment
    args = ["0", "--bind", "127.0.0.1"]
    child = ChildProcess("http.server", args, None, tmp_path / "logs" / "server.log").start()
    try:
        child.wait_until(lambda: any(SERVING in line for line in child.log_lines()), "not up", 30)
        yield child
    finally:
        child.kill_hard()


def test_a_child_that_exits_fails_the_wait_at_once_with_its_log(tmp_path: Path) -> None:
    child = ChildProcess("this", [], None, tmp_path / "this.log").start()
    with pytest.raises(RuntimeError, match="this exited early") as raised:
        child.wait_until(lambda: False, "never ready", 30)
    assert "Beautiful is better than ugly." in str(raised.value)
    assert child.returncode() == 0


def test_stop_ends_a_running_child_with_sigterm(server: ChildProcess) -> None:
    assert server.alive()
    assert server.stop() == -signal.SIGTERM
    assert not server.alive()
    assert SERVING in server.log_tail(5)


def test_kill_hard_sends_sigkill(server: ChildProcess) -> None:
    server.kill_hard()
    assert server.returncode() == -signal.SIGKILL


def test_a_child_that_never_gets_ready_times_out(server: ChildProcess) -> None:
    with pytest.raises(TimeoutError, match=r"http\.server not up in 0\.5s; log: .*server\.log"):
        server.wait_until(lambda: False, "not up", 0.5)


def test_a_child_never_started_has_no_exit_code(tmp_path: Path) -> None:
    child = ChildProcess("this", [], None, tmp_path / "this.log")
    assert not child.alive()
    assert child.returncode() is None
    assert child.stop() is None
    assert child.log_tail() == ""
