"""The dead-letter record (wire contract: tally.dlq), built from the record it reports."""

from __future__ import annotations

import base64

import orjson

RAW_PREVIEW_BYTES_MAX = 4_096  # the readable copy is cut here; raw_base64 keeps every byte


def dead_letter_record(
    *,
    reason: str,
    reason_kind: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
) -> bytes:
    """`{reason, reason_kind, topic, partition, offset, key, raw, raw_base64}` as JSON bytes."""
    value = raw or b""
    return orjson.dumps(
        {
            "reason": reason,
            "reason_kind": reason_kind,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": None if key is None else key.decode("utf-8", "replace"),
            "raw": value[:RAW_PREVIEW_BYTES_MAX].decode("utf-8", "replace"),
            "raw_base64": base64.b64encode(value).decode("ascii"),
        }
    )
