"""The X12 lexical layer: delimiters read from the fixed-width ISA, segments split and rendered.

An interchange starts with an ISA segment of exactly 106 characters: `ISA`, then 16 fixed-width
elements, each preceded by the element separator; ISA16 is the component (sub-element)
separator and the 106th character the segment terminator. From version 00402 on, ISA11 is
the repetition separator. Line breaks after a segment terminator are tolerated (and common).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ISA_CHARS = 106
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
REPETITION_FROM_VERSION = "00402"
_ISA_SEPARATOR_ELEMENTS = (11, 16)  # the repetition and component separators themselves
_TAG = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_LINE_BREAKS = "\r\n"


class SyntaxProblem(Exception):
    """The interchange cannot be read at all; `code` is the TA1 note code (TA105)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    segment: str
    component: str
    repetition: str | None = None  # ISA11 from 00402 on; 00401 has the standards id "U" there

    def all(self) -> str:
        return self.element + self.segment + self.component + (self.repetition or "")


DEFAULT_DELIMITERS = Delimiters(element="*", segment="~", component=">", repetition="^")


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its tag, its elements (element 1 first) and its ordinal in the file."""

    tag: str
    elements: tuple[str, ...]
    ordinal: int

    def element(self, number: int) -> str:
        """Element `number` (1-based, as in BSN02), "" when absent."""
        return self.elements[number - 1] if 0 < number <= len(self.elements) else ""

    @property
    def well_formed(self) -> bool:
        return _TAG.match(self.tag) is not None


def read_delimiters(text: str) -> Delimiters:
    """The delimiters of an interchange, from its ISA; SyntaxProblem when it is not fixed width."""
    if not text.startswith("ISA"):
        raise SyntaxProblem("022", "the file does not start with an ISA segment")
    if len(text) < ISA_CHARS:
        raise SyntaxProblem("023", f"the file ends inside the ISA ({len(text)} characters)")
    element = text[3]
    position = 3
    for number, width in enumerate(ISA_WIDTHS, start=1):
        if text[position] != element:
            raise SyntaxProblem("022", f"ISA{number:02d} is not {width} characters wide")
        position += 1 + width
    segment, component = text[ISA_CHARS - 1], text[ISA_CHARS - 2]
    if element.isalnum() or element.isspace():
        raise SyntaxProblem("026", f"invalid element separator {element!r}")
    if component.isalnum() or component in (element, " "):
        raise SyntaxProblem("027", f"invalid component separator {component!r}")
    if segment.isalnum() or segment in (element, component, " "):
        raise SyntaxProblem("022", f"invalid segment terminator {segment!r}")
    return Delimiters(element, segment, component, _repetition(text, element, segment, component))


def _repetition(text: str, *taken: str) -> str | None:
    version, separator = text[84:89], text[82]
    if version < REPETITION_FROM_VERSION or separator.isalnum() or separator in taken:
        return None
    return separator


def split_segments(text: str, delimiters: Delimiters) -> tuple[list[Segment], str]:
    """Every segment of `text`, and what follows the last terminator (blank when whole)."""
    chunks = text.split(delimiters.segment)
    tail = chunks.pop().strip(_LINE_BREAKS + " \t")
    segments = []
    for ordinal, chunk in enumerate(chunks, start=1):
        body = chunk.lstrip(_LINE_BREAKS) if delimiters.segment not in _LINE_BREAKS else chunk
        tag, *elements = body.split(delimiters.element)
        segments.append(Segment(tag, tuple(elements), ordinal))
    return segments, tail


def render(segments: Iterable[Sequence[str]], delimiters: Delimiters, newline: bool) -> str:
    """Segments as X12 text; trailing empty elements dropped (the ISA is never shortened)."""
    end = delimiters.segment + ("\n" if newline else "")
    lines = []
    for segment in segments:
        values = list(segment)
        while values[0] != "ISA" and len(values) > 1 and values[-1] == "":
            values.pop()
        for number, value in enumerate(values[1:], start=1):
            if values[0] != "ISA" or number not in _ISA_SEPARATOR_ELEMENTS:
                _check_value(value, delimiters)
        lines.append(delimiters.element.join(values) + end)
    return "".join(lines)


def _check_value(value: str, delimiters: Delimiters) -> None:
    clash = [char for char in delimiters.all() if char in value]
    if clash:
        raise ValueError(f"{value!r} contains the delimiter {clash[0]!r}")
