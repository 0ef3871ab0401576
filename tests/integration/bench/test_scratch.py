"""ops/scratch.py, the scratch database of the benchmarks and the load test: made fresh
and migrated, on DATABASE_URL's server or a private cluster, and gone at the end unless
kept."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from market.core.db import run_on_server, to_asyncpg_dsn
from market.core.pgembed import EmbeddedPostgres
from ops.scratch import scratch_database


async def _exists(url: str) -> bool:
    name = make_url(url).database
    conn = await asyncpg.connect(
        to_asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    )
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _migrated(url: str) -> bool:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
    finally:
        await conn.close()


def exists(url: str) -> bool:
    return asyncio.run(_exists(url))


def migrated(url: str) -> bool:
    return asyncio.run(_migrated(url))


@pytest.mark.committing
def test_a_scratch_database_is_migrated_on_database_url_s_server_and_dropped_at_the_end(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plain form other tools use, as the scripts' users write it.
    monkeypatch.setenv("DATABASE_URL", "postgresql://" + server_url.split("://", 1)[1])
    with scratch_database(prefix="market_scratch_test") as url:
        assert url.startswith("postgresql+asyncpg://")
        assert make_url(url).database.startswith("market_scratch_test_")
        assert (make_url(url).host, make_url(url).port) == (
            make_url(server_url).host,
            make_url(server_url).port,
        )
        assert exists(url) and migrated(url)
    assert not exists(url)


@pytest.mark.committing
def test_a_kept_scratch_database_outlives_its_block(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url)
    with scratch_database(keep=True, prefix="market_scratch_test") as url:
        pass
    try:
        assert exists(url) and migrated(url)
    finally:
        asyncio.run(
            run_on_server(server_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        )


@pytest.mark.committing
def test_without_database_url_a_private_cluster_serves_it_and_is_stopped_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster of the test's own, not var/bench-postgres: a benchmark may be using that."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    root = tmp_path / "postgres"
    cluster = EmbeddedPostgres(root)
    try:
        with scratch_database(keep=True, cluster_root=root) as url:
            assert make_url(url).port == cluster.port()
            assert exists(url) and migrated(url)
        assert not cluster.is_running()
        # Kept: the cluster's next start serves the database again; without keep it goes.
        cluster.start()
        assert exists(url)
        cluster.stop()
        with scratch_database(cluster_root=root) as other:
            assert exists(other)
        assert not cluster.is_running()
        cluster.start()
        assert exists(url) and not exists(other)
    finally:
        cluster.stop()
        # As root the cluster may live in /var/tmp (the postgres user cannot reach tmp_path).
        if cluster.location_file.exists():
            shutil.rmtree(cluster.data.parent, ignore_errors=True)
