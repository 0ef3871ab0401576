#!/usr/bin/env python3
"""Seeded-scale check of the scoped console and dashboard (issue 21, "Tests").

    .venv/bin/python ops/bench/halls.py --scratch                  # seed 100,000 notices, then run
    .venv/bin/python ops/bench/halls.py --scratch --scale 0.1
    DATABASE_URL=postgresql://.../seeded .venv/bin/python ops/bench/halls.py --json out.json

The issue asks that the pages a prefecture's or a county's staff see stay index-driven on
the 100,000-notice data set and within 0.6× of the unscoped (province) pages' throughput.
What it does, with ops/bench/endpoints.py's machinery (seeding, servers, wrk, best of N):

1. A database: with ``--scratch`` a fresh one seeded by ops/bench/seed.py at ``--scale``
   (dropped at the end), otherwise DATABASE_URL's as it is.
2. Scopes: the province (530000, unscoped: the baseline), the prefecture with the most
   notices (its counties' and parks' rolled up) and that prefecture's county with the most.
   A supervisor at each is created as ``market users create --jurisdiction`` does
   (``accounts.service.create_staff``, logged) and given a session token, sent as the
   session cookie to pages and as a Bearer token to the API.
3. Benchmarks (each a path the three scopes request, see ``BENCHMARKS``): the console's
   home and its notice search (the console's notice list), the pending objections, the
   contracts, the red flags (page and API), the statistics page and its API with
   ``?jurisdiction=CODE``. Each is first asked once per scope: a path that
   answers 404 everywhere is not there yet and is reported as such, not measured.
4. ``market serve --workers W`` (scheduler off, as in endpoints.py) and wrk (``-t1``, up to
   ``--connections``; fewer for a page that takes long alone, so that answers are counted
   rather than timed out: ``load_for``) on each path, the three scopes interleaved,
   ``--rounds`` times, after a warm-up; the best run of each. A scope's ratio is its req/s
   over the province's on the same path in the same run.
5. EXPLAIN (ANALYZE, BUFFERS): the app is also started in this process, every statement a
   request runs is captured (SQLAlchemy's statements and the driver's own), and each
   SELECT is explained on the same database inside a rolled-back transaction. For each
   page and scope: the statements, any sequential scan of a large table (``LARGE``) and
   the most rows any plan node removed by its filter (times its loops).

Goals are printed, not enforced: a scoped page >= 0.6 of the unscoped one's req/s, and no
sequential scan of a large table in a scoped page's plans. The exit status is 1 only when
the run failed (transport errors, answers other than 2xx, a page that errs).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    del sys.path[0]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import asyncpg  # noqa: E402

from market.core.config import normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from ops.bench.endpoints import (  # noqa: E402
    WrkResult,
    environment,
    seeded_scratch,
    server_data_dir,
    timed_wrk,
    worker_pids,
    wrk,
)
from ops.load.bids import emit, server_errors, servers  # noqa: E402

GOAL = 0.6  # a scoped page's req/s over the unscoped one's, at least
PROVINCE = "530000"
SCOPES = ("province", "prefecture", "county")
# Tables the seed fills with thousands to millions of rows: a sequential scan of one of
# these in a scoped page's plan is what "index-driven" rules out.
LARGE = ("notice", "bid", "log_entry", "award", "selection", "contract", "objection")
TOKEN_TTL = 6 * 3600


@dataclass(frozen=True)
class Benchmark:
    key: str
    name: str
    path: str  # {code}: the scope's hall code (the console scopes by the viewer instead)
    api: bool = False  # Bearer token rather than the session cookie
    province_path: str | None = None  # the unscoped request, where it differs


# A word in many seeded titles (建设项目, "construction project"): the console's notice
# search walks the newest notices for it, in the viewer's halls.
SEARCH = urlencode({"q": "建设项目"})

BENCHMARKS = (
    Benchmark("console", "console home", "/supervision/"),
    Benchmark("console_search", "console notice search", f"/supervision/?{SEARCH}"),
    Benchmark("objections", "objections list", "/supervision/objections"),
    Benchmark("contracts", "contracts list", "/supervision/contracts"),
    Benchmark("flags", "flags page", "/supervision/flags"),
    Benchmark("flags_api", "flags API", "/api/v1/supervision/flags", api=True),
    Benchmark("stats", "statistics page", "/stats?jurisdiction={code}", province_path="/stats"),
    Benchmark(
        "stats_api",
        "statistics API",
        "/api/v1/stats?jurisdiction={code}",
        api=True,
        province_path="/api/v1/stats",
    ),
)


@dataclass(frozen=True)
class Options:
    workers: tuple[int, ...] = (1,)
    duration: int = 5
    connections: int = 32
    rounds: int = 2
    warmup: int = 1
    scratch: bool = False
    scale: float = 1.0
    keys: str | None = None
    benchmarks: tuple[str, ...] = tuple(b.key for b in BENCHMARKS)
    explain: bool = True
    http: bool = True  # False: the EXPLAIN part alone


@dataclass
class Scope:
    level: str  # province, prefecture, county
    code: str
    notices: int  # published notices it reaches
    user_id: str = ""
    token: str = ""

    def path(self, benchmark: Benchmark) -> str:
        if self.level == "province" and benchmark.province_path:
            return benchmark.province_path
        return benchmark.path.format(code=self.code)

    def headers(self, benchmark: Benchmark) -> dict[str, str]:
        if benchmark.api:
            return {"Authorization": f"Bearer {self.token}"}
        return {"Cookie": f"market_session={self.token}"}


@dataclass
class Row:
    benchmark: str
    scope: str
    code: str
    workers: int
    unscoped: WrkResult  # the province's best run on the same path, same run
    scoped: WrkResult
    connections: int = 0  # wrk's, sized for the page (load_for)
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return (
            self.scoped.requests_per_s / self.unscoped.requests_per_s if self.unscoped.requests_per_s else 0.0
        )

    @property
    def met(self) -> bool:
        return self.ratio >= GOAL


@dataclass
class Plan:
    """What EXPLAIN said of one page's statements for one scope."""

    benchmark: str
    scope: str
    code: str
    statements: int = 0
    execution_ms: float = 0.0
    seq_scans: dict[str, int] = field(default_factory=dict)  # large table -> most rows one scan read
    max_removed: int = 0  # rows a node removed by its filter, times its loops
    max_removed_at: str = ""  # "node on table" of that node
    # The same, leaving out nodes on the small tables (not in ``large``): a filter on the
    # jurisdiction table removes its 150 rows however large the data set grows.
    large_removed: int = 0
    large_removed_at: str = ""
    # The most rows one node read from a large table (kept and removed, times its loops):
    # a full index scan removes nothing and still reads the whole table.
    large_read: int = 0
    large_read_at: str = ""
    worst: str = ""  # the start of the slowest statement
    worst_ms: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def index_driven(self) -> bool:
        return not self.seq_scans


