"""Test databases on real PostgreSQL.

- DATABASE_URL set: that server is used (the suite creates its own databases on it).
- Unset: a private cluster is started under var/test-postgres and stopped at the end.

Each xdist worker gets database ``market_test_<worker>`` migrated from scratch. Ordinary
tests run inside a transaction that is rolled back (sessions join it through savepoints);
tests that need real commits (concurrency, a live server for the browser) get a fresh
copy of the migrated database through ``committed_database_url``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from market.app import create_app, wire_services
from market.core.config import Settings, normalize_database_url
from market.core.db import Database, to_asyncpg_dsn, upgrade
from market.core.pgembed import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL_VAR = "MARKET_TEST_SERVER_URL"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # xdist worker: the controller prepared the server
        return
    if os.environ.get("DATABASE_URL"):
        url = normalize_database_url(os.environ["DATABASE_URL"])
        assert url is not None
        os.environ[SERVER_URL_VAR] = url
        return
    cluster = EmbeddedPostgres(ROOT / "var" / "test-postgres")
    _users(cluster).mkdir(parents=True, exist_ok=True)
    (_users(cluster) / str(os.getpid())).touch()
    os.environ[SERVER_URL_VAR] = cluster.start()
    config._market_cluster = cluster  # type: ignore[attr-defined]


def _users(cluster: EmbeddedPostgres) -> Path:
    """One file per test run using the private cluster, named by its process id: two runs
    on one machine share the cluster, and the last one to finish stops it."""
    return cluster.root / "users"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_unconfigure(config: pytest.Config) -> None:
    cluster = getattr(config, "_market_cluster", None)
    if cluster is None:
        return
    (_users(cluster) / str(os.getpid())).unlink(missing_ok=True)
    others = [f for f in _users(cluster).iterdir() if f.name.isdigit() and _alive(int(f.name))]
    if not others:
        cluster.stop()


def _admin(url: str) -> str:
    return to_asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))


async def _recreate(url: str, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(_admin(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()


async def _drop(url: str, name: str) -> None:
    conn = await asyncpg.connect(_admin(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def in_thread(fn: Any, *args: Any) -> Any:
    """Call blocking ``fn`` that runs its own event loop, even while some loop runs in
    this thread (Playwright's sync API keeps one), by giving it a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def run_blocking(coro: Any) -> Any:
    return in_thread(asyncio.run, coro)


def url_for(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its cheapest in this process: the suite registers and logs in thousands of
    accounts, and production's cost (about 0.1 s a hash, more on a loaded machine) would be a
    large part of its run time. Hashes carry their parameters, so servers started as
    subprocesses (production cost) and this process verify each other's; hashing itself has
    tests of its own."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from market.security import passwords

    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    real = passwords._hasher
    passwords._hasher = lambda: cheap
    yield
    passwords._hasher = real


@pytest.fixture(scope="session", autouse=True)
def _wired_services() -> None:
    """The hooks create_app registers, for the tests that call services without an app."""
    wire_services()


@pytest.fixture(scope="session")
def server_url() -> str:
    return os.environ[SERVER_URL_VAR]


@pytest.fixture(scope="session")
def database_url(server_url: str, worker_id: str) -> Iterator[str]:
    """This worker's migrated database."""
    # The process id keeps two suites on one server (two developers, or a developer and CI)
    # from dropping each other's database.
    name = f"market_test_{worker_id}_{os.getpid()}"
    run_blocking(_recreate(server_url, name))
    url = url_for(server_url, name)
    in_thread(upgrade, url)
    yield url
    run_blocking(_drop(server_url, name))


@pytest.fixture
def committed_database_url(server_url: str, database_url: str) -> Iterator[str]:
    """A fresh, migrated database of its own where commits are real."""
    template = make_url(database_url).database
    name = f"{template}_c{secrets.token_hex(4)}"
    run_blocking(_recreate(server_url, name, template=template))
    yield url_for(server_url, name)
    run_blocking(_drop(server_url, name))


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "env": "test",
        "secret_key": "test-secret-" + "x" * 40,
        "min_bid_window": 0,
        "auth_rate_limit": 1000,
        "public_url": "http://testserver.local",  # the test client's address (serve_in_process)
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    """One connection whose transaction every session of the test joins, rolled back at the end."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    conn = await engine.connect()
    trans = await conn.begin()
    try:
        yield conn
    finally:
        await trans.rollback()
        await conn.close()
        await engine.dispose()


@pytest.fixture
def db(connection: AsyncConnection) -> Database:
    return Database.bound_to(connection)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings, database=db)


@asynccontextmanager
async def serve_in_process(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling ``app`` in this test's event loop. Litestar's own test client
    runs the app on another thread's loop, which the shared connection cannot cross; and the
    lifespan is not entered, since an app given its database has nothing to start."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as c:
        yield c
