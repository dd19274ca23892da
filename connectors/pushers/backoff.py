"""Retry waits: exponential backoff with full jitter, and Shopify's leaky-bucket wait."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Wait before retry number `attempt` (1-based): uniform(0, min(max, base * 2**(attempt-1)))."""
    assert attempt >= 1, attempt
    ceiling_s = min(max_s, base_s * 2.0 ** min(attempt - 1, 32))
    return max(0.0, min(ceiling_s, uniform(0.0, ceiling_s)))


def throttle_wait_s(
    cost: Mapping[str, Any] | None, *, min_s: float, max_s: float, fallback_s: float
) -> float:
    """How long until the bucket holds the requested cost again, from Shopify's `cost` block.

    wait = (requestedQueryCost - currentlyAvailable) / restoreRate, clamped to [min_s, max_s];
    `fallback_s` (clamped too) when the block is missing or unusable.
    """
    wait_s = fallback_s
    status = (cost or {}).get("throttleStatus")
    if isinstance(status, Mapping):
        try:
            available = float(status["currentlyAvailable"])
            restore_rate = float(status["restoreRate"])
            requested = float((cost or {}).get("requestedQueryCost") or 0) or restore_rate / 10
            if restore_rate > 0:
                wait_s = max(0.0, requested - available) / restore_rate
        except (KeyError, TypeError, ValueError):
            pass
    return min(max_s, max(min_s, wait_s))


def retry_after_s(header: str | None, *, max_s: float) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is ignored), bounded."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return min(max_s, max(0.0, seconds))