@dataclass
class Report:
    options: dict[str, Any]
    database: dict[str, int] = field(default_factory=dict)
    scopes: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # benchmark -> why it was not measured
    broken: list[str] = field(default_factory=list)  # pages that answered an error
    server_errors: dict[int, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        out = [
            f"{r.benchmark}, {r.scope}, {side}: {res.non_2xx} non-2xx, {res.socket_errors} socket errors, {res.requests} requests"
            for r in self.rows
            for side, runs in r.runs.items()
            for res in runs
            if not res.clean
        ]
        out += self.broken
        out += [f"EXPLAIN {p.benchmark}, {p.scope}: {'; '.join(p.errors)}" for p in self.plans if p.errors]
        return out

    def as_dict(self) -> dict[str, Any]:
        rows = [{**asdict(r), "ratio": round(r.ratio, 3), "met": r.met} for r in self.rows]
        plans = [{**asdict(p), "index_driven": p.index_driven} for p in self.plans]
        return {**asdict(self), "rows": rows, "plans": plans, "failures": self.failures}

    def lines(self) -> list[str]:
        out = [f"database: {', '.join(f'{v:,} {k}' for k, v in self.database.items())}"]
        out += [
            f"scope {s['level']}: {s['code']} ({s['notices']:,} published notices reached)"
            for s in self.scopes
        ]
        head: tuple[str, ...] = (
            "benchmark",
            "scope",
            "workers",
            "unscoped req/s",
            "scoped req/s",
            "ratio",
            "goal",
            "met?",
            "p50 ms",
            "p99 ms",
            "CPU ms/req unscoped/scoped",
        )
        table: list[tuple[str, ...]] = [head] + [
            (
                r.benchmark,
                f"{r.scope} {r.code}",
                str(r.workers),
                _rate(r.unscoped.requests_per_s),
                _rate(r.scoped.requests_per_s),
                f"{r.ratio:.2f}",
                f">= {GOAL:g}",
                "yes" if r.met else "NO",
                f"{r.scoped.p50_ms:.1f}",
                f"{r.scoped.p99_ms:.1f}",
                f"{r.unscoped.cpu_ms_per_request:.2f} / {r.scoped.cpu_ms_per_request:.2f}",
            )
            for r in self.rows
        ]
        out += _aligned(table)
        if self.plans:
            head = (
                "EXPLAIN: page",
                "scope",
                "statements",
                "total ms",
                "seq scan of a large table",
                "most rows removed by a filter",
                "index-driven?",
            )
            plans: list[tuple[str, ...]] = [head]
            plans += [
                (
                    p.benchmark,
                    f"{p.scope} {p.code}",
                    str(p.statements),
                    f"{p.execution_ms:.1f}",
                    ", ".join(f"{t} ({n:,} rows read)" for t, n in p.seq_scans.items()) or "none",
                    f"{p.max_removed:,}" + (f" ({p.max_removed_at})" if p.max_removed_at else ""),
                    ("yes" if p.index_driven else "NO") if p.scope != "province" else "(unscoped)",
                )
                for p in self.plans
            ]
            out += _aligned(plans, left=(0, 1, 4, 5))
        out += [f"not measured: {name}: {why}" for name, why in self.missing.items()]
        out.append(f"errors market logged, by worker count: {self.server_errors or 'none'}")
        out.append("result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)))
        return out


def _rate(per_s: float) -> str:
    """Requests a second: whole numbers, with a decimal for the slow pages."""
    return f"{per_s:,.0f}" if per_s >= 10 else f"{per_s:.2f}"


def _aligned(table: Sequence[Sequence[str]], left: tuple[int, ...] = (0, 1)) -> list[str]:
    """Columns padded to their widest cell: text (``left``) to the left, figures to the right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in table
    ]


# -- scopes and staff --------------------------------------------------------------------------


async def pick_scopes(url: str) -> tuple[list[Scope], dict[str, int]]:
    """The province, the prefecture whose halls hold the most published notices, and its
    county (its parks rolled up) with the most; with the large tables' row counts."""
    from market.halls import rules

    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        halls = [r[0] for r in await conn.fetch("SELECT code FROM jurisdiction ORDER BY code")]
        counts = {
            r[0]: r[1]
            for r in await conn.fetch(
                "SELECT hall, count(*) FROM notice WHERE hall IS NOT NULL AND status <> 'draft' GROUP BY 1"
            )
        }
        database = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in LARGE}
    finally:
        await conn.close()

    def reached(scope: str) -> int:
        return sum(n for hall, n in counts.items() if rules.covers(scope, hall))

    prefectures = [h for h in halls if rules.kind_of(h) == "prefecture"]
    if not prefectures:
        raise SystemExit("the database has no prefecture halls: is it migrated to 0010_halls?")
    prefecture = max(prefectures, key=lambda h: (reached(h), h))
    counties = [h for h in halls if rules.kind_of(h) == "county" and rules.parent_of(h) == prefecture]
    county = max(counties, key=lambda h: (reached(h), h)) if counties else prefecture
    return [
        Scope("province", PROVINCE, reached(PROVINCE)),
        Scope("prefecture", prefecture, reached(prefecture)),
        Scope("county", county, reached(county)),
    ], database


async def make_staff(url: str, scopes: list[Scope], secret: str) -> None:
    """A supervisor at each scope, as ``market users create --role supervisor
    --jurisdiction CODE`` makes one, and a session token for each (the servers' secret)."""
    from market.accounts import service as accounts
    from market.accounts.models import Role
    from market.core.db import Database
    from market.security.tokens import issue_token

    run = secrets.token_hex(3)
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            for scope in scopes:
                user = await accounts.create_staff(
                    session,
                    email=f"bench-{scope.level}-{run}@example.cn",
                    password=secrets.token_urlsafe(16),
                    name=f"Bench {scope.level} supervisor",
                    role=Role.supervisor,
                    jurisdiction=scope.code,
                )
                scope.user_id = user.public_id
                scope.token = issue_token(
                    secret=secret,
                    subject=user.public_id,
                    role=user.role,
                    ttl=TOKEN_TTL,
                    version=user.session_version,
                )
    finally:
        await db.dispose()


# -- EXPLAIN -----------------------------------------------------------------------------------


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for child in node.get("Plans", ()):
        out += walk(child)
    return out


def read_plan(plan: Plan, explained: dict[str, Any], statement: str, large: Sequence[str] = LARGE) -> None:
    """Add one statement's EXPLAIN (FORMAT JSON) answer to ``plan``; sequential scans of
    the ``large`` tables are counted."""
    plan.statements += 1
    ms = float(explained.get("Execution Time", 0.0))
    if not plan.worst or ms > plan.worst_ms:
        plan.worst, plan.worst_ms = " ".join(statement.split())[:120], ms
    plan.execution_ms += ms
    for node in walk(explained["Plan"]):
        relation = node.get("Relation Name")
        loops = int(node.get("Actual Loops", 1) or 1)
        removed = int(node.get("Rows Removed by Filter", 0) or 0) * loops
        if node.get("Node Type") == "Seq Scan" and relation in large:
            read = int(node.get("Actual Rows", 0) or 0) * loops + removed
            plan.seq_scans[relation] = max(plan.seq_scans.get(relation, 0), read)
        at = f"{node.get('Node Type')}" + (f" on {relation}" if relation else "")
        if removed > plan.max_removed:
            plan.max_removed, plan.max_removed_at = removed, at
        if removed > plan.large_removed and (relation is None or relation in large):
            plan.large_removed, plan.large_removed_at = removed, at
        read = int(node.get("Actual Rows", 0) or 0) * loops + removed
        if relation in large and read > plan.large_read:
            plan.large_read, plan.large_read_at = read, at


def explainable(statement: str) -> bool:
    text = statement.lstrip().lower()
    return text.startswith(("select", "with")) and "pg_catalog" not in text and " for update" not in text


async def explain_pages(
    url: str, scopes: list[Scope], paths: list[Benchmark], secret: str, workdir: Path
) -> list[Plan]:
    """Every SELECT each page runs for each scope, explained (``explain_requests``)."""
    requests = [
        Request(benchmark.name, scope.level, scope.code, scope.path(benchmark), scope.headers(benchmark))
        for benchmark in paths
        for scope in scopes
    ]
    return await explain_requests(url, requests, secret, workdir / "explain-data")


@dataclass(frozen=True)
class Request:
    """One GET to explain: the labels its Plan gets, the path and the headers sent."""

    benchmark: str
    scope: str
    code: str
    path: str
    headers: dict[str, str]


async def explain_requests(
    url: str, requests: Sequence[Request], secret: str, data_dir: Path, large: Sequence[str] = LARGE
) -> list[Plan]:
    """Every SELECT each request runs, explained (ops/bench/scale.py asks this too). The
    app runs in this process with its readers on the engine's pool, so that SQLAlchemy's
    event and the driver's query logger between them see every statement. ``data_dir``:
    the app's, with the keys the database was seeded with where the caller has them;
    ``large``: the tables whose sequential scans are reported."""
    import sqlalchemy as sa
    from litestar.testing import AsyncTestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    from market.app import create_app
    from market.core.config import Settings

    captured: list[tuple[str, tuple[Any, ...]]] = []

    def from_sqlalchemy(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not many:
            captured.append((statement, tuple(parameters or ())))

    def from_driver(record: Any) -> None:
        captured.append((record.query, tuple(record.args or ())))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(from_driver)

    # On the classes: the app makes its engine (and disposes of it) on its own loop, the
    # test client's thread.
    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (Engine, "before_cursor_execute", from_sqlalchemy),
        (Pool, "connect", on_connect),
    ]
    for target, name, fn in listeners:
        sa.event.listen(target, name, fn)
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        env="test",
        secret_key=secret,
        scheduler_interval=0,
        db_read_pool_size=0,
        public_url="http://testserver.local",  # the test client's host, which the host check admits
    )
    app = create_app(settings)
    plans: list[Plan] = []
    explainer = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        async with AsyncTestClient(app) as client:
            for request in requests:
                path, headers = request.path, request.headers
                await client.get(path, headers=headers)  # the first: connections, caches
                await asyncio.sleep(0)
                captured.clear()
                answer = await client.get(path, headers=headers)
                await asyncio.sleep(0.05)  # the driver's logger reports with call_soon
                plan = Plan(request.benchmark, request.scope, request.code)
                if answer.status_code >= 400:
                    plan.errors.append(f"{path} answered {answer.status_code}")
                seen: set[tuple[str, str]] = set()
                for statement, args in list(captured):
                    key = (statement, repr(args))
                    if key in seen or not explainable(statement):
                        continue
                    seen.add(key)
                    try:
                        async with explainer.transaction():
                            raw = await explainer.fetchval(
                                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, *args
                            )
                            raise _RollBack
                    except _RollBack:
                        pass
                    except Exception as exc:  # a statement EXPLAIN cannot take as captured
                        plan.errors.append(
                            f"{type(exc).__name__}: {exc} in {' '.join(statement.split())[:100]}"
                        )
                        continue
                    read_plan(plan, (json.loads(raw) if isinstance(raw, str) else raw)[0], statement, large)
                plans.append(plan)
    finally:
        await explainer.close()
        for target, name, fn in listeners:
            sa.event.remove(target, name, fn)
    return plans


