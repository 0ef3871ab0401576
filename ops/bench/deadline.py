#!/usr/bin/env python3
"""Deadline to result (issue 24, item 3): how long after a notice's bid deadline the result
is out, on the live draw page and in the API, with the scheduler on as in production.

What one run does (several runs, one notice each, on the same servers and agencies):

1. A lottery notice is published with its deadline ``--lead`` seconds away (MSP/2 as
   published by default: bids sealed under the server's key, scheme ``none``, the
   project's default ``MARKET_BEACON=none``; so the close opens the bids and draws at once,
   in one transaction, and nothing waits for a beacon round. With ``MARKET_BEACON=drand``
   the draw would wait for the quicknet round committed at publication, which is emitted an
   hour after the deadline by design (market/protocol/draw.py), so the result would come an
   hour later: there is nothing of ours to measure there).
2. ``--viewers`` readers open the draw page's event stream
   (``GET /notices/{id}/draw/events``, docs/selection.md) and wait for its first panel.
3. ``--agencies`` distinct agencies bid in the notice's last ``--window`` seconds, open
   loop (ops/load/bids.py's ``fire``: bid i at its planned moment whatever happened to the
   earlier ones), the last one planned ``--margin`` seconds before the deadline.
4. From the deadline on: the stream readers note when their stream announces the result
   (the first ``event: entry`` whose ``data-type`` is ``selection.drawn``,
   ``selection.failed`` or ``selection.direct``); a poller asks
   ``GET /api/v1/notices/{id}/selection`` every ``--poll`` seconds until ``seqs.outcome`` is
   set; a LISTEN connection of our own notes when the scheduler's NOTIFY arrives on
   ``market_selection`` (it is delivered at the commit of the close, so it marks the
   commit); and the log gives the moments its ``bidding.closed`` and ``selection.drawn``
   entries were stamped (``clock_timestamp()`` under the log's lock).

Per run it prints the two latencies (stream: the slowest of the readers; API: the first
answer holding the outcome) and where the time went: deadline → ``bidding.closed`` stamped
(the scheduler's next look, the claim, opening the sealed bids, the candidates), →
``selection.drawn`` stamped (the draw), → commit (the award, the inbox, the OCDS
keep-releases hook, COMMIT), → the stream's announcement and the API's answer. Then p50
and p99 over the runs and the goal (p99 < 2 s). All moments are read from this machine's
clock (client, servers and PostgreSQL on one host).

The servers are ``market serve --workers W`` with their background tasks on
(``MARKET_SCHEDULER_INTERVAL`` left at its default, 1 s), as in production.

    .venv/bin/python ops/bench/deadline.py                       # 1,000 agencies, 5 runs, 50 viewers
    .venv/bin/python ops/bench/deadline.py --runs 3 --viewers 0  # what the readers cost
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python ops/bench/deadline.py --json out.json

Exit status 1 when a run's result never arrives (within ``--give-up`` seconds) on the
stream or in the API, or a bid is answered with a 5xx; the p99 goal is reported, and
enforced with ``--enforce-goal``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from market.core.config import normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from ops.load.bids import (  # noqa: E402
    _process_cpu,
    _tree,
    emit,
    error_lines,
    fire,
    percentile,
    prepare,
    publish_notice,
    server_errors,
    servers,
)
from ops.scratch import scratch_database  # noqa: E402

GOAL_P99_S = 2.0
CHANNEL = "market_selection"  # market.selection.service.CHANNEL
OUTCOMES = ("selection.drawn", "selection.failed", "selection.direct")


@dataclass(frozen=True)
class Options:
    agencies: int = 1000
    runs: int = 5
    viewers: int = 50
    window: float = 10.0  # the bids come in the notice's last ``window`` seconds
    margin: float = 0.1  # the last bid is planned this long before the deadline
    lead: float = 4.0  # seconds from publishing to the start of the window (readers connect)
    workers: int = 2
    poll: float = 0.05  # seconds between the API poller's requests
    give_up: float = 30.0  # seconds after the deadline a run's result may take at most
    method: str = "lottery"
    goal_s: float = GOAL_P99_S
    warmup: int = 100  # bids on a notice of their own first, not measured (as ops/load/bids.py)
    keep: bool = False


@dataclass
class Run:
    """One notice: the moments after its deadline (seconds), as seen from outside."""

    notice_id: str
    accepted: int = 0  # bids answered 201
    refused: int = 0  # bids answered 4xx (a late one meets the deadline)
    five_xx: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # the bids' answers, with a refusal's detail
    bid_p99_ms: float = 0.0
    viewers: int = 0  # readers connected before the window
    stream_first_s: float | None = None  # the first reader told
    stream_s: float | None = None  # the last reader told (None: some reader never was)
    stream_told: int = 0  # readers that were told
    api_s: float | None = None  # the first API answer with the outcome
    notify_s: float | None = None  # our LISTEN connection got the close's NOTIFY (its commit)
    closed_s: float | None = None  # bidding.closed stamped
    drawn_s: float | None = None  # the outcome entry stamped
    candidates: int = 0
    reconnects: int = 0  # streams that ended and were opened again
    load: float = 0.0  # the machine's load average (1 min) at the deadline: others' jobs too
    server_cpu_s: float = 0.0  # the servers' CPU from the deadline to the last announcement
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        def s(v: float | None) -> str:
            return "never" if v is None else f"{v:.3f} s"

        return (
            f"{self.notice_id}: stream {s(self.stream_s)} (first reader {s(self.stream_first_s)}, "
            f"{self.stream_told} told, {self.viewers} connected before the window, {self.reconnects} reconnects), API {s(self.api_s)}; closed stamped {s(self.closed_s)}, "
            f"drawn stamped {s(self.drawn_s)}, committed (NOTIFY) {s(self.notify_s)}; "
            f"{self.accepted} bids accepted ({self.refused} refused, {self.five_xx} 5xx, {self.errors} errors, "
            f"p99 {self.bid_p99_ms:.0f} ms: {self.statuses}), {self.candidates} candidates; servers' CPU from the deadline "
            f"to the last reader told {self.server_cpu_s:.2f} s; load average {self.load:.1f}"
        )


@dataclass
class Report:
    options: dict[str, Any]
    servers: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    prepare_s: float = 0.0
    server_errors_logged: int = 0
    error_samples: list[str] = field(default_factory=list)  # the first few, as logged

    def _values(self, name: str) -> list[float]:
        return [v for r in self.runs if (v := getattr(r, name)) is not None]

    def stat(self, name: str, q: float) -> float:
        return percentile(self._values(name), q)

    @property
    def goal_met(self) -> bool:
        return (
            not self.failures
            and self.stat("stream_s", 99) < self.options["goal_s"]
            and self.stat("api_s", 99) < self.options["goal_s"]
        )

    @property
    def failures(self) -> list[str]:
        out = [f"{r.notice_id}: {p}" for r in self.runs for p in r.problems]
        if len(self.runs) < int(self.options["runs"]):
            out.append(f"only {len(self.runs)} of {self.options['runs']} runs finished")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "goal_met": self.goal_met, "failures": self.failures}

    def lines(self) -> list[str]:
        o = self.options
        out = [
            f"deadline to result: {o['agencies']} agencies bidding in a {o['method']} notice's last "
            f"{o['window']:g} s, {o['viewers']} stream readers, {o['workers']} worker(s) with the scheduler on: "
            f"{', '.join(self.servers)} (prepared in {self.prepare_s:.1f} s)"
        ]
        out += [f"run {i + 1}: {r.line()}" for i, r in enumerate(self.runs)]
        for label, name in (
            ("stream (last reader)", "stream_s"),
            ("stream (first reader)", "stream_first_s"),
            ("API", "api_s"),
            ("closed stamped", "closed_s"),
            ("drawn stamped", "drawn_s"),
            ("committed", "notify_s"),
        ):
            values = self._values(name)
            if values:
                out.append(
                    f"{label}: p50 {self.stat(name, 50):.3f} s, p99 {self.stat(name, 99):.3f} s, "
                    f"max {max(values):.3f} s over {len(values)} runs"
                )
        out.append(f"server errors logged {self.server_errors_logged}")
        out += [f"  {line}" for line in self.error_samples]
        out.append(
            f"p99 goal < {o['goal_s']:g} s (stream and API): {'met' if self.goal_met else 'NOT met'} "
            f"(stream {self.stat('stream_s', 99):.3f} s, API {self.stat('api_s', 99):.3f} s)"
        )
        out.append("result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)))
        return out


# -- the watchers --------------------------------------------------------------------------------


async def read_stream(
    client: httpx.AsyncClient, url: str, connected: asyncio.Event, told: list[float], dropped: list[str]
) -> None:
    """One reader of the draw page's event stream, as a browser's EventSource reads it:
    sets ``connected`` at its first panel, appends the wall-clock moment the result's entry
    arrives to ``told``, and returns. A stream that ends is opened again with
    ``Last-Event-ID`` (as EventSource does); each time is noted in ``dropped``."""
    last_id: str | None = None
    while True:
        event, data = "", []
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    dropped.append(f"HTTP {response.status_code}")
                    await asyncio.sleep(0.1)
                    continue
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:])
                    elif line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line == "":
                        if event == "update":
                            connected.set()
                        elif event == "entry" and any(f'data-type="{t}"' in "".join(data) for t in OUTCOMES):
                            told.append(time.time())
                            return
                        event, data = "", []
            dropped.append("ended")
        except (httpx.TransportError, httpx.StreamError) as exc:
            dropped.append(type(exc).__name__)
        await asyncio.sleep(0.1)


async def poll_api(client: httpx.AsyncClient, url: str, every: float, stop_at: float) -> float | None:
    """Ask for the selection record until it names the outcome; the wall-clock moment the
    first such answer arrived, or None by ``stop_at``."""
    while time.time() < stop_at:
        try:
            response = await client.get(url)
        except httpx.TransportError:
            continue  # a server too busy to answer in time: ask again, until stop_at
        if response.status_code == 200 and response.json()["seqs"]["outcome"] is not None:
            return time.time()
        await asyncio.sleep(every)
    return None


async def listen(dsn: str, notice_id: str, heard: list[float]) -> Any:
    """Our own LISTEN on the selection channel: the close's NOTIFY is delivered at its commit."""
    conn = await asyncpg.connect(dsn)

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
        if payload == notice_id:
            heard.append(time.time())

    await conn.add_listener(CHANNEL, on_notify)
    return conn


