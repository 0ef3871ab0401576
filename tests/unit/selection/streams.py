"""A draw-page stream (market/selection/web.py notified_stream) driven without a database:
the log, the snapshot and the LISTEN subscriber are fakes, so that a test can say exactly
which NOTIFYs arrive and when the log moves."""

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
    """The notice's entries (by seq) and what the snapshot says of the notice."""

    def __init__(self, *, kind: str, awaiting: bool = False) -> None:
        self.seqs = [5]
        self.kind = kind
        self.awaiting = awaiting
        self.looks = 0  # how many times the stream asked whether the log moved

    def snapshot(self) -> web.Snapshot:
        return web.Snapshot(
            html="panel",
            deadline=None,
            timeline=[TimelineEntry(seq=s, type=self.kind, ts="") for s in self.seqs],
            awaiting=self.awaiting,
        )


async def entries_seen(
    monkeypatch: pytest.MonkeyPatch,
    log: Log,
    subscriber: Any,
    *,
    logged: int,
    seconds: float,
    **timing: float,
) -> list[Any]:
    """Run the stream for ``seconds`` while ``subscriber`` hears what it hears; entry
    ``logged`` is added to the log (without a NOTIFY of its own) just after it starts.
    ``timing``: KEEPALIVE and POLL, as the test wants them. The ids of the entries sent."""

    @asynccontextmanager
    async def listening(channels: Any) -> AsyncIterator[Any]:
        yield subscriber

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
    for name, value in timing.items():
        monkeypatch.setattr(web, name, value)

    got: list[ServerSentEventMessage] = []

    async def read() -> None:
        async for message in web.notified_stream(Any, "N-1", Any, 5):  # type: ignore[arg-type]
            got.append(message)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    log.seqs.append(logged)
    await asyncio.sleep(seconds)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    return [m.id for m in got if m.event == "entry"]
