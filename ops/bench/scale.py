#!/usr/bin/env python3
"""Flat costs from one data set to one ten times its size (issue 24, items 2 and 5).

    .venv/bin/python ops/bench/scale.py --small URL1 --large URL10 --keys var/
    .venv/bin/python ops/bench/scale.py --small URL1 --large URL10 --keys var/ --only list_json_county,log_type
    .venv/bin/python ops/bench/scale.py --small URL1 --large URL10 --keys var/ --explain-only
    .venv/bin/python ops/bench/scale.py ... --json scale.json

The issue asks that every public page and API list, the supervision console, the
statistics and the log endpoints serve at least 0.9 of their scale-1 throughput at scale 10
(same run, same server settings), and that EXPLAIN on the scale-10 data shows no
sequential scan and no plan node discarding more than a page's worth of rows.

1. Two seeded databases on one server, ``--small`` and ``--large`` (ops/bench/seed.py at
   --scale 1 and 10), and ``--keys``, the data dir they were seeded with (its keys sign
   the checkpoints the log pages read; ``--large-keys`` where the large one's differ).
   Both are only read: the supervisor's and the administrator's sessions are tokens
   issued for users the seed made (``supervisor1@seed.market.cn``, ``admin1@...``, or
   else any province-wide one), with the servers' secret, not new accounts.
2. Pages (``PAGES``): each a list of URLs wrk walks in turn, chosen on each database the
   same way: the same filters by rank (the category and region with the most notices at
   each region level, ...), the same objects by the same order (md5 of public ids), and
   cursors at the same *relative* depth (fixed fractions of each filtered list's length,
   ``SameDepths``), so that the ratio compares like with like.
3. ``market serve --workers 1`` on each database at once (scheduler off unless
   ``--scheduler``, as ops/bench/endpoints.py), and for each page wrk (``-t1``, up to
   ``--connections``, fewer for a page slow alone: halls.load_for, the same for both)
   on small then large, ``--rounds`` times interleaved, after a warm-up; the best run of
   each; "spread" is a side's best run over its worst (how far the machine let one run
   speak). A page answering 404 on both is "not there", reported and not measured.
4. EXPLAIN (ANALYZE, BUFFERS) of every statement the first ``--explain-paths`` URLs of
   each page run, on the large database, in rolled-back transactions
   (halls.explain_requests): per URL, any sequential scan of a large table (over 10,000
   rows by the planner's estimate), the most rows a node removed by its filter (times its
   loops; nodes on small tables left out) and the most rows a node read from a large
   table (a full index scan removes nothing). "Flat": no such scan, at most a page (20)
   removed, at most FLAT_READ read.

Goals are printed, not enforced. The exit status is 1 only when something failed to run
(transport errors, answers other than 2xx, a page that errs, EXPLAIN that cannot run).

Both databases must be at the code's migration head (``market db upgrade`` with
DATABASE_URL set to each): the servers read whatever columns and tables the code expects.
With ``--scheduler`` the servers close due notices and draw: they write to the databases,
so use it on copies (``CREATE DATABASE copy TEMPLATE seeded``). Running the same database
as both ``--small`` and ``--large`` shows the noise floor of the ratio on the machine.
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
import random  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from market.core.config import normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from market.core.pagination import encode_cursor  # noqa: E402
from ops.bench import halls  # noqa: E402
from ops.bench.endpoints import (  # noqa: E402
    PAGE,
    WrkResult,
    _depth,
    _list_combos,
    _notice_cursor,
    detail_targets,
    directory_targets,
    environment,
    lua_script,
    server_data_dir,
    timed_wrk,
    worker_pids,
    wrk,
)
from ops.load.bids import emit, error_lines, server_errors, servers  # noqa: E402

GOAL = 0.9  # large req/s over small req/s, at least
SIDES = ("small", "large")
LARGE_TABLE_ROWS = 10_000  # a sequential scan of a table this large is reported
# Rows one plan node may read from a large table in a flat plan: a page's worth and the
# rows its joins look up, far below a scan of the table (a draw's candidates: 1,000 at most).
FLAT_READ = 10_000
TOKEN_TTL = halls.TOKEN_TTL
SEARCH = "建设项目"  # a word in many seeded titles, as halls.py searches


@dataclass(frozen=True)
class Page:
    key: str
    name: str
    group: str  # public, console, stats, log
    viewer: str = ""  # "", supervisor or admin: their session cookie (Bearer for /api/)


PAGES = (
    # -- public pages and API lists
    Page("home", "home page", "public"),
    Page("list_json", "notice list JSON, unfiltered", "public"),
    Page("list_json_province", "notice list JSON, category + province", "public"),
    Page("list_json_prefecture", "notice list JSON, category + prefecture", "public"),
    Page("list_json_county", "notice list JSON, category + county", "public"),
    Page("list_html", "notice list page, unfiltered", "public"),
    Page("list_html_province", "notice list page, category + province", "public"),
    Page("list_html_prefecture", "notice list page, category + prefecture", "public"),
    Page("list_html_county", "notice list page, category + county", "public"),
    Page("notice", "notice page", "public"),
    Page("notice_api", "notice API", "public"),
    Page("draw", "draw page", "public"),
    Page("selection_api", "selection API", "public"),
    Page("directory", "directory page, filters", "public"),
    Page("directory_api", "directory API, filters", "public"),
    Page("agency", "agency page", "public"),
    Page("agency_api", "agency API", "public"),
    Page("credit_api", "agency credit API", "public"),
    Page("ratings_api", "agency ratings API", "public"),
    Page("credit", "credit page", "public"),
    Page("halls", "halls page", "public"),
    Page("hall", "hall page", "public"),
    Page("halls_api", "halls API", "public"),
    Page("hall_api", "hall API", "public"),
    Page("feed", "Atom feed, filters", "public"),
    Page("contracts_api", "contracts API", "public"),
    Page("ocds_releases", "OCDS releases API", "public"),
    Page("ocds_records", "OCDS records API", "public"),
    Page("data", "open data page", "public"),
    # -- the supervision console, as the province's supervisor
    Page("console", "console home", "console", "supervisor"),
    Page("console_search", "console notice search", "console", "supervisor"),
    Page("objections", "objections page", "console", "supervisor"),
    Page("contracts", "contracts page", "console", "supervisor"),
    Page("flags", "red flags page", "console", "supervisor"),
    Page("flags_api", "red flags API", "console", "supervisor"),
    Page("flags_kind", "red flags of one kind", "console", "supervisor"),
    Page("staff_agency", "agency staff page + history", "console", "supervisor"),
    Page("staff_notice", "notice staff page", "console", "supervisor"),
    Page("staff_owner", "owner staff page", "console", "supervisor"),
    Page("board", "board", "console", "supervisor"),
    Page("admin_users", "admin: users", "console", "admin"),
    Page("admin_agencies", "admin: agencies", "console", "admin"),
    # -- statistics
    Page("stats", "statistics page", "stats"),
    Page("stats_prefecture", "statistics page, prefecture", "stats"),
    Page("stats_api", "statistics API", "stats"),
    Page("stats_api_prefecture", "statistics API, prefecture", "stats"),
    Page("stats_csv", "statistics CSV tables", "stats"),
    # -- the log
    Page("log_entries_api", "log entries API", "log"),
    Page("log_checkpoint", "log checkpoint", "log"),
    Page("log_inclusion", "inclusion proof", "log"),
    Page("log_consistency", "consistency proof", "log"),
    Page("log_cosigners", "cosigners API", "log"),
    Page("log_page", "log page (types list)", "log"),
    Page("log_deep", "log page, deep cursor", "log"),
    Page("log_type", "log page, type + deep cursor", "log"),
    Page("log_notice", "log page, notice filter", "log"),
    Page("log_entry", "log entry page", "log"),
    Page("log_verify", "log verify page", "log"),
    Page("log_witness", "log witness page", "log"),
)
KEYS = tuple(p.key for p in PAGES)


@dataclass(frozen=True)
class Options:
    small: str = ""
    large: str = ""
    keys: str | None = None
    large_keys: str | None = None  # default: keys
    duration: int = 5
    connections: int = 32
    rounds: int = 2
    warmup: int = 1
    targets: int = 20  # URLs per page, where the page has that many to pick
    explain_paths: int = 2  # URLs per page explained
    scheduler: bool = False
    pages: tuple[str, ...] = KEYS
    explain: bool = True
    http: bool = True  # False: the EXPLAIN part alone


# -- relative depths -------------------------------------------------------------------------


GOLDEN = 0.6180339887498949
SILVER = 0.4142135623730951


class SameDepths(random.Random):
    """A random.Random whose draws are fixed fractions, the same stream on both databases:
    endpoints.py's pickers (``_depth``: "now and then the first page, else somewhere past
    the middle") then put cursors at the same relative depth of lists of different lengths,
    where a seeded generator's ``randint`` over different ranges would draw apart."""

    def __init__(self) -> None:
        super().__init__(1)  # shuffle draws from this state: the same order for the same length
        self.drawn = 0

    def random(self) -> float:
        self.drawn += 1
        return (self.drawn * GOLDEN) % 1.0

    def randint(self, a: int, b: int) -> int:
        self.drawn += 1
        return min(b, a + int(((self.drawn * SILVER) % 1.0) * (b - a + 1)))

    def fraction(self) -> float:
        """Where in a list a page starts, as a share of its length: as ``_depth`` places it."""
        return _depth(1_000_000, self) / 1_000_000


