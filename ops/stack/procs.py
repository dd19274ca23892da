"""Detached processes with pid files, ports and logs: the mechanics under every service.

A service process is started through a short-lived launcher, so it is re-parented away
from the caller (a CLI or a pytest session) and never lingers as the caller's zombie.
A pid file only counts when its pid is alive and its command line carries the service's
marker (a path under the stack home), so a recycled pid is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Echo = Callable[[str], None]

# Grandchild launcher: start the command in its own session, print its pid, exit.
_LAUNCHER = """
import json, subprocess, sys
spec = json.loads(sys.stdin.read())
with open(spec["log"], "ab", buffering=0) as log:
    proc = subprocess.Popen(
        spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
    )
print(proc.pid, flush=True)
"""

LAUNCH_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.2


class StackError(RuntimeError):
    """An operating error of the local stack, worded for the person at the terminal."""


@dataclass(frozen=True)
class ProcFiles:
    """Where one service keeps its pid file and log, and how to recognise its process."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string that only our process's command line contains


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def is_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def our_pid(files: ProcFiles) -> int | None:
    """The pid of our running process for this service, or None. Cleans a stale pid file."""
    pid = read_pid(files.pid_file)
    if pid is None:
        files.pid_file.unlink(missing_ok=True)
        return None
    if _is_ours(pid, files.marker):
        return pid
    files.pid_file.unlink(missing_ok=True)
    return None


# redis-server rewrites its command line (its process title) just after it starts; read in
# that instant, /proc shows a blank or half-written one. Judging that moment "not ours"
# dropped a live Redis's pid file (seed 43 of a fault run): every later stop left it running.
CMDLINE_REREADS = 5
CMDLINE_REREAD_PAUSE_S = 0.05


def _is_ours(pid: int, marker: str) -> bool:
    for _ in range(CMDLINE_REREADS):
        if not is_alive(pid):
            return False
        if marker in cmdline(pid):
            return True
        time.sleep(CMDLINE_REREAD_PAUSE_S)
    return False


def peek_pid(files: ProcFiles) -> int | None:
    """Like our_pid, without touching the pid file (for read-only status)."""
    pid = read_pid(files.pid_file)
    if pid is not None and _is_ours(pid, files.marker):
        return pid
    return None


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on host:port (or the address cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return port_open(host, port, timeout_s=0.2)


def port_open(host: str, port: int, timeout_s: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def spawn(files: ProcFiles, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start argv detached (own session, stdout+stderr appended to the log); write the pid."""
    files.log_file.parent.mkdir(parents=True, exist_ok=True)
    files.pid_file.parent.mkdir(parents=True, exist_ok=True)
    with files.log_file.open("ab") as log:
        log.write(f"\n=== tally: starting {files.name}: {' '.join(argv)}\n".encode())
    spec = {
        "argv": argv,
        "cwd": str(cwd),
        "env": dict(os.environ if env is None else env),
        "log": str(files.log_file),
    }
    try:
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=LAUNCH_TIMEOUT_S,
            check=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        raise StackError(f"{files.name}: could not start {argv[0]}: {error}") from error
    pid = int(launched.stdout.strip())
    files.pid_file.write_text(f"{pid}\n")
    return pid


def terminate(files: ProcFiles, stop_timeout_s: float, echo: Echo) -> bool:
    """SIGTERM our process group, wait, then SIGKILL. Returns True if something was stopped."""
    return bool(terminate_together([files], stop_timeout_s, echo))


def terminate_together(many: list[ProcFiles], stop_timeout_s: float, echo: Echo) -> list[ProcFiles]:
    """`terminate` for several processes at once: SIGTERM to all, then wait for all (the
    nodes of a Kafka cluster: stopped one by one, the last ones wait for a quorum that is
    already gone). Returns the ones that were stopped."""
    running = [(files, pid) for files in many if (pid := our_pid(files)) is not None]
    for files, pid in running:
        echo(f"{files.name}: stopping pid {pid}")
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout_s
    while any(is_alive(pid) for _, pid in running) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S)
    for files, pid in running:
        if is_alive(pid):
            echo(f"{files.name}: still running after {stop_timeout_s:g}s, sending SIGKILL")
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while is_alive(pid) and time.monotonic() < deadline:
                time.sleep(POLL_INTERVAL_S)
        files.pid_file.unlink(missing_ok=True)
    return [files for files, _ in running]


def kill_hard(files: ProcFiles) -> int | None:
    """kill -9 our process group (a crash: no shutdown, no flush); the pid it killed."""
    pid = our_pid(files)
    if pid is None:
        return None
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S)
    files.pid_file.unlink(missing_ok=True)
    return pid


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Our processes lead their own session (start_new_session), so pgid == pid.
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def log_tail(log_file: Path, lines_max: int) -> str:
    try:
        with log_file.open("r", errors="replace") as log:
            return "".join(deque(log, maxlen=lines_max)).rstrip("\n")
    except FileNotFoundError:
        return "(no log written)"


def failure(files: ProcFiles, what: str, lines_max: int) -> StackError:
    tail = log_tail(files.log_file, lines_max)
    return StackError(
        f"{files.name}: {what}\nlog: {files.log_file} (last {lines_max} lines):\n{tail}"
    )


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """One `up`/`down` at a time per stack home (two test sessions may race)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