def servers_cpu(pids: list[int]) -> float:
    return sum(_process_cpu(p) for pid in pids for p in _tree(pid))


# -- one run -------------------------------------------------------------------------------------


async def one_run(
    options: Options, urls: list[str], dsn: str, owner_token: str, tokens: list[str], pids: list[int]
) -> Run:
    deadline = datetime.now(UTC) + timedelta(seconds=options.lead + options.window)
    notice_id = await publish_notice(urls[0], owner_token, method=options.method, deadline=deadline)
    run = Run(notice_id=notice_id)
    d = deadline.timestamp()
    heard: list[float] = []
    listener = await listen(dsn, notice_id, heard)
    told: list[float] = []
    dropped: list[str] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), limits=limits) as streams,
        httpx.AsyncClient(timeout=10.0) as api,
    ):
        connected = [asyncio.Event() for _ in range(options.viewers)]
        readers = [
            asyncio.create_task(
                read_stream(
                    streams,
                    f"{urls[i % len(urls)]}/notices/{notice_id}/draw/events",
                    connected[i],
                    told,
                    dropped,
                )
            )
            for i in range(options.viewers)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), timeout=options.lead)
        except TimeoutError:
            pass
        run.viewers = sum(1 for c in connected if c.is_set())
        if run.viewers < options.viewers:
            run.problems.append(
                f"only {run.viewers} of {options.viewers} readers connected before the window"
            )
        # fire() plans its first bid 0.2 s after it starts: start it so that the window
        # ends ``margin`` before the deadline. The watchers do not wait for the burst's
        # last answers (late ones come after the deadline when the servers queue).
        seconds = options.window - options.margin
        await asyncio.sleep(max(0.0, d - options.window - 0.2 - time.time()))
        burst = asyncio.create_task(
            fire(urls, notice_id, tokens, seconds=seconds, method=options.method, timeout=options.give_up)
        )
        await asyncio.sleep(max(0.0, d - time.time()))
        cpu_before = servers_cpu(pids)
        run.load = os.getloadavg()[0]
        stop_at = d + options.give_up
        api_at = await poll_api(api, f"{urls[0]}/api/v1/notices/{notice_id}/selection", options.poll, stop_at)
        try:
            await asyncio.wait_for(asyncio.gather(*readers), timeout=max(0.1, stop_at - time.time()))
        except TimeoutError:
            pass
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        run.server_cpu_s = servers_cpu(pids) - cpu_before
        shots, _ = await burst
        statuses = Counter(s.status for s in shots)
        run.statuses = dict(
            Counter(
                f"{s.status} {(s.body or {}).get('detail', '')}".strip() if s.status != 201 else "201"
                for s in shots
            )
        )
        run.accepted = statuses.get(201, 0)
        run.refused = sum(n for s, n in statuses.items() if s is not None and 400 <= s < 500)
        run.five_xx = sum(n for s, n in statuses.items() if s is not None and s >= 500)
        run.errors = statuses.get(None, 0)
        run.bid_p99_ms = percentile([s.latency_ms for s in shots if s.status is not None], 99)
    await asyncio.sleep(0.2)  # the NOTIFY reaches our listener on its own connection
    await listener.close()
    run.api_s = None if api_at is None else api_at - d
    run.stream_told = len(told)
    run.reconnects = len(dropped)
    if told:
        run.stream_first_s = min(told) - d
        run.stream_s = max(told) - d if len(told) == options.viewers else None
    run.notify_s = min(heard) - d if heard else None
    conn = await asyncpg.connect(dsn)
    try:
        for row in await conn.fetch(
            "SELECT type, entry FROM log_entry WHERE notice_id = $1 AND type = ANY($2::text[])",
            notice_id,
            ["bidding.closed", *OUTCOMES],
        ):
            entry = json.loads(bytes(row["entry"]))
            stamped = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp() - d
            if row["type"] == "bidding.closed":
                run.closed_s = stamped
                run.candidates = len(entry.get("candidates") or [])
            else:
                run.drawn_s = stamped
    finally:
        await conn.close()
    if run.five_xx or run.errors:
        run.problems.append(f"{run.five_xx} bids answered 5xx, {run.errors} without an answer")
    if run.api_s is None:
        run.problems.append(f"the API did not answer the result within {options.give_up:g} s")
    if options.viewers and run.stream_s is None:
        run.problems.append(
            f"only {run.stream_told} of {options.viewers} stream readers were told within {options.give_up:g} s"
        )
    return run


