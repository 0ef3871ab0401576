"""PostgreSQL restarted under load (issue 9, item 4): one server process on a private
cluster of its own (never the shared one), a steady stream of reads, pages and bids, and
PostgreSQL stopped twice (``pg_ctl stop -m fast``, then ``-m immediate``, a crash) and
started again. While it is down every answer is a clean 503 with Retry-After (problem
details for the API, a page for people), never a 500 and never a wait beyond a few
seconds, and /healthz says "unavailable". Once it is back the same process, not restarted,
answers again at once, and its background work carries on: the scheduler closes a notice
that fell due during the outage, the checkpointer signs the new entries, and a live draw
page that stayed open through the outage is refreshed and hears NOTIFY again."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from market.core.db import to_asyncpg_dsn
from market.core.pgembed import EmbeddedPostgres
from tests.integration.reliability.helpers import (
    Cast,
    Phases,
    assert_all_or_nothing,
    assert_receipt_in_log,
    draw_events,
    make_cast,
    next_update,
    notice_with_bids,
    open_notice,
    start_servers,
    stored,
)
from tests.integration.selection.helpers import verify_log, wait_decided
from tests.live import Server

DOWN = 2.5  # seconds PostgreSQL stays stopped each time
SLOWEST = 8.0  # no answer may take longer, up or down (connect timeout 5 s, then a 503)
WORKERS = 4  # concurrent clients of the steady stream


@dataclass
class Sample:
    kind: str
    started: float
    took: float
    status: int | None
    retry_after: str | None = None
    content_type: str = ""
    body: Any = None
    error: str = ""
    agency: str = ""  # the bidder and the notice, for bids
    notice: str = ""


class Load:
    """WORKERS clients sending API reads, page views, health checks and bids in turn."""

    def __init__(self, url: str, cast: Cast, notice_ids: list[str]) -> None:
        self.url = url
        self.notice_id = notice_ids[0]
        # Each agency bids on each notice in turn, trying again until its bid is accepted.
        self.bids = [(n, h, a) for n in notice_ids for h, a in cast.agencies]
        self.accepted: dict[tuple[str, str], dict[str, Any]] = {}  # (notice, agency) -> the 201 body
        self.duplicate: set[tuple[str, str]] = set()  # told 409: an earlier try had committed after all
        self.samples: list[Sample] = []
        self.stop = asyncio.Event()

    async def _one(self, client: httpx.AsyncClient, i: int) -> None:
        kinds = ("api", "page", "health", "bid")
        kind = kinds[i % len(kinds)]
        headers: dict[str, str] = {}
        method, path, body = "GET", f"/api/v1/notices/{self.notice_id}", None
        if kind == "page":
            path, headers = f"/notices/{self.notice_id}", {"Accept": "text/html"}
        elif kind == "health":
            path = "/healthz"
        elif kind == "bid":
            waiting = [
                b
                for b in self.bids
                if (b[0], b[2]) not in self.accepted and (b[0], b[2]) not in self.duplicate
            ]
            if not waiting:
                kind, path = "api", "/api/v1/notices"
            else:
                notice_id, headers, agency_id = waiting[0]
                method, path, body = "POST", f"/api/v1/notices/{notice_id}/bids", {}
        started = time.monotonic()
        try:
            response = await client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.samples.append(Sample(kind, started, time.monotonic() - started, None, error=repr(exc)))
            return
        sample = Sample(
            kind,
            started,
            time.monotonic() - started,
            response.status_code,
            retry_after=response.headers.get("retry-after"),
            content_type=response.headers.get("content-type", ""),
        )
        if "json" in sample.content_type:
            sample.body = response.json()
        else:
            sample.body = response.text
        if kind == "bid":
            sample.agency = agency_id
            sample.notice = notice_id
            if response.status_code == 201:
                self.accepted[(notice_id, agency_id)] = response.json()
            elif response.status_code == 409:
                self.duplicate.add((notice_id, agency_id))
        self.samples.append(sample)

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=SLOWEST * 2) as client:

            async def worker(w: int) -> None:
                i = w
                while not self.stop.is_set():
                    await self._one(client, i)
                    i += WORKERS
                    await asyncio.sleep(0.02)

            await asyncio.gather(*(worker(w) for w in range(WORKERS)))


async def wait_healthy(url: str, timeout: float = 30.0) -> float:
    """Seconds until /healthz says ok."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return time.monotonic() - started
            assert time.monotonic() - started < timeout, f"/healthz not ok within {timeout} s"
            await asyncio.sleep(0.05)


