"""`tally edi` as a user runs it: registered in the CLI, a rejected ASN (exit 1, a 997 and
no Kafka needed), a bad partner (exit 2), a partner's 997 marking our 846."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from base.settings import Settings, get_settings, settings_env
from connectors.edi.partner_state import PartnerState, SentAdvice
from ops.cli import app
from tests.connectors.edi.samples import SAMPLES, edi_settings


def run(tmp_path: Path, *args: str) -> Result:
    settings = Settings(edi=edi_settings(tmp_path))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["edi", *args], env=settings_env(settings))
    finally:
        get_settings.cache_clear()


def test_a_rejected_asn_exits_1_naming_the_problem_and_writes_the_997(tmp_path: Path) -> None:
    result = run(tmp_path, "receive", str(SAMPLES / "asn-unknown-item.x12"), "--partner", "acme")
    assert result.exit_code == 1, result.output
    assert "rejected, nothing produced:" in result.stdout
    assert "LIN at 24: unknown partner item 'AC-7777'" in result.stdout
    ack = tmp_path / "outbox" / "acme" / "997-000000001.x12"
    assert f"997 (rejecting): {ack}" in result.stdout
    assert "AK4*3**7*AC-7777~" in ack.read_text()


def test_an_unknown_partner_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path, "receive", str(SAMPLES / "asn-good.x12"), "--partner", "nobody")
    assert result.exit_code == 2
    assert "no partner 'nobody'" in result.stderr
    assert not (tmp_path / "outbox").exists()


def test_ack_finds_the_partner_by_its_isa_id_and_marks_the_set(tmp_path: Path) -> None:
    state = PartnerState(tmp_path / "state", "acme")
    state.record_sent(SentAdvice("000000012", "12", "846.x12", "then", {"0012": "pending"}, 3))
    result = run(tmp_path, "ack", str(SAMPLES / "997-accepting-846.x12"))
    assert result.exit_code == 0, result.output
    assert "997 for 846 group 12 (interchange 000000012): AK9 A; set 0012 accepted" in result.stdout
    assert state.sent()["12"].sets == {"0012": "accepted"}
    unknown = run(tmp_path, "ack", str(SAMPLES / "997-rejecting-846.x12"))
    assert unknown.exit_code == 1
    assert "no 846 group 13 was sent to acme" in unknown.stdout