# -- targets ---------------------------------------------------------------------------------


@dataclass
class Viewer:
    """A user the seed made, and a session token for the servers' secret."""

    role: str
    public_id: str
    email: str
    version: int  # session_version: a token of an older one is refused
    token: str = ""


@dataclass
class Targets:
    paths: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # page key -> why it has no URL
    viewers: dict[str, Viewer] = field(default_factory=dict)
    database: dict[str, int] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)  # codes and sizes chosen, for the report


async def _viewer(conn: asyncpg.Connection, role: str) -> Viewer | None:
    """The seed's first user of ``role`` (``role1@seed.market.cn``), else any active one
    reaching the whole province."""
    row = await conn.fetchrow(
        "SELECT public_id, email, role, session_version FROM app_user WHERE role = $1 AND is_active "
        "AND (jurisdiction = $2 OR jurisdiction IS NULL) ORDER BY email <> $3, id LIMIT 1",
        role,
        halls.PROVINCE,
        f"{role}1@seed.market.cn",
    )
    if row is None:
        return None
    return Viewer(role, row["public_id"], row["email"], int(row["session_version"]))


def _tokens(viewers: dict[str, Viewer], secret: str) -> None:
    """Session tokens for the servers' secret."""
    from market.security.tokens import issue_token

    for viewer in viewers.values():
        viewer.token = issue_token(
            secret=secret,
            subject=viewer.public_id,
            role=viewer.role,
            ttl=TOKEN_TTL,
            version=viewer.version,
        )


