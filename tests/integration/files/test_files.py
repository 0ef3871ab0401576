"""Uploaded files live in PostgreSQL (market/files): what one app host stores, another host
with an empty data dir of its own serves byte for byte; large files go in chunks and come
back whole with their length; the same bytes are kept once; a refused upload keeps nothing;
and a slow download holds no transaction open."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from market.app import create_app
from market.core.db import Database, to_asyncpg_dsn
from market.files import store
from market.files.store import CHUNK_BYTES
from tests.conftest import make_settings, serve_in_process
from tests.integration.agencies.test_api import admin, agency_user, create
from tests.uploads import HTML, PDF, png_chunk


def big_png(min_bytes: int) -> bytes:
    """A well-formed PNG of noise (so zlib cannot shrink it) of at least ``min_bytes``."""
    width = 512
    height = min_bytes // (width * 3) + 1
    noise = random.Random(23)
    raw = b"".join(b"\0" + noise.randbytes(width * 3) for _ in range(height))
    import struct
    import zlib

    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(raw, 1))
        + png_chunk(b"IEND", b"")
    )


BIG = big_png(CHUNK_BYTES * 2 + 1000)  # three chunks, the last one short


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, content: bytes
) -> httpx.Response:
    return await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": (name, content, "application/octet-stream")},
        data={"kind": "other"},
        headers=headers,
    )


async def stored_counts(db: Database, sha256: str) -> tuple[int, int]:
    async with db.transaction() as session:
        files = (
            await session.execute(
                sa.text("SELECT count(*) FROM stored_file WHERE sha256 = :s"), {"s": sha256}
            )
        ).scalar_one()
        chunks = (
            await session.execute(
                sa.text("SELECT count(*) FROM stored_file_chunk WHERE sha256 = :s"), {"s": sha256}
            )
        ).scalar_one()
    return int(files), int(chunks)


@pytest.fixture
async def two_hosts(committed_database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any, Database]]:
    """Two apps on one database, as two app hosts are: each with its own engine and its
    own data dir (the second's empty)."""
    first = Database.from_url(committed_database_url)
    second = Database.from_url(committed_database_url)
    try:
        apps = (
            create_app(make_settings(committed_database_url, tmp_path / "a"), database=first),
            create_app(make_settings(committed_database_url, tmp_path / "b"), database=second),
        )
        yield apps[0], apps[1], first
    finally:
        await first.dispose()
        await second.dispose()


@pytest.mark.committing
async def test_a_second_host_with_an_empty_data_dir_serves_what_the_first_stored(
    two_hosts: tuple[Any, Any, Database], tmp_path: Path
) -> None:
    app_a, app_b, db = two_hosts
    async with serve_in_process(app_a) as a, serve_in_process(app_b) as b:
        headers = await agency_user(a)
        agency = await create(a, headers)
        made = await upload(a, headers, "site-photo.png", BIG)
        assert made.status_code == 201, made.text
        staff = await admin(b, db)
        served = await b.get(f"/api/v1/agencies/{agency['id']}/documents/{made.json()['id']}", headers=staff)
    assert served.status_code == 200
    assert served.content == BIG  # byte for byte, through the host that never saw the upload
    assert served.headers["content-length"] == str(len(BIG))
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == 'inline; filename="site-photo.png"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["cache-control"] == "private, no-store"
    # Nothing on either host's disk: the database holds it, in chunks of CHUNK_BYTES.
    assert not any((tmp_path / "a").rglob("*.png")) and not any((tmp_path / "b").rglob("*.png"))
    assert await stored_counts(db, hashlib.sha256(BIG).hexdigest()) == (1, 3)


@pytest.mark.committing
async def test_a_slow_download_holds_no_transaction_and_reads_chunk_by_chunk(
    two_hosts: tuple[Any, Any, Database], committed_database_url: str
) -> None:
    """The download is driven by hand at the ASGI level: after the first chunk the client
    stops reading, and while it waits PostgreSQL shows no transaction of the app's open
    (a transaction held for a slow client would hold back vacuum and its connection)."""
    app, _, db = two_hosts
    async with serve_in_process(app) as client:
        headers = await agency_user(client)
        agency = await create(client, headers)
        made = await upload(client, headers, "photo.png", BIG)
        assert made.status_code == 201, made.text
        auth = headers["Authorization"].encode()
    path = f"/api/v1/agencies/{agency['id']}/documents/{made.json()['id']}"

    monitor = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
    messages: list[dict[str, Any]] = []
    seen_while_paused: list[list[tuple[Any, ...]]] = []

    requested = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # connected until the whole answer is sent, as a server's receive says
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()
        if message["type"] == "http.response.body" and message.get("more_body"):
            await asyncio.sleep(0.3)  # a slow reader: the next chunk waits for it
            rows = await monitor.fetch(
                "SELECT state, xact_start IS NOT NULL, query FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            seen_while_paused.append([tuple(r) for r in rows])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), (b"authorization", auth)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        await monitor.close()

    start = messages[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    bodies = [m["body"] for m in messages if m["type"] == "http.response.body" and m.get("body")]
    assert b"".join(bodies) == BIG
    assert len(bodies) == 3 and all(len(body) <= CHUNK_BYTES for body in bodies)  # one chunk per message
    assert len(seen_while_paused) >= 2
    for rows in seen_while_paused:
        # The app's pooled connections are there, idle, outside any transaction.
        assert rows, "the app's connections should be visible"
        assert all(state == "idle" and not in_transaction for state, in_transaction, _ in rows), rows


async def test_the_same_file_twice_is_stored_once_and_a_refused_one_not_at_all(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    digest = hashlib.sha256(BIG).hexdigest()
    first = await upload(client, headers, "a.png", BIG)
    second = await upload(client, headers, "b.png", BIG)
    assert first.status_code == second.status_code == 201
    assert (
        first.json()["id"] != second.json()["id"]
        and first.json()["sha256"] == second.json()["sha256"] == digest
    )
    assert await stored_counts(db, digest) == (1, 3)

    async with db.transaction() as session:
        before = (await session.execute(sa.text("SELECT count(*) FROM stored_file"))).scalar_one()
    polyglot = PDF[:-6] + HTML + b"\n%%EOF\n"  # a PDF that carries a web page
    oversized = PDF + b"0" * (10 * 1024 * 1024)
    for name, content in (("cert.pdf", polyglot), ("big.pdf", oversized)):
        refused = await upload(client, headers, name, content)
        assert refused.status_code in (413, 422), (name, refused.status_code)
        assert await stored_counts(db, hashlib.sha256(content).hexdigest()) == (0, 0)
    async with db.transaction() as session:
        after = (await session.execute(sa.text("SELECT count(*) FROM stored_file"))).scalar_one()
        assert after == before
        assert await store.read(session, digest) == BIG


async def test_a_document_whose_file_is_not_in_the_database_is_a_404_not_a_500(
    client: httpx.AsyncClient, db: Database
) -> None:
    """A site upgraded without importing its files yet (market files import)."""
    headers = await agency_user(client)
    agency = await create(client, headers)
    made = await upload(client, headers, "licence.pdf", PDF)
    async with db.transaction() as session:
        await session.execute(
            sa.text("DELETE FROM stored_file WHERE sha256 = :s"), {"s": made.json()["sha256"]}
        )
    got = await client.get(f"/api/v1/agencies/{agency['id']}/documents/{made.json()['id']}", headers=headers)
    assert got.status_code == 404 and got.headers["content-type"].startswith("application/problem+json")
