"""`up`, `down` and `status` of the local stack, for the CLI, test fixtures and scripts."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field

from base.settings import Settings
from ops.stack.kafka import Kafka, cluster_size_file, nodes, recorded_brokers
from ops.stack.procs import (
    POLL_INTERVAL_S,
    Echo,
    StackError,
    failure,
    is_alive,
    locked,
    our_pid,
    peek_pid,
    port_in_use,
    spawn,
    terminate,
    terminate_together,
)
from ops.stack.prometheus import Prometheus
from ops.stack.redis import Redis
from ops.stack.service import Service

logger = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class StartedServices:
    """What one `ensure_up` call did: a test session stops only what it started."""

    started: tuple[str, ...] = ()
    already_running: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    ports: tuple[int, ...]
    ready: bool
    log_file: str
    data_dirs: tuple[str, ...] = field(default_factory=tuple)


def _log_echo(message: str) -> None:
    logger.info("%s", message)


def services(settings: Settings, prometheus: bool = True) -> list[Service]:
    chosen: list[Service] = [*nodes(settings), Redis(settings)]
    if prometheus:
        chosen.append(Prometheus(settings))
    return chosen


def whole_stack(settings: Settings) -> Settings:
    """`settings` widened to every Kafka node this stack home holds, so `down` and `status`
    see a cluster's nodes even when TALLY_KAFKA__BROKERS was not exported."""
    brokers = max(settings.kafka.brokers, recorded_brokers(settings.stack.home) or 1)
    if brokers == settings.kafka.brokers:
        return settings
    kafka = settings.kafka.model_copy(update={"brokers": brokers})
    return settings.model_copy(update={"kafka": kafka})


def ensure_up(
    settings: Settings, prometheus: bool = False, echo: Echo = _log_echo
) -> StartedServices:
    """Start whatever of the stack is not already running (ours and ready); wait until ready.

    Raises StackError, naming the service, when a port is taken by another process or a
    service dies or does not get ready within settings.stack.start_timeout_s.
    """
    home = settings.stack.home.resolve()
    with locked(home / "run" / "stack.lock"):
        return start_services(settings, services(settings, prometheus), echo)


def start_services(settings: Settings, chosen: list[Service], echo: Echo) -> StartedServices:
    """Start the chosen services that are not running (ours); wait until all are ready."""
    running = [service for service in chosen if our_pid(service.files) is not None]
    to_start = [service for service in chosen if service not in running]
    _check_ports_free(to_start)
    for service in to_start:
        service.prepare(echo)
    started_at = time.monotonic()
    for service in to_start:
        pid = spawn(service.files, service.argv(), cwd=service.cwd)
        echo(f"{service.name}: started pid {pid}, log {service.files.log_file}")
    try:
        for service in chosen:
            _wait_ready(settings, service, started_at, echo if service in to_start else _quiet)
    except StackError:
        # Leave nothing half-started behind: stop what this call started.
        for service in reversed(to_start):
            terminate(service.files, settings.stack.stop_timeout_s, echo)
        raise
    for service in running:
        echo(f"{service.name}: already running (pid {our_pid(service.files)}) and ready")
    return StartedServices(
        started=tuple(service.name for service in to_start),
        already_running=tuple(service.name for service in running),
    )


def _quiet(message: str) -> None:
    return None


def _check_ports_free(to_start: list[Service]) -> None:
    for service in to_start:
        for host, port, env_var in service.ports:
            try:
                taken = port_in_use(host, port)
            except OSError as error:
                raise StackError(
                    f"{service.name}: cannot listen on {host}:{port}: {error}"
                ) from error
            if taken:
                raise StackError(
                    f"{service.name}: port {port} is already in use by another process; "
                    f"set {env_var} or stop it"
                )


def _wait_ready(settings: Settings, service: Service, started_at: float, echo: Echo) -> None:
    timeout_s = settings.stack.start_timeout_s
    tail_lines = settings.stack.log_tail_lines
    last_progress = time.monotonic()
    while True:
        pid = our_pid(service.files)
        if pid is None or not is_alive(pid):
            raise failure(service.files, "the process exited before it was ready", tail_lines)
        if service.probe():
            echo(f"{service.name}: ready ({time.monotonic() - started_at:.1f}s)")
            return
        now = time.monotonic()
        waited_s = now - started_at
        if waited_s > timeout_s:
            raise failure(service.files, f"not ready after {timeout_s:g}s", tail_lines)
        if now - last_progress >= PROGRESS_EVERY_S:
            echo(f"{service.name}: waiting to be ready ({waited_s:.0f}s of {timeout_s:g}s)")
            last_progress = now
        time.sleep(POLL_INTERVAL_S)


def down(settings: Settings, wipe: bool = False, echo: Echo = _log_echo) -> tuple[str, ...]:
    """Stop every service of the stack that is ours. Data stays unless wipe is set."""
    home = settings.stack.home.resolve()
    settings = whole_stack(settings)
    with locked(home / "run" / "stack.lock"):
        stopped = stop_services(settings, tuple(s.name for s in services(settings)), echo)
        if wipe:
            for service in services(settings):
                for data_dir in service.data_dirs():
                    if data_dir.exists():
                        echo(f"{service.name}: deleting {data_dir}")
                        shutil.rmtree(data_dir)
            cluster_size_file(home).unlink(missing_ok=True)  # the next `up` may pick a size
    return stopped


def stop_services(settings: Settings, names: tuple[str, ...], echo: Echo) -> tuple[str, ...]:
    """Stop the named services (if ours and running), in reverse start order; a cluster's
    Kafka nodes together, last."""
    chosen = [service for service in reversed(services(settings)) if service.name in names]
    brokers = [service.files for service in chosen if isinstance(service, Kafka)]
    stopped = [
        service.name
        for service in chosen
        if not isinstance(service, Kafka)
        and terminate(service.files, settings.stack.stop_timeout_s, echo)
    ]
    timeout_s = settings.stack.stop_timeout_s
    stopped += [files.name for files in terminate_together(brokers, timeout_s, echo)]
    return tuple(stopped)


def stop_started(settings: Settings, started: StartedServices, echo: Echo = _log_echo) -> None:
    """Stop only what one ensure_up call started (the end of a test session)."""
    home = settings.stack.home.resolve()
    with locked(home / "run" / "stack.lock"):
        stop_services(settings, started.started, echo)


def status(settings: Settings) -> list[ServiceStatus]:
    """Each service: running (ours, alive), pid, ports, ready. Changes nothing on disk."""
    report = []
    for service in services(whole_stack(settings)):
        pid = peek_pid(service.files)
        report.append(
            ServiceStatus(
                name=service.name,
                running=pid is not None,
                pid=pid,
                ports=tuple(port for _, port, _ in service.ports),
                ready=pid is not None and service.probe(),
                log_file=str(service.files.log_file),
                data_dirs=tuple(str(path) for path in service.data_dirs()),
            )
        )
    return report
