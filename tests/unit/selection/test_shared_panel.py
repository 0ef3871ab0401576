"""The draw page's streams in one process share the panel they read (market/selection/web.py
``snapshot``): 50 pages woken by one NOTIFY read and render it once, yet no stream sends a
panel older than the state it saw after it woke (issue 24, deadline to result)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.datastructures import State

from market.selection import web
from market.selection.queries import TimelineEntry


class Notice:
    """What the database says of the notice: its state, and how often its panel was read."""

    def __init__(self) -> None:
        self.state: tuple[Any, ...] = ("closed", 7, None, True)
        self.reads = 0

    async def read(self, request: Any, notice_id: str) -> web.Snapshot:
        self.reads += 1
        state = self.state  # what the reading's transaction sees, at its start
        await asyncio.sleep(0.05)  # reading and rendering take a while
        return web.Snapshot(
            html=f"panel {state}",
            deadline=None,
            timeline=[TimelineEntry(seq=state[1], type="bidding.closed", ts="")],
            state=state,
        )

    async def fingerprint(self, request: Any, notice_id: str) -> tuple[Any, ...]:
        return self.state


@pytest.fixture
def notice(monkeypatch: pytest.MonkeyPatch) -> Notice:
    fake = Notice()
    monkeypatch.setattr(web, "read_snapshot", fake.read)
    monkeypatch.setattr(web, "_fingerprint", fake.fingerprint)
    return fake


def request(app: Any, lang: str = "zh") -> Any:
    return SimpleNamespace(app=app, cookies={}, headers={"accept-language": lang})


async def test_streams_woken_together_read_the_panel_once(notice: Notice) -> None:
    app = SimpleNamespace(state=State())
    got = await asyncio.gather(*(web.snapshot(request(app), "N-1") for _ in range(50)))
    assert notice.reads == 1
    assert {s.html for s in got} == {"panel ('closed', 7, None, True)"}


async def test_a_stream_that_sees_a_newer_state_reads_its_own_panel(notice: Notice) -> None:
    app = SimpleNamespace(state=State())
    first = await web.snapshot(request(app), "N-1")
    notice.state = ("selected", 9, None, True)  # the result was logged since
    second = await web.snapshot(request(app), "N-1")
    assert notice.reads == 2 and first.seq == 7 and second.seq == 9
    assert await web.snapshot(request(app), "N-1") is second  # the same state, just read: shared
    assert notice.reads == 2


async def test_a_reading_in_flight_when_the_state_moved_is_not_taken(notice: Notice) -> None:
    app = SimpleNamespace(state=State())
    early = asyncio.ensure_future(web.snapshot(request(app), "N-1"))
    await asyncio.sleep(0.01)  # its reading has started, with seq 7
    notice.state = ("selected", 9, None, True)
    late = await web.snapshot(request(app), "N-1")
    assert (await early).seq == 7 and late.seq == 9 and notice.reads == 2


async def test_a_panel_is_shared_only_briefly_and_per_language(
    notice: Notice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "SHARED_FOR", 0.01)
    app = SimpleNamespace(state=State())
    await web.snapshot(request(app), "N-1")
    await web.snapshot(request(app, "en"), "N-1")  # another language renders its own
    assert notice.reads == 2
    await asyncio.sleep(0.02)
    await web.snapshot(request(app), "N-1")  # same state, but no longer fresh
    assert notice.reads == 3


async def test_a_stream_that_goes_away_does_not_cancel_the_reading_of_the_others(notice: Notice) -> None:
    app = SimpleNamespace(state=State())
    leaving = asyncio.ensure_future(web.snapshot(request(app), "N-1"))
    await asyncio.sleep(0.01)
    staying = asyncio.ensure_future(web.snapshot(request(app), "N-1"))
    await asyncio.sleep(0.01)
    leaving.cancel()  # the browser closed the page
    assert (await staying).seq == 7 and notice.reads == 1


def test_the_shared_panel_is_encoded_once_for_every_stream_that_sends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snap = web.Snapshot(
        html="<table>\n<tr><td>AG-000001</td></tr>\n</table>",
        deadline=None,
        timeline=[TimelineEntry(seq=9, type="selection.drawn", ts="")],
    )
    senders = [web.Sender(SimpleNamespace(), after=None) for _ in range(3)]
    sent = [sender.catch_up(snap)[-1] for sender in senders]
    assert all(message is sent[0] for message in sent)  # one message object for every stream
    encodes = 0
    plain_encode = web.ServerSentEventMessage.encode

    def counting(self: web.ServerSentEventMessage) -> bytes:
        nonlocal encodes
        encodes += 1
        return plain_encode(self)

    monkeypatch.setattr(web.ServerSentEventMessage, "encode", counting)
    wire = [message.encode() for message in sent]
    assert encodes == 1
    # The bytes are what Litestar would have written for the message: a data line per line.
    assert wire[0] == plain_encode(web.ServerSentEventMessage(event="update", data=snap.html, id=9))
    assert wire[0].startswith(b"id: 9\r\nevent: update\r\ndata: <table>\r\ndata: <tr>")
