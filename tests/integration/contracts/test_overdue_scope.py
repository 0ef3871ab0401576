"""A jurisdiction's overdue milestones on the supervisors' contracts page come from its own
halls' index ranges (queries._overdue_in_halls, ix_milestone_overdue_hall), and are the
rows the statement they replace found: the overdue milestones of contracts in service,
filtered by the notice's hall, in due order, a page at a time (issue 24).

One contract is made through the API (its milestones get their hall from the contracts
service); the others are copies made in SQL in several halls, in several statuses, with
milestones overdue or not, waiting or handed in, that leave the hall out (the trigger of
migration 0015 fills it, as for the seed's COPY)."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import Role
from market.app import create_app
from market.contracts import queries, rules
from market.contracts.models import Contract, ContractStatus, Milestone
from market.core.clock import today_in_china
from market.core.db import Database
from market.halls import queries as halls_queries
from market.notices.models import Notice
from tests.conftest import make_settings, serve_in_process
from tests.helpers import create_staff
from tests.integration.agencies.test_pages import login
from tests.integration.contracts.test_overdue_batches import signed_contract
from tests.integration.supervision.test_flags_jurisdiction import copy_notice

COUNTY = "530102"  # 五华区
SIBLING = "530103"  # 盘龙区, the same prefecture
ELSEWHERE = "530300"  # 曲靖市
PREFECTURE = "530100"  # 昆明市
EN = {"Accept-Language": "en"}
_serial = itertools.count(1)


async def old_overdue_milestones(
    session: AsyncSession,
    *,
    codes: list[str] | None = None,
    after: tuple[date, int] | None = None,
    limit: int | None = None,
) -> list[tuple[Milestone, Contract, Notice]]:
    """The statement the page ran before migration 0015, word for word."""
    stmt = (
        sa.select(Milestone, Contract, Notice)
        .join(Contract, col(Contract.id) == Milestone.contract_id)
        .join(Notice, col(Notice.id) == Contract.notice_id)
        .where(
            col(Contract.status) == ContractStatus.in_service.value,
            col(Milestone.overdue_on).is_not(None),
            col(Milestone.status).in_(rules.WAITING_FOR_AGENCY),
        )
        .order_by(col(Milestone.due_on), col(Milestone.id))
    )
    if codes is not None:
        stmt = stmt.where(halls_queries.in_halls(col(Notice.hall), codes))
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(col(Milestone.due_on), col(Milestone.id))
            > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(m, c, n) for m, c, n in (await session.execute(stmt)).all()]


async def copy_contract(db: Database, source: str, notice: str, status: str) -> int:
    """A copy of contract ``source`` on notice ``notice`` (a copy holding an award), in
    ``status``, without milestones. Returns its id."""
    async with db.transaction() as session:
        return int(
            (
                await session.execute(
                    sa.text(
                        "INSERT INTO contract (public_id, notice_id, award_id, agency_id, owner_id, amount_fen,"
                        " signed_on, start_on, due_on, status, recorded_seq, created_at)"
                        " SELECT :public_id, n.id, a.id, c.agency_id, c.owner_id, c.amount_fen, c.signed_on,"
                        " c.start_on, c.due_on, :status, c.recorded_seq, now()"
                        " FROM contract c, notice n JOIN award a ON a.notice_id = n.id"
                        " WHERE c.public_id = :source AND n.public_id = :notice RETURNING id"
                    ),
                    {
                        "public_id": f"CT{next(_serial):06d}",
                        "status": status,
                        "source": source,
                        "notice": notice,
                    },
                )
            ).scalar_one()
        )


async def add_milestones(db: Database, contract_id: int, rows: list[tuple[int, str, int | None]]) -> None:
    """Milestones (due in days from today, status, flagged overdue days ago or None), with
    no hall named: the trigger takes the notice's."""
    today = today_in_china()
    async with db.transaction() as session:
        for position, (due_in, status, flagged) in enumerate(rows, start=1):
            await session.execute(
                sa.text(
                    "INSERT INTO milestone (contract_id, position, title, due_on, status, overdue_on)"
                    " VALUES (:contract, :position, :title, :due, :status, :flagged)"
                ),
                {
                    "contract": contract_id,
                    "position": position,
                    "title": f"第{position}阶段",
                    "due": today + timedelta(days=due_in),
                    "status": status,
                    "flagged": None if flagged is None else today - timedelta(days=flagged),
                },
            )


