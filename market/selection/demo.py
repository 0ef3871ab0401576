"""Demo rounds that have already been drawn, so that the draw pages, the winners' messages
and the objection forms are alive on first start: a lottery and a lowest-price round in
publicity, one with an objection waiting for the owner, and one that failed for want of
candidates. Their deadlines are a few seconds after loading began; loading waits for them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser
from market.agencies.models import Agency, AgencyStatus
from market.bids import service as bids
from market.bids.receipts import ReceiptSigner
from market.core.config import Settings
from market.notices import service as notices
from market.notices.models import Method, Notice, NoticeCreate
from market.notices.secrets import SecretSealer
from market.objections import service as objections
from market.selection import service
from market.selection.beacon import DrandRelays
from market.selection.models import Selection
from market.selection.service import Context

# Only the last round's deadline is waited for, so a roomier window costs the load a few
# seconds once; 2 s ran out before a round's last bid on a machine busy with tests.
DEADLINE_IN = timedelta(seconds=6)
# title, category, budget in yuan, method, how many bid, min candidates
ROUNDS = [
    ("盘龙区城中村改造项目环境影响评价", "EIA", 360_000, Method.lottery, 5, 3),
    ("昆明市轨道交通沿线地块工程造价咨询", "COST_CONSULTING", 420_000, Method.lowest_price, 4, 3),
    ("东川区尾矿库闭库工程安全评价", "SAFETY_ASSESSMENT", 180_000, Method.lottery, 1, 3),
    # Drawn here and made final by market/contracts/demo.py, which records their contracts.
    ("五华区老旧小区改造项目可行性研究", "FEASIBILITY", 260_000, Method.lottery, 3, 3),
    ("呈贡区市政道路工程地质勘察", "ENG_INVESTIGATION", 480_000, Method.lottery, 3, 3),
    ("安宁市化工园区安全现状评价", "SAFETY_ASSESSMENT", 220_000, Method.lottery, 3, 3),
    ("晋宁区高标准农田建设工程造价咨询", "COST_CONSULTING", 150_000, Method.lottery, 3, 3),
    ("嵩明县城区地质灾害危险性评估", "GEOHAZARD", 300_000, Method.lottery, 3, 3),
]
CONTRACT_TITLES = [r[0] for r in ROUNDS[3:]]
OBJECTION = "中选机构近一年内曾因报告质量问题被通报，请核实其执业情况。"


async def load_demo_selections(
    session: AsyncSession, *, owner: AppUser, settings: Settings, out: TextIO
) -> None:
    titles = [r[0] for r in ROUNDS]
    if (
        await session.execute(sa.select(col(Notice.id)).where(col(Notice.title).in_(titles)).limit(1))
    ).first():
        print(f"Demo draws: {len(ROUNDS)}", file=out)
        return
    # History is being written after the fact: a deadline seconds away is fine here, whatever
    # the minimum bid window for real notices.
    demo_settings = replace(settings, min_bid_window=0)
    sealer = SecretSealer.from_data_dir(settings.data_dir)
    receipts = ReceiptSigner.from_data_dir(settings.data_dir)
    approved = list(
        (
            await session.execute(
                sa.select(Agency)
                .where(col(Agency.status) == AgencyStatus.approved.value)
                .order_by(col(Agency.id))
            )
        )
        .scalars()
        .all()
    )
    published: list[Notice] = []
    for title, category, yuan, method, bidders, minimum in ROUNDS:
        # Each round's own deadline, set just before its bids: one deadline for all eight
        # rounds passed before the last bids on a busy machine, and loading failed.
        deadline = datetime.now(UTC) + DEADLINE_IN
        data = NoticeCreate(
            title=title,
            description=f"{title}。服务期限以合同约定为准。",
            category=category,
            region="530000",
            budget_fen=yuan * 100,
            method=method,
            winners=1,
            min_candidates=minimum,
            bid_deadline=deadline,
            service_days=90,
        )
        notice = await notices.create_notice(session, user=owner, data=data)
        await notices.publish(
            session, user=owner, notice_id=notice.public_id, settings=demo_settings, sealer=sealer
        )
        view = await notices.view(session, notice)
        placed = 0
        for agency in approved:
            if placed >= bidders:
                break
            if not await bids.eligibility(session, agency, view):
                continue
            user = await session.get(AppUser, agency.owner_id)
            assert user is not None
            # Two equal prices, so the page shows a tie broken by the draw.
            price = (yuan * 100) * (78 + 4 * min(placed, 2)) // 100 if method == Method.lowest_price else None
            await bids.place_bid(
                session,
                bidder=user.public_id,
                notice_id=notice.public_id,
                price_fen=price,
                receipts=receipts,
                sealer=sealer,
            )
            placed += 1
        published.append(notice)
    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.1)
    ctx = Context(settings=settings, sealer=sealer, beacon=DrandRelays(settings.drand_relays))
    for notice in published:
        await service.close(session, user=owner, notice_id=notice.public_id, ctx=ctx)
    # A losing bidder objects to the lottery's result; the owner has yet to answer.
    first = published[0]
    selection = await session.get(Selection, first.id)
    if first.status == "selected" and selection is not None and selection.alternates:
        loser = (
            await session.execute(sa.select(Agency).where(col(Agency.public_id) == selection.alternates[0]))
        ).scalar_one()
        objector = await session.get(AppUser, loser.owner_id)
        assert objector is not None
        await objections.file_objection(
            session,
            user=objector,
            notice_id=first.public_id,
            reasons=OBJECTION,
            agency_id=selection.winners[0] if selection.winners else None,
        )
    print(f"Demo draws: {len(ROUNDS)}", file=out)
