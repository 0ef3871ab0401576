"""The live pages' LISTEN/NOTIFY backend keeps no history: asking for it gives none, and
needs no connection (market/core/channels.py)."""

from __future__ import annotations

from market.core.channels import ReconnectingAsyncPgChannelsBackend


async def test_history_is_empty_and_opens_no_connection() -> None:
    async def refuse() -> None:
        raise AssertionError("no connection should be opened for the history")

    backend = ReconnectingAsyncPgChannelsBackend("postgresql://nowhere", make_connection=refuse)  # type: ignore[arg-type]
    assert await backend.get_history("selection", limit=10) == []
    assert await backend.get_history("selection") == []
