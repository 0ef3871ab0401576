"""Once bidding has ended and the result is not out yet, the draw page's stream looks at
the log every POLL seconds rather than every KEEPALIVE (market/selection/web.py
notified_stream): the result then reaches the page within seconds even when its NOTIFY is
lost (one loaded CI run saw a host's stream get a close made through another host only at
its 15 s look). Before the deadline, and after the result, the look stays at KEEPALIVE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.unit.selection.streams import Log, entries_seen


class Deaf:
    """A subscriber that never hears anything: every NOTIFY lost."""

    async def _events(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    def iter_events(self) -> AsyncIterator[bytes]:
        return self._events()


async def test_while_the_result_is_awaited_a_lost_notify_costs_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = Log(kind="selection.drawn", awaiting=True)  # the draw: logged, its NOTIFY lost
    assert await entries_seen(monkeypatch, log, Deaf(), logged=9, seconds=1.0, POLL=0.2, KEEPALIVE=30.0) == [
        9
    ]


async def test_otherwise_the_log_is_looked_at_only_every_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log(kind="selection.drawn", awaiting=False)
    seen = await entries_seen(monkeypatch, log, Deaf(), logged=9, seconds=1.0, POLL=0.2, KEEPALIVE=30.0)
    assert seen == []  # found at the 30 s look, not sooner
    assert log.looks == 0
