"""An agency's history from ``log_entry_agency`` (migration 0013): the same rows, page by
page, as the search over every entry it replaced, over a log that names agencies in every
shape the console's JSON path accepts or refuses; and the other log reads of issue 24
(entry types, the filtered list, the draw timeline) equal to their plain SQL."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.core.db import Database
from market.log import queries, store
from market.log.models import LogEntry
from market.selection import queries as selection_queries
from market.supervision import queries as supervision_queries
from market.supervision.queries import AGENCY_PATH, not_sealed_bid
from tests.integration.notices.test_api import draft, owner_user, published

MIGRATION = Path(__file__).resolve().parents[3] / "migrations" / "versions" / "0013_scale.py"
A, B, C, D = "AG-000001", "AG-000002", "AG-000003", "AG-000004"
POOL = (A, B, C, D, "AG-999999")


async def old_agency_history(
    session: AsyncSession, agency_id: str, *, before: int | None, limit: int
) -> tuple[list[int], int | None]:
    """The query agency_history ran before issue 24, word for word: a byte search and the
    JSON path over every entry, newest first (the reference the new one must equal)."""
    needle = json.dumps(agency_id).encode("utf-8")
    doc = sa.cast(sa.func.convert_from(LogEntry.entry, "UTF8"), postgresql.JSONB)
    stmt = (
        sa.select(col(LogEntry.seq))
        .where(
            sa.text("position(:needle IN log_entry.entry) > 0").bindparams(
                sa.bindparam("needle", needle, type_=sa.LargeBinary)
            ),
            sa.func.jsonb_path_exists(
                doc, sa.cast(AGENCY_PATH, postgresql.JSONPATH), sa.func.jsonb_build_object("a", agency_id)
            ),
            not_sealed_bid(),
        )
        .order_by(col(LogEntry.seq).desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(col(LogEntry.seq) < before)
    found = [int(s) for s in (await session.execute(stmt)).scalars().all()]
    return found[:limit], (found[limit - 1] if len(found) > limit else None)


# Every shape of naming, one entry each: what lax mode's JSON path matches (a top-level
# field, an array of ids, ids one array deeper where the path unwraps, an object where it
# wraps) and what it does not (two arrays deep, nested under another key, inside a string,
# a different case, an object in place of an id, a string too long to be an id). Types of
# their own, so that the console describes them generically, whatever their shape.
SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("test.named", {"agency_id": A}),
    ("test.named", {"agency_id": [A, B]}),
    ("test.named", {"agency_id": [[C]]}),
    ("test.named", {"replacement": B, "agency_id": 5}),
    ("test.named", {"winners": [A], "alternates": [B, C]}),
    ("test.named", {"winners": D}),
    ("test.named", {"winners": [[A]]}),
    ("test.named", {"winners": [[[B]]]}),
    ("test.named", {"candidates": [[A, 1], [B, 2]]}),
    ("test.named", {"candidates": [C]}),
    ("test.named", {"candidates": [[[D], 1]]}),
    ("test.named", {"excluded": [{"agency_id": A, "reason": "x"}]}),
    ("test.named", {"excluded": {"agency_id": B}}),
    ("test.named", {"excluded": [[{"agency_id": C}]]}),
    ("test.named", {"bids": [{"agency_id": D, "bid_id": "B-1"}]}),
    ("test.named", {"openings": [{"bid": {"agency_id": A}, "salt": "00"}]}),
    ("test.named", {"openings": [{"bid": [{"agency_id": [B]}]}]}),
    ("test.named", {"other": {"agency_id": A}}),
    ("test.named", {"note": '"agency_id":"AG-000001" said "AG-000002"'}),
    ("test.named", {"agency_id": "A" * 100}),
    ("test.named", {"agency_id": A.lower()}),
    ("test.named", {"agency_id": {"id": A}}),
    ("test.named", {"winners": [A, A], "alternates": [None, 3, C]}),
    ("test.named", {"agency_id": "机构一"}),
    ("bid.sealed", {"agency_id": C}),  # names no notice: always shown
    ("bid.accepted", {"agency_id": D}),  # MSP/1 bid naming no notice: shown
]


def random_fields(rng: random.Random) -> dict[str, Any]:
    """Any of the path's keys holding ids, or arrays and objects of them, a few levels deep."""

    def value(depth: int) -> Any:
        pick = rng.random()
        if depth > 2 or pick < 0.45:
            return rng.choice([*POOL, 7, None, "x", A.lower()])
        if pick < 0.8:
            return [value(depth + 1) for _ in range(rng.randrange(0, 4))]
        return {rng.choice(["agency_id", "bid", "id"]): value(depth + 1) for _ in range(rng.randrange(1, 3))}

    keys = [
        "agency_id",
        "replacement",
        "winners",
        "alternates",
        "candidates",
        "excluded",
        "bids",
        "openings",
        "x",
    ]
    return {k: value(0) for k in rng.sample(keys, rng.randrange(1, 4))}


async def _append(db: Database, type: str, fields: dict[str, Any]) -> int:
    async with db.sessionmaker() as session:
        appended = await store.append(session, type=type, fields=fields)
        await session.commit()
    return appended.seq


