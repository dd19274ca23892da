"""Per-partner state on disk: control-number counters that never repeat, and the 846s sent
that await the partner's 997.

One JSON file per partner in settings.edi.state_dir, changed only under an exclusive lock
(flock on a sibling `.lock` file) and replaced atomically (write, fsync, rename), so two
`tally edi` processes never hand out the same number and a crash never leaves half a file.
Numbers are reserved (and saved) before the document that uses them is written: a crash in
between wastes numbers, never repeats them.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

CONTROL_MAX = 999_999_999  # ISA13 is 9 digits; GS06 and ST02 at most 9
SENT_KEPT_MAX = 1_000  # the newest 846 groups kept for matching 997s
AdviceStatus = Literal["pending", "accepted", "rejected"]


class ControlNumbersExhausted(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Controls:
    interchange: str  # ISA13/IEA02, 9 digits
    group: str  # GS06/GE02
    sets: tuple[str, ...]  # ST02/SE02 of each set, at least 4 digits


@dataclass
class SentAdvice:
    """One 846 group we sent: where it is, and each set's status as the partner's 997 said."""

    interchange: str
    group: str
    file: str
    sent_at: str
    sets: dict[str, AdviceStatus] = field(default_factory=dict)
    items: int = 0


@dataclass
class _Document:
    interchange: int = 0
    group: int = 0
    set: int = 0
    sent: dict[str, SentAdvice] = field(default_factory=dict)  # by group control number

    @classmethod
    def load(cls, raw: dict[str, Any]) -> _Document:
        sent = {key: SentAdvice(**value) for key, value in raw.get("sent", {}).items()}
        return cls(raw.get("interchange", 0), raw.get("group", 0), raw.get("set", 0), sent)

    def dump(self) -> dict[str, Any]:
        kept = list(self.sent.items())[-SENT_KEPT_MAX:]
        return {
            "interchange": self.interchange,
            "group": self.group,
            "set": self.set,
            "sent": {key: asdict(value) for key, value in kept},
        }


class PartnerState:
    def __init__(self, directory: Path, partner: str) -> None:
        self._path = directory / f"{partner}.json"
        self._lock = directory / f"{partner}.lock"

    def reserve(self, sets: int) -> Controls:
        """The next interchange, group and `sets` set control numbers, saved before returned."""
        with self._locked() as document:
            if max(document.interchange, document.group, document.set + sets) >= CONTROL_MAX:
                raise ControlNumbersExhausted(f"{self._path}: control numbers exhausted")
            document.interchange += 1
            document.group += 1
            first = document.set + 1
            document.set += sets
        return Controls(
            interchange=f"{document.interchange:09d}",
            group=str(document.group),
            sets=tuple(f"{number:04d}" for number in range(first, first + sets)),
        )

    def record_sent(self, advice: SentAdvice) -> None:
        with self._locked() as document:
            document.sent[advice.group] = advice

    def mark(self, group: str, statuses: Mapping[str, AdviceStatus]) -> SentAdvice | None:
        """Set the status of sets of a sent 846 group; None when no such group was sent."""
        with self._locked() as document:
            advice = document.sent.get(group)
            if advice is not None:
                advice.sets.update({k: v for k, v in statuses.items() if k in advice.sets})
            return advice

    def sent(self) -> dict[str, SentAdvice]:
        with self._locked() as document:
            return dict(document.sent)

    @contextmanager
    def _locked(self) -> Iterator[_Document]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            document = self._read()
            before = document.dump()
            yield document
            if document.dump() != before:
                self._write(document)

    def _read(self) -> _Document:
        try:
            return _Document.load(json.loads(self._path.read_text()))
        except FileNotFoundError:
            return _Document()

    def _write(self, document: _Document) -> None:
        tmp = self._path.with_name(self._path.name + ".tmp")
        with tmp.open("w") as handle:
            json.dump(document.dump(), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self._path)
