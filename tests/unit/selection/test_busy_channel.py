"""Review of issue 23: the draw page's stream finds, at its keep-alive tick, the entries of
steps that send no NOTIFY (an amendment) and those whose NOTIFY was lost with the listener
(market/selection/web.py notified_stream). On a busy site other notices' NOTIFYs arrive
more often than the tick: each one restarted the wait, so the tick never came, and the
reader never got the entry (nor a keep-alive). The party that gains: whoever amends a
notice while its draw page is watched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.unit.selection.streams import Log, entries_seen


class Busy:
    """A subscriber hearing another notice's NOTIFY every 20 ms, for ever."""

    async def _events(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.02)
            yield b"N-OTHER"

    def iter_events(self) -> AsyncIterator[bytes]:
        return self._events()


async def test_others_notifies_do_not_starve_the_look_at_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log(kind="notice.amended")  # an amendment: logged, no NOTIFY
    assert await entries_seen(monkeypatch, log, Busy(), logged=7, seconds=1.5, KEEPALIVE=0.2) == [7]
