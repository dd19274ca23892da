"""Run `python -m processors.worker` as a child process: start, wait until up, stop, kill -9.

Used by `tally demo`, the bench harness and the integration tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from base.settings import REPO_ROOT, Settings, settings_env
from ops.stack.procs import StackError, port_in_use

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


class ChildWorker:
    """One worker with the given settings; its output goes to `log_path`."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildWorker:
        """Start the worker; fails at once, naming the port, when one it needs is taken."""
        worker = self.settings.worker
        for name, port in (("metrics", worker.metrics_port), ("web", worker.web_port)):
            if port_in_use("127.0.0.1", port):
                raise StackError(
                    f"worker: {name} port {port} is already in use (another worker?); "
                    f"set TALLY_WORKER__{name.upper()}_PORT or stop it"
                )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **settings_env(self.settings)}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "processors.worker"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None, "worker not started"
        return self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_metrics_up(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until the worker's metrics endpoint answers (the process got through start-up)."""
        url = f"http://127.0.0.1:{self.settings.worker.metrics_port}/metrics"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited early; log: {self.log_path}\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"worker metrics not up in {timeout_s}s; log: {self.log_path}")

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.settings.worker.metrics_port}/metrics"
        return httpx.get(url, timeout=5.0).text

    def kill_hard(self) -> None:
        """kill -9: no shutdown, no flush, no commit."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self._process is not None
            self._process.wait()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        if not self.alive():
            return
        assert self._process is not None
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_hard()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
