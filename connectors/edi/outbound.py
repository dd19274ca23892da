"""Documents we send: transaction sets wrapped in ISA/GS ... GE/IEA with fresh control
numbers, written atomically to the partner's outbox folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from base.settings import EdiSettings
from connectors.edi.partner_state import Controls
from connectors.edi.partners import PartnerProfile
from connectors.edi.segments import DEFAULT_DELIMITERS, REPETITION_FROM_VERSION, render
from connectors.edi.x12_dates import ccyymmdd, hhmm, yymmdd

Segments = list[list[str]]
NO_AUTHORIZATION = ("00", " " * 10, "00", " " * 10)  # ISA01-ISA04


@dataclass(frozen=True, slots=True)
class Outgoing:
    functional_id: str  # GS01: FA for 997s, IB for 846s
    sets: Sequence[tuple[str, Segments]]  # (ST01, body between ST and SE)
    prefix: Segments = field(default_factory=list)  # e.g. a TA1 before the group


def interchange_segments(
    settings: EdiSettings, partner: PartnerProfile, controls: Controls, out: Outgoing, now: datetime
) -> Segments:
    """ISA, the prefix segments, one GS group of every set (none when no set), GE, IEA."""
    repetition = DEFAULT_DELIMITERS.repetition or "^"
    isa = [
        "ISA", *NO_AUTHORIZATION,
        settings.isa_qualifier, settings.isa_id.ljust(15),
        partner.isa_qualifier, partner.isa_id.ljust(15),
        yymmdd(now), hhmm(now),
        repetition if partner.isa_version >= REPETITION_FROM_VERSION else "U",
        partner.isa_version, controls.interchange, "0", settings.usage,
        DEFAULT_DELIMITERS.component,
    ]  # fmt: skip
    segments: Segments = [isa, *out.prefix]
    if out.sets:
        segments.append(
            ["GS", out.functional_id, settings.gs_id, partner.application_id,
             ccyymmdd(now), hhmm(now), controls.group, "X", partner.version]
        )  # fmt: skip
        for (id_code, body), control in zip(out.sets, controls.sets, strict=True):
            segments += [["ST", id_code, control], *body, ["SE", str(len(body) + 2), control]]
        segments.append(["GE", str(len(out.sets)), controls.group])
    segments.append(["IEA", "1" if out.sets else "0", controls.interchange])
    return segments


def render_interchange(settings: EdiSettings, segments: Segments) -> str:
    return render(segments, DEFAULT_DELIMITERS, settings.newline_after_segment)


def write_outbox(settings: EdiSettings, partner: str, kind: str, control: str, text: str) -> Path:
    """`{outbox}/{partner}/{kind}-{ISA13}.x12`, written whole or not at all."""
    folder = settings.outbox_dir / partner
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{kind}-{control}.x12"
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(target)
    return target
