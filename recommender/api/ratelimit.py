"""A per-client token bucket for the public (unauthenticated) GET endpoints.

Hand-written rather than slowapi: slowapi wants a decorator and a `request` parameter on every
route and counts fixed or moving windows, while what is needed here is one policy (a rate and a
burst) attached to a few routers as a dependency, answering 429 with `Retry-After`. The bucket map
is bounded (least recently seen clients are forgotten), so many addresses cannot exhaust memory.
The client address is the socket's unless `serve` was told to trust a proxy's X-Forwarded-For
(RECOMMENDER_PROXY_HEADERS, RECOMMENDER_FORWARDED_ALLOW_IPS; docs/operations.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from recommender.api import schemas


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`per_minute` requests a minute on average per client, up to `burst` at once."""

    def __init__(
        self, per_minute: int, burst: int, max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("per_minute and burst must be positive")
        self.rate = per_minute / 60.0
        self.per_minute = per_minute
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one token of `client`: 0.0 when allowed, else the seconds until a token is back."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[client] = bucket  # most recently seen last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def rate_limit(request: Request) -> None:
    """Dependency of the public routes: 429 with Retry-After once a client spent its burst."""
    limiter: TokenBucketLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    wait = limiter.take(client_key(request))
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            f"too many requests from this client: the limit is {limiter.per_minute} a minute "
            f"(bursts of {limiter.burst}); retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )


RATE_LIMITED = Depends(rate_limit)
RATE_LIMIT_RESPONSES: dict[int | str, dict] = {
    429: {
        "model": schemas.ErrorBody,
        "description": "Too many requests from this client (RECOMMENDER_RATE_LIMIT_PER_MINUTE)",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    }
}
