"""The dead-letter record (wire contract: tally.dlq), built from the record it reports.

Bounded whatever the refused record's size: the broker takes records up to its
`message.max.bytes` (about 1 MB), so a letter that copied the whole value (plus its base64)
would be larger than the record and over the producer's request size, and the worker would
fail on that batch for good. A letter keeps the value's size, its sha256 and its first
RAW_PREVIEW_BYTES_MAX bytes (every record a decoder accepts is shorter: PAYLOAD_BYTES_MAX).
"""

from __future__ import annotations

import base64
import hashlib

import orjson

from ledger import limits

RAW_PREVIEW_BYTES_MAX = limits.PAYLOAD_BYTES_MAX  # a well-sized record is kept whole
KEY_PREVIEW_BYTES_MAX = 1_024
LETTER_REASON_CHARS_MAX = 1_000
# The largest letter: the previews at their worst (every byte a control character, escaped
# as \u00XX in `raw`, or U+FFFD) plus the fixed fields; far under any producer's 1 MB.
DEAD_LETTER_BYTES_MAX = 64 * 1_024


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The letter's Kafka key: the record's own, cut to KEY_PREVIEW_BYTES_MAX bytes."""
    return None if key is None else key[:KEY_PREVIEW_BYTES_MAX]


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
    """`{reason, reason_kind, topic, partition, offset, key, raw, raw_base64, raw_bytes,
    raw_sha256}` as JSON bytes, at most DEAD_LETTER_BYTES_MAX of them."""
    value = raw or b""
    preview = value[:RAW_PREVIEW_BYTES_MAX]
    shown_key = dead_letter_key(key)
    return orjson.dumps(
        {
            "reason": reason[:LETTER_REASON_CHARS_MAX],
            "reason_kind": reason_kind,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": None if shown_key is None else shown_key.decode("utf-8", "replace"),
            "raw": preview.decode("utf-8", "replace"),
            "raw_base64": base64.b64encode(preview).decode("ascii"),
            "raw_bytes": len(value),
            "raw_sha256": hashlib.sha256(value).hexdigest(),
        }
    )
