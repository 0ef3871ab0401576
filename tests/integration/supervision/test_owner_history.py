"""An owner organisation's history on its staff page (/supervision/owners/{id}) reads each
of its notices' entries by that notice's own index range (queries.org_history), and finds
the rows the statement it replaces found: the organisation's registration and its notices'
entries, without bids on notices still open, newest first, a page at a time (issue 24).

The organisation, its notices and its registration come through the API; entries of every
kind around them (bids on open and on closed notices, another organisation's entries) are
copies of those entries' bytes under other types and notices, written in SQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import Role
from market.agencies.models import Agency
from market.contracts.models import Contract
from market.core.db import Database
from market.log.models import LogEntry
from market.notices.models import Notice, OwnerOrg
from market.protocol import entry_types
from market.supervision import queries
from market.supervision.queries import TimelineRow, not_sealed_bid
from tests.helpers import create_staff
from tests.integration.agencies.test_pages import login
from tests.integration.contracts.test_overdue_scope import world
from tests.integration.notices.test_api import owner_user, published
from tests.integration.supervision.test_flags_jurisdiction import copy_notice

EN = {"Accept-Language": "en"}


async def old_org_history(
    session: AsyncSession, org: OwnerOrg, notice_ids: Sequence[str], *, before: int | None, limit: int
) -> list[tuple[int, str, str | None]]:
    """The statement the page ran before, word for word: (seq, type, notice) of its rows."""
    doc = sa.cast(sa.func.convert_from(LogEntry.entry, "UTF8"), postgresql.JSONB)
    mine = sa.and_(
        col(LogEntry.type) == entry_types.OWNER_REGISTERED, doc["owner_id"].astext == org.public_id
    )
    where = (
        sa.or_(sa.and_(col(LogEntry.notice_id).in_(list(notice_ids)), not_sealed_bid()), mine)
        if notice_ids
        else mine
    )
    stmt = (
        sa.select(col(LogEntry.seq), col(LogEntry.type), col(LogEntry.notice_id))
        .where(where)
        .order_by(col(LogEntry.seq).desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(col(LogEntry.seq) < before)
    return [(int(s), t, n) for s, t, n in (await session.execute(stmt)).all()]


def keys(rows: list[TimelineRow]) -> list[tuple[int, str, str | None]]:
    return [(r.seq, r.type, r.notice_id) for r in rows]


async def add_entries(db: Database, template: int, rows: list[tuple[str, str | None]]) -> None:
    """Entries after the log's last, each a copy of entry ``template``'s bytes with the type
    and notice given (the console describes them from the bytes, reads them by the columns)."""
    async with db.transaction() as session:
        for kind, notice in rows:
            await session.execute(
                sa.text(
                    "INSERT INTO log_entry (seq, type, notice_id, entry, leaf_hash)"
                    " SELECT (SELECT max(seq) + 1 FROM log_entry), :type, :notice, entry, leaf_hash"
                    " FROM log_entry WHERE seq = :template"
                ),
                {"type": kind, "notice": notice, "template": template},
            )


async def organisation_with_history(client: AsyncClient, db: Database) -> tuple[OwnerOrg, list[str]]:
    """An organisation with open notices and a closed one, and entries of every kind between
    another organisation's; returns it and its notices' public ids."""
    owner = await owner_user(client)
    other = await owner_user(client)
    mine = [str((await published(client, owner))["id"]) for _ in range(3)]
    theirs = str((await published(client, other))["id"])
    closed = await copy_notice(db, mine[0], hall="530102", status="awarded")
    mine.append(closed)
    async with db.transaction() as session:
        org_id = (
            await session.execute(sa.select(col(Notice.org_id)).where(col(Notice.public_id) == mine[0]))
        ).scalar_one()
        org = (await session.execute(sa.select(OwnerOrg).where(col(OwnerOrg.id) == org_id))).scalar_one()
        template = (
            await session.execute(
                sa.select(sa.func.max(col(LogEntry.seq))).where(col(LogEntry.notice_id) == mine[0])
            )
        ).scalar_one()
    rows: list[tuple[str, str | None]] = []
    for round_ in range(20):
        rows += [
            (entry_types.BID_ACCEPTED, mine[round_ % 3]),  # a bid on an open notice: hidden
            (entry_types.BID_WITHDRAWN, closed),  # on a closed one: shown
            (entry_types.BID_SEALED, None),  # names no notice: not the organisation's
            (entry_types.NOTICE_AMENDED, mine[round_ % 3]),
            (entry_types.NOTICE_AMENDED, theirs),
            (entry_types.BID_ACCEPTED, theirs),
            (entry_types.SELECTION_DRAWN, closed),
        ]
    await add_entries(db, int(template), rows)
    return org, mine


async def test_an_organisations_history_is_the_rows_the_old_statement_found(
    client: AsyncClient, db: Database
) -> None:
    org, notices = await organisation_with_history(client, db)
    async with db.transaction() as session:
        registered = await old_org_history(session, org, [], before=None, limit=50)
        assert [t for _, t, _ in registered] == [entry_types.OWNER_REGISTERED]
        for ids in (notices, notices[:1], notices[3:], []):
            for limit in (1, 2, 5, 50):
                seen: list[tuple[int, str, str | None]] = []
                before: int | None = None
                while True:
                    old = await old_org_history(session, org, ids, before=before, limit=limit)
                    rows, more = await queries.org_history(session, org, ids, before=before, limit=limit)
                    assert keys(rows) == old[:limit], (ids, limit, before)
                    assert more == (old[limit - 1][0] if len(old) > limit else None)
                    seen += keys(rows)
                    if more is None:
                        break
                    before = more
                whole = await old_org_history(session, org, ids, before=None, limit=10_000)
                assert seen == whole
        # The data tells the cases apart: the registration, the closed notice's bids shown,
        # the open notices' hidden, no other organisation's entry.
        whole = await old_org_history(session, org, notices, before=None, limit=10_000)
        types = {t for _, t, _ in whole}
        assert {entry_types.OWNER_REGISTERED, entry_types.BID_WITHDRAWN, entry_types.NOTICE_AMENDED} <= types
        assert entry_types.BID_ACCEPTED not in types and entry_types.BID_SEALED not in types
        assert {n for _, _, n in whole} <= {*notices, None}


async def test_the_owner_page_pages_through_the_organisations_history(
    client: AsyncClient, db: Database
) -> None:
    org, notices = await organisation_with_history(client, db)
    async with db.transaction() as session:
        expected = [s for s, _, _ in await old_org_history(session, org, notices, before=None, limit=10_000)]
    assert len(expected) > queries.HISTORY_LIMIT  # more than one page
    email = await create_staff(db, role=Role.supervisor)
    client.headers.update(EN)
    client.headers.pop("Authorization", None)
    await login(client, email)
    seen: list[int] = []
    url = f"/supervision/owners/{org.public_id}"
    while url:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        history = page.text.split('id="history-h"', 1)[1]
        seen += [int(s) for s in re.findall(r'href="/log/(?:entries/)?(\d+)"', history)]
        more = re.search(r'<a href="([^"]+)" rel="next">', history)
        url = more.group(1).replace("&amp;", "&") if more else ""
    assert seen == expected


async def old_contracts_of_notices(session: AsyncSession, ids: list[int]) -> list[tuple[str, str, str]]:
    """The statement the owner's and the notice's staff pages ran before, word for word."""
    stmt = (
        sa.select(Contract, Notice, Agency)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .join(Agency, col(Agency.id) == Contract.agency_id)
        .where(col(Contract.notice_id).in_(ids))
        .order_by(col(Contract.id).desc())
    )
    return [(c.public_id, n.public_id, a.public_id) for c, n, a in (await session.execute(stmt)).all()]


async def test_the_contracts_of_notices_are_those_the_old_statement_found(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    await world(db, database_url, tmp_path)  # contracts in several statuses and halls
    async with db.transaction() as session:
        every = [
            int(i)
            for i in (await session.execute(sa.select(col(Notice.id)).order_by(col(Notice.id)))).scalars()
        ]
        with_contracts = [
            int(i) for i in (await session.execute(sa.select(col(Contract.notice_id)).distinct())).scalars()
        ]
        assert len(with_contracts) >= 5
        for ids in (every, with_contracts, with_contracts[:1], with_contracts[::2], [every[0]], [-1]):
            new = await queries.contracts_of_notices(session, ids)
            assert [
                (c.public_id, n.public_id, a.public_id) for c, n, a in new
            ] == await old_contracts_of_notices(session, ids), ids
            assert all(isinstance(c, Contract) and c.notice_id == n.id for c, n, _ in new)
        assert await queries.contracts_of_notices(session, []) == []
