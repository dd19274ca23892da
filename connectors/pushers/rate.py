"""A token bucket pacing requests to a documented rate (requests per second) and burst.

`take()` returns how long to wait before the next request may go; the debt is counted at
once, so back-to-back callers queue up behind each other. The rate follows what the API
says it applied (Amazon's `x-amzn-RateLimit-Limit`), and a 429 empties the bucket.
"""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        assert rate_per_s > 0 and burst >= 1, (rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at_s = clock()

    def take(self) -> float:
        """Spend one request; seconds to wait before sending it."""
        self._refill()
        self._tokens -= 1.0
        return max(0.0, -self._tokens / self.rate_per_s)

    def set_rate(self, rate_per_s: float) -> None:
        """Adopt the rate the API reports (ignored when not positive)."""
        if rate_per_s > 0:
            self._refill()
            self.rate_per_s = rate_per_s

    def empty(self) -> None:
        """Throttled: no request goes before the bucket has refilled one token."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)

    def _refill(self) -> None:
        now_s = self._clock()
        elapsed_s = max(0.0, now_s - self._at_s)
        self._at_s = now_s
        self._tokens = min(float(self.burst), self._tokens + elapsed_s * self.rate_per_s)
