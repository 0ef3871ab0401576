#!/usr/bin/env python3
"""HTTP benchmarks of the public pages against a bare baseline (issue 10, item 2).

    .venv/bin/python ops/bench/endpoints.py --scratch              # seed 100,000 notices, then run
    .venv/bin/python ops/bench/endpoints.py --scratch --scale 0.1
    DATABASE_URL=postgresql://.../seeded .venv/bin/python ops/bench/endpoints.py --keys DIR --json out.json
    .venv/bin/python ops/bench/endpoints.py --workers 1 --duration 2 --only list_json,detail_html
    .venv/bin/python ops/bench/endpoints.py --workers 1 --only list_json --rounds 4 --diagnose  # where the tail goes
    .venv/bin/python ops/bench/endpoints.py --workers 1 --only list_json --rate 120             # equal offered load

What it does:

1. A database: with ``--scratch`` a fresh one on DATABASE_URL's server (a private cluster
   under var/bench-postgres without it), seeded by ops/bench/seed.py at ``--scale`` and
   dropped at the end; otherwise the one DATABASE_URL names, as it is (seeded beforehand;
   ``--keys`` names the data dir it was seeded with, whose keys the servers then get).
2. Targets, read from that database: public-list URLs filtered by category and region (the
   province, prefectures, counties where notices have them) with cursors taken deep into
   each filtered list, notice pages across every public status, and directory pages with
   category and region filters and deep cursors.
3. For each worker count (``--workers 1,2``): ``market serve --workers W`` started as
   ops/load/bids.py starts it, and ops/bench/baseline.py under uvicorn with the same W, on
   the same database. Market's scheduler is off in the measured servers (``--scheduler``
   leaves it on): the baseline has none, and on a seeded database it has catching up of its
   own to do (due notices, overdue milestones), which is not what is measured here. The
   baseline's JSON is first checked to equal market's, byte for byte, on a sample of list URLs.
4. Each benchmark runs wrk (``-t1 -c32 --latency``, a Lua script walking its targets in
   turn) against the baseline and then market, ``--rounds`` times interleaved, after an
   unmeasured warm-up, and keeps the best run of each side; every worker's RSS (VmRSS in
   /proc) is sampled during the runs.

Benchmarks and goals, as market's req/s over the bare JSON list's measured beside it:
the JSON list >= 0.8, the list page >= 0.6, the notice page >= 0.6, the directory page >= 0.6;
and each worker under the list benchmark below 200 MB RSS. Goals are reported, not
enforced: the exit status is 1 only when a run failed (transport errors, non-2xx answers,
or JSON that differs from the baseline's).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Imported as ops.bench.* from the project root, whether run as a script or by the tests.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    del sys.path[0]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from market.core.config import normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from market.core.pagination import encode_cursor  # noqa: E402
from market.core.pgembed import free_port  # noqa: E402
from market.reference.regions import scope_prefix  # noqa: E402
from ops.bench import diagnose, paced  # noqa: E402
from ops.bench.baseline import QUEUE_VAR as BASELINE_QUEUE_VAR  # noqa: E402
from ops.load.bids import (  # noqa: E402
    _process_cpu,
    _tree,
    database_backends,
    emit,
    server_errors,
    servers,
    wait_healthy,
    wait_started,
)
from ops.scratch import scratch_database  # noqa: E402

MEMORY_GOAL_MB = 200.0
PAGE = 20  # the list's and the directory's default page


@dataclass(frozen=True)
class Benchmark:
    key: str  # also the name of the Targets list it walks
    name: str
    goal: float  # market req/s over the bare JSON list's, at least


# The bare JSON list is every benchmark's baseline (the issue compares the pages with it).
BENCHMARKS = (
    Benchmark("list_json", "list JSON", 0.8),
    Benchmark("list_html", "list HTML", 0.6),
    Benchmark("detail_html", "notice HTML", 0.6),
    Benchmark("directory_html", "directory HTML", 0.6),
)
MEMORY_BENCHMARK = "list JSON"


@dataclass(frozen=True)
class Options:
    workers: tuple[int, ...] = (1, 2)
    duration: int = 5  # seconds per wrk run
    connections: int = 32
    rounds: int = 2  # interleaved runs of each side; the best is kept
    warmup: int = 1  # seconds of unmeasured load on each server and target list first
    scratch: bool = False
    scale: float = 1.0  # of ops/bench/seed.py's defaults, with --scratch
    # The data dir the database was seeded with: the servers get copies of its keys, so
    # that with --scheduler a notice closing during a run can unseal its secret.
    keys: str | None = None
    # Market's scheduler (closing, drawing, final awards, overdue milestones) off in the
    # measured servers, as the baseline has none: on a seeded database it has work of its
    # own to catch up on, which is not what these benchmarks measure (the module's docstring).
    scheduler: bool = False
    targets: int = 200  # URLs per list
    json_checks: int = 30  # list URLs whose JSON is compared byte for byte
    benchmarks: tuple[str, ...] = tuple(b.key for b in BENCHMARKS)
    rng_seed: int = 1
    # Probes in both servers' workers (ops/bench/diagnose.py): loop lag, collector pauses,
    # pool waits and the spans of each request, summarised per run.
    diagnose: bool = False
    # Requests a second sent to both servers by ops/bench/paced.py instead of wrk's closed
    # loop: p99 at equal offered load. 0: wrk.
    rate: float = 0.0
    # The baseline waits in a first-come queue in front of its pool, as market's readers do
    # (ops/bench/baseline.py, BENCH_READER_QUEUE): the same queueing on both sides.
    baseline_queue: bool = False


@dataclass
class Targets:
    """Paths (with query) each benchmark walks in turn."""

    list_json: list[str]
    list_html: list[str]
    detail_html: list[str]
    directory_html: list[str]
    database: dict[str, int] = field(default_factory=dict)  # row counts, for the report


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int  # connect, read and write errors
    timeouts: int = 0  # answers slower than WRK_TIMEOUT: counted, not a failure (a busy machine)
    # CPU the server's workers spent per answer: unlike req/s, barely moved by what else
    # the machine runs (PostgreSQL, wrk, other people's jobs on the same two cores).
    cpu_ms_per_request: float = 0.0
    # CPU the PostgreSQL backends serving the measured database spent per answer, where
    # timed_wrk was told the database and the server runs on this machine (0 otherwise).
    database_cpu_ms_per_request: float = 0.0
    # With --diagnose: where the server's time went during the run (ops/bench/diagnose.py).
    diagnosis: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0


@dataclass
class Row:
    benchmark: str
    workers: int
    goal: float
    baseline: WrkResult  # the best run of each side
    market: WrkResult
    max_rss_mb: float  # the largest any of market's workers reached during its runs
    baseline_max_rss_mb: float
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)  # every run, by side

    @property
    def ratio(self) -> float:
        return (
            self.market.requests_per_s / self.baseline.requests_per_s if self.baseline.requests_per_s else 0.0
        )

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal


@dataclass
class Report:
    options: dict[str, Any]
    database: dict[str, int] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    json_checked: int = 0
    json_mismatches: list[str] = field(default_factory=list)
    server_errors: dict[int, int] = field(default_factory=dict)  # error lines market logged, by worker count

    def memory(self) -> dict[int, float]:
        """Max worker RSS under the list benchmark, by worker count."""
        return {r.workers: r.max_rss_mb for r in self.rows if r.benchmark == MEMORY_BENCHMARK}

    @property
    def failures(self) -> list[str]:
        out = [
            f"{r.benchmark}, {r.workers} worker(s), {side}: {res.non_2xx} non-2xx, {res.socket_errors} socket errors, {res.requests} requests"
            for r in self.rows
            for side, runs in r.runs.items()
            for res in runs
            if not res.clean
        ]
        if self.json_mismatches:
            out.append(
                f"{len(self.json_mismatches)} of {self.json_checked} list URLs answer other JSON than the baseline: {self.json_mismatches[:3]}"
            )
        if not self.json_checked:
            out.append("no list URL was compared with the baseline")
        return out

    def as_dict(self) -> dict[str, Any]:
        rows = [{**asdict(r), "ratio": round(r.ratio, 3), "met": r.met} for r in self.rows]
        memory = {
            str(w): {"max_rss_mb": mb, "goal_mb": MEMORY_GOAL_MB, "met": mb < MEMORY_GOAL_MB}
            for w, mb in self.memory().items()
        }
        return {**asdict(self), "rows": rows, "memory": memory, "failures": self.failures}

    def lines(self) -> list[str]:
        head = (
            "benchmark",
            "workers",
            "baseline req/s",
            "market req/s",
            "ratio",
            "goal",
            "met?",
            "market p50 ms",
            "p99 ms",
            "max RSS MB",
            "CPU ms/req base/market",
        )
        table = [head] + [
            (
                r.benchmark,
                str(r.workers),
                f"{r.baseline.requests_per_s:,.0f}",
                f"{r.market.requests_per_s:,.0f}",
                f"{r.ratio:.2f}",
                f">= {r.goal:g}",
                "yes" if r.met else "NO",
                f"{r.market.p50_ms:.1f}",
                f"{r.market.p99_ms:.1f}",
                f"{r.max_rss_mb:.0f}",
                f"{r.baseline.cpu_ms_per_request:.2f} / {r.market.cpu_ms_per_request:.2f}",
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        out = [f"database: {', '.join(f'{v:,} {k}' for k, v in self.database.items())}"]
        out += [
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in table
        ]
        out += [
            f"memory: max worker RSS under the {MEMORY_BENCHMARK} benchmark, {w} worker(s): {mb:.0f} MB "
            f"(goal < {MEMORY_GOAL_MB:g} MB: {'met' if mb < MEMORY_GOAL_MB else 'NOT met'})"
            for w, mb in self.memory().items()
        ]
        out.append(
            f"JSON: {self.json_checked - len(self.json_mismatches)} of {self.json_checked} list URLs answer the baseline's bytes"
        )
        timeouts = sum(res.timeouts for r in self.rows for runs in r.runs.values() for res in runs)
        out.append(
            f"errors market logged, by worker count: {self.server_errors or 'none'}; answers slower than {WRK_TIMEOUT}: {timeouts}"
        )
        out.append("result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)))
        return out


# -- targets ---------------------------------------------------------------------------------

# Filters on every level the region select offers: the province, a prefecture, a county,
# with the share of list URLs each gets (a level without notices gives its share to the
# others). The code at each level is read from the notice's own region; the region table
# says which codes exist at that level, so each filter is one market accepts.
REGION_LEVELS = {
    "province": ("substr(n.region, 1, 2) || '0000'", 0.2),
    "prefecture": ("substr(n.region, 1, 4) || '00'", 0.5),
    "county": ("n.region", 0.3),
}


async def _list_combos(conn: asyncpg.Connection, level: str, limit: int) -> list[tuple[str, str, int]]:
    """The (category, region) filters with the most public notices at one region level."""
    rows = await conn.fetch(
        f"SELECT n.category, r.code, count(*) AS c FROM notice n JOIN region r ON r.code = {REGION_LEVELS[level][0]} AND r.level = $1 "
        "WHERE n.status <> 'draft' GROUP BY 1, 2 ORDER BY c DESC, 1, 2 LIMIT $2",
        level,
        limit,
    )
    return [(r["category"], r["code"], r["c"]) for r in rows]


async def _notice_cursor(conn: asyncpg.Connection, category: str, region: str, position: int) -> str | None:
    """The cursor of the page that starts at ``position`` in the filtered list: the id of
    the notice just before it, as the page before would have handed it out."""
    if position <= 0:
        return None
    after = await conn.fetchval(
        "SELECT id FROM notice WHERE status <> 'draft' AND category = $1 AND region LIKE $2 ORDER BY id DESC OFFSET $3 LIMIT 1",
        category,
        scope_prefix(region) + "%",
        position - 1,
    )
    return encode_cursor(after) if after is not None else None


def _depth(count: int, rng: random.Random) -> int:
    """Where a page starts in a list of ``count``: mostly past its middle and a full page
    where the list allows (deep cursors are the costly ones), now and then the first page."""
    last = max(0, count - PAGE)
    return 0 if rng.random() < 0.1 else rng.randint(last // 2, last)


async def list_targets(conn: asyncpg.Connection, n: int, rng: random.Random) -> list[str]:
    """Query strings of the public list: category and region filters, deep cursors."""
    combos = {level: await _list_combos(conn, level, max(1, n // 8)) for level in REGION_LEVELS}
    shares = {level: REGION_LEVELS[level][1] for level in combos if combos[level]}
    out: list[str] = []
    for level, share in shares.items():
        quota = round(n * share / sum(shares.values()))
        for i in range(quota):
            category, region, count = combos[level][i % len(combos[level])]
            cursor = await _notice_cursor(conn, category, region, _depth(count, rng))
            out.append(
                urlencode({"category": category, "region": region, **({"cursor": cursor} if cursor else {})})
            )
    rng.shuffle(out)
    return out


async def detail_targets(conn: asyncpg.Connection, n: int) -> list[str]:
    """Notice pages across every public status, as many of each as there are to pick."""
    statuses = [
        r[0]
        for r in await conn.fetch("SELECT DISTINCT status FROM notice WHERE status <> 'draft' ORDER BY 1")
    ]
    per_status = max(1, n // max(1, len(statuses)))
    rows = await conn.fetch(
        "SELECT public_id FROM (SELECT public_id, row_number() OVER (PARTITION BY status ORDER BY md5(public_id)) AS k "
        "FROM notice WHERE status <> 'draft') x WHERE k <= $1 ORDER BY md5(public_id || 'order')",
        per_status,
    )
    return [f"/notices/{r[0]}" for r in rows]


async def directory_targets(conn: asyncpg.Connection, n: int, rng: random.Random) -> list[str]:
    """Directory pages: the first page, category, prefecture and both filters, with
    cursors deep into each (approved agencies, as the directory shows by default)."""
    combos = await conn.fetch(
        "SELECT c.category, r.code, count(*) AS k FROM agency a JOIN agency_category c ON c.agency_id = a.id "
        "JOIN region r ON r.code = substr(a.region, 1, 4) || '00' AND r.level = 'prefecture' WHERE a.status = 'approved' "
        "GROUP BY 1, 2 ORDER BY k DESC, 1, 2 LIMIT $1",
        max(1, n // 4),
    )
    categories = await conn.fetch(
        "SELECT c.category, count(*) AS k FROM agency a JOIN agency_category c ON c.agency_id = a.id "
        "WHERE a.status = 'approved' GROUP BY 1 ORDER BY k DESC, 1"
    )
    total = await conn.fetchval("SELECT count(*) FROM agency WHERE status = 'approved'")
    filters: list[tuple[dict[str, str], str, list[Any]]] = [({}, "", [])]
    filters += [
        (
            {"category": c["category"]},
            "AND EXISTS (SELECT 1 FROM agency_category c WHERE c.agency_id = a.id AND c.category = $2)",
            [c["category"]],
        )
        for c in categories
    ]
    filters += [
        (
            {"category": c["category"], "region": c["code"]},
            "AND EXISTS (SELECT 1 FROM agency_category c WHERE c.agency_id = a.id AND c.category = $2) AND a.region LIKE $3",
            [c["category"], c["code"][:4] + "%"],
        )
        for c in combos
    ]
    counts = [total] + [c["k"] for c in categories] + [c["k"] for c in combos]
    out: list[str] = []
    while len(out) < n and filters:
        for (chosen, where, args), count in zip(filters, counts):
            if len(out) >= n:
                break
            position = _depth(count, rng)
            cursor = None
            if position > 0:
                after = await conn.fetchval(
                    f"SELECT a.id FROM agency a WHERE a.status = 'approved' {where} ORDER BY a.id DESC OFFSET $1 LIMIT 1",
                    position - 1,
                    *args,
                )
                cursor = encode_cursor(after) if after is not None else None
            params = {**chosen, **({"cursor": cursor} if cursor else {})}
            out.append("/agencies" + ("?" + urlencode(params) if params else ""))
    rng.shuffle(out)
    return out


async def pick_targets(url: str, options: Options) -> Targets:
    rng = random.Random(options.rng_seed)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        queries = await list_targets(conn, options.targets, rng)
        targets = Targets(
            list_json=[f"/api/v1/notices?{q}" for q in queries],
            list_html=[f"/notices?{q}" for q in queries],
            detail_html=await detail_targets(conn, options.targets),
            directory_html=await directory_targets(conn, options.targets, rng),
        )
        for table in ("notice", "agency", "bid", "log_entry"):
            targets.database[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
    for name in ("list_json", "detail_html", "directory_html"):
        if not getattr(targets, name):
            raise SystemExit(f"the database holds nothing for {name}: seed it first (ops/bench/seed.py)")
    return targets


# -- the servers -----------------------------------------------------------------------------


@contextmanager
def baseline_server(
    database_url: str, workdir: Path, workers: int, *, queue: bool = False
) -> Iterator[tuple[str, int]]:
    """ops/bench/baseline.py under uvicorn with ``workers`` processes, as market serves
    (uvloop and httptools named, as market.cli does; no access log); yields its URL and
    the pid to sample."""
    port = free_port()
    log_path = workdir / f"baseline-{workers}.log"
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": to_asyncpg_dsn(database_url),
        BASELINE_QUEUE_VAR: "1" if queue else "0",
        # ROOT for ops.bench.baseline; first whatever else is set (the probes of --diagnose).
        "PYTHONPATH": os.pathsep.join([*filter(None, [os.environ.get("PYTHONPATH")]), str(ROOT)]),
    }
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "ops.bench.baseline:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--lifespan",
        "on",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, log_path)
        if workers > 1:
            wait_started(log_path, workers)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ while the block runs: ops/load/bids.py's servers() hands its
    children this process's environment plus its own settings."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def worker_pids(pid: int, workers: int) -> list[int]:
    """The processes that answer requests: the server itself with one worker; with more,
    uvicorn's spawned children (not its supervisor, nor multiprocessing's resource tracker)."""
    if workers == 1:
        return [pid]
    out = []
    for child in _tree(pid)[1:]:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
        except OSError:
            pass
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def sampling_rss(pids: Callable[[], list[int]], every: float = 0.1) -> Iterator[dict[int, float]]:
    """The largest VmRSS each process reached while the block ran, sampled every ``every`` s."""
    peaks: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while True:
            for pid in pids():
                peaks[pid] = max(peaks.get(pid, 0.0), rss_mb(pid))
            if stop.wait(every):
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


# -- wrk -------------------------------------------------------------------------------------

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# wrk drops an answer slower than its timeout (2 s by default) from the latency figures; a
# long one keeps slow answers in p99 on a loaded machine.
WRK_TIMEOUT = "10s"


def lua_script(paths: list[str], path: Path) -> Path:
    """A wrk script sending ``paths`` in turn, round robin over all connections."""
    table = ",\n".join("  " + json.dumps(p) for p in paths)  # ASCII only: urlencoded
    path.write_text(
        f"local paths = {{\n{table}\n}}\nlocal n = #paths\nlocal i = 0\n"
        'request = function()\n  i = i % n + 1\n  return wrk.format("GET", paths[i])\nend\n',
        encoding="ascii",
    )
    return path


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    """Requests/s, the 50th and 99th latency percentiles and the errors of wrk's output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    count = re.search(r"^\s+(\d+) requests in", text, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if not (rate and p50 and p99 and count):
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        requests=int(count.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(v) for v in sockets.groups()[:3]) if sockets else 0,
        timeouts=int(sockets.group(4)) if sockets else 0,
    )


