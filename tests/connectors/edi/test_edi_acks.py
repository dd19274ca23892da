"""997s both ways, the 846 we send, and control numbers that never repeat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connectors.edi.acknowledge import apply_acks, partner_for, read_partner_acks
from connectors.edi.envelope import read_interchange
from connectors.edi.inventory_advice import advice_body, advised_quantities
from connectors.edi.outbound import Outgoing, interchange_segments, render_interchange
from connectors.edi.partner_state import PartnerState, SentAdvice
from connectors.edi.receive import examine, write_ack
from tests.connectors.edi.samples import SAMPLE_NOW, acme, edi_settings, sample

OUR_ISA = "ISA*00*          *00*          *ZZ*TALLY          *ZZ*ACMEWHOLESALE  "
REJECTING_997 = f"""\
{OUR_ISA}*261202*1200*U*00401*000000001*0*P*>~
GS*FA*TALLY*ACMEWHOLESALE*20261202*1200*1*X*004010~
ST*997*0001~
AK1*SH*905~
AK2*856*0001~
AK3*LIN*24**8~
AK4*3**7*AC-7777~
AK5*R*5~
AK9*R*1*1*0~
SE*8*0001~
GE*1*1~
IEA*1*000000001~
"""


def test_a_rejecting_997_names_the_segment_element_and_code(tmp_path: Path) -> None:
    us = edi_settings(tmp_path)
    receipt = examine(sample("asn-unknown-item.x12"), acme(), us, SAMPLE_NOW)
    path = write_ack(us, acme(), receipt, SAMPLE_NOW)
    assert path == tmp_path / "outbox" / "acme" / "997-000000001.x12"
    assert path.read_text() == REJECTING_997
    assert read_interchange(path.read_text()).ok  # our own envelope passes our own checks


def test_an_accepting_997_and_a_ta1_for_a_bad_interchange_trailer(tmp_path: Path) -> None:
    us = edi_settings(tmp_path)
    good = examine(sample("asn-two-notices.x12"), acme(), us, SAMPLE_NOW)
    accepting = write_ack(us, acme(), good, SAMPLE_NOW).read_text()
    assert "AK1*SH*907~\nAK2*856*0001~\nAK5*A~\nAK2*856*0002~\nAK5*A~\nAK9*A*2*2*2~" in accepting
    bad = examine(sample("asn-isa-iea-mismatch.x12"), acme(), us, SAMPLE_NOW)
    rejecting = write_ack(us, acme(), bad, SAMPLE_NOW).read_text()
    assert "~\nTA1*000000905*261201*1432*R*001~\nGS*FA*" in rejecting
    assert "AK5*R~\nAK9*R*1*1*0~" in rejecting  # refused whole: no set applied
    assert "*000000002*" in rejecting  # the second interchange number: none repeats


def test_an_envelope_error_is_reported_at_ak5_and_ak9(tmp_path: Path) -> None:
    us = edi_settings(tmp_path)
    counted = examine(sample("asn-wrong-se-count.x12"), acme(), us, SAMPLE_NOW)
    assert "AK5*R*4~\nAK9*R*1*1*0~" in write_ack(us, acme(), counted, SAMPLE_NOW).read_text()
    grouped = examine(sample("asn-gs-ge-mismatch.x12"), acme(), us, SAMPLE_NOW)
    assert "AK5*R~\nAK9*R*1*1*0*4~" in write_ack(us, acme(), grouped, SAMPLE_NOW).read_text()


def test_an_unreadable_interchange_gets_a_ta1_alone(tmp_path: Path) -> None:
    us = edi_settings(tmp_path)
    receipt = examine(sample("asn-good.x12")[:60], acme(), us, SAMPLE_NOW)
    text = write_ack(us, acme(), receipt, SAMPLE_NOW).read_text()
    assert text.splitlines()[1:] == ["TA1*000000000*261202*1200*R*023~", "IEA*0*000000001~"]


def test_the_846_lists_each_mapped_sku_with_its_figure(tmp_path: Path) -> None:
    figures = {"W-RED-M": 40, "W-BLU-M": 0, "NOT-THEIRS": 9}
    body = advice_body(acme(), figures, "TALLY000000001", SAMPLE_NOW)
    assert body == [
        ["BIA", "00", "SI", "TALLY000000001", "20261202", "1200"],
        ["LIN", "1", "BP", "AC-1002", "SK", "W-BLU-M"],
        ["QTY", "33", "0", "EA"],
        ["LIN", "2", "BP", "AC-1001", "SK", "W-RED-M"],
        ["QTY", "33", "40", "EA"],
        ["CTT", "2"],
    ]
    assert advised_quantities(body) == {"W-BLU-M": 0, "W-RED-M": 40}
    controls = PartnerState(tmp_path, "acme").reserve(1)
    segments = interchange_segments(
        edi_settings(tmp_path), acme(), controls, Outgoing("IB", [("846", body)]), SAMPLE_NOW
    )
    text = render_interchange(edi_settings(tmp_path), segments)
    interchange = read_interchange(text)
    assert interchange.ok, interchange.reasons()
    assert "SE*8*0001~" in text
    assert (interchange.sender, interchange.receiver) == ("TALLY", "ACMEWHOLESALE")


def sent_846(tmp_path: Path, group: str, sets: tuple[str, ...]) -> PartnerState:
    state = PartnerState(tmp_path / "state", "acme")
    statuses = dict.fromkeys(sets, "pending")
    state.record_sent(SentAdvice(f"{int(group):09d}", group, "846.x12", "now", statuses, 2))  # type: ignore[arg-type]
    return state


def test_a_partners_997_marks_our_846_sets(tmp_path: Path) -> None:
    state = sent_846(tmp_path, "12", ("0012",))
    sent_846(tmp_path, "13", ("0013",))
    us = edi_settings(tmp_path)
    for name in ("997-accepting-846.x12", "997-rejecting-846.x12"):
        interchange, found = read_partner_acks(sample(name), acme(), us)
        assert interchange.ok, interchange.reasons()
        apply_acks(us, acme(), found)
    sent = state.sent()
    assert sent["12"].sets == {"0012": "accepted"}
    assert sent["13"].sets == {"0013": "rejected"}


def test_a_997_for_a_group_we_never_sent_marks_nothing(tmp_path: Path) -> None:
    us = edi_settings(tmp_path)
    _, found = read_partner_acks(sample("997-accepting-846.x12"), acme(), us)
    (outcome,) = apply_acks(us, acme(), found)
    assert outcome.advice is None
    assert PartnerState(us.state_dir, "acme").sent() == {}


def test_a_997_without_ak2_speaks_for_all_the_groups_sets(tmp_path: Path) -> None:
    state = sent_846(tmp_path, "12", ("0012", "0014"))
    text = sample("997-accepting-846.x12").replace("AK2*846*0012~\nAK5*A~\n", "")
    text = text.replace("SE*6*0001", "SE*4*0001")
    us = edi_settings(tmp_path)
    interchange, found = read_partner_acks(text, acme(), us)
    assert interchange.ok, interchange.reasons()
    apply_acks(us, acme(), found)
    assert state.sent()["12"].sets == {"0012": "accepted", "0014": "accepted"}


def test_a_broken_997_is_not_read(tmp_path: Path) -> None:
    text = sample("997-accepting-846.x12").replace("AK9*A*1*1*1~\n", "").replace("SE*6", "SE*5")
    interchange, found = read_partner_acks(text, acme(), edi_settings(tmp_path))
    assert not interchange.ok
    assert found == []


def test_the_sender_of_a_997_names_its_partner() -> None:
    assert partner_for(sample("997-accepting-846.x12"), {"acme": acme()}) == acme()
    assert partner_for(sample("997-accepting-846.x12"), {"b": acme(isa_id="OTHER")}) is None


def test_control_numbers_never_repeat_across_writers_and_restarts(tmp_path: Path) -> None:
    def reserve(_: int) -> tuple[str, str, tuple[str, ...]]:
        controls = PartnerState(tmp_path, "acme").reserve(2)
        return controls.interchange, controls.group, controls.sets

    with ThreadPoolExecutor(max_workers=8) as pool:
        reserved = list(pool.map(reserve, range(200)))
    interchanges = [i for i, _, _ in reserved]
    sets = [s for _, _, pair in reserved for s in pair]
    assert len(set(interchanges)) == 200
    assert len(set(sets)) == 400
    assert max(interchanges) == "000000200"
    assert PartnerState(tmp_path, "acme").reserve(1).interchange == "000000201"
