#!/usr/bin/env python3
"""Load test: N distinct agencies bid on one notice within a few seconds (issue 9, item 5).

What it does, in order:

1. A database: a fresh one made by ops/scratch.py, on DATABASE_URL's server, or, without
   DATABASE_URL, on the private PostgreSQL under var/bench-postgres that the benchmarks use
   (started if need be and stopped again); dropped at the end unless ``--keep``.
   With ``--url`` it uses the running server at that address and the database DATABASE_URL
   names (the one that server uses) as it is, and ``--secret`` must be its MARKET_SECRET_KEY.
2. Servers: ``market serve --workers W`` on one port, ``--processes P`` times on P ports
   (requests are spread over them in turn), all on that one database.
3. Preparation, fast and in one process: one owner, one administrator and N agency
   accounts with their agencies, submitted and approved through the service functions (so
   the log holds the same account.created, agency.submitted and agency.approved entries as
   real registrations), all in a few large transactions. Only the password hash is shared:
   one argon2 hash of a random password for all agency accounts, since argon2 is built to
   cost about 50 ms each and nobody logs in with these passwords. Log-in tokens are minted
   with the server's secret (market.security.tokens.issue_token), as POST /auth/token would.
   The notice is created and published over HTTP by the owner.
4. The load, open loop: bid i is sent at t0 + i * seconds / N whatever happened to the
   earlier ones, each on a new connection, and its latency is counted from that planned
   moment (so a slow server or a late client cannot hide queueing: no coordinated omission).
5. Checks: every 201 carries a receipt that verifies under the server's receipt key, the
   bid row, and its ``bid.sealed`` entry at the receipt's seq with the receipt's commitment
   and leaf hash (MSP/2: the entry names no notice; every sealed entry that is not another
   notice's bid must be one of these); bids and sealed entries number exactly the 201s; the
   log is dense; and
   ``market log verify`` passes. p99 is compared with the goal (250 ms) and reported.

Exit status: 0 when nothing was lost, no 5xx, no transport error and every bid got its 201;
1 otherwise. The p99 goal is reported, not enforced (``--enforce-goal`` enforces it).

    .venv/bin/python ops/load/bids.py                       # 1,000 agencies, 10 s, 2 workers
    .venv/bin/python ops/load/bids.py --workers 1
    .venv/bin/python ops/load/bids.py --workers 1 --processes 2
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python ops/load/bids.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from market.core.config import normalize_database_url  # noqa: E402
from market.core.db import to_asyncpg_dsn  # noqa: E402
from market.core.pgembed import free_port  # noqa: E402
from ops.scratch import scratch_database  # noqa: E402

GOAL_P99_MS = 250.0
BUDGET_FEN = 30_000_000
AGENCY_CATEGORY = "EIA"


@dataclass(frozen=True)
class Options:
    agencies: int = 1000
    seconds: float = 10.0
    workers: int = 2
    processes: int = 1
    method: str = "lottery"  # or lowest_price
    goal_ms: float = GOAL_P99_MS
    url: str | None = None  # a running server: use it instead of starting our own
    secret: str | None = None  # that server's MARKET_SECRET_KEY
    deadline_in: float | None = None  # seconds from now to the notice's bid deadline
    timeout: float = 30.0  # per request
    # Bids on another notice first, at half the rate, not measured: a marketplace that has
    # been up for a while has its pooled connections' statements prepared and PostgreSQL's
    # backends warm; a server started seconds before the window has not.
    warmup: int = 100
    keep: bool = False  # keep the scratch database and data dir (for a look afterwards)


@dataclass
class Shot:
    """One bid as the client saw it: planned start, latency from it, status or error."""

    index: int
    planned: float
    lag_ms: float  # how late the client actually sent it (a busy client shows here)
    latency_ms: float
    status: int | None
    body: dict[str, Any] | None
    error: str | None


@dataclass
class Report:
    options: dict[str, Any]
    servers: list[str]
    notice_id: str = ""
    prepare_s: float = 0.0
    duration_s: float = 0.0
    sent: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    max_lag_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    lost: list[str] = field(default_factory=list)  # 201s without their row, entry or receipt
    unexpected: list[str] = field(default_factory=list)  # bids or entries answered otherwise, or half there
    accepted_unanswered: int = 0  # accepted by the server after the client had timed out
    bids_in_database: int = 0
    entries_for_notice: int = 0
    log_size: int = 0
    log_dense: bool = False
    log_verified: bool = False
    log_verify_output: str = ""
    server_errors_logged: int = 0
    served: list[int] = field(default_factory=list)  # bid requests each server process answered
    cpu_ms_per_bid: dict[str, float] = field(
        default_factory=dict
    )  # CPU time spent per bid: servers, postgres, client
    warmup_ok: int = 0  # warm-up bids accepted (on their own notice)
    p99_by_second: list[float] = field(
        default_factory=list
    )  # p99 of the bids planned in each second of the window
    machine_busy_cores: float = 0.0  # busy CPUs over the load window, ours and everyone else's

    @property
    def five_xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("5"))

    @property
    def goal_met(self) -> bool:
        return self.p99_ms < float(self.options["goal_ms"])

    @property
    def failures(self) -> list[str]:
        """Everything that makes the run fail, in words; the p99 goal is not among them."""
        out = []
        if self.lost:
            out.append(f"{len(self.lost)} bids lost (first: {self.lost[:3]})")
        if self.unexpected:
            out.append(
                f"{len(self.unexpected)} bids in the log that were refused or are half there (first: {self.unexpected[:3]})"
            )
        if self.five_xx:
            out.append(f"{self.five_xx} responses 5xx")
        if self.errors:
            out.append(f"{sum(self.errors.values())} requests without an answer: {self.errors}")
        if self.accepted != self.sent:
            out.append(f"only {self.accepted} of {self.sent} bids were accepted: {self.statuses}")
        warmup = min(int(self.options.get("warmup") or 0), int(self.options.get("agencies") or 0))
        if self.warmup_ok != warmup:
            out.append(f"only {self.warmup_ok} of {warmup} warm-up bids were accepted")
        if (
            self.bids_in_database != self.accepted + self.accepted_unanswered
            or self.entries_for_notice != self.bids_in_database
        ):
            out.append(
                f"{self.accepted} bids answered 201 (+{self.accepted_unanswered} accepted after the client gave up), "
                f"{self.bids_in_database} in the database, {self.entries_for_notice} sealed bid entries"
            )
        if not self.log_dense:
            out.append("the log has a gap or a duplicate seq")
        if not self.log_verified:
            out.append(f"market log verify failed: {self.log_verify_output[-500:]}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "five_xx": self.five_xx, "goal_met": self.goal_met, "failures": self.failures}

    def lines(self) -> list[str]:
        o = self.options
        shape = (
            "a running server" if o.get("url") else f"{o['processes']} process(es) x {o['workers']} worker(s)"
        )
        return [
            f"load: {o['agencies']} agencies, one {o['method']} notice {self.notice_id}, over {o['seconds']:g} s, "
            f"{shape}: {', '.join(self.servers)}",
            f"prepared in {self.prepare_s:.1f} s (with {self.warmup_ok} warm-up bids on another notice); sent {self.sent} bids in {self.duration_s:.2f} s = {self.rps:.1f} requests/s",
            f"latency p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms "
            f"(client send lag at most {self.max_lag_ms:.1f} ms)",
            f"statuses {dict(sorted(self.statuses.items()))}, errors {self.errors or 0}, 5xx {self.five_xx}",
            f"accepted {self.accepted} (+{self.accepted_unanswered} after the client gave up); in the database "
            f"{self.bids_in_database} bids, {self.entries_for_notice} sealed bid entries; lost {len(self.lost)}",
            f"log: {self.log_size} entries, dense {'yes' if self.log_dense else 'NO'}, market log verify "
            f"{'passed' if self.log_verified else 'FAILED'}; server errors logged {self.server_errors_logged}; "
            f"bids answered by each server process {self.served or 'unknown'}",
            "p99 by second of the window: " + " ".join(f"{ms:.0f}" for ms in self.p99_by_second) + " ms",
            f"CPU per bid {self.cpu_ms_per_bid or 'unknown'} ms; the machine's {os.cpu_count()} cores were "
            f"{self.machine_busy_cores:.2f} busy over the window (all processes, not only ours)",
            f"p99 goal < {o['goal_ms']:g} ms: {'met' if self.goal_met else 'NOT met'} ({self.p99_ms:.1f} ms)",
            "result: " + ("ok" if not self.failures else "FAILED: " + "; ".join(self.failures)),
        ]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): the value at or below which q% of them lie."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


# -- servers ---------------------------------------------------------------------------------


def server_env(database_url: str, data_dir: Path, secret: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MARKET_DATA_DIR": str(data_dir),
        "MARKET_PORT": str(port),
        "MARKET_ENV": "test",
        "MARKET_SECRET_KEY": secret,
        # The notice's deadline is a minute or two away, not the production day.
        "MARKET_MIN_BID_WINDOW": "0",
    }


def wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become healthy within {timeout:g} s")
        time.sleep(0.1)


def wait_started(log_path: Path, workers: int, timeout: float = 60.0) -> None:
    """Until each of a server's ``workers`` has logged the end of its start-up."""
    give_up = time.monotonic() + timeout
    while log_path.read_text(errors="replace").count("Application startup complete") < workers:
        if time.monotonic() > give_up:
            raise RuntimeError(f"not all {workers} workers started within {timeout:g} s (see {log_path})")
        time.sleep(0.1)


