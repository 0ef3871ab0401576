"""Public reads from a real streaming standby (DATABASE_READ_URL, market/core/replica.py):
a primary and an asynchronous standby from ops/cluster.py, the app in this process.

The standby's replay is paused (``pg_wal_replay_pause()``), so what it serves is known to
be behind: a notice published then is on the primary only, which says who answered. A
visitor's list comes from the standby while it is within MARKET_READ_MAX_LAG, from the
primary once it is further behind, and from the standby again when it has caught up; the
owner reads the primary throughout; the standby stopped, every public read still answers.
The routing on one server, and the routes that must never reach the standby, are in
tests/integration/db/test_read_replica.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.accounts.models import Role
from market.app import create_app
from market.core.db import upgrade
from ops.cluster import Node, start_primary, start_standby
from tests.conftest import in_thread, make_settings
from tests.helpers import register_org
from tests.integration.db.test_read_replica import owner_headers, running
from tests.integration.notices.test_api import published
from tests.integration.reliability.helpers import make_users

pytestmark = pytest.mark.committing

MAX_LAG = 4.0  # MARKET_READ_MAX_LAG here: seconds


async def until(what: str, test: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Poll ``test`` until true; the seconds it took."""
    start = time.monotonic()
    while not await test():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def listed(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> set[str]:
    response = await client.get("/api/v1/notices", params={"limit": 100}, headers=headers or {})
    assert response.status_code == 200, response.text
    return {n["id"] for n in response.json()["items"]}


async def health(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/healthz?verbose")
    assert response.status_code == 200, response.text
    return response.json()


async def reads_from(client: httpx.AsyncClient) -> str:
    return str((await health(client))["read_standby"]["reads_from"])


async def test_public_reads_follow_the_standby_while_it_is_close_and_the_primary_otherwise(
    tmp_path: Path,
) -> None:
    timings: dict[str, float] = {}
    with start_primary(tmp_path / "primary") as primary:
        in_thread(upgrade, primary.url)
        with start_standby(primary, tmp_path / "standby") as standby:
            (owner_id,) = await make_users(primary.url, [Role.owner])
            settings = make_settings(
                primary.url,
                tmp_path,
                database_read_url=standby.url,
                read_max_lag=MAX_LAG,
                scheduler_interval=0,
            )
            app = create_app(settings)
            owner = owner_headers(app, owner_id)
            async with running(app) as client:
                await register_org(client, owner)
                first = (await published(client, owner, title="第一份公告"))["id"]
                await until("the standby has the first notice", lambda: has(client, first), 10)
                state = await health(client)
                assert state["database"] == {"role": "primary"}
                assert state["read_standby"]["role"] == "standby"
                assert state["read_standby"]["receiver"] == "streaming"
                assert state["read_standby"]["reads_from"] == "standby"
                # Public: it names no server, port or password, of either side.
                shown = str(state)
                assert primary.password not in shown and "127.0.0.1" not in shown
                assert f":{standby.port}" not in shown and f":{primary.port}" not in shown

                await paused_replay_moves_reads_to_the_primary_and_back(client, standby, owner, timings)
                await a_stopped_standby_leaves_every_public_read_answered(client, standby, timings)
                for path in ("/api/v1/ocds/releases", "/api/v1/ocds/records", "/data/ocds/releases.json.gz"):
                    # they store releases on first serving: on the standby that would be refused
                    assert (await client.get(path)).status_code == 200, path
    print("\nread standby:", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


async def has(client: httpx.AsyncClient, notice_id: str) -> bool:
    return notice_id in await listed(client) and await reads_from(client) == "standby"


async def paused_replay_moves_reads_to_the_primary_and_back(
    client: httpx.AsyncClient, standby: Node, owner: dict[str, str], timings: dict[str, float]
) -> None:
    closing = datetime.now(UTC) + timedelta(seconds=2.5)
    soon = (await published(client, owner, title="即将截止的公告", bid_deadline=closing.isoformat()))["id"]
    await until("the standby has the closing notice", lambda: has(client, soon), 10)
    standby.sql("SELECT pg_wal_replay_pause()")
    paused_at = time.monotonic()
    second = (await published(client, owner, title="暂停回放后发布的公告"))["id"]
    # Within the bound: the visitor's list is the standby's, which lacks the new notice;
    # the owner's is the primary's (read-your-writes); the notice's own page is found
    # (the standby's 404 is asked again of the primary).
    assert second not in await listed(client)
    assert second in await listed(client, owner)
    page = await client.get(f"/api/v1/notices/{second}")
    assert page.status_code == 200 and page.json()["id"] == second
    # The deadline passes while the standby is behind: its row still says "open" (so does
    # the primary's: no scheduler here), but nothing served says bidding is open.
    await asyncio.sleep(max(0.0, (closing - datetime.now(UTC)).total_seconds()) + 0.1)
    shown = (await client.get(f"/api/v1/notices/{soon}")).json()
    assert shown["status"] == "open" and shown["bidding_open"] is False
    html = (await client.get(f"/notices/{soon}")).text
    assert "notice-closed" in html and "notice-open" not in html
    row = next(r for r in (await client.get("/notices")).text.split("<tr") if soon in r)
    assert "notice-closed" in row
    assert second not in await listed(client)  # all of it still from the standby
    assert time.monotonic() - paused_at < MAX_LAG  # what was just seen was within the bound

    # Past the bound: public reads go to the primary, and /healthz?verbose says why.
    await until("reads move to the primary", lambda: is_primary(client), MAX_LAG + 5)
    behind = (await health(client))["read_standby"]
    assert behind["lag_seconds"] > MAX_LAG and behind["replay_paused"] is True
    assert behind["role"] == "standby" and behind["max_lag_seconds"] == MAX_LAG
    assert second in await listed(client)
    timings["paused until reads moved"] = time.monotonic() - paused_at

    standby.sql("SELECT pg_wal_replay_resume()")
    resumed_at = time.monotonic()
    await until("reads come back to the standby", lambda: has(client, second), 10)
    timings["resumed until reads came back"] = time.monotonic() - resumed_at
    assert (await health(client))["read_standby"]["lag_seconds"] <= MAX_LAG


async def is_primary(client: httpx.AsyncClient) -> bool:
    return await reads_from(client) == "primary"


async def a_stopped_standby_leaves_every_public_read_answered(
    client: httpx.AsyncClient, standby: Node, timings: dict[str, float]
) -> None:
    """Stopped under a stream of public reads: none fails, even those sent to the standby
    in the second before the watcher noticed (answered by the primary instead)."""
    statuses: list[int] = []
    stop = asyncio.Event()

    async def visitor() -> None:
        while not stop.is_set():
            for path in ("/api/v1/notices", "/notices", "/"):
                statuses.append((await client.get(path)).status_code)
            await asyncio.sleep(0.02)

    reading = asyncio.create_task(visitor())
    try:
        await asyncio.sleep(0.3)
        stopped_at = time.monotonic()
        await asyncio.to_thread(standby.stop, "fast")
        await until("reads leave the stopped standby", lambda: is_primary(client), 5)
        timings["standby stopped until reads moved"] = time.monotonic() - stopped_at
        gone = (await health(client))["read_standby"]
        assert gone["role"] == "unreachable" and gone["lag_seconds"] is None
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await reading
    assert statuses and set(statuses) == {200}, sorted(set(statuses))

    await asyncio.to_thread(standby.start)
    started_at = time.monotonic()
    await until("reads come back to the restarted standby", lambda: reads_back(client), 20)
    timings["standby restarted until reads came back"] = time.monotonic() - started_at


async def reads_back(client: httpx.AsyncClient) -> bool:
    return await reads_from(client) == "standby"
