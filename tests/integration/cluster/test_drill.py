"""The drill (issue 23, item 6): losing an app host and then the primary under a burst of
bids loses no acknowledged bid.

On loopback, as docs/deployment.md lays it out on machines: a PostgreSQL primary with a
synchronous streaming standby (ops/cluster.py: pg_basebackup, Debian's binaries), two app
hosts (``market serve``) given the same keys and the multi-host DATABASE_URL
``primary,standby?target_session_attrs=read-write``, and Debian's nginx running the
shipped ops/deploy/nginx/market.conf in front. A burst of bids goes through nginx and
keeps going, each bid tried again until it is answered 201 (or 409: it had committed
without its answer reaching the bidder):

1. a due notice watched by a live draw page on host B (open from here to the end) is
   closed by a request to host A, and another due notice by requests to both hosts at
   once;
2. host A is killed (SIGKILL) as the 6th bid is acknowledged: nginx sends the rest to
   host B; bids in flight on A may fail, but none of those is acknowledged;
3. as the 4th bid on the second notice is acknowledged the primary is stopped as by a
   crash (``pg_ctl stop -m immediate``) and the standby promoted (it names no synchronous
   standby of its own: deployment.md's "run alone", done in advance). Neither host B nor
   nginx is touched: B reconnects by itself through the multi-host URL, and the burst gets
   201s again; a third notice's bids are all placed after the promotion.

Then, on the promoted server: every bid that got a 201 is there (its receipt verifies and
points at its log entry), every agency has exactly one bid on each notice, the log is
dense and ``market log verify`` passes, each closed notice has one close entry; and the
draw page on host B (which reconnects with Last-Event-ID if its stream is cut) was sent
the entries made through host A.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.bids.receipts import ReceiptSigner
from market.core.config import normalize_database_url
from market.core.db import upgrade
from market.log.signer import LogSigner
from market.notices.secrets import SecretSealer
from ops.cluster import Nginx, Node, start_primary, start_standby
from tests.integration.reliability.helpers import (
    ENV,
    Phases,
    assert_all_or_nothing,
    assert_receipt_in_log,
    make_cast,
    notice_with_bids,
    open_notice,
    stored,
)
from tests.integration.selection.helpers import market_cli, wait_decided, wait_until
from tests.live import Server, start_server

AGENCIES = 16
WORKERS = 4  # bids in flight at once
KILL_A_AFTER = 6  # acknowledgements before host A is killed
FAIL_OVER_AFTER = 4  # acknowledgements on the second notice before the primary is lost
# The schedulers look once at start, then not for ten minutes: the closes below are asked
# for by hand, of both hosts at once, so that who closes what is the test's doing.
HOST_ENV = {**ENV, "MARKET_SCHEDULER_INTERVAL": "600", "MARKET_TRUSTED_PROXIES": "1"}


@dataclass
class Answer:
    notice: str
    agency: str
    status: int | None  # None: no answer (the connection failed or was cut)
    at: float
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Burst:
    """WORKERS clients bidding through nginx, each bid tried again until it is answered
    201 or 409; ``acks`` counts the 201s. Bids on a notice join once it is released."""

    def __init__(self, url: str, agencies: list[tuple[dict[str, str], str]]) -> None:
        self.url = url
        self.agencies = agencies
        self.queue: asyncio.Queue[tuple[str, dict[str, str], str]] = asyncio.Queue()
        self.answers: list[Answer] = []
        self.acked: dict[tuple[str, str], dict[str, Any]] = {}  # (notice, agency) -> the 201 body
        self.duplicate: set[tuple[str, str]] = set()
        self.released: list[str] = []
        # (notice, acknowledgements on it, action): run by the worker that gets that 201,
        # so that the rest of the burst is still in flight when it runs
        self.hooks: list[tuple[str, int, Callable[[], object]]] = []

    def when(self, notice_id: str, acks: int, action: Callable[[], object]) -> None:
        self.hooks.append((notice_id, acks, action))

    def release(self, notice_id: str) -> None:
        self.released.append(notice_id)
        for headers, agency in self.agencies:
            self.queue.put_nowait((notice_id, headers, agency))

    @property
    def acks(self) -> int:
        return len(self.acked)

    def acks_since(self, moment: float) -> int:
        return sum(1 for a in self.answers if a.status == 201 and a.at > moment)

    def acks_on(self, notice_id: str) -> int:
        return sum(1 for notice, _ in self.acked if notice == notice_id)

    def answered(self, notice_id: str) -> bool:
        done = [n for n, _ in self.acked] + [n for n, _ in self.duplicate]
        return done.count(notice_id) == len(self.agencies)

    @property
    def done(self) -> bool:
        return len(self.acked) + len(self.duplicate) == len(self.released) * len(self.agencies)

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
        async with httpx.AsyncClient(base_url=self.url, timeout=20, limits=limits) as client:

            async def worker() -> None:
                while not stop.is_set():
                    try:
                        notice, headers, agency = await asyncio.wait_for(self.queue.get(), timeout=0.2)
                    except TimeoutError:
                        continue
                    try:
                        response = await client.post(
                            f"/api/v1/notices/{notice}/bids", json={}, headers=headers
                        )
                    except httpx.HTTPError as exc:
                        self.answers.append(Answer(notice, agency, None, time.monotonic(), error=repr(exc)))
                        self.queue.put_nowait((notice, headers, agency))
                        await asyncio.sleep(0.1)
                        continue
                    answer = Answer(notice, agency, response.status_code, time.monotonic())
                    with contextlib.suppress(ValueError):
                        answer.body = response.json()
                    self.answers.append(answer)
                    if response.status_code == 201:
                        self.acked[(notice, agency)] = answer.body
                        for hook in [
                            h for h in self.hooks if h[0] == notice and self.acks_on(notice) >= h[1]
                        ]:
                            self.hooks.remove(hook)
                            hook[2]()
                    elif response.status_code == 409:
                        self.duplicate.add((notice, agency))
                    else:  # 502 (host gone), 503 (database gone): the bidder tries again
                        self.queue.put_nowait((notice, headers, agency))
                        await asyncio.sleep(0.1)

            await asyncio.gather(*(worker() for _ in range(WORKERS)))


class DrawPage:
    """A live draw page's EventSource on one host: it reconnects when its stream ends,
    sending Last-Event-ID, as a browser does; records every event's (type, id)."""

    def __init__(self, url: str, notice_id: str) -> None:
        self.url = f"{url}/notices/{notice_id}/draw/events"
        self.events: list[tuple[str, str]] = []
        self.connects = 0
        self.last_id: str | None = None
        self.opened = asyncio.Event()

    def entry_ids(self) -> set[int]:
        return {int(i) for kind, i in self.events if kind == "entry" and i.isdigit()}

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:
            while not stop.is_set():
                headers = {"Accept": "text/event-stream", "Accept-Language": "en"}
                if self.last_id is not None:
                    headers["Last-Event-ID"] = self.last_id
                try:
                    async with client.stream("GET", self.url, headers=headers) as response:
                        if response.status_code != 200:
                            await asyncio.sleep(0.3)  # a 503 while the database is away
                            continue
                        self.connects += 1
                        self.opened.set()
                        kind, ident = "message", ""
                        async for line in response.aiter_lines():
                            if line.startswith("event:"):
                                kind = line[6:].strip()
                            elif line.startswith("id:"):
                                ident = line[3:].strip()
                            elif line == "":
                                if ident:
                                    self.last_id = ident
                                    self.events.append((kind, ident))
                                kind, ident = "message", ""
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)


