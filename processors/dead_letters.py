"""The dead-letter record (wire contract: tally.dlq)."""

from __future__ import annotations

import base64

import orjson

from processors.batch import DeadLetter

RAW_PREVIEW_BYTES_MAX = 4_096  # the readable copy is cut here; raw_base64 keeps every byte


def dead_letter_record(letter: DeadLetter) -> bytes:
    """`{reason, topic, partition, offset, raw, raw_base64}` as JSON bytes."""
    message = letter.message
    raw = message.value or b""
    return orjson.dumps(
        {
            "reason": letter.reason,
            "reason_kind": letter.reason_kind,
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": None if message.key is None else message.key.decode("utf-8", "replace"),
            "raw": raw[:RAW_PREVIEW_BYTES_MAX].decode("utf-8", "replace"),
            "raw_base64": base64.b64encode(raw).decode("ascii"),
        }
    )
