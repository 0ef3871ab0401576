"""Demo ratings: the owner rates every completed or stopped demo contract, and one agency
replies, so profiles show credit scores with their contributing events on first start."""

from __future__ import annotations

from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser
from market.agencies.models import Agency
from market.contracts.models import Contract, ContractStatus
from market.ratings import service
from market.ratings.models import Rating, RatingInput

# By contract status: scores (quality, timeliness, attitude, fees, compliance) and a comment.
SCORES = {
    ContractStatus.completed.value: ((5, 4, 5, 4, 5), "成果质量好，按期完成，沟通顺畅。"),
    ContractStatus.stopped.value: ((2, 1, 3, 3, 2), "多次延期且成果未达要求，经协商中止服务。"),
}
REPLY = "感谢业主评价。延期系现场资料提供滞后所致，我单位已整改项目管理流程。"


async def load_demo_ratings(session: AsyncSession, *, out: TextIO) -> None:
    stmt = (
        sa.select(Contract)
        .where(
            col(Contract.status).in_(list(SCORES)), ~sa.exists().where(col(Rating.contract_id) == Contract.id)
        )
        .order_by(col(Contract.id))
    )
    for contract in (await session.execute(stmt)).scalars().all():
        owner = await session.get(AppUser, contract.owner_id)
        assert owner is not None
        (quality, timeliness, attitude, fees, compliance), comment = SCORES[contract.status]
        rating = await service.rate(
            session,
            user=owner,
            contract_id=contract.public_id,
            data=RatingInput(
                quality=quality,
                timeliness=timeliness,
                attitude=attitude,
                fees=fees,
                compliance=compliance,
                comment=comment,
            ),
        )
        if contract.status == ContractStatus.stopped:
            agency = await session.get(Agency, contract.agency_id)
            agency_user = await session.get(AppUser, agency.owner_id) if agency else None
            if agency_user is not None:
                await service.reply(session, user=agency_user, rating_id=rating.public_id, text=REPLY)
    total = (await session.execute(sa.select(sa.func.count()).select_from(Rating))).scalar_one()
    print(f"Demo ratings: {total}", file=out)