async def _notice_list(
    conn: asyncpg.Connection, level: str | None, n: int, depths: SameDepths, prefecture: str
) -> list[str]:
    """Query strings of the notice list: unfiltered (``level`` None) or by the category and
    region with the most public notices at that level (and the next ones by rank), each
    with a cursor at a fixed relative depth (endpoints.py's ``_depth``). Where no notice
    names a county (the seed gives notices a prefecture's or the province's code), the
    counties of ``prefecture`` with the most common categories: a filter that matches few
    or no notices, the case that reads the most to fill a page."""
    out: list[str] = []
    if level is None:
        total = int(await conn.fetchval("SELECT count(*) FROM notice WHERE status <> 'draft'"))
        for _ in range(n):
            position = _depth(total, depths)
            after = None
            if position > 0:
                after = await conn.fetchval(
                    "SELECT id FROM notice WHERE status <> 'draft' ORDER BY id DESC OFFSET $1 LIMIT 1",
                    position - 1,
                )
            out.append(urlencode({"cursor": encode_cursor(after)}) if after is not None else "")
        return out
    combos = await _list_combos(conn, level, max(1, n // 4))
    if not combos and level == "county":
        categories = await conn.fetch(
            "SELECT category FROM notice WHERE status <> 'draft' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2"
        )
        counties = await conn.fetch(
            "SELECT code FROM region WHERE level = 'county' AND substr(code, 1, 4) = $1 ORDER BY code LIMIT $2",
            prefecture[:4],
            max(1, n // 8),
        )
        combos = [(c[0], r[0], 0) for r in counties for c in categories]
    for i in range(n if combos else 0):
        category, region, count = combos[i % len(combos)]
        cursor = await _notice_cursor(conn, category, region, _depth(count, depths))
        out.append(
            urlencode({"category": category, "region": region, **({"cursor": cursor} if cursor else {})})
        )
    return out


async def _ids(conn: asyncpg.Connection, sql: str, n: int) -> list[str]:
    return [str(r[0]) for r in await conn.fetch(sql, n)]


async def pick(url: str, wanted: Sequence[str], n: int) -> Targets:
    """Each wanted page's URLs on the database at ``url``, picked as on any other."""
    targets = Targets()
    scopes, targets.database = await halls.pick_scopes(url)
    prefecture, county = scopes[1].code, scopes[2].code
    targets.context.update(prefecture=prefecture, county=county)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        targets.database["agency"] = int(await conn.fetchval("SELECT count(*) FROM agency"))
        for role in ("supervisor", "admin"):
            if (viewer := await _viewer(conn, role)) is not None:
                targets.viewers[role] = viewer
        size = int(await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM log_entry"))
        targets.context["log size"] = str(size)
        depths = SameDepths()
        seqs = [int(depths.fraction() * max(0, size - 1)) for _ in range(n)]
        paths = targets.paths
        want = set(wanted)

        for level, suffix in (
            (None, ""),
            ("province", "_province"),
            ("prefecture", "_prefecture"),
            ("county", "_county"),
        ):
            if want & {f"list_json{suffix}", f"list_html{suffix}"}:
                queries = await _notice_list(conn, level, n, SameDepths(), prefecture)
                paths[f"list_json{suffix}"] = [f"/api/v1/notices?{q}".rstrip("?") for q in queries]
                paths[f"list_html{suffix}"] = [f"/notices?{q}".rstrip("?") for q in queries]
        if want & {"notice", "notice_api", "staff_notice", "log_notice"}:
            notices = [p.rsplit("/", 1)[1] for p in await detail_targets(conn, n)]
            paths["notice"] = [f"/notices/{i}" for i in notices]
            paths["notice_api"] = [f"/api/v1/notices/{i}" for i in notices]
            paths["staff_notice"] = [f"/supervision/notices/{i}" for i in notices]
            paths["log_notice"] = [f"/log?{urlencode({'notice_id': i})}" for i in notices]
        if want & {"draw", "selection_api"}:
            drawn = await _ids(
                conn,
                "SELECT n.public_id FROM notice n JOIN selection s ON s.notice_id = n.id "
                "ORDER BY md5(n.public_id) LIMIT $1",
                n,
            )
            paths["draw"] = [f"/notices/{i}/draw" for i in drawn]
            paths["selection_api"] = [f"/api/v1/notices/{i}/selection" for i in drawn]
        if want & {"directory", "directory_api"}:
            directory = await directory_targets(conn, n, SameDepths())
            paths["directory"] = directory
            paths["directory_api"] = [p.replace("/agencies", "/api/v1/agencies", 1) for p in directory]
        if want & {"agency", "agency_api", "credit_api", "ratings_api", "staff_agency", "contracts_api"}:
            agencies = await _ids(
                conn,
                "SELECT public_id FROM agency WHERE status = 'approved' ORDER BY md5(public_id) LIMIT $1",
                n,
            )
            paths["agency"] = [f"/agencies/{i}" for i in agencies]
            paths["agency_api"] = [f"/api/v1/agencies/{i}" for i in agencies]
            paths["credit_api"] = [f"/api/v1/agencies/{i}/credit" for i in agencies]
            paths["ratings_api"] = [f"/api/v1/agencies/{i}/ratings" for i in agencies]
            paths["staff_agency"] = [f"/supervision/agencies/{i}" for i in agencies]
            paths["contracts_api"] = ["/api/v1/contracts"] + [
                f"/api/v1/contracts?{urlencode({'agency_id': i})}" for i in agencies[: max(1, n // 2)]
            ]
        if "staff_owner" in want:
            owners = await _ids(conn, "SELECT public_id FROM owner_org ORDER BY md5(public_id) LIMIT $1", n)
            paths["staff_owner"] = [f"/supervision/owners/{i}" for i in owners]
        if "feed" in want:
            combos = await _list_combos(conn, "prefecture", 2)
            paths["feed"] = ["/feeds/notices.atom", f"/feeds/notices.atom?hall={prefecture}"] + [
                f"/feeds/notices.atom?{urlencode({'category': c, 'region': r})}" for c, r, _ in combos
            ]
        if want & {"log_type"}:
            types = [r[0] for r in await conn.fetch("SELECT DISTINCT type FROM log_entry ORDER BY 1")]
            paths["log_type"] = [
                f"/log?{urlencode({'type': types[i % len(types)], 'cursor': encode_cursor(seq)})}"
                for i, seq in enumerate(seqs)
                if types
            ]
        # One URL each, or a fixed set: the same on every database.
        from market.stats.present import TABLES
        from market.supervision.flags.rules import KINDS

        paths.update(
            flags_kind=[f"/supervision/flags/{kind}" for kind in KINDS],
            stats_csv=[f"/stats/{table}.csv" for table in TABLES],
            home=["/"],
            credit=["/credit"],
            halls=["/halls"],
            hall=[f"/halls/{prefecture}", f"/halls/{county}"],
            halls_api=["/api/v1/halls"],
            hall_api=[f"/api/v1/halls/{prefecture}", f"/api/v1/halls/{county}"],
            ocds_releases=["/api/v1/ocds/releases"],
            ocds_records=["/api/v1/ocds/records"],
            data=["/data"],
            console=["/supervision"],
            console_search=[f"/supervision?{urlencode({'q': SEARCH})}"],
            objections=["/supervision/objections"],
            contracts=["/supervision/contracts"],
            flags=["/supervision/flags"],
            flags_api=["/api/v1/supervision/flags"],
            board=["/supervision/board"],
            admin_users=["/admin/users"],
            admin_agencies=["/admin/agencies"],
            stats=["/stats"],
            stats_prefecture=[f"/stats?jurisdiction={prefecture}"],
            stats_api=["/api/v1/stats"],
            stats_api_prefecture=[f"/api/v1/stats?jurisdiction={prefecture}"],
            log_checkpoint=["/api/v1/log/checkpoint"],
            log_cosigners=["/api/v1/log/cosigners"],
            log_page=["/log"],
            log_verify=["/log/verify"],
            log_witness=["/log/witness"],
        )
        if size:
            paths["log_entries_api"] = [f"/api/v1/log/entries?start={s}&end={s + PAGE}" for s in seqs]
            paths["log_inclusion"] = [f"/api/v1/log/proof/inclusion?index={s}&size={size}" for s in seqs]
            paths["log_consistency"] = [
                f"/api/v1/log/proof/consistency?first={max(1, s)}&second={size}" for s in seqs
            ]
            paths["log_deep"] = [f"/log?{urlencode({'cursor': encode_cursor(s)})}" for s in seqs if s]
            paths["log_entry"] = [f"/log/entries/{s}" for s in seqs]
    finally:
        await conn.close()
    for page in PAGES:
        if page.key not in want:
            paths.pop(page.key, None)
        elif not paths.get(page.key):
            paths.pop(page.key, None)
            targets.missing[page.key] = "the database holds nothing to ask it for"
        elif page.viewer and page.viewer not in targets.viewers:
            paths.pop(page.key, None)
            targets.missing[page.key] = f"the database has no province-wide {page.viewer}"
    return targets


def headers_for(page: Page, path: str, viewers: dict[str, Viewer]) -> dict[str, str]:
    if not page.viewer:
        return {}
    token = viewers[page.viewer].token
    if path.startswith("/api/"):
        return {"Authorization": f"Bearer {token}"}
    return {"Cookie": f"market_session={token}"}


def script_for(paths: list[str], headers: dict[str, str], file: Path) -> Path:
    """endpoints.py's round-robin script, with the page's headers set first."""
    lua_script(paths, file)
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    file.write_text(
        "".join(line + "\n" for line in lines) + file.read_text(encoding="ascii"), encoding="ascii"
    )
    return file


# -- the report ------------------------------------------------------------------------------


@dataclass
class Row:
    page: str
    name: str
    group: str
    small: WrkResult
    large: WrkResult
    connections: int
    urls: int
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.large.requests_per_s / self.small.requests_per_s if self.small.requests_per_s else 0.0

    @property
    def met(self) -> bool:
        return self.ratio >= GOAL

    def spread(self, side: str) -> float:
        """The best of a side's runs over its worst: how far one run says anything on a
        machine shared with other work (1.0 with one round)."""
        rates = [r.requests_per_s for r in self.runs.get(side, ())]
        return max(rates) / min(rates) if rates and min(rates) > 0 else 0.0


@dataclass
class Report:
    options: dict[str, Any]
    database: dict[str, dict[str, int]] = field(default_factory=dict)  # side -> table -> rows
    context: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    plans: list[halls.Plan] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # page name -> why it was not measured
    broken: list[str] = field(default_factory=list)
    server_errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)  # the first few, as logged
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        out = [
            f"{r.name}, {side}: {res.non_2xx} non-2xx, {res.socket_errors} socket errors, {res.requests} requests"
            for r in self.rows
            for side, runs in r.runs.items()
            for res in runs
            if not res.clean
        ]
        out += self.broken
        out += [f"EXPLAIN {p.benchmark}: {'; '.join(p.errors)}" for p in self.plans if p.errors]
        return out

    def as_dict(self) -> dict[str, Any]:
        rows = [
            {
                **asdict(r),
                "ratio": round(r.ratio, 3),
                "met": r.met,
                "spread": {s: round(r.spread(s), 3) for s in SIDES},
            }
            for r in self.rows
        ]
        plans = [{**asdict(p), "flat": flat(p)} for p in self.plans]
        return {**asdict(self), "rows": rows, "plans": plans, "failures": self.failures}

    def lines(self) -> list[str]:
        out = [
            f"database {side}: {', '.join(f'{v:,} {k}' for k, v in tables.items())}"
            for side, tables in self.database.items()
        ]
        out += [
            f"chosen on {side}: {', '.join(f'{k} {v}' for k, v in c.items())}"
            for side, c in self.context.items()
        ]
        if self.rows:
            head = (
                "page",
                "group",
                "URLs",
                "conns",
                "small req/s",
                "large req/s",
                "ratio",
                "goal",
                "met?",
                "p99 ms small",
                "p99 ms large",
                "CPU ms/req small/large",
                "DB CPU ms/req small/large",
                "spread small/large",
            )
            table: list[tuple[str, ...]] = [head]
            table += [
                (
                    r.name,
                    r.group,
                    str(r.urls),
                    str(r.connections),
                    halls._rate(r.small.requests_per_s),
                    halls._rate(r.large.requests_per_s),
                    f"{r.ratio:.2f}",
                    f">= {GOAL:g}",
                    "yes" if r.met else "NO",
                    f"{r.small.p99_ms:.1f}",
                    f"{r.large.p99_ms:.1f}",
                    f"{r.small.cpu_ms_per_request:.2f} / {r.large.cpu_ms_per_request:.2f}",
                    f"{r.small.database_cpu_ms_per_request:.2f} / {r.large.database_cpu_ms_per_request:.2f}",
                    f"{r.spread('small'):.2f} / {r.spread('large'):.2f}",
                )
                for r in self.rows
            ]
            out += halls._aligned(table)
            met = sum(r.met for r in self.rows)
            out.append(f"ratio >= {GOAL:g}: {met} of {len(self.rows)} pages")
        if self.plans:
            plan_head = (
                "EXPLAIN (large): page",
                "URL",
                "statements",
                "total ms",
                "seq scan of a large table",
                "most rows a node removed (large tables)",
                "most rows a node read (large tables)",
                "flat?",
            )
            plans: list[tuple[str, ...]] = [plan_head]
            plans += [
                (
                    p.benchmark,
                    p.scope,
                    str(p.statements),
                    f"{p.execution_ms:.1f}",
                    ", ".join(f"{t} ({n:,} rows read)" for t, n in p.seq_scans.items()) or "none",
                    f"{p.large_removed:,}" + (f" ({p.large_removed_at})" if p.large_removed_at else ""),
                    f"{p.large_read:,}" + (f" ({p.large_read_at})" if p.large_read_at else ""),
                    "yes" if flat(p) else "NO",
                )
                for p in self.plans
            ]
            out += halls._aligned(plans, left=(0, 1, 4, 5, 6))
            worst = [p for p in self.plans if not flat(p)]
            out.append(
                f"EXPLAIN flat (no seq scan of a large table, at most {PAGE} rows removed and {FLAT_READ:,} read "
                f"by a node): {len(self.plans) - len(worst)} of {len(self.plans)} URLs"
            )
            out += [f"  slowest statement of {p.benchmark} ({p.worst_ms:.1f} ms): {p.worst}" for p in worst]
        out += [f"not measured: {name}: {why}" for name, why in self.missing.items()]
        out.append(f"errors market logged: {self.server_errors or 'none'}; {self.seconds:.0f} s in all")
        out += [f"  {line}" for line in self.error_samples]
        out.append("result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)))
        return out


def flat(plan: halls.Plan) -> bool:
    """No sequential scan of a large table, no node outside the small tables removing
    more than a page of rows, none reading more than FLAT_READ rows of a large table."""
    return not plan.seq_scans and plan.large_removed <= PAGE and plan.large_read <= FLAT_READ


# -- EXPLAIN ---------------------------------------------------------------------------------


async def large_tables(url: str) -> tuple[str, ...]:
    """The tables holding more than LARGE_TABLE_ROWS rows (by the planner's estimate)."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.reltuples > $1 ORDER BY 1",
            float(LARGE_TABLE_ROWS),
        )
    finally:
        await conn.close()
    return tuple(r[0] for r in rows)


def explain(
    url: str, targets: Targets, chosen: list[Page], options: Options, workdir: Path
) -> list[halls.Plan]:
    secret = secrets.token_urlsafe(48)
    _tokens(targets.viewers, secret)
    requests = [
        halls.Request(page.name, path, "", path, headers_for(page, path, targets.viewers))
        for page in chosen
        if page.key in targets.paths
        for path in targets.paths[page.key][: options.explain_paths]
    ]
    data_dir = server_data_dir(workdir, 0, options.large_keys or options.keys)
    # Sequential scans reported: of every table the large database holds more than
    # LARGE_TABLE_ROWS rows of, not only halls.py's list.
    large = asyncio.run(large_tables(url))
    return asyncio.run(halls.explain_requests(url, requests, secret, data_dir, large))


# -- HTTP ------------------------------------------------------------------------------------


def measure(
    report: Report,
    chosen: list[Page],
    urls: dict[str, str],
    targets: dict[str, Targets],
    options: Options,
    workdir: Path,
) -> None:
    secret = secrets.token_urlsafe(48)
    for side in SIDES:
        _tokens(targets[side].viewers, secret)
    keys = {"small": options.keys, "large": options.large_keys or options.keys}
    data_dirs = {side: server_data_dir(workdir / side, 1, keys[side]) for side in SIDES}
    with ExitStack() as stack:
        with environment({} if options.scheduler else {"MARKET_SCHEDULER_INTERVAL": "0"}):
            started = {
                side: stack.enter_context(
                    servers(urls[side], data_dirs[side], secret=secret, workers=1, processes=1)
                )[0]
                for side in SIDES
            }
        for page in chosen:
            if any(page.key not in targets[side].paths for side in SIDES):
                continue
            scripts: dict[str, Path] = {}
            probes: dict[str, tuple[int, float]] = {}
            for side in SIDES:
                paths = targets[side].paths[page.key]
                headers = headers_for(page, paths[0], targets[side].viewers)
                scripts[side] = script_for(paths, headers, workdir / f"{page.key}-{side}.lua")
                base = started[side][0]
                halls.probe(base + paths[0], headers)  # the first: connections, caches
                probes[side] = halls.probe(base + paths[-1], headers)
            if all(status == 404 for status, _ in probes.values()):
                report.missing[page.name] = "answers 404 on both (not there)"
                continue
            if bad := {side: status for side, (status, _) in probes.items() if not 200 <= status < 300}:
                report.broken.append(f"{page.name}: {bad}")
                continue
            slowest = max(seconds for _, seconds in probes.values())
            load = halls.load_for(
                slowest, halls.Options(duration=options.duration, connections=options.connections)
            )
            if options.warmup and slowest < options.warmup:
                for side in SIDES:
                    wrk(
                        started[side][0], scripts[side], duration=options.warmup, connections=load.connections
                    )
            runs: dict[str, list[WrkResult]] = {side: [] for side in SIDES}
            for _ in range(options.rounds):
                for side in SIDES:  # interleaved: a machine that slows down slows both
                    base, pid = started[side]
                    pids = partial(worker_pids, pid, 1)
                    database = make_url(urls[side]).database
                    result = timed_wrk(base, scripts[side], pids, load, database=database)[0]
                    if result.requests == 0 and not result.non_2xx and not result.socket_errors:
                        # Nothing answered within the run: the page got slower than its probe
                        # said (a busy machine), not wrong. Once more, long enough to count.
                        result = timed_wrk(
                            base,
                            scripts[side],
                            pids,
                            replace(load, duration=4 * load.duration),
                            database=database,
                        )[0]
                    runs[side].append(result)
                    if slowest > 1.0:  # the answers wrk left behind finish before the next run
                        time.sleep(slowest)
            best = {side: max(v, key=lambda r: r.requests_per_s) for side, v in runs.items()}
            row = Row(
                page.key,
                page.name,
                page.group,
                best["small"],
                best["large"],
                load.connections,
                len(targets["large"].paths[page.key]),
                runs,
            )
            report.rows.append(row)
            print(
                f"  {page.name}: {halls._rate(row.small.requests_per_s)} vs {halls._rate(row.large.requests_per_s)} req/s, "
                f"ratio {row.ratio:.2f} ({load.connections} connections); CPU ms a request: server "
                f"{row.small.cpu_ms_per_request:.2f} vs {row.large.cpu_ms_per_request:.2f}, database "
                f"{row.small.database_cpu_ms_per_request:.2f} vs {row.large.database_cpu_ms_per_request:.2f}",
                file=sys.stderr,
            )
    for side in SIDES:
        if errors := server_errors(data_dirs[side]):
            report.server_errors[side] = errors
            report.error_samples += [f"{side}: {line}" for line in error_lines(data_dirs[side])[:3]]


def run(options: Options) -> Report:
    began = time.monotonic()
    report = Report(options=asdict(options))
    urls = {"small": options.small, "large": options.large}
    chosen = [p for p in PAGES if p.key in options.pages]
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-scale-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        sides = SIDES if options.http else ("large",)
        targets: dict[str, Targets] = {}
        for side in sides:
            started = time.monotonic()
            targets[side] = asyncio.run(pick(urls[side], options.pages, options.targets))
            report.database[side] = targets[side].database
            report.context[side] = targets[side].context
            print(
                f"picked the URLs on {make_url(urls[side]).database} in {time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
        for side in sides:
            for key, why in targets[side].missing.items():
                report.missing[next(p.name for p in PAGES if p.key == key)] = f"{side}: {why}"
        if options.http:
            measure(report, chosen, urls, targets, options, workdir)
        if options.explain:
            explained = [p for p in chosen if p.name not in report.missing]
            try:
                report.plans = explain(urls["large"], targets["large"], explained, options, workdir)
            except Exception as exc:  # the HTTP figures are still worth printing
                report.broken.append(f"EXPLAIN could not run: {type(exc).__name__}: {exc}")
    report.seconds = time.monotonic() - began
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", default="", metavar="URL", help="the scale-1 data set's database")
    parser.add_argument("--large", required=True, metavar="URL", help="the scale-10 data set's database")
    parser.add_argument("--keys", default=None, metavar="DIR", help="the data dir both were seeded with")
    parser.add_argument("--large-keys", default=None, metavar="DIR", help="the large one's, where it differs")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections at most (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs per side; the best is kept")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load per page (0: none)")
    parser.add_argument("--targets", type=int, default=20, help="URLs per page, at most (default 20)")
    parser.add_argument("--explain-paths", type=int, default=2, help="URLs per page explained (default 2)")
    parser.add_argument("--scheduler", action="store_true", help="leave market's scheduler on in the servers")
    parser.add_argument("--only", default=None, help="pages, comma-separated: " + ",".join(KEYS))
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN part")
    parser.add_argument("--explain-only", action="store_true", help="only EXPLAIN, on --large; no servers")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)
    pages = tuple(n.strip() for n in args.only.split(",")) if args.only else KEYS
    if min(args.duration, args.connections, args.rounds, args.targets, args.explain_paths) < 1:
        parser.error("--duration, --connections, --rounds, --targets and --explain-paths must be at least 1")
    if not args.small and not args.explain_only:
        parser.error("--small is needed, except with --explain-only")
    if unknown := set(pages) - set(KEYS):
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    options = Options(
        small=normalize_database_url(args.small) if args.small else "",
        large=normalize_database_url(args.large) or args.large,
        keys=args.keys,
        large_keys=args.large_keys,
        duration=args.duration,
        connections=args.connections,
        rounds=args.rounds,
        warmup=args.warmup,
        targets=args.targets,
        explain_paths=args.explain_paths,
        scheduler=args.scheduler,
        pages=pages,
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
