"""A token bucket: `rate` events a second on average, bursts of up to `burst` (one socket's messages)."""

from __future__ import annotations

import time


class TokenBucket:
    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, max(1, burst)
        self.tokens, self.at = float(self.burst), time.monotonic()

    def take(self) -> float:
        """0 when an event may pass now (and it is counted); otherwise the seconds until one may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate
