"""Ports for later listeners come from below the kernel's ephemeral range, free and unrepeated."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ops.stack import ports
from ops.stack.ports import NoFreePortError, bindable, ephemeral_low, free_port, free_ports


def test_a_port_is_below_the_range_outgoing_connections_take_theirs_from() -> None:
    low = ephemeral_low()
    chosen = [free_port() for _ in range(50)]
    assert all(ports.LISTEN_PORT_LOW <= port < low for port in chosen)


def test_no_port_is_handed_out_twice_in_one_process() -> None:
    chosen = [free_port() for _ in range(200)]
    assert len(set(chosen)) == len(chosen)


def test_a_port_someone_listens_on_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    spare = free_port()
    with socket.create_server(("127.0.0.1", free_port())) as taken:
        busy = taken.getsockname()[1]
        assert not bindable(busy)
        monkeypatch.setattr(ports, "_handed_out", set())
        picks = iter([busy, busy, spare])
        monkeypatch.setattr("random.choice", lambda _: next(picks))
        assert free_port() == spare


def test_a_run_of_ports_is_free_as_a_whole() -> None:
    first = free_ports(lambda start: [start, start + 1, start + 2])
    assert all(bindable(port) for port in (first, first + 1, first + 2))
    # the run counts as handed out: no single pick may land inside it
    assert not {first, first + 1, first + 2} & {free_port() for _ in range(200)}


def test_the_kernel_range_is_read_and_a_missing_file_falls_back(tmp_path: Path) -> None:
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text("40000\t60999\n")
    assert ephemeral_low(range_file) == 40000
    assert ephemeral_low(tmp_path / "absent") == ports.DEFAULT_EPHEMERAL_LOW


def test_a_kernel_range_leaving_no_room_for_listeners_is_a_clear_error(tmp_path: Path) -> None:
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text(f"{ports.LISTEN_PORT_LOW + 500}\t60999\n")
    with pytest.raises(NoFreePortError, match="ip_local_port_range"):
        ports.listen_range(range_file)