class _RollBack(Exception):
    """Leaves the EXPLAIN ANALYZE's transaction rolled back."""


# -- HTTP --------------------------------------------------------------------------------------


def lua_script(path: str, headers: dict[str, str], file: Path) -> Path:
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines += [
        f"wrk.path = {json.dumps(path)}",
        "request = function()",
        '  return wrk.format("GET", wrk.path)',
        "end",
    ]
    file.write_text("\n".join(lines) + "\n", encoding="ascii")
    return file


def probe(url: str, headers: dict[str, str]) -> tuple[int, float]:
    """The status of one request, and the seconds it took."""
    request = urllib.request.Request(url, headers=headers)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
    return status, time.monotonic() - began


def load_for(seconds: float, options: Options) -> Any:
    """wrk's connections and duration for a page that takes ``seconds`` alone: few enough
    connections that an answer waits about two seconds at most (well inside wrk's timeout,
    so that slow pages are counted rather than dropped), and long enough for several."""
    from ops.bench import endpoints

    connections = max(1, min(options.connections, int(2.0 / max(seconds, 1e-3))))
    duration = max(options.duration, math.ceil(4 * seconds))
    return endpoints.Options(duration=duration, connections=connections)


def run_workers(
    report: Report,
    url: str,
    workdir: Path,
    workers: int,
    scopes: list[Scope],
    chosen: list[Benchmark],
    secret: str,
    options: Options,
) -> None:
    data_dir = server_data_dir(workdir, workers, options.keys)
    with environment({"MARKET_SCHEDULER_INTERVAL": "0"}):
        with servers(url, data_dir, secret=secret, workers=workers, processes=1) as started:
            base, pid = started[0]
            pids = partial(worker_pids, pid, workers)
            for b in chosen:
                scripts = {
                    s.level: lua_script(s.path(b), s.headers(b), workdir / f"{b.key}-{s.level}-{workers}.lua")
                    for s in scopes
                }
                probe(base + scopes[0].path(b), scopes[0].headers(b))  # the first: connections, caches
                answers = {s.level: probe(base + s.path(b), s.headers(b)) for s in scopes}
                if all(a == 404 for a, _ in answers.values()):
                    report.missing[b.name] = f"{b.path} answers 404 (not there yet)"
                    continue
                if bad := {k: a for k, (a, _) in answers.items() if not 200 <= a < 300}:
                    report.broken.append(f"{b.name}: {bad}")
                    continue
                # The same load on every scope: sized for the slowest.
                slowest = max(t for _, t in answers.values())
                load = load_for(slowest, options)
                # Not for a page slower than the warm-up: wrk would leave its requests
                # running in the server into the measured runs (the probes warmed it).
                if options.warmup and slowest < options.warmup:
                    for s in scopes:
                        wrk(base, scripts[s.level], duration=options.warmup, connections=load.connections)
                runs: dict[str, list[WrkResult]] = {s.level: [] for s in scopes}
                for _ in range(options.rounds):
                    for s in scopes:  # interleaved: a machine that slows down slows every scope
                        runs[s.level].append(timed_wrk(base, scripts[s.level], pids, load)[0])
                        if slowest > 1.0:  # the answers wrk left behind finish before the next run
                            time.sleep(slowest)
                best = {k: max(v, key=lambda r: r.requests_per_s) for k, v in runs.items()}
                for s in scopes[1:]:
                    row = Row(
                        b.name,
                        s.level,
                        s.code,
                        workers,
                        best["province"],
                        best[s.level],
                        connections=load.connections,
                        runs={"province": runs["province"], s.level: runs[s.level]},
                    )
                    report.rows.append(row)
                    print(
                        f"  {b.name}, {s.level} {s.code}, {workers} worker(s): {_rate(row.unscoped.requests_per_s)} vs "
                        f"{_rate(row.scoped.requests_per_s)} req/s, ratio {row.ratio:.2f} ({load.connections} connections)",
                        file=sys.stderr,
                    )
    if errors := server_errors(data_dir):
        report.server_errors[workers] = errors


