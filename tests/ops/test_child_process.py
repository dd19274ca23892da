"""ops.child_process: start a module as a child, wait on it, stop it, kill it, read its log.

Runs standard-library modules as the children, so no stack is needed.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from base.settings import Settings, WorkerSettings
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


SHOW_ENV = "import os\nfor key in sorted(os.environ):\n    print(key, os.environ[key])\n"


def _child_env(child: ChildProcess) -> dict[str, str]:
    child.start()
    deadline = time.monotonic() + 30
    while child.returncode() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.returncode() == 0, child.log_tail()
    return dict(line.split(" ", 1) for line in child.log_lines() if line.startswith("TALLY_"))


def test_a_child_from_another_checkout_keeps_its_own_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's before side: a default changed since must not reach the older worker."""
    for name in ("TALLY_WORKER__COMMIT_INTERVAL_S", "TALLY_WORKER__METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "show_env.py").write_text(SHOW_ENV)
    monkeypatch.setenv("PYTHONPATH", str(checkout))  # found from this checkout too
    settings = Settings(worker=WorkerSettings(metrics_port=19_999))

    other_log = tmp_path / "other.log"
    other = _child_env(ChildProcess("show_env", [], settings, other_log, tree=checkout))
    own = _child_env(ChildProcess("show_env", [], settings, tmp_path / "own.log"))

    assert other["TALLY_WORKER__METRICS_PORT"] == "19999"  # changed: passed
    assert "TALLY_WORKER__COMMIT_INTERVAL_S" not in other  # a default: the checkout's own
    assert own["TALLY_WORKER__COMMIT_INTERVAL_S"] == str(settings.worker.commit_interval_s)
    assert own["TALLY_WORKER__METRICS_PORT"] == "19999"
