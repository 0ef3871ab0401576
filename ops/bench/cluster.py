#!/usr/bin/env python3
"""The cluster's figures (issue 23): each a ratio of two runs made in the same process, on
the same cluster, interleaved, best of ``--rounds``.

1. **Bid burst through nginx, two app hosts against one.** Two ``market serve`` processes
   (one worker each: the app hosts) on the primary; Debian's nginx with the shipped
   configuration (ops/deploy/nginx/market.conf through ops/cluster.py) once in front of
   host A alone and once in front of A and B. N distinct agencies bid once each on a new
   notice, ``--concurrency`` at a time, back to back (a closed loop: a burst, not a
   rate): bids per second and p99, and their ratios.
2. **The public list read from the standby against the primary.** Two more app hosts, one
   with ``DATABASE_READ_URL`` naming the streaming standby (checked on its
   ``/healthz?verbose``: reads go to the standby) and one without; wrk on the public notice
   list (JSON and the page) of each: requests per second and the ratio. The standby's
   replay lag is sampled on the primary (``pg_stat_replication``) every 50 ms throughout,
   and reported for each phase.
3. **The cost of synchronous replication on the bid path.** The same burst through nginx
   in front of both hosts, with the standby synchronous (``synchronous_standby_names =
   'FIRST 1 (standby)'``, ``synchronous_commit`` as ops/cluster.py sets it) and with it
   asynchronous (the names emptied and reloaded, the standby still streaming): p50, p99
   and the ratio of the p99s.

Everything runs on this machine: the primary, the standby, nginx, four app hosts and the
client share its cores, so the ratios say what a second host or the standby costs or
gives *here*; on separate machines a second app host adds its own cores. The report says
how many cores the machine has and how busy they were.

    .venv/bin/python ops/bench/cluster.py                     # 400 agencies, 2 rounds, 5 s reads
    .venv/bin/python ops/bench/cluster.py --ci                # a few seconds (the CI test)
    .venv/bin/python ops/bench/cluster.py --json out.json

Exit status 1 when something failed to run (a bid not answered 201, a read not 2xx, reads
that did not go to the standby, a bid missing on the standby afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

import market.models  # noqa: E402, F401  (every table, for the ORM's flushes in prepare())
from market.core.db import to_asyncpg_dsn  # noqa: E402
from ops.bench.endpoints import WrkResult, environment, lua_script, wrk  # noqa: E402
from ops.cluster import SYNCHRONOUS_COMMIT, Nginx, Node, start_primary, start_standby  # noqa: E402
from ops.load.bids import (  # noqa: E402
    _machine_busy,
    bids_served,
    percentile,
    prepare,
    publish_notice,
    servers,
)

STANDBY = "standby"
LIST_PATHS = {"list JSON": "/api/v1/notices", "list page": "/notices"}


@dataclass(frozen=True)
class Options:
    agencies: int = 400  # bids per burst (each agency bids once per notice)
    concurrency: int = 16  # bids in flight at once in the two-hosts-against-one burst
    sync_concurrency: int = 4  # in the synchronous-against-asynchronous burst
    rounds: int = 2  # interleaved runs of each side; the best is kept
    read_seconds: int = 5  # per wrk run
    read_connections: int = 16
    notices: int = 40  # extra published notices, so the list has pages to read
    warmup: int = 50  # bids through both hosts before anything is measured

    @classmethod
    def ci(cls) -> Options:
        return cls(
            agencies=24, concurrency=4, sync_concurrency=2, rounds=1, read_seconds=1, notices=3, warmup=6
        )


@dataclass
class Burst:
    label: str
    bids: int
    accepted: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    errors: int
    served: list[int] = field(default_factory=list)  # bids each app host answered (A, B)


@dataclass
class Lag:
    samples: int = 0
    max_ms: float = 0.0
    p50_ms: float = 0.0
    max_bytes: int = 0


@dataclass
class Report:
    options: dict[str, Any]
    cores: int = os.cpu_count() or 1
    synchronous_commit: str = SYNCHRONOUS_COMMIT
    hosts: dict[str, Burst] = field(default_factory=dict)  # best of "1 host", "2 hosts"
    sync: dict[str, Burst] = field(default_factory=dict)  # best of "synchronous", "asynchronous"
    reads: dict[str, dict[str, WrkResult]] = field(default_factory=dict)  # path label -> side -> best
    lag: dict[str, Lag] = field(default_factory=dict)  # phase -> replay lag observed
    standby_report: dict[str, Any] = field(default_factory=dict)  # /healthz?verbose's read_standby
    runs: list[dict[str, Any]] = field(default_factory=list)  # every run, in order
    machine_busy_cores: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def ratio(self, table: dict[str, Burst], a: str, b: str, attr: str) -> float:
        if a not in table or b not in table or not getattr(table[b], attr):
            return 0.0
        return float(getattr(table[a], attr)) / float(getattr(table[b], attr))

    def lines(self) -> list[str]:
        out = [f"cluster benchmark on {self.cores} cores ({self.machine_busy_cores:.2f} busy on average)"]
        for label, b in self.hosts.items():
            out.append(
                f"bid burst via nginx, {label}: {b.per_s:.1f} bids/s, p50 {b.p50_ms:.0f} ms, p99 {b.p99_ms:.0f} ms "
                f"({b.accepted}/{b.bids} accepted, answered by A/B {'/'.join(map(str, b.served)) or '?'}, "
                f"concurrency {self.options['concurrency']})"
            )
        out.append(
            f"  two hosts against one: throughput x{self.ratio(self.hosts, '2 hosts', '1 host', 'per_s'):.2f}, "
            f"p99 x{self.ratio(self.hosts, '2 hosts', '1 host', 'p99_ms'):.2f}"
        )
        for label, sides in self.reads.items():
            for side, r in sides.items():
                out.append(
                    f"{label} read from the {side}: {r.requests_per_s:.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms"
                )
            if {"standby", "primary"} <= sides.keys() and sides["primary"].requests_per_s:
                ratio = sides["standby"].requests_per_s / sides["primary"].requests_per_s
                out.append(f"  {label}, standby against primary: x{ratio:.2f}")
        for label, b in self.sync.items():
            out.append(
                f"bid burst, {label} standby: {b.per_s:.1f} bids/s, p50 {b.p50_ms:.0f} ms, p99 {b.p99_ms:.0f} ms "
                f"(concurrency {self.options['sync_concurrency']}, synchronous_commit {self.synchronous_commit})"
            )
        out.append(
            f"  synchronous against asynchronous: p99 x{self.ratio(self.sync, 'synchronous', 'asynchronous', 'p99_ms'):.2f}, "
            f"p50 x{self.ratio(self.sync, 'synchronous', 'asynchronous', 'p50_ms'):.2f}, "
            f"throughput x{self.ratio(self.sync, 'synchronous', 'asynchronous', 'per_s'):.2f}"
        )
        for phase, lag in self.lag.items():
            out.append(
                f"standby replay lag during {phase}: max {lag.max_ms:.1f} ms, p50 {lag.p50_ms:.1f} ms, "
                f"at most {lag.max_bytes} bytes behind ({lag.samples} samples)"
            )
        if self.standby_report:
            out.append(f"the read host's /healthz?verbose: {json.dumps(self.standby_report, sort_keys=True)}")
        out.append(f"took {self.seconds:.0f} s")
        out.append("result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)))
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the standby's lag, sampled on the primary ------------------------------------------------


class LagSampler(threading.Thread):
    """Every 50 ms: the standby's replay_lag and how many bytes of WAL it has yet to
    replay, from the primary's pg_stat_replication, filed under the current ``phase``."""

    QUERY = (
        "SELECT COALESCE(EXTRACT(EPOCH FROM replay_lag) * 1000, 0)::float8, "
        "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint "
        "FROM pg_stat_replication WHERE application_name = $1"
    )

    def __init__(self, primary_url: str) -> None:
        super().__init__(daemon=True)
        self.dsn = to_asyncpg_dsn(primary_url)
        self.phase = "set-up"
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._sample())

    async def _sample(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            while not self.stopping.is_set():
                row = await conn.fetchrow(self.QUERY, STANDBY)
                if row is not None:
                    self.samples.setdefault(self.phase, []).append((float(row[0]), int(row[1])))
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    def stop(self) -> dict[str, Lag]:
        self.stopping.set()
        self.join(timeout=10)
        out = {}
        for phase, values in self.samples.items():
            if phase == "set-up" or not values:
                continue
            ms = [v[0] for v in values]
            out[phase] = Lag(len(values), max(ms), percentile(ms, 50), max(v[1] for v in values))
        return out


# -- bursts -----------------------------------------------------------------------------------


async def burst(label: str, url: str, notice_id: str, tokens: list[str], *, concurrency: int) -> Burst:
    """Every token bids once on ``notice_id`` through ``url``, ``concurrency`` at a time,
    each sender sending its next bid as soon as its last is answered."""
    pending = list(range(len(tokens)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def sender() -> None:
            nonlocal errors
            while pending:
                i = pending.pop()
                began = time.perf_counter()
                try:
                    answer = await client.post(
                        f"/api/v1/notices/{notice_id}/bids",
                        json={},
                        headers={"Authorization": f"Bearer {tokens[i]}"},
                    )
                    statuses[answer.status_code] += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        took = time.perf_counter() - began
    return Burst(
        label=label,
        bids=len(tokens),
        accepted=statuses.get(201, 0),
        seconds=round(took, 3),
        per_s=len(tokens) / took if took else 0.0,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        statuses=dict(statuses),
        errors=errors,
    )


async def new_notice(url: str, owner_token: str) -> str:
    return await publish_notice(
        url, owner_token, method="lottery", deadline=datetime.now(UTC) + timedelta(hours=2)
    )


async def served_when_logged(bid_dir: Path, notice: str, bids: int) -> list[int]:
    """Bids each host answered, from their access logs; a host writes the line after the
    answer has gone out, so the last ones may land a moment after the burst: wait for them
    (at most 2 s)."""
    deadline = time.monotonic() + 2.0
    while True:
        served = bids_served(bid_dir, 2, notice)
        if sum(served) >= bids or time.monotonic() > deadline:
            return served
        await asyncio.sleep(0.05)


def best(runs: list[Burst]) -> Burst:
    return max(runs, key=lambda b: b.per_s)


def set_synchronous(primary: Node, on: bool) -> None:
    """Name the standby synchronous or not, and wait until the primary says so."""
    names = f"FIRST 1 ({STANDBY})" if on else ""
    primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'", database="postgres")
    primary.sql("SELECT pg_reload_conf()", database="postgres")
    wanted = "sync" if on else "async"
    deadline = time.monotonic() + 30
    query = f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY}'"
    while primary.sql(query, database="postgres") != wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the standby did not become {wanted} within 30 s")
        time.sleep(0.05)


def copy_keys(source: Path, target: Path) -> Path:
    """A data dir of its own for another group of app hosts, with the same keys and secret
    (every host signs and seals with the same keys: docs/deployment.md)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith(".log"):
            shutil.copy2(path, target / path.name)
    return target


def verbose_health(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/healthz", params={"verbose": "1"}, timeout=10)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


# -- the run ----------------------------------------------------------------------------------


def run(options: Options) -> Report:
    report = Report(options=asdict(options))
    began = time.monotonic()
    busy_before = _machine_busy()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-cluster-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        primary = start_primary(workdir / "primary", synchronous=True)
        stack.callback(primary.stop, "immediate")
        standby = start_standby(primary, workdir / STANDBY, name=STANDBY, synchronous=True)
        stack.callback(standby.stop, "immediate")
        sampler = LagSampler(primary.url)
        sampler.start()
        stack.callback(sampler.stopping.set)
        secret = secrets.token_urlsafe(48)
        # The scheduler off, as in the other HTTP benchmarks; nginx is the one proxy in
        # front, as in the deployment.
        env = {"MARKET_SCHEDULER_INTERVAL": "0", "MARKET_TRUSTED_PROXIES": "1"}
        bid_dir = workdir / "bid-hosts"
        with environment(env):
            hosts = stack.enter_context(servers(primary.url, bid_dir, secret=secret, workers=1, processes=2))
        (url_a, _), (url_b, _) = hosts
        upstream = [u.removeprefix("http://") for u in (url_a, url_b)]
        one = stack.enter_context(Nginx(workdir / "nginx-1", upstream[:1]))
        two = stack.enter_context(Nginx(workdir / "nginx-2", upstream))
        prepared = asyncio.run(prepare(primary.url, agencies=options.agencies, secret=secret))
        tokens, owner = prepared.bidder_tokens, prepared.owner_token
        bursts: list[Burst] = []

        async def bids() -> None:
            sampler.phase = "warm-up"
            if options.warmup:
                notice = await new_notice(two.url, owner)
                await burst(
                    "warm-up", two.url, notice, tokens[: options.warmup], concurrency=options.concurrency
                )
            by_hosts: dict[str, list[Burst]] = {"1 host": [], "2 hosts": []}
            for _ in range(options.rounds):
                for label, proxy in (("1 host", one), ("2 hosts", two)):
                    sampler.phase = f"the bid burst, {label} (synchronous)"
                    notice = await new_notice(proxy.url, owner)
                    b = await burst(label, proxy.url, notice, tokens, concurrency=options.concurrency)
                    b.served = await served_when_logged(bid_dir, notice, b.bids)
                    by_hosts[label].append(b)
                    bursts.append(b)
            report.hosts = {k: best(v) for k, v in by_hosts.items()}
            by_mode: dict[str, list[Burst]] = {"synchronous": [], "asynchronous": []}
            for _ in range(options.rounds):
                for label in by_mode:
                    set_synchronous(primary, label == "synchronous")
                    sampler.phase = f"the bid burst, {label}"
                    notice = await new_notice(two.url, owner)
                    b = await burst(label, two.url, notice, tokens, concurrency=options.sync_concurrency)
                    b.served = await served_when_logged(bid_dir, notice, b.bids)
                    by_mode[label].append(b)
                    bursts.append(b)
            sampler.phase = "set-up"  # not reported
            set_synchronous(primary, True)
            report.sync = {k: best(v) for k, v in by_mode.items()}
            for _ in range(options.notices):
                await new_notice(two.url, owner)

        asyncio.run(bids())
        report.runs += [asdict(b) for b in bursts]
        for b in bursts:
            if b.accepted != b.bids:
                report.failures.append(
                    f"{b.label}: {b.accepted} of {b.bids} bids accepted ({b.statuses}, {b.errors} errors)"
                )

        # -- reads: a host reading from the standby, a host reading from the primary ------
        read_dir = copy_keys(bid_dir, workdir / "read-standby")
        with environment({**env, "DATABASE_READ_URL": standby.url}):
            ((url_standby, _),) = stack.enter_context(
                servers(primary.url, read_dir, secret=secret, workers=1, processes=1)
            )
        primary_dir = copy_keys(bid_dir, workdir / "read-primary")
        with environment(env):
            ((url_primary, _),) = stack.enter_context(
                servers(primary.url, primary_dir, secret=secret, workers=1, processes=1)
            )
        sampler.phase = "the reads"
        for label, path in LIST_PATHS.items():
            script = lua_script([path], workdir / f"{label.replace(' ', '-')}.lua")
            by_side: dict[str, list[WrkResult]] = {"standby": [], "primary": []}
            for _ in range(options.rounds):
                for side, url in (("standby", url_standby), ("primary", url_primary)):
                    result = wrk(
                        url, script, duration=options.read_seconds, connections=options.read_connections
                    )
                    by_side[side].append(result)
                    report.runs.append({"label": f"{label} from the {side}", **asdict(result)})
                    if not result.clean:
                        report.failures.append(
                            f"{label} from the {side}: {result.non_2xx} non-2xx, {result.socket_errors} socket errors"
                        )
            report.reads[label] = {k: max(v, key=lambda r: r.requests_per_s) for k, v in by_side.items()}
        health = verbose_health(url_standby)
        report.standby_report = health.get("read_standby", {})
        if report.standby_report.get("reads_from") != "standby":
            report.failures.append(f"the read host did not read from the standby: {report.standby_report}")

        # -- every accepted bid is on both servers ------------------------------------------
        sampler.phase = "set-up"
        accepted = sum(b.accepted for b in bursts) + (options.warmup if options.warmup else 0)
        on_primary = int(primary.sql("SELECT count(*) FROM bid"))
        deadline = time.monotonic() + 30
        while int(standby.sql("SELECT count(*) FROM bid")) != on_primary and time.monotonic() < deadline:
            time.sleep(0.1)
        on_standby = int(standby.sql("SELECT count(*) FROM bid"))
        if not (on_primary == on_standby >= accepted):
            report.failures.append(
                f"bids: {accepted} accepted, {on_primary} on the primary, {on_standby} on the standby"
            )
        report.lag = sampler.stop()
    report.machine_busy_cores = max(
        0.0, (_machine_busy() - busy_before) / max(time.monotonic() - began, 1e-9)
    )
    report.seconds = time.monotonic() - began
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Options()
    parser.add_argument("--ci", action="store_true", help="tiny sizes: a few seconds (the CI test)")
    parser.add_argument(
        "--agencies", type=int, default=defaults.agencies, help="bids per burst (default 400)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=defaults.concurrency, help="bids in flight (default 16)"
    )
    parser.add_argument(
        "--sync-concurrency",
        type=int,
        default=defaults.sync_concurrency,
        help="bids in flight in the synchronous-against-asynchronous bursts (default 4)",
    )
    parser.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="interleaved rounds, best kept (default 2)"
    )
    parser.add_argument(
        "--read-seconds", type=int, default=defaults.read_seconds, help="per wrk run (default 5)"
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)
    if args.ci:
        return Options.ci(), args
    if min(args.agencies, args.concurrency, args.sync_concurrency, args.rounds, args.read_seconds) < 1:
        parser.error("every size must be at least 1")
    options = Options(
        agencies=args.agencies,
        concurrency=args.concurrency,
        sync_concurrency=args.sync_concurrency,
        rounds=args.rounds,
        read_seconds=args.read_seconds,
        warmup=min(defaults.warmup, args.agencies),
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    report = run(options)
    for line in report.lines():
        print(line)
    if args.json:
        text = json.dumps(report.as_dict(), indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