@contextmanager
def servers(
    database_url: str, data_dir: Path, *, secret: str, workers: int, processes: int
) -> Iterator[list[tuple[str, int]]]:
    """``processes`` × ``market serve --workers workers`` on one database and one data dir
    (shared keys), each on its own port; their output goes to data_dir/server-<i>.log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(processes):
            port = free_port()
            log_path = data_dir / f"server-{i}.log"
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "market.cli", "serve", "--workers", str(workers)],
                    cwd=ROOT,
                    env=server_env(database_url, data_dir, secret, port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started.append((f"http://127.0.0.1:{port}", process, log_path))
            if i == 0:
                # The first creates the data dir's keys; the others then only read them.
                wait_healthy(*started[0])
        for entry in started[1:]:
            wait_healthy(*entry)
        if workers > 1:
            # /healthz answered from one worker; wait for the others, or they would join
            # half-way through the window (on a busy machine they start seconds apart).
            for _, _, log_path in started:
                wait_started(log_path, workers)
        yield [(url, process.pid) for url, process, _ in started]
    finally:
        for _, process, _ in started:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def bids_served(data_dir: Path, count: int, notice_id: str) -> list[int]:
    """How many bid requests on ``notice_id`` (not the warm-up's) each server process
    answered, from its access log."""
    served = []
    path_of_bids = f'/api/v1/notices/{notice_id}/bids"'
    for i in range(count):
        path = data_dir / f"server-{i}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        served.append(sum(1 for line in lines if '"method": "POST"' in line and path_of_bids in line))
    return served


def server_errors(data_dir: Path) -> int:
    """Lines the servers logged at level error (tracebacks of 500s land there)."""
    count = 0
    for path in data_dir.glob("server-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"level": "error"' in line or "Traceback" in line:
                count += 1
    return count


def error_lines(data_dir: Path) -> list[str]:
    """The lines server_errors counts, cut short: what went wrong, for the report."""
    out = []
    for path in sorted(data_dir.glob("server-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"level": "error"' in line or "Traceback" in line:
                out.append(line[:300])
    return out


# -- preparation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    owner_token: str
    bidder_tokens: list[str]
    agency_ids: list[str]


async def prepare(database_url: str, *, agencies: int, secret: str, ttl: int = 3600) -> Prepared:
    """An owner with its organisation (in 昆明市's hall: a notice is published in its
    organisation's hall) and ``agencies`` approved agencies eligible for an EIA notice anywhere in
    the province, in one transaction of set-based SQL: the rows registration, submission
    and approval would leave (user, agency, category, approved qualification, review) and,
    through the log's own append function, their account.created, agency.submitted and
    agency.approved entries, built with the services' own fact helpers."""
    import asyncpg

    from market.accounts import service as accounts
    from market.accounts.models import Role, UserCreate
    from market.agencies import service as agencies_service
    from market.agencies.creditcode import complete_credit_code
    from market.agencies.models import Agency, Qualification
    from market.core.clock import today_in_china
    from market.core.db import Database
    from market.core.ids import format_public_id
    from market.log import store as log
    from market.notices import orgs as notices
    from market.notices.models import OrgCreate
    from market.security.passwords import hash_password
    from market.security.tokens import issue_token

    run = secrets.token_hex(3)  # keeps e-mail addresses and credit codes apart between runs on one database
    today = today_in_china()
    valid_until = today + timedelta(days=400)
    # One argon2 hash of a random password for every agency account: argon2 is built to cost
    # tens of milliseconds each, and nobody logs in with these passwords (tokens are minted).
    shared_hash = hash_password(secrets.token_urlsafe(24))
    # Credit-code bodies use only characters the standard allows (no I, O, S, V, Z).
    letters = "ABCDEFGHJKLMNPQRTUWXY"
    tag = "".join(letters[b % len(letters)] for b in bytes.fromhex(run)[:2])
    url = normalize_database_url(database_url) or database_url

    # The owner registers as anyone would; the administrator is made as `market users create` does.
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            owner = await accounts.register(
                session,
                data=UserCreate(
                    email=f"load-owner-{run}@example.cn",
                    password=secrets.token_urlsafe(16),
                    name="Load owner",
                    role=Role.owner,
                ),
            )
            await notices.create_org(
                session,
                user=owner,
                data=OrgCreate(
                    name=f"负载测试业主单位 {run}",
                    credit_code=complete_credit_code("1", "1", "530100", f"{tag}000000"),
                    region="530100",
                ),
            )
            admin = await accounts.create_staff(
                session,
                email=f"load-admin-{run}@example.cn",
                password=secrets.token_urlsafe(16),
                name="Load admin",
                role=Role.admin,
            )
    finally:
        await db.dispose()

    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        async with conn.transaction():

            async def append(type: str, fields: dict[str, Any]) -> int:
                head, middle, tail = log.entry_parts(type=type, fields=fields)
                notice_id = fields.get("notice_id") if isinstance(fields.get("notice_id"), str) else None
                return int(
                    await conn.fetchval(
                        "SELECT seq FROM market_log_append($1, $2, $3, $4, $5)",
                        type,
                        notice_id,
                        head,
                        middle,
                        tail,
                    )
                )

            user_numbers = [
                r[0]
                for r in await conn.fetch(
                    f"SELECT nextval('{accounts.USER_ID_SEQUENCE}') FROM generate_series(1, $1)", agencies
                )
            ]
            agency_numbers = [
                r[0]
                for r in await conn.fetch(
                    f"SELECT nextval('{agencies_service.AGENCY_ID_SEQUENCE}') FROM generate_series(1, $1)",
                    agencies,
                )
            ]
            user_ids = [format_public_id("U", n) for n in user_numbers]
            users = await conn.fetch(
                "INSERT INTO app_user (public_id, email, name, role, password_hash, is_active, created_at) "
                "SELECT u, e, n, 'agency', $4, true, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS t(u, e, n) "
                "RETURNING id, public_id",
                user_ids,
                [f"load-{run}-{i}@example.cn" for i in range(agencies)],
                [f"Load agency {i}" for i in range(agencies)],
                shared_hash,
            )
            user_pk = {r["public_id"]: r["id"] for r in users}
            facts = [
                Agency(
                    public_id=format_public_id("AG", agency_numbers[i]),
                    owner_id=user_pk[user_ids[i]],
                    name=f"负载测试评价机构 {run}-{i:05d}",
                    credit_code=complete_credit_code("9", "1", "530100", f"{tag}{i:06d}"),
                    region="530100",
                    status="approved",
                )
                for i in range(agencies)
            ]
            rows = await conn.fetch(
                "INSERT INTO agency (public_id, owner_id, name, credit_code, region, legal_representative, contact_phone, address, "
                "status, status_reason, created_at, updated_at) "
                "SELECT p, o, n, c, '530100', '', '', '', 'approved', '', now(), now() "
                "FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS t(p, o, n, c) RETURNING id, public_id",
                [a.public_id for a in facts],
                [a.owner_id for a in facts],
                [a.name for a in facts],
                [a.credit_code for a in facts],
            )
            agency_pk = {r["public_id"]: r["id"] for r in rows}
            pks = [agency_pk[a.public_id] for a in facts]
            await conn.execute(
                "INSERT INTO agency_category (agency_id, category) SELECT a, $2 FROM unnest($1::int[]) AS t(a)",
                pks,
                AGENCY_CATEGORY,
            )
            certificates = [f"HP-{run}-{i:05d}" for i in range(agencies)]
            await conn.execute(
                "INSERT INTO qualification (agency_id, category, level, certificate_no, valid_until, status, review_reason, created_at) "
                "SELECT a, $3, NULL, c, $4, 'approved', '', now() FROM unnest($1::int[], $2::text[]) AS t(a, c)",
                pks,
                certificates,
                AGENCY_CATEGORY,
                valid_until,
            )
            approved_seqs = []
            for i, agency in enumerate(facts):
                quals = [
                    agencies_service.qualification_fact(
                        Qualification(
                            agency_id=0,
                            category=AGENCY_CATEGORY,
                            level=None,
                            certificate_no=certificates[i],
                            valid_until=valid_until,
                        )
                    )
                ]
                base = agencies_service._base_fact(agency)
                await append("account.created", {"user_id": user_ids[i], "role": Role.agency.value})
                await append(
                    "agency.submitted",
                    {
                        **base,
                        "region": agency.region,
                        "categories": [AGENCY_CATEGORY],
                        "qualifications": quals,
                    },
                )
                approved_seqs.append(
                    await append(
                        "agency.approved",
                        {**base, "reason": "", "categories": [AGENCY_CATEGORY], "qualifications": quals},
                    )
                )
            await conn.execute(
                "INSERT INTO agency_review (agency_id, action, from_status, to_status, reason, until, actor_id, log_seq, created_at) "
                "SELECT a, 'approve', 'pending', 'approved', '', NULL, $3, s, now() FROM unnest($1::int[], $2::bigint[]) AS t(a, s)",
                pks,
                approved_seqs,
                admin.id,
            )
    finally:
        await conn.close()
    return Prepared(
        owner_token=issue_token(secret=secret, subject=owner.public_id, role=Role.owner.value, ttl=ttl),
        bidder_tokens=[
            issue_token(secret=secret, subject=u, role=Role.agency.value, ttl=ttl) for u in user_ids
        ],
        agency_ids=[a.public_id for a in facts],
    )


async def publish_notice(base_url: str, owner_token: str, *, method: str, deadline: datetime) -> str:
    body = {
        "title": "负载测试：某道路工程环境影响评价",
        "description": "编制环境影响报告书",
        "category": AGENCY_CATEGORY,
        "region": "530000",
        "budget_fen": BUDGET_FEN,
        "method": method,
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": deadline.isoformat(),
        "required_level": None,
    }
    headers = {"Authorization": f"Bearer {owner_token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        created = await client.post("/api/v1/notices", json=body, headers=headers)
        if created.status_code != 201:
            raise RuntimeError(f"creating the notice: {created.status_code} {created.text[:500]}")
        notice_id = str(created.json()["id"])
        published = await client.post(f"/api/v1/notices/{notice_id}/publish", headers=headers)
        if published.status_code != 200:
            raise RuntimeError(f"publishing the notice: {published.status_code} {published.text[:500]}")
    return notice_id


# -- the load --------------------------------------------------------------------------------


async def fire(
    urls: list[str], notice_id: str, tokens: list[str], *, seconds: float, method: str, timeout: float
) -> tuple[list[Shot], float]:
    """Send bid i at t0 + i·seconds/N (open loop) to urls[i % len(urls)]; (shots, the time
    from the first planned send to the last answer)."""
    n = len(tokens)
    interval = seconds / n if n else 0.0
    # No keep-alive: each agency comes on its own connection, and with several workers on
    # one port the kernel hands each connection to whichever worker accepts it.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def one(i: int, t0: float) -> Shot:
            planned = t0 + i * interval
            await asyncio.sleep(max(0.0, planned - loop.time()))
            sent = loop.time()
            # Lowest price: distinct prices under the budget, so the ranking has no ties.
            payload = {"price_fen": BUDGET_FEN - 1000 * (i + 1)} if method == "lowest_price" else {}
            status, body, error = None, None, None
            try:
                response = await client.post(
                    f"{urls[i % len(urls)]}/api/v1/notices/{notice_id}/bids",
                    json=payload,
                    headers={"Authorization": f"Bearer {tokens[i]}"},
                )
                status = response.status_code
                try:
                    body = response.json()
                except ValueError:
                    body = {"text": response.text[:300]}
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            done = loop.time()
            return Shot(
                i, planned - t0, (sent - planned) * 1000, (done - planned) * 1000, status, body, error
            )

        t0 = loop.time() + 0.2  # all tasks exist before the first is due
        shots = await asyncio.gather(*(one(i, t0) for i in range(n)))
        return list(shots), loop.time() - t0


# -- where the CPU went ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone or not ours to read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to ``database`` on this machine, found by the
    process title PostgreSQL gives them ("postgres: [<cluster name>:] <user> <database>
    <client> ..."): a server on another machine, or titles turned off, gives none."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].split()
        except OSError:
            continue
        if not title or title[0] != b"postgres:":
            continue
        words = title[2:] if len(title) > 1 and title[1].endswith(b":") else title[1:]
        if len(words) >= 2 and words[1] == database.encode():
            out.append(int(entry.name))
    return out


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of ``market serve``)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:
                pass
    return out


def _machine_busy() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLOCK_TICKS


async def cpu_snapshot(database_url: str, server_pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of the server processes, of this database's PostgreSQL backends
    (a loopback server: their /proc entries are on this machine), of this client, and of
    the whole machine."""
    import resource

    import asyncpg

    snapshot: dict[str, float] = {"machine": _machine_busy()}
    if server_pids:
        snapshot["servers"] = sum(_process_cpu(p) for pid in server_pids for p in _tree(pid))
    conn = await asyncpg.connect(to_asyncpg_dsn(normalize_database_url(database_url) or database_url))
    try:
        pids = [
            r[0]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    finally:
        await conn.close()
    snapshot["postgres"] = sum(_process_cpu(p) for p in pids)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    snapshot["client"] = usage.ru_utime + usage.ru_stime
    return snapshot


# -- checks ----------------------------------------------------------------------------------


async def _settled(conn: Any, notice_id: str, timeout: float = 60.0) -> None:
    """Until the notice's bid count stops changing: a request the client gave up on may
    still be running on the server, and would otherwise be counted half-way."""
    last, stable_since, give_up = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < give_up:
        n = await conn.fetchval(
            "SELECT count(*) FROM bid b JOIN notice n ON n.id = b.notice_id WHERE n.public_id = $1", notice_id
        )
        if n != last:
            last, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since >= 1.5:
            return
        await asyncio.sleep(0.25)


async def check(
    report: Report, database_url: str, base_url: str, notice_id: str, shots: list[Shot], agency_ids: list[str]
) -> None:
    """Every 201 fully there (receipt, row, entry); nothing there for a bid that was
    answered otherwise; a dense log. Bid i is agency i's, which ties rows to requests."""
    import asyncpg

    from market.bids.receipts import verify_receipt

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        jwk = (await client.get("/api/v1/log/receipt-key")).json()
    conn = await asyncpg.connect(to_asyncpg_dsn(normalize_database_url(database_url) or database_url))
    try:
        await _settled(conn, notice_id)
        rows = await conn.fetch(
            "SELECT b.public_id, b.seq, b.commitment, a.public_id AS agency_id FROM bid b JOIN notice n ON n.id = b.notice_id "
            "JOIN agency a ON a.id = b.agency_id WHERE n.public_id = $1",
            notice_id,
        )
        # MSP/2: a bid's entry names no notice. Its sealed entries are those of no other
        # notice's bid (the warm-up's): every one must be one of this notice's bids.
        entries = await conn.fetch(
            "SELECT seq, entry, leaf_hash FROM log_entry WHERE type = 'bid.sealed' AND seq NOT IN "
            "(SELECT b.seq FROM bid b JOIN notice n ON n.id = b.notice_id WHERE n.public_id <> $1)",
            notice_id,
        )
        size, count, low = await conn.fetchrow(
            "SELECT coalesce(max(seq) + 1, 0), count(*), coalesce(min(seq), 0) FROM log_entry"
        )
    finally:
        await conn.close()
    bids = {r["public_id"]: r for r in rows}
    by_seq = {int(e["seq"]): e for e in entries}
    shot_of = {agency_ids[s.index]: s for s in shots}
    for shot in shots:
        if shot.status != 201 or shot.body is None:
            continue
        bid_id = str(shot.body.get("bid_id"))
        claims = verify_receipt(str(shot.body.get("receipt")), jwk)
        row = bids.get(bid_id)
        entry = by_seq.get(int(shot.body.get("seq", -1)))
        fields = json.loads(entry["entry"]) if entry is not None else {}
        if (
            claims is None
            or claims.get("bid_id") != bid_id
            or claims.get("seq") != shot.body.get("seq")
            or row is None
            or row["seq"] != shot.body.get("seq")
            or row["agency_id"] != agency_ids[shot.index]
            or entry is None
            or fields.get("commitment") != claims.get("commitment")
            or row["commitment"] != claims.get("commitment")
            or bytes(entry["leaf_hash"]).hex() != claims.get("leaf_hash")
        ):
            report.lost.append(bid_id)
    row_of_seq = {int(r["seq"]): r for r in rows}
    for seq, entry in sorted(by_seq.items()):
        fields = json.loads(entry["entry"])
        row = row_of_seq.get(seq)
        shot = shot_of.get(str(row["agency_id"])) if row is not None else None
        if row is None or row["commitment"] != fields.get("commitment"):
            report.unexpected.append(f"entry {seq} without its bid row")
        elif shot is None or (shot.status is not None and shot.status != 201):
            # Answered with a refusal, yet in the log: what the issue forbids.
            report.unexpected.append(f"{row['public_id']} answered {shot.status if shot else 'never sent'}")
        elif shot.status is None:
            report.accepted_unanswered += (
                1  # the client gave up first; the bid stands, with its receipt in the row
            )
    report.bids_in_database = len(bids)
    report.entries_for_notice = len(entries)
    report.log_size = int(size)
    report.log_dense = int(count) == int(size) and int(low) == 0


def log_verify(database_url: str, data_dir: Path | None, url: str | None) -> tuple[bool, str]:
    """``market log verify``: over the database with the servers' data dir (their signing
    key), or over HTTP against ``url`` when we did not start the servers."""
    env = {**os.environ, "DATABASE_URL": database_url}
    args = [sys.executable, "-m", "market.cli", "log", "verify", "--json"]
    if data_dir is not None:
        env["MARKET_DATA_DIR"] = str(data_dir)
    else:
        args += ["--url", str(url)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode == 0, (done.stdout[-1500:] + done.stderr[-1500:]).strip()


async def wait_checkpointed(base_url: str, size: int, timeout: float = 20.0) -> None:
    """Until the signed checkpoint covers ``size`` entries (the verifier checks it too)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            lines = (await client.get("/api/v1/log/checkpoint")).text.split("\n")
            if len(lines) > 1 and lines[1].isdigit() and int(lines[1]) >= size:
                return
            await asyncio.sleep(0.2)


# -- the whole run ---------------------------------------------------------------------------


async def load_and_check(
    report: Report,
    database_url: str,
    urls: list[str],
    options: Options,
    secret: str,
    deadline_in: float,
    server_pids: list[int],
) -> None:
    began = time.monotonic()
    prepared = await prepare(database_url, agencies=options.agencies, secret=secret)
    deadline = datetime.now(UTC) + timedelta(seconds=deadline_in)
    report.notice_id = await publish_notice(
        urls[0], prepared.owner_token, method=options.method, deadline=deadline
    )
    if options.warmup:
        warm_notice = await publish_notice(
            urls[0], prepared.owner_token, method=options.method, deadline=deadline
        )
        count = min(options.warmup, len(prepared.bidder_tokens))
        rate = len(prepared.bidder_tokens) / options.seconds / 2  # bids per second: half the window's rate
        warm, _ = await fire(
            urls,
            warm_notice,
            prepared.bidder_tokens[:count],
            seconds=count / rate,
            method=options.method,
            timeout=options.timeout,
        )
        report.warmup_ok = sum(1 for s in warm if s.status == 201)
        await asyncio.sleep(0.5)
    report.prepare_s = time.monotonic() - began
    before = await cpu_snapshot(database_url, server_pids)
    shots, elapsed = await fire(
        urls,
        report.notice_id,
        prepared.bidder_tokens,
        seconds=options.seconds,
        method=options.method,
        timeout=options.timeout,
    )
    after = await cpu_snapshot(database_url, server_pids)
    report.cpu_ms_per_bid = {
        k: round((after[k] - before.get(k, 0.0)) * 1000 / max(1, len(shots)), 2)
        for k in after
        if k != "machine"
    }
    report.machine_busy_cores = round((after["machine"] - before["machine"]) / elapsed, 2) if elapsed else 0.0
    latencies = [s.latency_ms for s in shots if s.status is not None]
    report.sent = len(shots)
    report.duration_s = elapsed
    report.rps = len(shots) / elapsed if elapsed else 0.0
    report.p50_ms, report.p95_ms, report.p99_ms = (percentile(latencies, q) for q in (50, 95, 99))
    report.max_ms = max(latencies, default=0.0)
    # Where in the window the slow ones were: a start-up cost shows in the first second.
    by_second: dict[int, list[float]] = {}
    for shot in shots:
        if shot.status is not None:
            by_second.setdefault(int(shot.planned), []).append(shot.latency_ms)
    report.p99_by_second = [percentile(by_second[k], 99) for k in sorted(by_second)]
    report.max_lag_ms = max((s.lag_ms for s in shots), default=0.0)
    report.statuses = dict(Counter(str(s.status) for s in shots if s.status is not None))
    report.errors = dict(Counter(s.error for s in shots if s.error))
    report.accepted = sum(1 for s in shots if s.status == 201)
    await check(report, database_url, urls[0], report.notice_id, shots, prepared.agency_ids)
    await wait_checkpointed(urls[0], report.log_size)


def run(options: Options, *, database_url: str | None = None) -> Report:
    """The whole run. ``database_url``: a migrated database to use as it is (tests hand in
    their own); otherwise a scratch one (ops/scratch.py)."""
    report = Report(options=asdict(options), servers=[])
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="market-load-"))
        if not options.keep:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if options.url:
            if not options.secret or not (database_url or os.environ.get("DATABASE_URL")):
                raise SystemExit(
                    "--url needs --secret (the server's MARKET_SECRET_KEY) and DATABASE_URL (its database)"
                )
            url = normalize_database_url(database_url or os.environ["DATABASE_URL"]) or ""
            urls, secret, data_dir, server_pids = [options.url.rstrip("/")], options.secret, None, []
            deadline_in = options.deadline_in or 25 * 3600.0  # past the default minimum bid window of a day
        else:
            url = normalize_database_url(database_url) or stack.enter_context(
                scratch_database(keep=options.keep, prefix="market_load")
            )
            secret = secrets.token_urlsafe(48)
            data_dir = workdir / "data"
            started = stack.enter_context(
                servers(url, data_dir, secret=secret, workers=options.workers, processes=options.processes)
            )
            urls, server_pids = [u for u, _ in started], [pid for _, pid in started]
            # Long enough that the scheduler does not close the notice while we look at it.
            deadline_in = options.deadline_in or options.seconds + 300.0
        report.servers = urls
        asyncio.run(load_and_check(report, url, urls, options, secret, deadline_in, server_pids))
        report.log_verified, report.log_verify_output = log_verify(url, data_dir, urls[0])
        if data_dir is not None:
            report.server_errors_logged = server_errors(data_dir)
            report.served = bids_served(data_dir, len(urls), report.notice_id)
        if options.keep:
            # The whole URL: without DATABASE_URL the database is on the private cluster,
            # whose port and password a name alone would not tell.
            print(f"kept: {workdir} and {url}", file=sys.stderr)
    return report


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--agencies", type=int, default=1000, help="distinct agencies, one bid each (default 1000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="the window the bids are spread evenly over (default 10)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn workers per server process (default 2)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="separate server processes on one database (default 1)"
    )
    parser.add_argument("--method", choices=["lottery", "lowest_price"], default="lottery")
    parser.add_argument(
        "--goal-ms", type=float, default=GOAL_P99_MS, help="the p99 goal reported against (default 250)"
    )
    parser.add_argument("--enforce-goal", action="store_true", help="also fail when p99 misses the goal")
    parser.add_argument(
        "--url",
        default=None,
        help="a running server to load instead of starting our own (needs --secret and DATABASE_URL)",
    )
    parser.add_argument(
        "--secret",
        default=None,
        help="with --url: the server's MARKET_SECRET_KEY, to mint the agencies' tokens",
    )
    parser.add_argument(
        "--deadline-in", type=float, default=None, help="seconds from now to the notice's deadline"
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report as JSON to FILE ('-' for stdout)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="bids on another notice before the window, not measured (default 100; 0: none)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and data dir")
    args = parser.parse_args(argv)
    if args.agencies < 1 or args.seconds <= 0 or args.workers < 1 or args.processes < 1 or args.warmup < 0:
        parser.error("--agencies, --workers and --processes must be at least 1, --seconds positive")
    options = Options(
        agencies=args.agencies,
        seconds=args.seconds,
        workers=args.workers,
        processes=args.processes,
        method=args.method,
        goal_ms=args.goal_ms,
        url=args.url,
        secret=args.secret,
        deadline_in=args.deadline_in,
        keep=args.keep,
        warmup=args.warmup,
    )
    return options, args


def emit(report: Any, json_target: str | None) -> None:
    """A report's lines on stdout, and its JSON to ``json_target`` ('-': stdout too);
    shared with ops/bench/endpoints.py."""
    for line in report.lines():
        print(line)
    if json_target:
        text = json.dumps(report.as_dict(), indent=2, default=str)
        if json_target == "-":
            print(text)
        else:
            Path(json_target).write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    report = run(options)
    emit(report, args.json)
    if report.failures:
        return 1
    return 1 if args.enforce_goal and not report.goal_met else 0


if __name__ == "__main__":
    sys.exit(main())
