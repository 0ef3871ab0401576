"""Statement and lock timeouts on every connection (docs/reliability.md, "Timeouts").

Read from the side of whoever gains when a timeout is missing or answered badly: a
transaction that sits on the log's lock (a stuck task, an operator's psql) would otherwise
hold every bid for as long as it likes; a slow statement would hold a connection and its
locks; and a request cut short by a timeout must answer a clean problem, not a 500, and
leave nothing half-written."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from market.app import create_app
from market.core.channels import ReconnectingAsyncPgChannelsBackend
from market.core.db import COMMAND, RETRY_AFTER, Database, Timeouts, to_asyncpg_dsn
from market.log.store import APPEND_LOCK
from market.ocds import store as ocds_store
from tests.conftest import make_settings, serve_in_process
from tests.integration.reliability.helpers import ENV, make_cast, open_notice
from tests.live import running_server


class Heard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def heard(name: str) -> Iterator[Heard]:
    """What the logger ``name`` says meanwhile, whatever handlers the app configured."""
    handler = Heard()
    logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger(name).removeHandler(handler)


async def show(conn: asyncpg.Connection, *names: str) -> list[str]:
    return [await conn.fetchval(f"SHOW {name}") for name in names]


async def counts(url: str, notice_id: str) -> tuple[int, int]:
    """(bids on the notice, entries in the log), as the database holds them."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        bids = await conn.fetchval(
            "SELECT count(*) FROM bid b JOIN notice n ON n.id = b.notice_id WHERE n.public_id = $1", notice_id
        )
        return int(bids), int(await conn.fetchval("SELECT count(*) FROM log_entry"))
    finally:
        await conn.close()


@pytest.mark.committing
async def test_a_bid_behind_a_held_log_lock_gets_503_then_goes_through(
    committed_database_url: str, tmp_path: Path
) -> None:
    url = committed_database_url
    with running_server(url, tmp_path / "data", **ENV, MARKET_DB_LOCK_TIMEOUT="500") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            cast = await make_cast(client, url, 1)
            notice_id = await open_notice(client, cast.owner, seconds=600)
            bidder, _ = cast.agencies[0]
            before = await counts(url, notice_id)
            # Another session sits on the log's lock: a stuck task, an operator's psql.
            holder = await asyncpg.connect(to_asyncpg_dsn(url))
            try:
                await holder.execute("SELECT pg_advisory_lock($1)", APPEND_LOCK)
                started = time.monotonic()
                refused = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=bidder)
                waited = time.monotonic() - started
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"] == str(RETRY_AFTER)
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["status"] == 503 and "Traceback" not in refused.text
                assert 0.5 <= waited < 3, waited  # the lock timeout, not forever
                assert await counts(url, notice_id) == before  # nothing half-written
            finally:
                await holder.close()  # the lock goes with the session
            placed = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=bidder)
            assert placed.status_code == 201, placed.text
            assert (await counts(url, notice_id))[0] == before[0] + 1
        log = server.log_path.read_text(errors="replace")
        assert "database lock timeout on POST" in log
        assert "Traceback" not in log and "unhandled error" not in log

    # The OCDS commit hook's own short lock_timeout (a savepoint's SET LOCAL) gives the
    # connection's back after it, not PostgreSQL's default of none.
    db = Database.from_url(url, timeouts=Timeouts(lock=567))
    try:
        async with db.transaction() as session:
            session.info["ocds_notices"] = {notice_id}
            await ocds_store.keep_changed(session)
            found = (await session.execute(sa.text("SHOW lock_timeout"))).scalar_one()
            assert found == "567ms"
            kept = (
                await session.execute(
                    sa.text(
                        "SELECT count(*) FROM ocds_release r JOIN notice n ON n.id = r.notice_id "
                        "WHERE n.public_id = :n"
                    ),
                    {"n": notice_id},
                )
            ).scalar_one()
            assert kept > 0  # the hook did its insert (and its SET LOCAL) here
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("timeouts", "status"),
    [(Timeouts(lock=200), 503), (Timeouts(statement=300), 504)],
    ids=["lock_timeout", "statement_timeout"],
)
async def test_a_request_cut_short_answers_a_clean_problem_and_one_warning(
    database_url: str, tmp_path: Path, timeouts: Timeouts, status: int
) -> None:
    db = Database.from_url(database_url, timeouts=timeouts)
    app = create_app(make_settings(database_url, tmp_path), database=db)
    holder = await asyncpg.connect(to_asyncpg_dsn(database_url))
    html = {"Accept": "text/html", "Accept-Language": "en"}
    try:
        async with serve_in_process(app) as client:
            assert (await client.get("/api/v1/notices")).status_code == 200
            with heard("market.core.errors") as said:
                async with holder.transaction():  # rolled back: a lock held, nothing changed
                    await holder.execute("LOCK TABLE notice IN ACCESS EXCLUSIVE MODE")
                    started = time.monotonic()
                    api = await client.get("/api/v1/notices")
                    page = await client.get("/notices", headers=html)
                    zh = await client.get("/notices", headers={**html, "Accept-Language": "zh-CN"})
                    assert time.monotonic() - started < 5
            assert api.status_code == status, api.text
            assert api.headers["content-type"].startswith("application/problem+json")
            assert api.json()["status"] == status
            assert "Traceback" not in api.text and "asyncpg" not in api.text
            assert page.status_code == status and page.headers["content-type"].startswith("text/html")
            assert "Traceback" not in page.text and "went wrong on our side" not in page.text
            assert zh.status_code == status
            if status == 503:  # busy: try again in a moment
                assert api.headers["retry-after"] == page.headers["retry-after"] == str(RETRY_AFTER)
                assert "busy just now" in page.text
            else:
                assert "retry-after" not in api.headers
                assert "too long to answer" in page.text
            kind = "lock" if status == 503 else "statement"
            assert [r.levelno for r in said.records] == [logging.WARNING] * 3  # one line each
            assert all(f"database {kind} timeout on GET" in r.getMessage() for r in said.records)
            assert not any(r.exc_info for r in said.records)  # and no traceback
            assert (await client.get("/api/v1/notices")).status_code == 200  # and fine once released
    finally:
        await holder.close()
        await db.dispose()


