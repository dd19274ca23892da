"""The processes a fault run drives: two workers, one webhook pusher, a webhook receiver.

Each is a real child process (kill -9, SIGSTOP, restart); `Supervisor` plays systemd's
`Restart=always` for exits the run did not cause, and counts them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from base.redis_keys import FigureVersion
from base.settings import PusherSettings, Settings
from connectors.pushers import signing
from ops.child_process import ChildProcess
from ops.child_worker import ChildWorker
from ops.stack.ports import free_port

WEBHOOK_PATH = "/hooks/tally"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WORKERS = 2
# Faust reads these from the environment: a stall longer than the session timeout makes the
# group drop the stalled member and rebalance (Faust's default is 60 s; the run uses less so a
# stall fits in a test). The heartbeat must stay well below it.
FAUST_ENV = {"BROKER_SESSION_TIMEOUT": "8", "BROKER_HEARTBEAT_INTERVAL": "1"}
SESSION_TIMEOUT_S = float(FAUST_ENV["BROKER_SESSION_TIMEOUT"])


@contextmanager
def faust_env() -> Iterator[None]:
    """Set FAUST_ENV for child workers started inside the block; restore afterwards."""
    saved = {name: os.environ.get(name) for name in FAUST_ENV}
    os.environ.update(FAUST_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


PUSHER_STOP_TIMEOUT_S = 20.0


def webhook_pusher(settings: Settings, channel: str, log_path: Path) -> ChildProcess:
    """`python -m connectors.pushers --pusher webhook` as a child (kill -9 for faults)."""
    args = ["--channel", channel, "--pusher", "webhook"]
    return ChildProcess("connectors.pushers", args, settings, log_path)


EXITS_MAX = 12  # unexpected exits in one run before it is called a crash loop
EXIT_TAIL_LINES = 30  # of the log, kept with an unexpected exit


class CrashLoop(RuntimeError):
    """A process keeps exiting on its own: the run cannot heal."""


@dataclass
class Exit:
    """A process exit the run did not cause."""

    what: str
    code: int | None
    tail: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tail": self.tail[-2_000:]}


@dataclass
class Supervisor:
    """Two workers (one consumer group) and a pusher; restarts what dies on its own."""

    worker_settings: list[Settings]
    pusher_settings: Settings
    channel: str
    logs: Path
    workers: list[ChildWorker] = field(default_factory=list)
    pusher: ChildProcess | None = None
    exits: list[Exit] = field(default_factory=list)
    stopped: set[int] = field(default_factory=set)  # workers under SIGSTOP
    _starts: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._down: set[str] = set()  # taken down on purpose: "worker-0", "pusher"

    def _worker(self, index: int) -> ChildWorker:
        self._starts += 1
        log = self.logs / f"worker-{index}-{self._starts}.log"
        return ChildWorker(self.worker_settings[index], log).start()

    def start(self) -> None:
        with self._lock:
            self.workers = [self._worker(i) for i in range(len(self.worker_settings))]
            for worker in self.workers:
                worker.wait_metrics_up()
            self.start_pusher()

    def start_pusher(self) -> None:
        with self._lock:
            self._starts += 1
            log = self.logs / f"pusher-{self._starts}.log"
            self.pusher = webhook_pusher(self.pusher_settings, self.channel, log).start()
            self._down.discard("pusher")

    def kill_pusher(self) -> None:
        with self._lock:
            self._down.add("pusher")
            if self.pusher is not None:
                self.pusher.kill_hard()

    def kill_worker(self, index: int) -> None:
        with self._lock:
            self._down.add(f"worker-{index}")
            self.stopped.discard(index)
            self.workers[index].kill_hard()

    def restart_worker(self, index: int) -> None:
        with self._lock:
            self.workers[index] = self._worker(index)
            self._down.discard(f"worker-{index}")
            self.workers[index].wait_metrics_up()

    def sigstop(self, index: int) -> None:
        with self._lock:
            if self.workers[index].alive():
                self.workers[index].signal_group(signal.SIGSTOP)
                self.stopped.add(index)

    def sigcont(self, index: int) -> None:
        with self._lock:
            if index in self.stopped and self.workers[index].alive():
                self.workers[index].signal_group(signal.SIGCONT)
            self.stopped.discard(index)

    def dump_tasks(self) -> None:
        """Have each running worker log where its tasks wait (processors/task_dump.py)."""
        with self._lock:
            for index, worker in enumerate(self.workers):
                if index not in self.stopped:
                    worker.dump_tasks()

    def check(self) -> None:
        """Restart (and record) every process that exited on its own; CrashLoop past
        EXITS_MAX such exits in one run (a process that cannot come back)."""
        with self._lock:
            if len(self.exits) >= EXITS_MAX:
                last = self.exits[-1]
                raise CrashLoop(
                    f"{len(self.exits)} unexpected exits, last {last.what}: {last.tail[-600:]}"
                )
            for index, worker in enumerate(self.workers):
                if not worker.alive() and f"worker-{index}" not in self._down:
                    tail = worker.log_tail(EXIT_TAIL_LINES)
                    self.exits.append(Exit(f"worker-{index}", worker.returncode(), tail))
                    self.stopped.discard(index)
                    self.restart_worker(index)
            pusher = self.pusher
            if pusher is not None and not pusher.alive() and "pusher" not in self._down:
                self.exits.append(
                    Exit("pusher", pusher.returncode(), pusher.log_tail(EXIT_TAIL_LINES))
                )
                self.start_pusher()

    def stop(self) -> None:
        with self._lock:
            for index in list(self.stopped):
                self.sigcont(index)
            self._down |= {"pusher", *(f"worker-{i}" for i in range(len(self.workers)))}
            if self.pusher is not None:
                self.pusher.stop(PUSHER_STOP_TIMEOUT_S)
            for worker in self.workers:
                worker.stop()


def supervisor(
    worker_settings: Settings, channel: str, webhook_url: str, workdir: Path
) -> Supervisor:
    """Two workers (own data dirs and ports) and the channel's webhook pusher.

    A group instance id in `worker_settings` (static membership, `--static-members`) names
    the workers' ids: each gets it with its index, kept across its restarts."""
    static_id = worker_settings.worker.group_instance_id
    workers = [
        worker_settings.model_copy(
            update={
                "worker": worker_settings.worker.model_copy(
                    update={
                        "data_dir": workdir / f"worker-{index}",
                        "web_port": free_port(),
                        "metrics_port": free_port(),
                        "group_instance_id": None if static_id is None else f"{static_id}-{index}",
                    }
                )
            }
        )
        for index in range(WORKERS)
    ]
    pusher = PusherSettings(
        metrics_port=free_port(),
        consumer="faults-1",
        read_block_ms=200,
        coalesce_window_s=0.02,
        http_timeout_s=5.0,
        attempts_max=20,
        backoff_base_s=0.05,
        backoff_max_s=1.0,
        webhook_url=webhook_url,
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        webhook_figures_per_request_max=20,
    )
    pusher_settings = worker_settings.model_copy(update={"pusher": pusher})
    return Supervisor(workers, pusher_settings, channel, workdir)


class WebhookReceiver:
    """A Standard Webhooks receiver: verifies every signature, keeps the last figure per SKU."""

    def __init__(self, secret: str) -> None:
        self._key = signing.secret_key(secret)
        self.lock = threading.Lock()
        self.latest: dict[str, tuple[FigureVersion, int]] = {}  # sku -> (version, available)
        self.deliveries = 0
        self.backwards = 0  # a figure older than one already delivered (allowed, counted)
        self.bad_signatures = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {sku: units for sku, (_, units) in self.latest.items()}

    def _receive(self, headers: dict[str, str], body: bytes) -> int:
        try:
            signing.verify(self._key, headers, body, now_s=int(time.time()))
        except signing.SignatureError:
            with self.lock:
                self.bad_signatures += 1
            return 401
        payload = orjson.loads(body)
        data = payload.get("data", payload)  # the Standard Webhooks envelope, or a v1 body
        with self.lock:
            self.deliveries += 1
            for figure in data.get("changes", [data]):
                version = FigureVersion.parse(str(figure["version"]))
                current = self.latest.get(figure["sku"])
                if current is not None and version < current[0]:
                    self.backwards += 1
                self.latest[figure["sku"]] = (version, int(figure["available"]))
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._receive(headers, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