async def all_runs(
    options: Options, report: Report, url: str, urls: list[str], secret: str, pids: list[int]
) -> None:
    began = time.monotonic()
    prepared = await prepare(url, agencies=options.agencies, secret=secret)
    if options.warmup:
        # A server just started has no statements prepared and cold backends: warm it on
        # a notice of its own, as ops/load/bids.py does.
        warm = await publish_notice(
            urls[0],
            prepared.owner_token,
            method=options.method,
            deadline=datetime.now(UTC) + timedelta(hours=1),
        )
        count = min(options.warmup, len(prepared.bidder_tokens))
        await fire(
            urls, warm, prepared.bidder_tokens[:count], seconds=count / 50, method=options.method, timeout=30
        )
    report.prepare_s = time.monotonic() - began
    dsn = to_asyncpg_dsn(url)
    for i in range(options.runs):
        run = await one_run(options, urls, dsn, prepared.owner_token, prepared.bidder_tokens, pids)
        report.runs.append(run)
        print(f"run {i + 1}: {run.line()}", file=sys.stderr, flush=True)


def run(options: Options, *, database_url: str | None = None) -> Report:
    """The whole benchmark; ``database_url``: a migrated database to use as it is (tests
    hand in their own), else a scratch one (ops/scratch.py)."""
    report = Report(options=asdict(options))
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-deadline-"))
        if not options.keep:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        url = normalize_database_url(database_url) or stack.enter_context(
            scratch_database(keep=options.keep, prefix="market_deadline")
        )
        secret = secrets.token_urlsafe(48)
        data_dir = workdir / "data"
        # ops/load/bids.py's servers: MARKET_SCHEDULER_INTERVAL is not set, so the scheduler
        # runs at its default, as in production; a value in our environment is passed on.
        started = stack.enter_context(
            servers(url, data_dir, secret=secret, workers=options.workers, processes=1)
        )
        report.servers = [u for u, _ in started]
        asyncio.run(all_runs(options, report, url, report.servers, secret, [pid for _, pid in started]))
        report.server_errors_logged = server_errors(data_dir)
        report.error_samples = error_lines(data_dir)[:3]
        if options.keep:
            print(f"kept: {workdir} and {url}", file=sys.stderr)
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agencies", type=int, default=1000, help="distinct agencies, one bid each per run")
    parser.add_argument("--runs", type=int, default=5, help="notices, one after the other (default 5)")
    parser.add_argument(
        "--viewers", type=int, default=50, help="readers of the draw page's stream (default 50)"
    )
    parser.add_argument(
        "--window", type=float, default=10.0, help="the bids come in the last WINDOW s (default 10)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between API polls (default 0.05)")
    parser.add_argument("--give-up", type=float, default=30.0, help="seconds a result may take (default 30)")
    parser.add_argument("--method", choices=["lottery", "lowest_price"], default="lottery")
    parser.add_argument("--goal-s", type=float, default=GOAL_P99_S, help="the p99 goal (default 2 s)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up bids, not measured (default 100)")
    parser.add_argument("--enforce-goal", action="store_true", help="also fail when p99 misses the goal")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON ('-': stdout)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and data dir")
    args = parser.parse_args(argv)
    if args.agencies < 1 or args.runs < 1 or args.viewers < 0 or args.window <= 0.5 or args.workers < 1:
        parser.error("--agencies, --runs, --workers at least 1, --viewers at least 0, --window above 0.5 s")
    options = Options(
        agencies=args.agencies,
        runs=args.runs,
        viewers=args.viewers,
        window=args.window,
        workers=args.workers,
        poll=args.poll,
        give_up=args.give_up,
        method=args.method,
        goal_s=args.goal_s,
        warmup=args.warmup,
        keep=args.keep,
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    report = run(options)
    emit(report, args.json)
    if report.failures:
        return 1
    return 1 if args.enforce_goal and not report.goal_met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
