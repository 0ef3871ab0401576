"""A sliding-window limiter for log-in and registration, per client address, and a
backoff per account for failed log-ins.

Both live in the process: with several server processes each allows the limit, which
still bounds guessing to a small multiple; a shared limiter would need a store we do not
run.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler


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


class FailureBackoff:
    """Per account (the e-mail address as typed, lower-cased, known or not, so the answer
    tells nothing about which exist): after ``free`` failed log-ins each further attempt
    waits twice as long as the one before (1 s, 2 s, 4 s ... up to ``longest``), however
    many addresses the attempts come from; a success, or ``forget`` seconds without a
    failure, starts the account afresh. Address limits alone let a botnet try one
    password per address against one account for ever."""

    def __init__(
        self,
        *,
        free: int = 5,
        longest: float = 900.0,
        forget: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.longest, self.forget, self.clock = free, longest, forget, clock
        self._failures: dict[str, tuple[int, float]] = {}  # account -> (failures, time of the last)

    @staticmethod
    def key(email: str) -> str:
        return email.strip().lower()

    def wait(self, email: str) -> int | None:
        """Seconds the account must wait before its next attempt, or None."""
        found = self._failures.get(self.key(email))
        if found is None:
            return None
        failures, last = found
        now = self.clock()
        if now - last >= self.forget:
            del self._failures[self.key(email)]
            return None
        if failures < self.free:
            return None
        delay = min(self.longest, 2.0 ** (failures - self.free))
        left = last + delay - now
        return max(1, math.ceil(left)) if left > 0 else None

    def failed(self, email: str) -> None:
        key, now = self.key(email), self.clock()
        failures, last = self._failures.get(key, (0, now))
        if now - last >= self.forget:
            failures = 0
        self._failures[key] = (failures + 1, now)
        if len(self._failures) > 100_000:  # forget quiet accounts so memory stays bounded
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.forget}

    def succeeded(self, email: str) -> None:
        self._failures.pop(self.key(email), None)


def client_key(request: object, action: str) -> str:
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None)
    forwarded = headers.getall("x-forwarded-for", []) if headers is not None else []
    settings = request.app.state.settings  # type: ignore[attr-defined]
    return f"{action}:{client_address(getattr(client, 'host', None), forwarded, settings.trusted_proxies)}"


def rate_limited(
    action: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard counting one ``action`` attempt per client address; 429 over the limit.
    A guard runs before the body is read, so malformed attempts count too."""
    from market.core.errors import TooManyRequests

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:  # a coroutine: no worker-thread hop (auth.py)
        limiter: SlidingWindowLimiter = connection.app.state.auth_limiter
        wait = limiter.hit(client_key(connection, action))
        if wait is not None:
            raise TooManyRequests(wait)

    guard.__name__ = f"rate_limited_{action}"
    return guard
