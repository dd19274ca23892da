"""A received interchange as read: its envelopes, each transaction set's segments, and every
problem found, kept at the level X12 reports it (TA1 for the interchange, AK9 for a group,
AK5 for a transaction set, AK3/AK4 for a segment and its elements)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from connectors.edi.segments import DEFAULT_DELIMITERS, Delimiters, Segment

SET_SEGMENTS_IN_ERROR = "5"  # AK502: one or more segments in error


@dataclass(frozen=True, slots=True)
class ElementProblem:
    """AK4: the element's position in its segment, the error code and a copy of the bad value."""

    position: int
    code: str
    bad_value: str = ""


@dataclass(frozen=True, slots=True)
class SegmentProblem:
    """AK3: the segment's tag, its position in the set (ST is 1) and the syntax error code."""

    tag: str
    position: int
    code: str
    reason: str  # for people (CLI output, logs); not sent in the 997
    elements: tuple[ElementProblem, ...] = ()


@dataclass
class Problems:
    """Error codes of one envelope level and the reasons, in words, beside them."""

    codes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, code: str, reason: str) -> None:
        if code and code not in self.codes:
            self.codes.append(code)
        self.reasons.append(reason)

    def __bool__(self) -> bool:
        return bool(self.reasons)


@dataclass
class TransactionSet:
    id_code: str  # ST01, e.g. 856
    control: str  # ST02
    body: list[Segment] = field(default_factory=list)  # between ST and SE
    problems: Problems = field(default_factory=Problems)  # AK5 codes
    segment_problems: list[SegmentProblem] = field(default_factory=list)

    def positioned(self) -> Iterator[tuple[int, Segment]]:
        """(position in the set, segment): ST is position 1, the first body segment 2."""
        return enumerate(self.body, start=2)

    def flag(self, problem: SegmentProblem) -> None:
        self.segment_problems.append(problem)
        if SET_SEGMENTS_IN_ERROR not in self.problems.codes:
            self.problems.add(SET_SEGMENTS_IN_ERROR, "one or more segments in error")
        self.problems.reasons.append(f"{problem.tag} at {problem.position}: {problem.reason}")

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Group:
    functional_id: str  # GS01, e.g. SH
    sender: str  # GS02
    receiver: str  # GS03
    control: str  # GS06
    version: str  # GS08, e.g. 004010
    sets_declared: int | None = None  # GE01 (None: no GE)
    sets: list[TransactionSet] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)  # AK9 codes

    @property
    def ok(self) -> bool:
        return not self.problems and all(one.ok for one in self.sets)


@dataclass
class Interchange:
    control: str  # ISA13
    sender_qualifier: str = ""
    sender: str = ""  # ISA06, trimmed
    receiver_qualifier: str = ""
    receiver: str = ""  # ISA08, trimmed
    date: str = ""  # ISA09 YYMMDD
    time: str = ""  # ISA10 HHMM
    version: str = ""  # ISA12
    usage: str = ""  # ISA15
    delimiters: Delimiters = DEFAULT_DELIMITERS
    groups: list[Group] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)  # TA1 codes

    @property
    def ok(self) -> bool:
        return not self.problems and all(group.ok for group in self.groups)

    def sets(self) -> Iterator[tuple[Group, TransactionSet]]:
        for group in self.groups:
            for one in group.sets:
                yield group, one

    def reasons(self) -> list[str]:
        """Every problem in words, each with where it is."""
        found = [f"interchange {self.control}: {reason}" for reason in self.problems.reasons]
        for group in self.groups:
            where = f"group {group.control}"
            found += [f"{where}: {reason}" for reason in group.problems.reasons]
            for one in group.sets:
                found += [f"{where} set {one.control}: {r}" for r in one.problems.reasons]
        return found
