"""One reading shared by the concurrent callers that ask for the same thing.

When one event wakes many waiters at once (every page watching a draw when its result is
logged), each reading and rendering the same state by itself multiplies the work by the
number of waiters before the last one is served. Here the first caller of a key starts
the reading as a task of its own (so a caller that goes away does not cancel it under the
others); callers that come while it runs, or shortly after, take its value when they find
it acceptable (the caller decides: typically, its own state as it reads it now is the one
the value was read at), and read again otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from litestar.response import ServerSentEventMessage

V = TypeVar("V")


@dataclass
class _Reading(Generic[V]):
    task: asyncio.Task[V]
    started: float  # the loop's time


def _retrieve(task: asyncio.Task[object]) -> None:
    # A reading whose callers have all gone: its failure is nobody's to report.
    if not task.cancelled():
        task.exception()


class SharedReadings(Generic[V]):
    """Readings by key, each shared while it runs and for ``fresh_for`` seconds after."""

    def __init__(self, fresh_for: float) -> None:
        self.fresh_for = fresh_for
        self._readings: dict[Hashable, _Reading[V]] = {}

    async def get(
        self, key: Hashable, read: Callable[[], Awaitable[V]], acceptable: Callable[[V], Awaitable[bool]]
    ) -> V:
        """The value of a reading of ``key`` that ``acceptable`` takes, or a new reading's."""
        loop = asyncio.get_running_loop()
        found = self._readings.get(key)
        while found is not None and (not found.task.done() or loop.time() - found.started < self.fresh_for):
            try:
                shared: V | None = await asyncio.shield(found.task)
            except Exception:
                shared = None  # read again below: a failure of its own is this caller's to see
            if shared is not None and await acceptable(shared):
                return shared
            # Another caller may have started a newer reading meanwhile: it may be acceptable.
            newer = self._readings.get(key)
            if newer is found:
                break
            found = newer
        task: asyncio.Task[V] = asyncio.ensure_future(read())
        task.add_done_callback(_retrieve)
        now = loop.time()
        for stale in [
            k for k, r in self._readings.items() if r.task.done() and now - r.started >= self.fresh_for
        ]:
            del self._readings[stale]
        self._readings[key] = _Reading(task=task, started=now)
        return await asyncio.shield(task)


class EncodedOnce(ServerSentEventMessage):
    """A message many streams send: encoded the first time, the same bytes after.

    Litestar encodes every message it sends, line by line. The panel of a notice with 1,000
    bids is 550 kB and took 4 ms to encode, for each of the 50 pages watching its result
    (issue 24: deadline to result); the panel itself is read and rendered once per process
    (SharedReadings above), so its encoding is shared with it."""

    _encoded: bytes | None = None

    def encode(self) -> bytes:
        if self._encoded is None:
            self._encoded = super().encode()
        return self._encoded
