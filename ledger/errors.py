"""The ledger's error types: bad input is an error value, broken invariants crash."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes that are not a valid event / command / policy record / state.

    `reason` is short and human, naming the offending field(s).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(ValueError):
    """A fact would grow a per-SKU collection past its named bound (see ledger.limits)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvariantBroken(AssertionError):
    """The fold found a state that can only come from a bug: crash, do not carry on."""