async def test_an_agencys_history_is_the_same_rows_as_the_search_over_every_entry(
    client: AsyncClient, db: Database
) -> None:
    owner = await owner_user(client)
    still_open = (await published(client, owner))["id"]
    not_open = (await draft(client, owner))["id"]
    for type, fields in SHAPES:
        await _append(db, type, fields)
    # MSP/1 bids: left out while their notice is open, shown otherwise.
    for notice_id in (still_open, not_open):
        for agency in (A, B):
            await _append(db, "bid.accepted", {"notice_id": notice_id, "agency_id": agency})
            await _append(db, "bid.withdrawn", {"notice_id": notice_id, "agency_id": agency})
    rng = random.Random(24)
    for _ in range(150):
        await _append(db, "test.random", random_fields(rng))

    async with db.sessionmaker() as session:
        # The table holds exactly what the JSON path matches, entry by entry and agency by agency.
        pairs = (
            await session.execute(
                sa.text(
                    "SELECT e.seq, a.id, "
                    "jsonb_path_exists(convert_from(e.entry, 'UTF8')::jsonb, CAST(:path AS jsonpath), jsonb_build_object('a', a.id)), "
                    "EXISTS (SELECT 1 FROM log_entry_agency x WHERE x.agency_id = a.id AND x.seq = e.seq) "
                    "FROM log_entry e CROSS JOIN unnest(CAST(:pool AS text[])) AS a(id)"
                ),
                {"path": AGENCY_PATH, "pool": list(POOL)},
            )
        ).all()
        assert len(pairs) > 180 * len(POOL)
        assert [(s, a) for s, a, path, table in pairs if path != table] == []
        assert sum(1 for *_, path, _ in pairs if path) > 100  # the log does name them, often

        for agency in POOL:
            rows, more = await supervision_queries.agency_history(session, agency, limit=1000)
            old, old_more = await old_agency_history(session, agency, before=None, limit=1000)
            assert [r.seq for r in rows] == old and more is None is old_more
            # Page by page, following the cursors.
            before: int | None = None
            while True:
                page, more = await supervision_queries.agency_history(session, agency, before=before, limit=3)
                old_page, old_more = await old_agency_history(session, agency, before=before, limit=3)
                assert [r.seq for r in page] == old_page and more == old_more
                if more is None:
                    break
                before = more
        bids_of_a = [
            r.notice_id
            for r in (await supervision_queries.agency_history(session, A, limit=1000))[0]
            if r.type.startswith("bid.")
        ]
        assert not_open in bids_of_a and still_open not in bids_of_a


async def test_the_migrations_fill_is_what_the_appends_wrote(client: AsyncClient, db: Database) -> None:
    """ops/bench/seed.py and the migration's backfill use the same statement as the append."""
    for type, fields in SHAPES:
        await _append(db, type, fields)
    spec = importlib.util.spec_from_file_location("scale_0013", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    async with db.sessionmaker() as session:
        written = set((await session.execute(sa.text("SELECT agency_id, seq FROM log_entry_agency"))).all())
        select = migration.LOG_ENTRY_AGENCY_FILL.split(" SELECT ", 1)[1]
        filled = set((await session.execute(sa.text("SELECT " + select))).all())
    assert written == filled and len(written) > 20


async def test_the_agency_table_is_insert_only(db: Database) -> None:
    await _append(db, "agency.approved", {"agency_id": A})
    for statement in ("UPDATE log_entry_agency SET agency_id = 'AG-000009'", "DELETE FROM log_entry_agency"):
        async with db.sessionmaker() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(sa.text(statement))


async def test_entry_types_and_the_filtered_list_equal_their_plain_queries(
    client: AsyncClient, db: Database
) -> None:
    owner = await owner_user(client)
    notice = (await published(client, owner))["id"]
    for i in range(30):
        await _append(
            db, ["agency.test", "agency.approved", "bid.accepted"][i % 3], {"notice_id": notice, "i": i}
        )
    async with db.sessionmaker() as session:
        distinct = (
            await session.execute(sa.text("SELECT DISTINCT type FROM log_entry ORDER BY type"))
        ).scalars()
        assert await queries.entry_types(session) == list(distinct)
        for type in (None, "agency.test", "bid.accepted", "nothing.here"):
            for notice_id in (None, notice):
                for before in (None, 10_000, 25):
                    rows, more = await queries.list_entries(
                        session, type=type, notice_id=notice_id, before=before, limit=4
                    )
                    plain = sa.select(col(LogEntry.seq)).order_by(col(LogEntry.seq).desc())
                    if type:
                        plain = plain.where(col(LogEntry.type) == type)
                    if notice_id:
                        plain = plain.where(col(LogEntry.notice_id) == notice_id)
                    if before is not None:
                        plain = plain.where(col(LogEntry.seq) < before)
                    expected = list((await session.execute(plain.limit(5))).scalars())
                    assert [r.seq for r in rows] == expected[:4]
                    assert more == (expected[3] if len(expected) > 4 else None)


async def test_the_timeline_reads_a_notices_story_past_its_bids_by_index(
    client: AsyncClient, db: Database
) -> None:
    """The draw page's timeline and newest seq skip the bids through the partial index
    ix_log_entry_notice_story, which the planner uses only while NOT_A_BID states its
    predicate word for word."""
    owner = await owner_user(client)
    notice = (await published(client, owner))["id"]
    for i in range(40):
        await _append(db, "bid.accepted", {"notice_id": notice, "agency_id": f"AG-{i:06d}"})
    last = await _append(db, "notice.amended", {"notice_id": notice})
    async with db.sessionmaker() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        await session.execute(sa.text("ANALYZE log_entry"))
        for statement, params in (
            (selection_queries.TIMELINE, {"n": notice, "limit": 200}),
            (selection_queries.LAST_SEQ, {"n": notice}),
        ):
            plan = "\n".join((await session.execute(sa.text("EXPLAIN " + statement), params)).scalars().all())
            assert "ix_log_entry_notice_story" in plan, plan
        timeline = await selection_queries.timeline(session, notice, limit=200)
        assert [e.type for e in timeline] == ["notice.published", "notice.amended"]
        assert await selection_queries.newest_seq(session, notice) == last
