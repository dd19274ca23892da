"""The `--json` body of a report: its dataclass fields, in order, as JSON values.

One rule for every report (`dataclasses.asdict`) instead of an `as_dict` per class: a nested
report becomes an object, a time its ISO 8601 text, a figure version its wire form "S-P",
and a published figure its fields with its age at the moment of printing. A value a report
derives (e.g. `pages`) is a field of its own, set in `__post_init__`, so it is printed in
its place too.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from base.redis_keys import FigureVersion
from connectors.inspect.published import Published

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def json_body(report: DataclassInstance) -> dict[str, Any]:
    return asdict(report, dict_factory=_json_object)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in pairs}


def _json_value(value: object) -> object:
    if isinstance(value, FigureVersion):
        return value.wire()
    if isinstance(value, Published):
        return {**_json_object(list(value._asdict().items())), "age_s": value.age_s()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value
