"""Run `python -m <module> <args>` as a child of this process: start, wait, stop, kill -9.

The one spawner of our own modules as children (the worker, a pusher, the bench's probe),
used by `tally demo`, the fault runner, the bench and the integration tests. The child leads
a session of its own, so a signal reaches whatever it started too; its stdout and stderr go
to `log_path`. (The stack's services are not children: `ops.stack.procs` daemonises them
with pid files, since they outlive the command that started them.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from base.settings import REPO_ROOT, Settings, settings_env, settings_env_changed

STOP_TIMEOUT_S = 30.0
READY_POLL_S = 0.2


class ChildProcess:
    """One child running `module`; `settings` (when given) reach it as `TALLY_*` variables
    (from another `tree`, only those that differ from this code's defaults)."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        settings: Settings | None,
        log_path: Path,
        *,
        tree: Path = REPO_ROOT,  # the checkout the module is run from (the bench's before)
    ) -> None:
        self.module = module
        self.tree = tree
        self.args = list(args)
        self.settings = settings
        self.log_path = log_path
        self.name = module  # how errors name the child
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.settings is not None:
            # Another checkout keeps its own defaults: only what these settings change is passed.
            own_tree = self.tree == REPO_ROOT
            env.update((settings_env if own_tree else settings_env_changed)(self.settings))
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=self.tree,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} not started"
        return self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        """The exit code; None while it runs (or before it started)."""
        return None if self._process is None else self._process.poll()

    def signal_group(self, sig: signal.Signals) -> None:
        """Send `sig` to the child's process group (SIGSTOP and SIGCONT for stalls)."""
        os.killpg(self.pid, sig)

    def wait_until(self, ready: Callable[[], bool], not_ready: str, timeout_s: float) -> None:
        """Poll `ready` until it holds; fails at once if the child exits first.

        `not_ready` words the timeout: "<name> <not_ready> in <timeout_s>s; log: <path>".
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited early; log: {self.log_path}\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(READY_POLL_S)
        raise TimeoutError(f"{self.name} {not_ready} in {timeout_s}s; log: {self.log_path}")

    def kill_hard(self) -> None:
        """kill -9: no shutdown, no flush, no commit."""
        if self._process is None:
            return
        if self.alive():
            self.signal_group(signal.SIGKILL)
        self._process.wait()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s`; the exit code (None if never started)."""
        if self._process is None:
            return None
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        return self._process.returncode

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_lines()[-lines:])
