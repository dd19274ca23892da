"""Answers that stop a pusher instead of failing one figure: bad credentials, a gone endpoint.

Neither acks anything: the entries stay pending and are pushed once the cause is fixed.
"""

from __future__ import annotations


class PusherStop(Exception):
    """Sending more would not help; `reason` says why, for the log and the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadCredentials(PusherStop):
    """The external side refused who we are (401/403, a refused token refresh)."""


class EndpointGone(PusherStop):
    """The receiver answered 410 Gone: stop sending to it until an operator re-enables it."""
