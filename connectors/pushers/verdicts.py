"""What one HTTP answer means to a pusher: accepted, throttled, failed or refused.

A pusher's `_judge` says which (connectors/pushers/http_sink.py acts on it); the policy
that bounds the retries and sizes the waits is the pusher's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """A usable answer, and what the pusher read from it."""

    value: T


@dataclass(frozen=True, slots=True)
class Throttled:
    """Asked to slow down. `last` names the answer (for a dead letter's reason); `payload`
    is its JSON body when it had one (Shopify's bucket state is in it)."""

    last: str
    retry_after: str | None
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """A transient failure (5xx, timeout, connection error); `kind` is the error counted."""

    kind: str
    last: str


@dataclass(frozen=True, slots=True)
class Refused:
    """An answer retrying will not change; `reason` is the dead letter's."""

    reason: str


Verdict = Accepted[T] | Throttled | Failed | Refused
