"""The policy topic folded into a book: every record applied in offset order, and the
policy version (the offset of the last record applied + 1, wire contract v1).

Shared by the worker's follower and by the readers of the topic (CLI, resync), so both
compute the same book and the same version.
"""

from __future__ import annotations

from ledger.codec import decode_policy
from ledger.errors import DecodeError, LimitExceeded
from ledger.policy import PolicyBook, apply_policy

# Why a record was skipped: not a policy record, or one past a bound (a channel past
# CHANNELS_MAX). Either is counted and skipped, never raised: every reader of the topic
# (worker, order processor, gateway, CLI) would otherwise stop on it for good.
RecordRefused = DecodeError | LimitExceeded


class PolicyLog:
    def __init__(self) -> None:
        self.book = PolicyBook()
        self.version = 0

    def apply(self, offset: int, raw: bytes | None) -> RecordRefused | None:
        """Apply one record; a refused one only moves the version, and is returned."""
        self.version = offset + 1
        try:
            self.book = apply_policy(self.book, decode_policy(raw or b""))
        except (DecodeError, LimitExceeded) as error:
            return error
        return None