def wrk(base_url: str, script: Path, *, duration: int, connections: int) -> WrkResult:
    args = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(script),
        base_url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# -- the runs --------------------------------------------------------------------------------


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def compare_json(baseline_url: str, market_url: str, paths: list[str]) -> list[str]:
    """The paths whose bodies differ; asked twice before counting, since a deadline that
    passes (or the scheduler closing a notice) between the two requests changes a body."""
    differ = []
    for path in paths:
        if all(fetch(baseline_url + path) != fetch(market_url + path) for _ in range(2)):
            differ.append(path)
    return differ


def paced_run(url: str, paths: list[str], options: Options) -> WrkResult:
    """ops/bench/paced.py at ``options.rate``, read as a wrk run (late answers are timeouts)."""
    done = paced.measure(
        url, paths, rate=options.rate, duration=options.duration, connections=options.connections
    )
    return WrkResult(
        requests_per_s=round(done.requests_per_s, 2),
        p50_ms=diagnose.percentile(done.latencies, 0.5) * 1000,
        p99_ms=diagnose.percentile(done.latencies, 0.99) * 1000,
        requests=len(done.latencies),
        non_2xx=done.non_2xx,
        socket_errors=done.errors,
        timeouts=done.late,
    )


def timed_wrk(
    url: str,
    script: Path,
    pids: Callable[[], list[int]],
    options: Options,
    probes: Path | None = None,
    paths: list[str] | None = None,
    database: str | None = None,
) -> tuple[WrkResult, dict[int, float]]:
    """One wrk run (with ``options.rate``, ops/bench/paced.py walking ``paths``), with the RSS
    peaks and the CPU time of the server's workers over it, with ``database`` the CPU time of
    its PostgreSQL backends too, and with ``probes`` (the servers run ops/bench/diagnose.py's)
    what they saw during it."""
    workers = pids()
    if probes is not None:
        diagnose.collect(probes, workers)  # what came before the run is dropped
    before = sum(_process_cpu(p) for p in workers)
    backends = {p: _process_cpu(p) for p in database_backends(database)} if database else {}
    with sampling_rss(pids) as peaks:
        if options.rate:
            result = paced_run(url, paths or [], options)
        else:
            result = wrk(url, script, duration=options.duration, connections=options.connections)
    spent = sum(_process_cpu(p) for p in workers) - before
    result.cpu_ms_per_request = round(spent * 1000 / result.requests, 3) if result.requests else 0.0
    if database and result.requests:
        # A backend the pool opened during the run counts from its start; one that closed
        # during it is lost (the pools keep theirs open).
        db_spent = sum(_process_cpu(p) - backends.get(p, 0.0) for p in database_backends(database))
        result.database_cpu_ms_per_request = round(db_spent * 1000 / result.requests, 3)
    if probes is not None:
        result.diagnosis = diagnose.summarise(diagnose.collect(probes, workers))
    return result, peaks


