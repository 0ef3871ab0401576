"""A sliding-window limiter for log-in and registration, per client address.

It lives in the process: with several server processes each allows the limit, which still
bounds guessing to a small multiple; a shared limiter would need a store we do not run.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int | None:
        """Count one attempt for ``key``; None if allowed, else the seconds to wait."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return None


def client_address(peer: str | None, forwarded_for: list[str], trusted_proxies: int) -> str:
    """The address to count attempts against (pure).

    By default the TCP peer: X-Forwarded-For is whatever the client wrote, so believing it
    would let anyone pick a fresh address per attempt. With ``trusted_proxies`` = N
    (MARKET_TRUSTED_PROXIES) the N proxies in front each appended the address they saw, so
    the N-th entry from the right is the client as the outermost proxy saw it; entries
    further left are the client's own claims and are ignored. A request with fewer entries
    did not pass all the proxies, and is counted against its peer."""
    host = peer or "unknown"
    if trusted_proxies <= 0:
        return host
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return host
    candidate = hops[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return host


def client_key(request: object, action: str) -> str:
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None)
    forwarded = headers.getall("x-forwarded-for", []) if headers is not None else []
    settings = request.app.state.settings  # type: ignore[attr-defined]
    return f"{action}:{client_address(getattr(client, 'host', None), forwarded, settings.trusted_proxies)}"


def rate_limited(action: str):  # type: ignore[no-untyped-def]
    """A guard counting one ``action`` attempt per client address; 429 over the limit.
    A guard runs before the body is read, so malformed attempts count too."""
    from market.errors import TooManyRequests

    async def guard(connection: object, _: object) -> None:  # a coroutine: no worker-thread hop (auth.py)
        limiter: SlidingWindowLimiter = connection.app.state.auth_limiter  # type: ignore[attr-defined]
        wait = limiter.hit(client_key(connection, action))
        if wait is not None:
            raise TooManyRequests(wait)

    guard.__name__ = f"rate_limited_{action}"
    return guard