async def test_every_kind_of_connection_carries_its_settings(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        db_statement_timeout=345,
        db_lock_timeout=567,
        task_statement_timeout=4321,
        task_lock_timeout=765,
        scheduler_interval=0,
        db_read_pool_size=2,
    )
    app = create_app(settings)
    async with app.lifespan():
        names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "enable_memoize")
        async with app.state.db.single_statement() as conn:  # the requests' engine
            assert await show(conn, *names) == ["345ms", "567ms", "1min", "off"]
        async with app.state.db.reading() as conn:  # the readers' pool
            assert app.state.db.reader_pool is not None
            assert await show(conn, *names) == ["345ms", "567ms", "1min", "off"]
        async with app.state.task_db.single_statement() as conn:  # the background tasks' engine
            assert await show(conn, *names) == ["4321ms", "765ms", "1min", "on"]
        assert app.state.checkpointer.db is app.state.task_db
        backend = next(p for p in app.plugins if hasattr(p, "_backend"))._backend
        assert isinstance(backend, ReconnectingAsyncPgChannelsBackend)
        listener = backend._conn  # the LISTEN connection: never ended for sitting idle
        assert listener is not None
        assert await show(listener, "statement_timeout", "idle_session_timeout") == ["345ms", "0"]
        # A statement that outlasts the request's limit is cut off, on every kind.
        for source in (app.state.db.single_statement(), app.state.db.reading()):
            async with source as conn:
                with pytest.raises(asyncpg.QueryCanceledError):
                    await conn.execute("SELECT pg_sleep(2)")


async def test_zero_defers_to_the_role_and_a_set_value_wins_over_it(database_url: str) -> None:
    role = f"market_timeouts_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(to_asyncpg_dsn(database_url))
    password = secrets.token_hex(16)  # the tests' private cluster asks for one (scram)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    await admin.execute(f"ALTER ROLE {role} SET statement_timeout = '7s'")
    await admin.execute(f"ALTER ROLE {role} SET lock_timeout = '3s'")
    url = make_url(database_url).set(username=role, password=password).render_as_string(hide_password=False)
    try:
        for timeouts, expected in [
            (Timeouts.of(statement=0, lock=1500), ["7s", "1500ms"]),  # 0: the role's own
            (Timeouts.of(statement=250, lock=0), ["250ms", "3s"]),
            (COMMAND, ["0", "3s"]),  # a command: no statement limit whatever the role says
        ]:
            db = Database.from_url(url, timeouts=timeouts)
            try:
                async with db.single_statement() as conn:
                    assert await show(conn, "statement_timeout", "lock_timeout") == expected
            finally:
                await db.dispose()
    finally:
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
