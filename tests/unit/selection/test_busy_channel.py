"""Review of issue 23: the draw page's stream finds, at its keep-alive tick, the entries of
steps that send no NOTIFY (an amendment) and those whose NOTIFY was lost with the listener
(market/selection/web.py notified_stream). On a busy site other notices' NOTIFYs arrive
more often than the tick: each one restarted the wait, so the tick never came, and the
reader never got the entry (nor a keep-alive). The party that gains: whoever amends a
notice while its draw page is watched."""

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
    def __init__(self) -> None:
        self.seqs = [5]

    def snapshot(self) -> web.Snapshot:
        return web.Snapshot(
            html="panel",
            deadline=None,
            timeline=[TimelineEntry(seq=s, type="notice.amended", ts="") for s in self.seqs],
        )


class Busy:
    """A subscriber hearing another notice's NOTIFY every 20 ms, for ever."""

    async def _events(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.02)
            yield b"N-OTHER"

    def iter_events(self) -> AsyncIterator[bytes]:
        return self._events()


async def test_others_notifies_do_not_starve_the_look_at_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log()

    @asynccontextmanager
    async def listening(channels: Any) -> AsyncIterator[Busy]:
        yield Busy()

    async def snapshot(request: Any, notice_id: str) -> web.Snapshot:
        return log.snapshot()

    async def newer_than(request: Any, notice_id: str, seq: int | None) -> bool:
        return seq is None or log.seqs[-1] > seq

    def entry(request: Any, e: TimelineEntry) -> ServerSentEventMessage:
        return ServerSentEventMessage(event="entry", data=str(e.seq), id=e.seq)

    monkeypatch.setattr(web, "listening", listening)
    monkeypatch.setattr(web, "snapshot", snapshot)
    monkeypatch.setattr(web, "_newer_than", newer_than)
    monkeypatch.setattr(web, "_entry", entry)
    monkeypatch.setattr(web, "KEEPALIVE", 0.2)

    got: list[ServerSentEventMessage] = []

    async def read() -> None:
        async for message in web.notified_stream(Any, "N-1", Any, 5):  # type: ignore[arg-type]
            got.append(message)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    log.seqs.append(7)  # an amendment: logged, no NOTIFY
    await asyncio.sleep(1.5)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert [m.id for m in got if m.event == "entry"] == [7]
