"""The policy topic folded into a book: every record applied in offset order, and the
policy version (the offset of the last record applied + 1, wire contract v1).

Shared by the worker's follower and by the readers of the topic (CLI, resync), so both
compute the same book and the same version.
"""

from __future__ import annotations

from ledger.codec import decode_policy
from ledger.errors import DecodeError
from ledger.policy import PolicyBook, apply_policy


class PolicyLog:
    def __init__(self) -> None:
        self.book = PolicyBook()
        self.version = 0

    def apply(self, offset: int, raw: bytes | None) -> DecodeError | None:
        """Apply one record; an invalid one only moves the version, and is returned."""
        self.version = offset + 1
        try:
            record = decode_policy(raw or b"")
        except DecodeError as error:
            return error
        self.book = apply_policy(self.book, record)
        return None