async def checkpointed(url: str, database_url: str, timeout: float = 10.0) -> None:
    """The checkpointer (not a reader) has signed a checkpoint covering the whole log."""
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        give_up = time.monotonic() + timeout
        while True:
            size = await conn.fetchval("SELECT count(*) FROM log_entry")
            signed = await conn.fetchval("SELECT coalesce(max(size), 0) FROM log_checkpoint")
            if signed == size:
                return
            assert time.monotonic() < give_up, f"the checkpointer is stuck at {signed} of {size} entries"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.mark.committing
async def test_postgres_restarted_under_load_gives_clean_503s_and_the_same_process_recovers(
    tmp_path: Path,
) -> None:
    phases = Phases()
    cluster = EmbeddedPostgres(tmp_path / "pg")
    database_url = await asyncio.to_thread(cluster.start)
    server: Server | None = None
    try:
        [server] = start_servers(database_url, tmp_path / "data", [None], MARKET_SCHEDULER_INTERVAL="0.2")
        pid = server.process.pid
        phases.mark("cluster and server")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            cast = await make_cast(client, database_url, 16)
            far = [
                await open_notice(client, cast.owner, seconds=600, title=f"数据库重启测试 {i}")
                for i in range(3)
            ]
            # A result in publicity, watched live through the outages.
            watched, _ = await notice_with_bids(
                client, cast.owner, cast.agencies[:3], seconds=1.5, title="数据库重启实时页面测试"
            )
            await wait_decided(client, [watched])
        phases.mark("accounts")

        load = Load(server.url, cast, far)
        outages: list[dict[str, Any]] = []
        async with draw_events(server.url, watched) as updates:
            await next_update(updates, containing="In publicity", timeout=10)
            running = asyncio.create_task(load.run())
            await asyncio.sleep(1.0)
            for mode in ("fast", "immediate"):
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    # Falls due while PostgreSQL is down: only the scheduler can close it.
                    due, _ = await notice_with_bids(
                        client, cast.owner, cast.agencies[3:6], seconds=1.5, title=f"停机期间截止 {mode}"
                    )
                stopped = time.monotonic()
                await asyncio.to_thread(cluster.stop, mode)
                await asyncio.sleep(DOWN)
                await asyncio.to_thread(cluster.start)
                back = time.monotonic()
                healthy_after = await wait_healthy(server.url)
                # The page open through the outage is sent the panel again once LISTEN is back.
                await next_update(updates, containing="In publicity", timeout=15)
                refreshed_after = time.monotonic() - back
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    records = await wait_decided(client, [due], timeout=15)
                assert records[due]["status"] == "selected", records[due]
                outages.append(
                    {
                        "mode": mode,
                        "stopped": stopped,
                        "back": back,
                        "healthy_after": round(healthy_after, 2),
                        "closed_after": round(time.monotonic() - back, 2),
                        "page_refreshed_after": round(refreshed_after, 2),
                    }
                )
                await asyncio.sleep(0.5)
            load.stop.set()
            await running
            phases.mark("load and outages")

            # NOTIFY reaches the page again: an objection filed now shows up on it.
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                objection = await client.post(
                    f"/api/v1/notices/{watched}/objections",
                    json={"reasons": "数据库重启之后提出的异议。"},
                    headers=cast.owner,  # a party: the owner
                )
                assert objection.status_code == 201, objection.text
            await next_update(updates, containing=f'id="objection-{objection.json()["id"]}"', timeout=10)

        assert server.process.poll() is None and server.process.pid == pid, (
            "the server process did not survive"
        )
        samples = load.samples
        # -- what the clients saw -------------------------------------------------------------
        statuses = Counter((s.kind, s.status) for s in samples)
        assert all(s.status is not None for s in samples), [s.error for s in samples if s.status is None][:3]
        assert not [s for s in samples if s.status is not None and s.status >= 500 and s.status != 503], (
            statuses
        )
        assert max(s.took for s in samples) < SLOWEST, max(s.took for s in samples)
        unavailable = [s for s in samples if s.status == 503]
        assert unavailable, f"no request saw the outage: {statuses}"
        for s in unavailable:
            assert s.retry_after is not None and int(s.retry_after) > 0, s
            if s.kind == "page":
                assert s.content_type.startswith("text/html") and "503" in s.body, s
            elif s.kind == "health":
                assert s.body == {"status": "unavailable"}, s
            else:
                assert s.content_type.startswith("application/problem+json") and s.body["status"] == 503, s
        assert {s.kind for s in unavailable} >= {"api", "page", "health"}, Counter(
            s.kind for s in unavailable
        )
        # Nothing fails once PostgreSQL is back and the process has noticed (its first good /healthz).
        for outage, following in zip(
            outages, [*(o["stopped"] for o in outages[1:]), float("inf")], strict=True
        ):
            recovered = outage["back"] + outage["healthy_after"]
            late = [s for s in unavailable if recovered < s.started and s.started + s.took < following]
            assert not late, (outage["mode"], late[:3])
        # Outside the outages, every answer is the expected one (no stray 4xx either).
        others = Counter(s.status for s in samples if s.status != 503)
        assert set(others) <= {200, 201, 409}, others
        duplicate_bids = [s for s in samples if s.kind == "bid" and s.status == 409]

        # -- what the database holds ------------------------------------------------------------
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            jwk = (await client.get("/api/v1/log/receipt-key")).json()
        for notice_id in far:
            s = await stored(database_url, notice_id, tmp_path / "data")
            assert_all_or_nothing(s)
            for (bid_notice, agency_id), body in load.accepted.items():
                if bid_notice == notice_id:
                    assert_receipt_in_log(body, jwk, s, agency_id)
            # A 409 is a bid that had committed although its answer was a 503 (PostgreSQL
            # stopped during the commit): then the bid is in the log.
            in_log = {e["agency_id"] for e in s.entries.values()}
            for sample in duplicate_bids:
                if sample.notice == notice_id:
                    assert sample.agency in in_log
        await checkpointed(server.url, database_url)
        code, report, output = verify_log(server.url)
        assert code == 0 and report["ok"] is True, output
        phases.mark("checks")

        down = [
            s
            for s in samples
            if any(o["stopped"] <= s.started <= o["back"] + o["healthy_after"] for o in outages)
        ]
        print(
            f"PostgreSQL restarts under load: {len(samples)} requests, {len(unavailable)} answered 503 "
            f"(of {len(down)} sent while it was down or coming back), none 500; slowest answer {max(x.took for x in samples):.2f} s; "
            f"{len(load.accepted)} bids accepted, {len(duplicate_bids)} committed despite a 503; outages: "
            f"{[{k: v for k, v in o.items() if k not in ('stopped', 'back')} for o in outages]}; by kind and status: {dict(statuses)}; {phases}"
        )
    finally:
        if server is not None:
            server.stop()
        cluster.stop()
        if cluster.location_file.exists():  # the cluster lived outside tmp_path (root: see pgembed)
            shutil.rmtree(cluster.data.parent, ignore_errors=True)
