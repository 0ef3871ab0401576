"""Once bidding has ended and the result is not out yet, the draw page's stream looks at
the log every POLL seconds rather than every KEEPALIVE (market/selection/web.py
notified_stream): the result then reaches the page within seconds even when its NOTIFY is
lost (one loaded CI run saw a host's stream get a close made through another host only at
its 15 s look). Before the deadline, and after the result, the look stays at KEEPALIVE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.response import ServerSentEventMessage

from market.selection import web
from market.selection.queries import TimelineEntry


class Log:
    def __init__(self, *, awaiting: bool) -> None:
        self.seqs = [5]
        self.awaiting = awaiting
        self.looks = 0

    def snapshot(self) -> web.Snapshot:
        return web.Snapshot(
            html="panel",
            deadline=None,
            timeline=[TimelineEntry(seq=s, type="bidding.closed", ts="") for s in self.seqs],
            awaiting=self.awaiting,
        )


class Deaf:
    """A subscriber that never hears anything: every NOTIFY lost."""

    async def _events(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    def iter_events(self) -> AsyncIterator[bytes]:
        return self._events()


async def entries_within(monkeypatch: pytest.MonkeyPatch, log: Log, seconds: float) -> list[Any]:
    @asynccontextmanager
    async def listening(channels: Any) -> AsyncIterator[Deaf]:
        yield Deaf()

    async def snapshot(request: Any, notice_id: str) -> web.Snapshot:
        return log.snapshot()

    async def newer_than(request: Any, notice_id: str, seq: int | None) -> bool:
        log.looks += 1
        return seq is None or log.seqs[-1] > seq

    def entry(request: Any, e: TimelineEntry) -> ServerSentEventMessage:
        return ServerSentEventMessage(event="entry", data=str(e.seq), id=e.seq)

    monkeypatch.setattr(web, "listening", listening)
    monkeypatch.setattr(web, "snapshot", snapshot)
    monkeypatch.setattr(web, "_newer_than", newer_than)
    monkeypatch.setattr(web, "_entry", entry)
    monkeypatch.setattr(web, "POLL", 0.2)
    monkeypatch.setattr(web, "KEEPALIVE", 30.0)

    got: list[ServerSentEventMessage] = []

    async def read() -> None:
        async for message in web.notified_stream(Any, "N-1", Any, 5):  # type: ignore[arg-type]
            got.append(message)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    log.seqs.append(9)  # the draw: logged, its NOTIFY lost
    await asyncio.sleep(seconds)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    return [m.id for m in got if m.event == "entry"]


async def test_while_the_result_is_awaited_a_lost_notify_costs_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = Log(awaiting=True)
    assert await entries_within(monkeypatch, log, 1.0) == [9]


async def test_otherwise_the_log_is_looked_at_only_every_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log(awaiting=False)
    assert await entries_within(monkeypatch, log, 1.0) == []  # found at the 30 s look, not sooner
    assert log.looks == 0
