"""What every local-stack service provides: files, ports, preparation, a command, a probe."""

from __future__ import annotations

import asyncio
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from base.settings import REPO_ROOT, Settings
from ops.stack.procs import Echo, ProcFiles, StackError

T = TypeVar("T")


class Service(ABC):
    """One process of the local stack (Kafka, Redis, Prometheus)."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack.home.resolve()
        self.files = ProcFiles(
            name=self.name,
            pid_file=self.home / "run" / f"{self.name}.pid",
            log_file=self.home / "logs" / f"{self.name}.log",
            marker=self.marker(),
        )

    @property
    def cwd(self) -> Path:
        return REPO_ROOT

    @property
    @abstractmethod
    def ports(self) -> tuple[tuple[str, int, str], ...]:
        """(host, port, the settings env var that moves it) for every port we listen on."""

    @abstractmethod
    def marker(self) -> str:
        """A string only our process's command line contains (a path under the home)."""

    @abstractmethod
    def prepare(self, echo: Echo) -> None:
        """Everything before the first start: binaries, configs, storage. Idempotent."""

    @abstractmethod
    def argv(self) -> list[str]:
        """The command that runs the service in the foreground."""

    @abstractmethod
    def probe(self) -> bool:
        """One readiness probe, bounded by settings.stack.probe_timeout_s. Never raises."""

    @property
    def data_dir(self) -> Path | None:
        """Where the service keeps its data (None: it keeps none)."""
        return None

    def data_dirs(self) -> tuple[Path, ...]:
        """What `down --wipe` deletes."""
        return () if self.data_dir is None else (self.data_dir,)


def require_binary(service: str, binary: str, hint: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise StackError(f"{service}: `{binary}` not found on PATH; {hint}")
    return found


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even under a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target, name="tally-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
