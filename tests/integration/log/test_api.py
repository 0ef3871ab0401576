"""The log's HTTP interface (MSP/1 section 4) and what the store guarantees."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from market import protocol
from market.core.db import Database
from market.log import store
from tests.helpers import register


async def _log(client: AsyncClient, n: int) -> None:
    for _ in range(n):
        await register(client, org=None)


async def _checkpoint(client: AsyncClient) -> tuple[str, int, bytes, str]:
    key = (await client.get("/api/v1/log/key")).text
    note = (await client.get("/api/v1/log/checkpoint")).text
    origin, size, root = protocol.open_checkpoint(note, key.strip())
    return origin, size, root, note


async def test_empty_log_has_a_signed_checkpoint_of_the_empty_tree(client: AsyncClient) -> None:
    response = await client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    origin, size, root, note = await _checkpoint(client)
    assert (origin, size, root) == ("market.localhost/log", 0, protocol.EMPTY_ROOT)
    assert note.startswith("market.localhost/log\n0\n") and "\n\n\u2014 market.localhost/log " in note


async def test_key_line_has_the_published_format(client: AsyncClient) -> None:
    line = (await client.get("/api/v1/log/key")).text.strip()
    origin, key_id, public_key = protocol.parse_verifier_key(line)
    assert origin == "market.localhost/log" and len(public_key) == 32
    assert key_id == protocol.key_id(origin, public_key)


async def test_entries_are_canonical_dense_and_match_the_signed_root(client: AsyncClient) -> None:
    await _log(client, 5)
    _, size, root, _ = await _checkpoint(client)
    assert size == 5
    response = await client.get(f"/api/v1/log/entries?start=0&end={size}")
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = response.content.split(b"\n")
    assert lines[-1] == b"" and len(lines) == size + 1
    leaves = []
    for seq, raw in enumerate(lines[:-1]):
        entry = protocol.parse_canonical(raw)
        assert (
            entry["seq"] == seq and entry["v"] == protocol.VERSION == 2 and entry["type"] == "account.created"
        )
        protocol.parse_ts(entry["ts"])
        assert set(entry) == {"v", "seq", "type", "ts", "user_id", "role"}  # no name, no e-mail
        leaves.append(protocol.leaf_hash(raw))
    assert protocol.root_from_leaf_hashes(leaves) == root


async def test_inclusion_and_consistency_proofs_verify(client: AsyncClient) -> None:
    await _log(client, 3)
    _, old_size, old_root, _ = await _checkpoint(client)
    await _log(client, 4)
    _, size, root, _ = await _checkpoint(client)
    raw = (await client.get(f"/api/v1/log/entries?start=0&end={size}")).content.split(b"\n")[:-1]
    for index in range(size):
        proof = (await client.get(f"/api/v1/log/proof/inclusion?index={index}&size={size}")).json()
        assert proof["leaf_hash"] == protocol.leaf_hash(raw[index]).hex()
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        assert protocol.verify_inclusion(protocol.leaf_hash(raw[index]), index, size, hashes, root)
    body = (await client.get(f"/api/v1/log/proof/consistency?first={old_size}&second={size}")).json()
    assert body["first"] == old_size and body["second"] == size
    assert protocol.verify_consistency(
        old_size, size, old_root, root, [bytes.fromhex(h) for h in body["hashes"]]
    )
    for first, second in ((0, size), (size, size)):
        assert (await client.get(f"/api/v1/log/proof/consistency?first={first}&second={second}")).json()[
            "hashes"
        ] == []


async def test_entries_page_is_cut_at_the_log_end_and_at_1000(client: AsyncClient) -> None:
    await _log(client, 2)
    response = await client.get("/api/v1/log/entries?start=1&end=50")
    assert response.status_code == 200 and response.content.count(b"\n") == 1
    assert "immutable" not in response.headers["cache-control"]
    full = await client.get("/api/v1/log/entries?start=0&end=2")
    assert "immutable" in full.headers["cache-control"]
    assert (await client.get("/api/v1/log/entries?start=2&end=2")).content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/log/entries?start=-1&end=2",
        "/api/v1/log/entries?start=2&end=1",
        "/api/v1/log/entries?start=99&end=100",
        "/api/v1/log/entries?start=x&end=1",
        "/api/v1/log/entries",
        "/api/v1/log/proof/inclusion?index=0&size=0",
        "/api/v1/log/proof/inclusion?index=2&size=2",
        "/api/v1/log/proof/inclusion?index=0&size=99",
        "/api/v1/log/proof/inclusion?index=-1&size=1",
        "/api/v1/log/proof/consistency?first=2&second=1",
        "/api/v1/log/proof/consistency?first=0&second=99",
        "/api/v1/log/proof/consistency?first=-1&second=1",
        "/api/v1/log/proof/consistency?first=a&second=1",
    ],
)
async def test_bad_ranges_and_sizes_are_400_problems(client: AsyncClient, path: str) -> None:
    await _log(client, 2)
    response = await client.get(path)
    assert response.status_code == 400, (path, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400


async def test_personal_data_never_enters_the_log(db: Database) -> None:
    async with db.sessionmaker() as session:
        for fields in ({"email": "x"}, {"nested": {"phone": "1"}}, {"note": "write to a@b.cn"}, {"seq": 3}):
            with pytest.raises(store.LogError):
                await store.append(session, type="test.event", fields=fields)


async def test_log_rows_cannot_be_updated_deleted_or_truncated(
    connection: AsyncConnection, db: Database
) -> None:
    async with db.sessionmaker() as session:
        await store.append(session, type="test.event", fields={"n": 1})
        await session.commit()
    for statement in (
        "UPDATE log_entry SET type = 'x'",
        "DELETE FROM log_entry",
        "TRUNCATE log_entry",
        "UPDATE log_subtree SET hash = hash",
        "TRUNCATE log_checkpoint",
        "DELETE FROM log_subtree",
    ):
        savepoint = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(sa.text(statement))
        await savepoint.rollback()


@pytest.mark.committing
async def test_32_concurrent_appenders_get_dense_seqs(committed_database_url: str) -> None:
    engine = create_async_engine(committed_database_url, pool_size=32, max_overflow=0)
    db = Database.from_url(committed_database_url, pool_size=32, max_overflow=0)
    per_writer = 8

    async def writer(w: int) -> list[int]:
        seqs = []
        for i in range(per_writer):
            async with db.sessionmaker() as session, session.begin():
                appended = await store.append(session, type="test.event", fields={"writer": w, "i": i})
                seqs.append(appended.seq)
        return seqs

    try:
        results = await asyncio.gather(*(writer(w) for w in range(32)))
        total = 32 * per_writer
        assert sorted(s for r in results for s in r) == list(range(total))
        async with db.sessionmaker() as session:
            entries = await store.read_entries(session, 0, total)
            assert [json.loads(e)["seq"] for e in entries] == list(range(total))
            root = await store.root_at(session, total)
            assert root == protocol.root_from_leaf_hashes([protocol.leaf_hash(e) for e in entries])
            # timestamps never go backwards along seq
            stamps = [json.loads(e)["ts"] for e in entries]
            assert stamps == sorted(stamps)
    finally:
        await db.dispose()
        await engine.dispose()


@pytest.mark.committing
async def test_rolled_back_append_leaves_no_gap(committed_database_url: str) -> None:
    db = Database.from_url(committed_database_url)
    try:
        async with db.sessionmaker() as session:
            async with session.begin():
                await store.append(session, type="test.event", fields={"kept": True})
            await session.begin()
            await store.append(session, type="test.event", fields={"kept": False})
            await session.rollback()
            async with session.begin():
                appended = await store.append(session, type="test.event", fields={"kept": True})
        assert appended.seq == 1
    finally:
        await db.dispose()


async def test_append_reuses_nothing_after_a_rolled_back_savepoint(db: Database) -> None:
    async with db.sessionmaker() as session:
        await store.append(session, type="test.event", fields={"n": 0})
        nested = await session.begin_nested()
        await store.append(session, type="test.event", fields={"n": 1})
        await nested.rollback()
        appended = await store.append(session, type="test.event", fields={"n": 2})
        assert appended.seq == 1
        entries = await store.read_entries(session, 0, 2)
        assert protocol.root_from_leaf_hashes(
            [protocol.leaf_hash(e) for e in entries]
        ) == await store.root_at(session, 2)