async def world(db: Database, database_url: str, tmp_path: Path) -> tuple[str, str]:
    """Overdue and not, waiting and handed in, in service and not, in the county, its
    sibling and another prefecture; ties on the due day. Returns (the API's contract, the
    hall of its notice)."""
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0), database=db)
    async with serve_in_process(app) as c:
        notice_id, cid = await signed_contract(app, c, db)
    async with db.transaction() as session:
        hall = (
            await session.execute(sa.select(col(Notice.hall)).where(col(Notice.public_id) == notice_id))
        ).scalar_one()
        # Two of the API's milestones flagged (the others stay not overdue).
        await session.execute(
            sa.text(
                "UPDATE milestone SET overdue_on = CURRENT_DATE, due_on = CURRENT_DATE - 3"
                " WHERE contract_id = (SELECT id FROM contract WHERE public_id = :c) AND position <= 2"
            ),
            {"c": cid},
        )
    agency = await _agency_of(db, cid)
    variants = [
        (
            COUNTY,
            "in_service",
            [(-9, "pending", 1), (-9, "returned", 1), (-2, "pending", None), (-5, "submitted", 2)],
        ),
        (COUNTY, "in_service", [(-9, "pending", 1), (-30, "accepted", 20), (-1, "pending", 0)]),
        (COUNTY, "stopped", [(-12, "pending", 5)]),
        (COUNTY, "completed", [(-12, "pending", 5)]),
        (SIBLING, "in_service", [(-9, "pending", 1), (-7, "returned", 1), (-40, "pending", 30)]),
        (SIBLING, "proposed", [(-11, "pending", 3)]),
        (ELSEWHERE, "in_service", [(-9, "pending", 1), (-8, "pending", 1), (-3, "returned", 1)]),
        (ELSEWHERE, "in_service", [(-20, "pending", 10), (4, "pending", None)]),
    ]
    for where, status, milestones in variants:
        notice = await copy_notice(db, notice_id, hall=where, status="awarded", agency=agency)
        await add_milestones(db, await copy_contract(db, cid, notice, status), milestones)
    return cid, hall


async def _agency_of(db: Database, contract_public_id: str) -> str:
    async with db.transaction() as session:
        return str(
            (
                await session.execute(
                    sa.text(
                        "SELECT a.public_id FROM contract c JOIN agency a ON a.id = c.agency_id"
                        " WHERE c.public_id = :c"
                    ),
                    {"c": contract_public_id},
                )
            ).scalar_one()
        )


def ids(rows: list[tuple[Milestone, Contract, Notice]]) -> list[tuple[int | None, str, str]]:
    return [(m.id, c.public_id, n.public_id) for m, c, n in rows]


async def test_a_jurisdictions_overdue_milestones_are_those_the_old_statement_found(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    cid, hall = await world(db, database_url, tmp_path)
    async with db.transaction() as session:
        # Every milestone knows its notice's hall, whoever wrote it.
        unmatched = (
            await session.execute(
                sa.text(
                    "SELECT count(*) FROM milestone m JOIN contract c ON c.id = m.contract_id"
                    " JOIN notice n ON n.id = c.notice_id WHERE m.hall IS DISTINCT FROM n.hall"
                )
            )
        ).scalar_one()
        assert unmatched == 0
        prefecture = await halls_queries.codes_under(session, PREFECTURE)
        assert prefecture is not None and COUNTY in prefecture and SIBLING in prefecture
        scopes: list[list[str] | None] = [
            None,
            [COUNTY],
            [SIBLING],
            [ELSEWHERE],
            [hall],
            prefecture,
            [COUNTY, ELSEWHERE],
            ["530000"],  # the province's own hall, which holds none of them
            [],
        ]
        for codes in scopes:
            whole = await old_overdue_milestones(session, codes=codes)
            assert ids(await queries.overdue_milestones(session, codes=codes)) == ids(whole), codes
            # A page at a time, as the page reads them (each page one more, to know of the next).
            for size in (1, 2, 3, 50):
                pages, after = [], None
                while True:
                    old = await old_overdue_milestones(session, codes=codes, after=after, limit=size + 1)
                    new = await queries.overdue_milestones(session, codes=codes, after=after, limit=size + 1)
                    assert ids(new) == ids(old), (codes, size, after)
                    pages += new[:size]
                    if len(new) <= size:
                        break
                    after = (new[size - 1][0].due_on, int(new[size - 1][0].id or 0))
                assert ids(pages) == ids(whole), (codes, size)
        # The data is varied enough to tell the scopes apart.
        county = await old_overdue_milestones(session, codes=[COUNTY])
        assert len(county) >= 3 and len(await old_overdue_milestones(session, codes=prefecture)) > len(county)
        assert len(await old_overdue_milestones(session, codes=None)) > len(
            await old_overdue_milestones(session, codes=prefecture)
        )


async def test_a_county_supervisor_pages_through_its_own_overdue_milestones(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world(db, database_url, tmp_path)
    async with db.transaction() as session:
        expected = [c.public_id for _, c, _ in await old_overdue_milestones(session, codes=[COUNTY])]
    assert len(expected) >= 3
    app = create_app(make_settings(database_url, tmp_path), database=db)
    email = await create_staff(db, role=Role.supervisor, jurisdiction=COUNTY)
    monkeypatch.setattr(queries, "SUPERVISION_PAGE", 2)
    async with serve_in_process(app) as c:
        c.headers.update(EN)
        await login(c, email)
        seen, url = [], "/supervision/contracts"
        while url:
            page = await c.get(url)
            assert page.status_code == 200, page.text
            section = page.text.split('id="milestones-h"', 1)[1].split("</section>", 1)[0]
            seen += re.findall(r'<a href="/contracts/([\w-]+)#milestone-\d+">', section)
            more = re.search(r'<a href="([^"]+)" rel="next" id="milestones-more">', page.text)
            url = more.group(1).replace("&amp;", "&") if more else ""
        assert seen == expected