def run(options: Options, *, database_url: str | None = None) -> Report:
    report = Report(options=asdict(options))
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-halls-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if database_url:
            url = normalize_database_url(database_url) or database_url
        elif options.scratch:
            keys = workdir / "seed-keys"
            url = seeded_scratch(stack, options.scale, keys)
            options = replace(options, keys=str(keys))
        elif os.environ.get("DATABASE_URL"):
            url = normalize_database_url(os.environ["DATABASE_URL"]) or ""
        else:
            raise SystemExit("set DATABASE_URL to a seeded database, or pass --scratch")
        secret = secrets.token_urlsafe(48)
        scopes, report.database = asyncio.run(pick_scopes(url))
        asyncio.run(make_staff(url, scopes, secret))
        report.scopes = [{"level": s.level, "code": s.code, "notices": s.notices} for s in scopes]
        print(f"scopes: {report.scopes}; {report.database}", file=sys.stderr)
        chosen = [b for b in BENCHMARKS if b.key in options.benchmarks]
        for workers in options.workers if options.http else ():
            run_workers(report, url, workdir, workers, scopes, chosen, secret, options)
        if options.explain:
            measured = [b for b in chosen if b.name not in report.missing]
            try:
                report.plans = asyncio.run(explain_pages(url, scopes, measured, secret, workdir))
            except Exception as exc:  # the HTTP figures are still worth printing
                report.broken.append(f"EXPLAIN could not run: {type(exc).__name__}: {exc}")
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1", help="worker counts, comma-separated (default 1)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs per scope; the best is kept")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load per path (0: none)")
    parser.add_argument("--scratch", action="store_true", help="seed a fresh database with ops/bench/seed.py")
    parser.add_argument("--scale", type=float, default=1.0, help="with --scratch: 1 = 100,000 notices")
    parser.add_argument(
        "--keys", default=None, metavar="DIR", help="the data dir the database was seeded with"
    )
    parser.add_argument(
        "--only", default=None, help="benchmarks, comma-separated: " + ",".join(b.key for b in BENCHMARKS)
    )
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN part")
    parser.add_argument("--explain-only", action="store_true", help="only the EXPLAIN part, no servers")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)
    workers = tuple(int(w) for w in args.workers.split(","))
    names = tuple(n.strip() for n in args.only.split(",")) if args.only else tuple(b.key for b in BENCHMARKS)
    if min(workers) < 1 or args.duration < 1 or args.connections < 1 or args.rounds < 1 or args.scale <= 0:
        parser.error("--workers, --duration, --connections and --rounds must be at least 1, --scale positive")
    if unknown := set(names) - {b.key for b in BENCHMARKS}:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    options = Options(
        workers=workers,
        duration=args.duration,
        connections=args.connections,
        rounds=args.rounds,
        warmup=args.warmup,
        scratch=args.scratch,
        scale=args.scale,
        keys=args.keys,
        benchmarks=names,
        explain=not args.no_explain,
        http=not args.explain_only,
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    report = run(options)
    emit(report, args.json)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