def measure(
    benchmark: Benchmark,
    workers: int,
    scripts: dict[str, Path],
    baseline: tuple[str, int],
    market: tuple[str, int],
    options: Options,
    probes: Path | None = None,
    targets: Targets | None = None,
) -> Row:
    """Baseline then market, ``rounds`` times interleaved (so a machine that slows down
    slows both); the best run of each side, and the RSS its workers reached in any run."""
    runs: dict[str, list[WrkResult]] = {"baseline": [], "market": []}
    peaks: dict[str, float] = {"baseline": 0.0, "market": 0.0}
    for _ in range(options.rounds):
        for side, (url, pid), script in (
            ("baseline", baseline, scripts["list_json"]),
            ("market", market, scripts[benchmark.key]),
        ):
            paths = (
                getattr(targets, "list_json" if side == "baseline" else benchmark.key) if targets else None
            )
            result, sampled = timed_wrk(
                url, script, partial(worker_pids, pid, workers), options, probes, paths
            )
            runs[side].append(result)
            if result.diagnosis:
                print(
                    f"  {benchmark.name}, {workers} worker(s), {side}: {result.requests_per_s:.0f} req/s, "
                    f"wrk p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms",
                    *("    " + line for line in diagnose.lines(result.diagnosis)),
                    sep="\n",
                    file=sys.stderr,
                )
            peaks[side] = max(peaks[side], *sampled.values(), 0.0)
    best = {side: max(results, key=lambda r: r.requests_per_s) for side, results in runs.items()}
    return Row(
        benchmark=benchmark.name,
        workers=workers,
        goal=benchmark.goal,
        baseline=best["baseline"],
        market=best["market"],
        max_rss_mb=round(peaks["market"], 1),
        baseline_max_rss_mb=round(peaks["baseline"], 1),
        runs=runs,
    )


