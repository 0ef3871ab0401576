"""A contract to rate, quickly: a direct selection won by one agency, then a contract row
written straight into the test's transaction (the contracts service has its own tests)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.contracts.models import Contract
from market.core.db import Database
from market.notices.models import Notice
from market.selection.models import Award
from tests.integration.notices.test_api import owner_user
from tests.integration.selection.helpers import Round, close, open_round

JUSTIFICATION = "全省唯一具备该项甲级资质的机构，且须在汛期前完成评估"
_numbers = itertools.count(900001)


@dataclass
class Deal:
    round: Round
    agency_headers: dict[str, str]
    agency: dict[str, Any]
    contract_id: str


async def won(
    client: AsyncClient,
    staff: dict[str, str],
    bidder: tuple[dict[str, str], dict[str, Any]],
    owner: dict[str, str] | None = None,
) -> Round:
    """A direct selection naming ``bidder``, opened (call ``close`` on it to award)."""
    return await open_round(
        client,
        staff,
        bidders=[bidder],
        owner=owner,
        method="direct",
        winners=1,
        min_candidates=1,
        direct_agency_id=bidder[1]["id"],
        direct_justification=JUSTIFICATION,
    )


async def contract_for(db: Database, notice_id: str, *, status: str = "completed") -> str:
    session = db.sessionmaker()
    async with session:
        notice = (await session.execute(sa.select(Notice).where(Notice.public_id == notice_id))).scalar_one()
        award = (
            (await session.execute(sa.select(Award).where(Award.notice_id == notice.id))).scalars().first()
        )
        assert award is not None
        public_id = f"CT-{next(_numbers)}"
        session.add(
            Contract(
                public_id=public_id,
                notice_id=notice.id,
                award_id=award.id,
                agency_id=award.agency_id,
                owner_id=notice.owner_id,  # type: ignore[arg-type]
                amount_fen=12_000_000,
                signed_on=date(2026, 1, 5),
                start_on=date(2026, 1, 10),
                due_on=date(2026, 3, 1),
                status=status,
                recorded_seq=0,
            )
        )
        await session.commit()
    return public_id


async def set_status(db: Database, contract_id: str, status: str) -> None:
    session = db.sessionmaker()
    async with session:
        await session.execute(
            sa.update(Contract).where(Contract.public_id == contract_id).values(status=status)
        )
        await session.commit()


async def deal(
    client: AsyncClient,
    db: Database,
    staff: dict[str, str],
    bidder: tuple[dict[str, str], dict[str, Any]],
    *,
    status: str = "completed",
) -> Deal:
    r = await won(client, staff, bidder, owner=await owner_user(client))
    await close(client, r)
    return Deal(
        round=r,
        agency_headers=bidder[0],
        agency=bidder[1],
        contract_id=await contract_for(db, r.notice_id, status=status),
    )
