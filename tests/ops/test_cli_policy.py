"""`tally policy location set` refuses a record the policy topic would skip (an unknown IANA
time zone) by name, before producing it; Kafka is faked out."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ledger.policy import LocationPolicy, PolicyBook
from ops import cli_policy
from ops.cli import app


def test_an_unknown_time_zone_is_refused_before_anything_is_produced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    produced: list[LocationPolicy] = []

    async def no_book(settings: object) -> PolicyBook:
        return PolicyBook()

    async def produce(settings: object, record: LocationPolicy) -> None:
        produced.append(record)

    monkeypatch.setattr(cli_policy, "_book", no_book)
    monkeypatch.setattr(cli_policy, "_produce", produce)
    runner = CliRunner()
    bad = runner.invoke(app, ["policy", "location", "set", "dc", "--time-zone", "Mars/Base"])
    assert bad.exit_code == 1
    assert "error: time_zone: Value error, time_zone: unknown IANA time zone 'Mars/Base'" in (
        bad.stderr
    )
    assert produced == []
    good = ["policy", "location", "set", "dc", "--time-zone", "America/New_York"]
    assert runner.invoke(app, good).exit_code == 0
    assert [record.time_zone for record in produced] == ["America/New_York"]