def run_workers(
    report: Report,
    url: str,
    workdir: Path,
    workers: int,
    targets: Targets,
    scripts: dict[str, Path],
    options: Options,
) -> None:
    chosen = [b for b in BENCHMARKS if b.key in options.benchmarks]
    probes = probe_environment(workdir) if options.diagnose else {}
    with ExitStack() as stack:
        data_dir = server_data_dir(workdir, workers, options.keys)
        with environment({**probes, **({} if options.scheduler else {"MARKET_SCHEDULER_INTERVAL": "0"})}):
            started = stack.enter_context(
                servers(url, data_dir, secret=secrets.token_urlsafe(48), workers=workers, processes=1)
            )
            market = started[0]
            baseline = stack.enter_context(
                baseline_server(url, workdir, workers, queue=options.baseline_queue)
            )
        checked = targets.list_json[: options.json_checks]
        report.json_mismatches += compare_json(baseline[0], market[0], checked)
        report.json_checked += len(checked)
        if options.warmup:
            # Unmeasured: every pooled connection prepares its statements, the templates
            # compile, and both sides start the measured runs equally warm.
            wrk(baseline[0], scripts["list_json"], duration=options.warmup, connections=options.connections)
            for b in chosen:
                wrk(market[0], scripts[b.key], duration=options.warmup, connections=options.connections)
        for b in chosen:
            row = measure(
                b,
                workers,
                scripts,
                baseline,
                market,
                options,
                Path(probes[diagnose.ENV]) if probes else None,
                targets,
            )
            report.rows.append(row)
            print(
                f"  {b.name}, {workers} worker(s): {row.baseline.requests_per_s:.0f} vs {row.market.requests_per_s:.0f} req/s, ratio {row.ratio:.2f}",
                file=sys.stderr,
            )
    # Read after the servers stopped, so that errors logged while stopping count too.
    if errors := server_errors(data_dir):
        report.server_errors[workers] = errors