async def wait_for(what: str, test: Any, timeout: float) -> None:
    give_up = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < give_up, f"{what} within {timeout} s"
        await asyncio.sleep(0.05)


def shared_keys(first: Path, second: Path) -> None:
    """The keys made once and copied to each host's data dir, as an operator copies them
    (docs/deployment.md, "Keys and secrets"); nothing else is shared between the hosts."""
    LogSigner.from_data_dir("market.localhost/log", first)
    ReceiptSigner.from_data_dir(first)
    SecretSealer.from_data_dir(first)
    second.mkdir(parents=True, exist_ok=True)
    for path in first.iterdir():
        if path.is_file():
            shutil.copy2(path, second / path.name)


@pytest.mark.committing
async def test_the_drill_loses_no_acknowledged_bid_across_an_app_host_and_a_primary(tmp_path: Path) -> None:
    phases = Phases()
    stop = asyncio.Event()
    servers: list[Server] = []
    running: list[asyncio.Task[None]] = []
    with (
        start_primary(tmp_path / "primary", synchronous=True) as primary,
        start_standby(primary, tmp_path / "standby", synchronous=True) as standby,
    ):
        url = normalize_database_url(
            f"postgresql://market:{primary.password}@{primary.host},{standby.host}/market"
            "?target_session_attrs=read-write"
        )
        assert url is not None
        await asyncio.to_thread(upgrade, url)  # once, by hand, before the hosts start
        phases.mark("cluster")
        data_a, data_b = tmp_path / "host-a", tmp_path / "host-b"
        shared_keys(data_a, data_b)
        started = await asyncio.gather(
            asyncio.to_thread(partial(start_server, url, data_a, **HOST_ENV)),
            asyncio.to_thread(partial(start_server, url, data_b, **HOST_ENV)),
            return_exceptions=True,
        )
        servers += [s for s in started if isinstance(s, Server)]
        proxy: Nginx | None = None
        try:
            for failed in started:
                if isinstance(failed, BaseException):
                    raise failed
            a, b = servers
            proxy = Nginx(tmp_path / "nginx", [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]).start()
            phases.mark("hosts and nginx")
            async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
                cast = await make_cast(client, url, AGENCIES)
                first = await open_notice(client, cast.owner, seconds=600, title="演练投标一")
                second = await open_notice(client, cast.owner, seconds=600, title="演练投标二")
                third = await open_notice(client, cast.owner, seconds=600, title="演练投标三")
                # Small notices that fall due during the drill, closed by hand on both hosts.
                watched, due = await notice_with_bids(
                    client, cast.owner, cast.agencies[:3], seconds=1.5, title="演练实时页面"
                )
                raced, raced_due = await notice_with_bids(
                    client, cast.owner, cast.agencies[3:6], seconds=1.5, title="演练两台同时关闭"
                )
                await wait_until(max(due, raced_due))
            phases.mark("accounts and notices")

            page = DrawPage(b.url, watched)
            burst = Burst(proxy.url, cast.agencies)
            running += [asyncio.create_task(page.run(stop)), asyncio.create_task(burst.run(stop))]
            await wait_for("the draw page's first event", lambda: page.last_id is not None, 10)

            # -- the draw page on B is to hear of a close made through A ------------------------
            seen = page.last_id  # before the close: the page may hear of it at once
            async with httpx.AsyncClient(base_url=a.url, timeout=30) as direct:
                closed = await direct.post(f"/api/v1/notices/{watched}/close", headers=cast.owner)
                assert closed.status_code == 200, closed.text
            through_a = {
                int(seq)
                for seq in primary.sql(
                    f"SELECT seq FROM log_entry WHERE notice_id = '{watched}' AND seq > {seen}"
                ).split()
            }
            assert through_a, "the close made through A wrote no entry"
            # Another due notice, closed by both hosts at once (two clicks, or an owner and
            # an administrator): each is told the one result, or, on a machine too busy to
            # take the log's lock within the lock timeout, 503 and to try again.
            async with httpx.AsyncClient(timeout=30) as client:
                closes = await asyncio.gather(
                    *(
                        client.post(f"{h.url}/api/v1/notices/{raced}/close", headers=cast.owner)
                        for h in (a, b)
                    )
                )
            told = [c.status_code for c in closes]
            assert set(told) <= {200, 503} and 200 in told, [c.text for c in closes]

            # -- host A killed mid-burst --------------------------------------------------------------
            killed_at: list[float] = []
            burst.when(first, KILL_A_AFTER, lambda: (a.kill(), killed_at.append(time.monotonic())))
            burst.release(first)
            await wait_for(f"{KILL_A_AFTER} bids acknowledged and A killed", lambda: killed_at, 30)
            killed = killed_at[0]
            phases.mark("burst until A is killed")
            await wait_for(f"{first}'s bids answered", lambda: burst.answered(first), 60)
            assert burst.acks_since(killed) >= 1, "no bid was acknowledged through B after A's death"
            phases.mark("burst through B")

            # -- the primary lost mid-burst, the standby promoted ---------------------------------
            assert primary.sql("SELECT sync_state FROM pg_stat_replication") == "sync"
            lose_primary = asyncio.Event()
            burst.when(second, FAIL_OVER_AFTER, lose_primary.set)
            burst.release(second)
            await asyncio.wait_for(lose_primary.wait(), timeout=30)
            await asyncio.to_thread(primary.stop, "immediate")
            lost = time.monotonic()
            await asyncio.to_thread(standby.promote)
            promoted = time.monotonic()
            burst.release(third)  # a new notice's bids, all after the failover
            await wait_for(
                "a bid acknowledged after the promotion", lambda: burst.acks_since(promoted) >= 1, 30
            )
            back = time.monotonic()
            await wait_for("every bid answered", lambda: burst.done, 60)
            phases.mark("failover and the rest of the burst")

            async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
                await wait_decided(client, [watched, raced])
            await asyncio.sleep(1.0)  # the page's last events
            stop.set()
            running[0].cancel()  # the page's stream stays open: cut it, as a browser tab closed
            await asyncio.gather(*running, return_exceptions=True)
            phases.mark("draws decided")

            # -- what the promoted server holds ---------------------------------------------------
            assert not standby.in_recovery()
            async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
                jwk = (await client.get("/api/v1/log/receipt-key")).json()
            await check_promoted(standby, data_b, jwk, burst, cast.agencies, [first, second, third])
            closes_per_notice = json.loads(
                standby.sql(
                    "SELECT coalesce(json_object_agg(notice_id, n), '{}') FROM "
                    "(SELECT notice_id, count(*) AS n FROM log_entry WHERE type = 'bidding.closed' GROUP BY notice_id) c"
                )
            )
            assert closes_per_notice == {watched: 1, raced: 1}, closes_per_notice
            # Through the multi-host URL, as an operator on an app host types it: the old
            # primary refuses, the promoted server is the one that takes writes.
            verified = market_cli("log", "verify", "--json", database_url=url, data_dir=data_b)
            assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
            assert json.loads(verified.stdout)["ok"] is True

            # -- the page on B was sent what was done through A ----------------------------------
            assert through_a <= page.entry_ids(), (sorted(through_a), page.events)
            phases.mark("checks")

            statuses = Counter(x.status for x in burst.answers)
            assert set(statuses) <= {201, 409, 502, 503, None}, statuses  # never a 500
            assert b.process.poll() is None, "host B was restarted or died: it was to reconnect by itself"
            print(
                f"drill: {burst.acks} bids acknowledged, answers {dict(statuses)}; "
                f"A killed after {KILL_A_AFTER} acks, then {burst.acks_since(killed)} through B; "
                f"primary lost after {FAIL_OVER_AFTER} on the second notice; "
                f"promotion took {promoted - lost:.1f} s, first 201 after it {back - promoted:.1f} s later; "
                f"draw page connected {page.connects} times, {len(page.entry_ids())} entries"
            )
            print(phases)
        finally:
            stop.set()
            for task in running:
                task.cancel()
            if proxy is not None:
                proxy.stop()
            for server in servers:
                server.stop()


async def check_promoted(
    node: Node,
    data_dir: Path,
    jwk: dict[str, str],
    burst: Burst,
    agencies: list[tuple[dict[str, str], str]],
    notices: list[str],
) -> None:
    """Every acknowledged bid is on ``node`` as its receipt says; every agency has exactly
    one bid on each notice; every bid is whole (row and entry); the log is dense."""
    for notice in notices:
        s = await stored(node.url, notice, data_dir)
        assert_all_or_nothing(s)
        assert sorted(e["agency_id"] for e in s.entries.values()) == sorted(a for _, a in agencies), notice
        for (acked_notice, agency), body in burst.acked.items():
            if acked_notice == notice:
                assert_receipt_in_log(body, jwk, s, agency)
