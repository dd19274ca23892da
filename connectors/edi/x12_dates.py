"""X12 dates and times: CCYYMMDD / YYMMDD dates, HHMM[SS[D[D]]] times, read strictly and written."""

from __future__ import annotations

import re
from datetime import date, datetime, time

_DATE = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})?(\d{1,2})?$")


def parse_date(text: str) -> date | None:
    """CCYYMMDD, or YYMMDD (the ISA's; taken as 20YY); None when not a real date."""
    found = _DATE.match(text)
    if found is None:
        return None
    century, year, month, day = found.groups()
    try:
        return date(int((century or "20") + year), int(month), int(day))
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    """HHMM, HHMMSS, HHMMSSD or HHMMSSDD (decimal seconds dropped); None when not a time."""
    found = _TIME.match(text)
    if found is None or (found.group(4) and not found.group(3)):
        return None
    hour, minute, second = int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def ccyymmdd(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def yymmdd(moment: datetime) -> str:
    return moment.strftime("%y%m%d")


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H%M")
