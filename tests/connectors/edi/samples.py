"""The EDI tests' sample interchanges (samples/*.x12, shaped after public 856/846/997
examples), the sample partner profile, and a way to re-date a sample to today."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from base.settings import EdiSettings
from connectors.edi.partners import PartnerProfile, load_partner

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_DAY = date(2026, 12, 1)  # the samples' ISA/GS/BSN date
SAMPLE_NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # "now" for the samples as they are
_CCYYMMDD = re.compile(r"(?<=\*)(20\d{6})(?=[*~])")


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def acme(**changes: object) -> PartnerProfile:
    profile = load_partner(SAMPLES / "partners.yaml", "acme")
    return profile.model_copy(update=changes) if changes else profile


def edi_settings(tmp_path: Path, **changes: object) -> EdiSettings:
    return EdiSettings(
        partners_file=SAMPLES / "partners.yaml",
        outbox_dir=tmp_path / "outbox",
        state_dir=tmp_path / "state",
        **changes,
    )


def redated(text: str, today: date) -> str:
    """The sample with every date moved by (today - SAMPLE_DAY), the ISA's YYMMDD too."""
    shift = today - SAMPLE_DAY

    def moved(found: re.Match[str]) -> str:
        day = datetime.strptime(found.group(1), "%Y%m%d").date() + shift
        return day.strftime("%Y%m%d")

    isa_day = (SAMPLE_DAY + shift).strftime("%y%m%d")
    return text[:70] + isa_day + _CCYYMMDD.sub(moved, text[76:])
