"""Demo contracts, one in every state, on the demo draws made for them
(``market.selection.demo.CONTRACT_TITLES``): their publicity is cut short (demo history is
written after the fact) and their awards made final, then the owner records a contract
with each winner: one waiting for the agency, one in service with a deliverable handed in,
one completed, one stopped, and one declined (its award passed to the next alternate).
Loading twice changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser
from market.agencies.models import Agency
from market.contracts import service
from market.contracts.models import Contract, ContractCreate, MilestoneInput
from market.core.clock import today_in_china, utcnow
from market.core.config import Settings
from market.notices.models import Notice, NoticeStatus
from market.selection import queries as selection_queries
from market.selection import service as selection
from market.selection.demo import CONTRACT_TITLES
from market.selection.models import Selection

STATES = ("proposed", "in_service", "completed", "stopped", "declined")
# A one-page PDF, enough for the deliverable links to open something.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


async def load_demo_contracts(session: AsyncSession, *, settings: Settings, out: TextIO) -> None:
    rows = (
        (
            await session.execute(
                sa.select(Notice).where(col(Notice.title).in_(CONTRACT_TITLES)).order_by(col(Notice.id))
            )
        )
        .scalars()
        .all()
    )
    by_title = {n.title: n for n in rows}
    notices = [by_title[t] for t in CONTRACT_TITLES if t in by_title]
    existing = (
        (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(Contract)
                .where(col(Contract.notice_id).in_([n.id for n in notices]))
            )
        ).scalar_one()
        if notices
        else 0
    )
    if existing or len(notices) < len(STATES):
        print(f"Demo contracts: {existing}", file=out)
        return
    today = today_in_china()
    made = 0
    for notice, state in zip(notices, STATES, strict=False):
        if notice.status == NoticeStatus.selected:
            sel = await session.get(Selection, notice.id)
            assert sel is not None
            sel.publicity_ends = utcnow() - timedelta(seconds=1)
            await selection.finalize(session, notice)
        if notice.status != NoticeStatus.awarded:
            continue  # too few eligible bidders in this database: no award to contract
        holder = (await selection_queries.holders(session, notice))[0]
        agency = await session.get(Agency, holder.agency_id)
        owner = await session.get(AppUser, notice.owner_id)
        assert agency is not None and owner is not None
        agency_user = await session.get(AppUser, agency.owner_id)
        assert agency_user is not None
        # Terms that follow the award (docs/contracts.md): the winning price on a lowest-price
        # notice, else within the budget; signed once the award is final (today), starting
        # tomorrow, and due no earlier than the service period the notice published.
        terms = await service.award_terms(session, notice, holder)
        start = today + timedelta(days=1)
        days = max(60, terms.service_days or 0)
        data = ContractCreate(
            amount_fen=terms.price_fen if terms.price_fen is not None else notice.budget_fen * 88 // 100,
            signed_on=today,
            start_on=start,
            due_on=start + timedelta(days=days),
            milestones=[
                MilestoneInput(title="工作方案及初步成果", due_on=start + timedelta(days=days // 3)),
                MilestoneInput(title="最终成果报告", due_on=start + timedelta(days=days)),
            ],
        )
        contract = await service.record_contract(
            session,
            owner=owner,
            notice_id=notice.public_id,
            agency_id=agency.public_id,
            data=data,
            settings=settings,
        )
        made += 1
        if state == "declined":
            await service.decline_contract(
                session,
                user=agency_user,
                contract_id=contract.public_id,
                reason="项目负责人调离，无法按合同约定期限履约",
                settings=settings,
            )
            continue
        if state == "proposed":
            continue
        await service.confirm(session, user=agency_user, contract_id=contract.public_id)
        positions = {"in_service": [1], "completed": [1, 2], "stopped": [1]}[state]
        for position in positions:
            await service.submit_milestone(
                session,
                user=agency_user,
                contract_id=contract.public_id,
                position=position,
                filename=f"milestone-{position}.pdf",
                content=DEMO_PDF,
                note="成果已按合同要求完成，请审阅。",
            )
            if state != "in_service":
                await service.accept_milestone(
                    session, user=owner, contract_id=contract.public_id, position=position
                )
        if state == "stopped":
            await service.stop_contract(
                session,
                user=owner,
                contract_id=contract.public_id,
                reason="项目因规划调整暂缓实施，经双方协商中止服务",
            )
    print(f"Demo contracts: {made}", file=out)
