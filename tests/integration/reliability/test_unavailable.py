"""The answers while the database cannot be reached, without stopping any PostgreSQL: an
app whose database URL points at a port where nothing listens (connection refused), and
one whose only pooled connection is held elsewhere (pool timeout). API requests get RFC
9457 problem details with status 503 and Retry-After, pages a 503 page, /healthz says
"unavailable"; none of it is a 500. tests/integration/reliability/test_postgres_restart.py
does the same against a real PostgreSQL stopped and started under load."""

from __future__ import annotations

import time
from pathlib import Path

from market.app import create_app
from market.core.db import RETRY_AFTER, Database
from market.core.pgembed import free_port
from tests.conftest import make_settings, serve_in_process


def assert_api_503(response: object) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == str(RETRY_AFTER)  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == 503 and body["title"] == "Service unavailable"
    assert "Traceback" not in response.text and "asyncpg" not in response.text  # type: ignore[attr-defined]


async def test_a_refused_database_gives_503_with_retry_after_everywhere(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://market:x@127.0.0.1:{free_port()}/market"
    db = Database.from_url(url)
    app = create_app(make_settings(url, tmp_path), database=db)
    try:
        async with serve_in_process(app) as client:
            started = time.monotonic()
            assert_api_503(await client.get("/api/v1/notices"))
            assert_api_503(
                await client.post(
                    "/api/v1/auth/token", json={"email": "a@example.cn", "password": "correct horse battery"}
                )
            )
            page = await client.get("/notices", headers={"Accept": "text/html", "Accept-Language": "en"})
            assert page.status_code == 503 and page.headers["retry-after"] == str(RETRY_AFTER)
            assert page.headers["content-type"].startswith("text/html")
            assert "The database is not answering just now" in page.text and "Traceback" not in page.text
            zh = await client.get("/notices", headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
            assert zh.status_code == 503 and "数据库暂时没有响应" in zh.text
            health = await client.get("/healthz")
            assert health.status_code == 503 and health.json() == {"status": "unavailable"}
            assert health.headers["retry-after"] == str(RETRY_AFTER)
            assert time.monotonic() - started < 5, "a refused connection should fail fast"
    finally:
        await db.dispose()


async def test_an_exhausted_pool_gives_503_after_the_pool_timeout(database_url: str, tmp_path: Path) -> None:
    db = Database.from_url(database_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    app = create_app(make_settings(database_url, tmp_path), database=db)
    try:
        assert db.engine is not None
        async with db.engine.connect() as held, serve_in_process(app) as client:  # the pool's only connection
            started = time.monotonic()
            assert_api_503(await client.get("/api/v1/notices"))
            assert 0.3 <= time.monotonic() - started < 5
            await held.close()
            assert (await client.get("/api/v1/notices")).status_code == 200  # and fine once it is free
    finally:
        await db.dispose()