def probe_environment(workdir: Path) -> dict[str, str]:
    """The environment that loads ops/bench/diagnose.py's probes into a server's workers:
    its ``sitecustomize`` first on PYTHONPATH, then the project (for ``ops``)."""
    out = workdir / "diagnosis"
    out.mkdir(exist_ok=True)
    path = [str(diagnose.site_dir(workdir)), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {diagnose.ENV: str(out), "PYTHONPATH": os.pathsep.join(path)}


def seeded_scratch(stack: ExitStack, scale: float, keys: Path) -> str:
    """A fresh database seeded by ops/bench/seed.py at ``scale`` with the keys in
    ``keys``; dropped at the end."""
    from ops.bench.seed import Sizes, seed

    url = stack.enter_context(scratch_database())
    began = time.monotonic()
    asyncio.run(
        seed(
            url,
            **Sizes.scaled(scale).__dict__,
            data_dir=keys,
            progress=lambda line: print(line, file=sys.stderr),
        )
    )
    print(f"seeded at scale {scale:g} in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return url


def server_data_dir(workdir: Path, workers: int, keys: str | None) -> Path:
    """A data dir of its own for each server (its log is counted for started workers), with
    copies of the seed's keys and secret when there are any (not the private cluster)."""
    data_dir = workdir / f"market-{workers}"
    data_dir.mkdir(parents=True)
    for path in Path(keys).iterdir() if keys else ():
        if path.is_file():
            shutil.copy2(path, data_dir / path.name)
    return data_dir


def run(options: Options, *, database_url: str | None = None) -> Report:
    """The whole run. ``database_url``: a seeded database to use as it is (tests hand in
    theirs); otherwise a seeded scratch one (``options.scratch``) or DATABASE_URL's."""
    report = Report(options=asdict(options))
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-http-bench-"))
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
        targets = asyncio.run(pick_targets(url, options))
        report.database = targets.database
        scripts = {
            name: lua_script(getattr(targets, name), workdir / f"{name}.lua")
            for name in ("list_json", "list_html", "detail_html", "directory_html")
        }
        print(f"benchmarking on {make_url(url).database}: {targets.database}", file=sys.stderr)
        for workers in options.workers:
            run_workers(report, url, workdir, workers, targets, scripts, options)
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker counts to run, comma-separated (default 1,2)"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved runs per side; the best is kept (default 2)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="seconds of unmeasured load per server and benchmark (default 1; 0: none)",
    )
    parser.add_argument(
        "--scratch",
        action="store_true",
        help="seed a fresh database with ops/bench/seed.py instead of using DATABASE_URL's",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="with --scratch: the seed's size, 1 = 100,000 notices (default 1)",
    )
    parser.add_argument(
        "--keys",
        default=None,
        metavar="DIR",
        help="the data dir the database was seeded with (MARKET_DATA_DIR of ops/bench/seed.py), for its keys",
    )
    parser.add_argument(
        "--scheduler",
        action="store_true",
        help="leave market's scheduler on in the measured servers (default: off, as in the baseline)",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="probe both servers' workers (ops/bench/diagnose.py): event-loop lag, collector pauses, "
        "pool waits and each request's spans, printed per run",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests a second sent to both servers at a fixed pace (ops/bench/paced.py) instead of "
        "wrk's closed loop: latency at equal offered load (default 0: wrk)",
    )
    parser.add_argument(
        "--baseline-queue",
        action="store_true",
        help="the baseline waits for a connection in a first-come queue, as market's readers do "
        "(ops/bench/baseline.py, BENCH_READER_QUEUE)",
    )
    parser.add_argument("--targets", type=int, default=200, help="URLs per benchmark (default 200)")
    parser.add_argument(
        "--only",
        default=None,
        help="benchmarks to run, comma-separated: " + ",".join(b.key for b in BENCHMARKS),
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON to FILE ('-' for stdout)"
    )
    args = parser.parse_args(argv)
    workers = tuple(int(w) for w in args.workers.split(","))
    names = tuple(n.strip() for n in args.only.split(",")) if args.only else tuple(b.key for b in BENCHMARKS)
    if (
        min(workers) < 1
        or args.duration < 1
        or args.connections < 1
        or args.rounds < 1
        or args.targets < 1
        or args.scale <= 0
        or args.rate < 0
    ):
        parser.error(
            "--workers, --duration, --connections, --rounds and --targets must be at least 1, --scale positive, --rate not negative"
        )
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
        scheduler=args.scheduler,
        targets=args.targets,
        benchmarks=names,
        diagnose=args.diagnose,
        rate=args.rate,
        baseline_queue=args.baseline_queue,
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    report = run(options)
    emit(report, args.json)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
