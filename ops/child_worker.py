"""Run the worker (`python -m processors.worker`) or the order processor as a child process,
and read its metrics.

Used by `tally demo`, the bench harness, the fault runner and the integration tests.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Self

import httpx

from base.settings import REPO_ROOT, Settings
from ops.child_process import ChildProcess
from ops.stack.procs import StackError, port_in_use

WORKER_MODULE = "processors.worker"
ORDERS_MODULE = "processors.orders"
READY_TIMEOUT_S = 90.0


class ChildWorker(ChildProcess):
    """One worker with the given settings; its output goes to `log_path`.

    `module` swaps in another worker module with the same command line (the bench's
    `--worker-module`), `tree` another checkout to run it from (the bench's `--worker-tree`).
    """

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        module: str = WORKER_MODULE,
        *,
        tree: Path = REPO_ROOT,
    ) -> None:
        super().__init__(module, [], settings, log_path, tree=tree)
        self.settings: Settings = settings  # never None for a worker (narrows the base type)
        self.name = "worker"

    def ports(self) -> dict[str, int]:
        """The ports it listens on, by the setting's name in `TALLY_WORKER__*`."""
        worker = self.settings.worker
        return {"metrics": worker.metrics_port, "web": worker.web_port}

    @property
    def settings_section(self) -> str:
        return "WORKER"

    def start(self) -> Self:
        """Start the worker; fails at once, naming the port, when one it needs is taken."""
        for name, port in self.ports().items():
            if port_in_use("127.0.0.1", port):
                raise StackError(
                    f"{self.name}: {name} port {port} is already in use (another one?); "
                    f"set TALLY_{self.settings_section}__{name.upper()}_PORT or stop it"
                )
        return super().start()

    def dump_tasks(self) -> None:
        """Have the worker log where its tasks wait (processors/task_dump.py); no-op if gone."""
        if self.alive():
            os.kill(self.pid, signal.SIGUSR1)  # the worker only, not its process group

    def wait_metrics_up(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until the worker's metrics endpoint answers (the process got through start-up)."""
        self.wait_until(self._metrics_answer, "metrics not up", timeout_s)

    def _metrics_answer(self) -> bool:
        try:
            return httpx.get(self._metrics_url(), timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics_text(self) -> str:
        return httpx.get(self._metrics_url(), timeout=5.0).text

    def _metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports()['metrics']}/metrics"


class ChildOrderProcessor(ChildWorker):
    """The order processor (`python -m processors.orders`) as a child process."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        super().__init__(settings, log_path, ORDERS_MODULE)
        self.name = "order processor"

    def ports(self) -> dict[str, int]:
        orders = self.settings.orders
        return {"metrics": orders.metrics_port, "web": orders.web_port}

    @property
    def settings_section(self) -> str:
        return "ORDERS"
