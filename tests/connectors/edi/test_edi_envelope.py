"""The envelope reader: delimiters from the fixed-width ISA, control numbers and counts of
ISA/IEA, GS/GE and ST/SE, and every problem at its X12 level with its code."""

from __future__ import annotations

import pytest

from connectors.edi.envelope import read_interchange
from connectors.edi.segments import DEFAULT_DELIMITERS, read_delimiters, render, split_segments
from tests.connectors.edi.samples import sample


def test_the_good_sample_has_no_problem_and_its_envelopes_are_read() -> None:
    interchange = read_interchange(sample("asn-good.x12"))
    assert interchange.ok, interchange.reasons()
    assert (interchange.sender_qualifier, interchange.sender) == ("ZZ", "ACMEWHOLESALE")
    assert (interchange.receiver, interchange.control, interchange.version) == (
        "TALLY",
        "000000905",
        "00401",
    )
    (group,) = interchange.groups
    assert (group.functional_id, group.control, group.version) == ("SH", "905", "004010")
    (one,) = group.sets
    assert (one.id_code, one.control, len(one.body)) == ("856", "0001", 32)
    assert [segment.tag for segment in one.body[:3]] == ["BSN", "HL", "TD1"]


def test_delimiters_are_read_from_the_isa_not_assumed() -> None:
    text = sample("asn-good.x12").replace("*", "|").replace("~", "'").replace("|>'", "|:'")
    text = text.replace("|U|00401|", "|^|00501|")
    delimiters = read_delimiters(text)
    assert (delimiters.element, delimiters.segment, delimiters.component) == ("|", "'", ":")
    assert delimiters.repetition == "^"  # ISA11 is the repetition separator from 00402 on
    interchange = read_interchange(text)
    assert interchange.ok, interchange.reasons()
    assert interchange.groups[0].sets[0].body[0].elements[:2] == ("00", "SHP-20418")


def test_00401_has_no_repetition_separator() -> None:
    assert read_delimiters(sample("asn-good.x12")).repetition is None


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda t: t.replace("ACMEWHOLESALE  ", "ACMEWHOLESALE ", 1), "022"),  # ISA06 14 wide
        (lambda t: t[:60], "023"),  # the file ends inside the ISA
        (lambda t: "GS" + t[2:], "022"),  # not an ISA first
    ],
)
def test_an_isa_that_is_not_fixed_width_is_refused_whole(mangle: object, code: str) -> None:
    interchange = read_interchange(mangle(sample("asn-good.x12")))  # type: ignore[operator]
    assert interchange.problems.codes == [code]
    assert interchange.groups == []


def test_wrong_se01_is_ak5_code_4() -> None:
    interchange = read_interchange(sample("asn-wrong-se-count.x12"))
    one = interchange.groups[0].sets[0]
    assert one.problems.codes == ["4"]
    assert "SE01 says '32' segments, the set has 34" in one.problems.reasons[0]
    assert interchange.groups[0].problems.codes == []


def test_isa13_not_iea02_is_ta1_code_001() -> None:
    interchange = read_interchange(sample("asn-isa-iea-mismatch.x12"))
    assert interchange.problems.codes == ["001"]
    assert interchange.groups[0].ok  # the group itself is fine; the interchange is not
    assert not interchange.ok


def test_gs06_not_ge02_is_ak9_code_4() -> None:
    interchange = read_interchange(sample("asn-gs-ge-mismatch.x12"))
    assert interchange.groups[0].problems.codes == ["4"]
    assert interchange.problems.codes == []


def test_counts_of_groups_and_sets_are_checked() -> None:
    text = sample("asn-good.x12").replace("GE*1*905", "GE*2*905").replace("IEA*1*", "IEA*3*")
    interchange = read_interchange(text)
    assert interchange.groups[0].problems.codes == ["5"]  # GE01 != number of ST
    assert interchange.problems.codes == ["021"]  # IEA01 != number of GS


def test_st02_not_se02_and_a_repeated_st02() -> None:
    good = sample("asn-two-notices.x12")
    interchange = read_interchange(good.replace("SE*34*0001", "SE*34*0009"))
    assert interchange.groups[0].sets[0].problems.codes == ["3"]
    repeated = good.replace("ST*856*0002", "ST*856*0001").replace("*0002~", "*0001~")
    assert read_interchange(repeated).groups[0].sets[1].problems.codes == ["23"]


def test_missing_trailers_are_each_reported() -> None:
    text = sample("asn-good.x12")
    cut = text[: text.index("SE*34")]
    interchange = read_interchange(cut)
    assert interchange.groups[0].sets[0].problems.codes == ["2"]  # SE missing
    assert interchange.groups[0].problems.codes == ["3"]  # GE missing
    assert interchange.problems.codes == ["023"]  # IEA missing


def test_a_file_ending_inside_a_segment_and_segments_after_the_iea() -> None:
    text = sample("asn-good.x12")
    assert read_interchange(text + "GS*SH").problems.codes == ["023"]
    assert read_interchange(text + "BSN*00*X~").problems.codes == ["024"]


def test_an_unrecognized_segment_id_in_a_set_is_an_ak3_code_1() -> None:
    text = sample("asn-good.x12").replace("TD1*CTN25", "td1*CTN25")
    one = read_interchange(text).groups[0].sets[0]
    (problem,) = one.segment_problems
    assert (problem.tag, problem.position, problem.code) == ("td1", 4, "1")
    assert one.problems.codes == ["5"]


def test_render_drops_trailing_empty_elements_and_refuses_delimiters_in_values() -> None:
    text = render([["AK5", "A", "", ""], ["N1", "ST", "", "92", "X"]], DEFAULT_DELIMITERS, False)
    assert text == "AK5*A~N1*ST**92*X~"
    with pytest.raises(ValueError, match="delimiter"):
        render([["REF", "BM", "A*B"]], DEFAULT_DELIMITERS, False)


def test_split_keeps_ordinals_and_tolerates_line_breaks() -> None:
    segments, tail = split_segments("ST*856*1~\r\nBSN*00~\n", DEFAULT_DELIMITERS)
    assert [(s.tag, s.ordinal) for s in segments] == [("ST", 1), ("BSN", 2)]
    assert tail == ""
