"""The stack's process mechanics with a stand-in service (a tiny Python listener): no Kafka,
no Redis, so these run in the default tier in about a second."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from base.settings import Settings, StackSettings
from ops.stack import procs
from ops.stack.control import start_services, stop_services
from ops.stack.ports import free_port
from ops.stack.procs import Echo, StackError, our_pid, port_open, terminate
from ops.stack.service import Service

LISTENER = """
import signal, socket, sys, time
port = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
print("listening", flush=True)
time.sleep(600)
"""
DYING = "import sys; print('boom: bad config', flush=True); sys.exit(3)"


class Stand(Service):
    """A stand-in service: listens on a port (or dies at once with `dying`)."""

    name = "stand"

    def __init__(self, settings: Settings, port: int, dying: bool = False) -> None:
        self.port = port
        self.dying = dying
        super().__init__(settings)

    @property
    def ports(self) -> tuple[tuple[str, int, str], ...]:
        return (("127.0.0.1", self.port, "TALLY_STAND__PORT"),)

    def marker(self) -> str:
        return str(self.home / "stand.marker")

    def prepare(self, echo: Echo) -> None:
        return None

    def argv(self) -> list[str]:
        code = DYING if self.dying else LISTENER
        return [sys.executable, "-c", code, str(self.port), self.marker()]

    def probe(self) -> bool:
        return port_open("127.0.0.1", self.port, timeout_s=0.5)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        stack=StackSettings(home=tmp_path / "home", start_timeout_s=10, stop_timeout_s=5)
    )


@pytest.fixture
def stand(settings: Settings) -> Iterator[Stand]:
    service = Stand(settings, free_port())
    yield service
    terminate(service.files, 5, _ignore)


def _ignore(message: str) -> None:
    return None


def test_start_is_idempotent_and_stop_stops(settings: Settings, stand: Stand) -> None:
    first = start_services(settings, [stand], _ignore)
    assert first.started == ("stand",)
    pid = our_pid(stand.files)
    assert pid is not None

    second = start_services(settings, [stand], _ignore)
    assert second.started == ()
    assert second.already_running == ("stand",)
    assert our_pid(stand.files) == pid

    assert terminate(stand.files, 5, _ignore)
    assert our_pid(stand.files) is None
    assert not stand.files.pid_file.exists()
    assert not terminate(stand.files, 5, _ignore), "stopping a stopped service is a no-op"


def test_stale_pid_file_is_cleaned(stand: Stand) -> None:
    stand.files.pid_file.parent.mkdir(parents=True)
    stand.files.pid_file.write_text("1\n")  # alive, but not ours (no marker)
    assert our_pid(stand.files) is None
    assert not stand.files.pid_file.exists()


def test_foreign_port_fails_fast_naming_service_and_port(settings: Settings, stand: Stand) -> None:
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", stand.port))
        foreign.listen()
        with pytest.raises(StackError, match=rf"stand: port {stand.port} is already in use"):
            start_services(settings, [stand], _ignore)
    assert our_pid(stand.files) is None


def test_dying_service_reports_log_tail(settings: Settings) -> None:
    dying = Stand(settings, free_port(), dying=True)
    with pytest.raises(StackError) as raised:
        start_services(settings, [dying], _ignore)
    message = str(raised.value)
    assert message.startswith("stand: the process exited before it was ready")
    assert str(dying.files.log_file) in message
    assert "boom: bad config" in message


def test_stop_services_only_stops_named(settings: Settings, stand: Stand) -> None:
    start_services(settings, [stand], _ignore)
    assert stop_services(settings, ("redis",), _ignore) == ()
    assert our_pid(stand.files) is not None


def test_a_process_caught_rewriting_its_title_is_still_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-server blanks its /proc cmdline for an instant while it sets its process title
    (seen as a run of spaces); a read in that instant must not disown it (a fault run lost a
    live Redis's pid file that way, and every later stop left it running)."""
    reads = iter([" " * 40, "/usr/bin/redis-server 127.0.0.1:26379  /home/conf/redis.conf"])
    monkeypatch.setattr(procs, "cmdline", lambda pid: next(reads))
    monkeypatch.setattr(procs, "is_alive", lambda pid: True)
    assert procs._is_ours(12345, "/home/conf/redis.conf")


def test_a_live_process_without_the_marker_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "cmdline", lambda pid: "/usr/bin/python some other thing")
    monkeypatch.setattr(procs, "is_alive", lambda pid: True)
    assert not procs._is_ours(12345, "/home/conf/redis.conf")
