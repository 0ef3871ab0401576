"""A small in-process cache with a time to live, for the home page's data.

The home page is the most visited page, and what it shows (the latest notices and results,
the figures, the halls) is the same for every visitor and may be a few seconds old. Each
server process keeps its own copy for ``ttl`` seconds and reloads it on the first request
after that: nothing to invalidate, so several app hosts behind one address (issue 23)
need no shared cache and no messages between them; a change shows on every host within
``ttl`` seconds. Concurrent requests that find the copy stale wait for one reload rather
than each querying the database (no stampede at expiry)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def monotonic() -> float:
    """The cache's clock (a function of this module, so a test can move it forward)."""
    return time.monotonic()


class TtlCache(Generic[T]):
    """One value, loaded by ``load`` when missing or older than ``ttl`` seconds. A load that
    raises leaves the cache as it was: the next request tries again."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: T | None = None
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._loaded_at is not None and monotonic() - self._loaded_at < self.ttl

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        if self._fresh():
            return self._value  # type: ignore[return-value]  # set together with _loaded_at
        async with self._lock:
            if not self._fresh():  # another request may have reloaded it while this one waited
                value = await load()
                self._value, self._loaded_at = value, monotonic()
            return self._value  # type: ignore[return-value]
