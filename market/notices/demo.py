"""Demo notices in every state a notice can be in before closing: drafts, open ones with
sealed bids from eligible demo agencies, an amended one and a cancelled one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import AppUser, Role
from market.agencies import queries as agency_queries
from market.agencies.models import Agency, AgencyStatus
from market.bids import service as bids
from market.bids.receipts import ReceiptSigner
from market.core.config import Settings
from market.notices import service
from market.notices.models import Method, Notice, NoticeAmend, NoticeCreate, OrgCreate, ProjectCreate
from market.notices.secrets import SecretSealer

ORG = OrgCreate(name="昆明市生态环境局", credit_code="11530100MB0000000X", region="530100")
PROJECT = ProjectCreate(name="昆明市滇池流域水环境综合治理工程", code="2026-530100-77-01-000321")
# title, category, budget in yuan, method, days to the deadline, what happens to it
NOTICES = [
    ("滇池流域水环境综合治理工程环境影响评价", "EIA", 480_000, Method.lottery, 7, "bids"),
    ("昆明市五华区老旧小区改造项目工程造价咨询", "COST_CONSULTING", 260_000, Method.lowest_price, 5, "bids"),
    ("呈贡区市政道路地质灾害危险性评估", "GEOHAZARD", 150_000, Method.lottery, 10, "amended"),
    ("安宁市工业园区安全评价", "SAFETY_ASSESSMENT", 200_000, Method.lowest_price, 6, "open"),
    ("晋宁区水库除险加固工程防洪评价", "FLOOD_CONTROL", 90_000, Method.lottery, 8, "cancelled"),
    ("官渡区学校新建项目施工图审查", "DRAWING_REVIEW", 120_000, Method.direct, 9, "draft"),
    ("西山区片区开发社会稳定风险评估", "SOCIAL_RISK", 80_000, Method.lottery, 12, "draft"),
]


def _fix_credit_code(code: str) -> str:
    from market.agencies.creditcode import complete_credit_code

    return complete_credit_code(code[0], code[1], code[2:8], code[8:16])


async def _direct_choice(session: AsyncSession, approved: list[Agency], category: str) -> Agency | None:
    """The first approved demo agency registered for the category: a direct notice names one."""
    for agency in approved:
        profile = await agency_queries.load_profile(session, agency)
        if category in profile.facts().categories:
            return agency
    return None


async def load_demo_notices(
    session: AsyncSession, *, owner: AppUser, settings: Settings, out: TextIO
) -> None:
    if (
        await session.execute(sa.select(col(Notice.id)).where(col(Notice.owner_id) == owner.id).limit(1))
    ).first():
        print(f"Demo notices: {len(NOTICES)}", file=out)
        return
    org = await service.org_of(session, owner) or await service.create_org(
        session,
        user=owner,
        data=OrgCreate(name=ORG.name, credit_code=_fix_credit_code(ORG.credit_code), region=ORG.region),
    )
    project = await service.create_project(session, user=owner, data=PROJECT)
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
    now = datetime.now(UTC)
    for i, (title, category, yuan, method, days, fate) in enumerate(NOTICES):
        data = NoticeCreate(
            title=title,
            description=f"{title}。项目单位：{org.name}。服务期限以合同约定为准。",
            category=category,
            region="530000",
            budget_fen=yuan * 100,
            method=method,
            winners=1,
            bid_deadline=(now + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0),
            service_days=60 + 30 * (i % 4),
            project_id=project.public_id if i < 3 else None,
        )
        if method == Method.direct:
            named = await _direct_choice(session, approved, category)
            if named is None:
                continue
            data.min_candidates = 1
            data.direct_agency_id = named.public_id
            data.direct_justification = "涉密项目，经主管部门批准，直接选取具备相应资质的机构承担。"
        notice = await service.create_notice(session, user=owner, data=data)
        if fate == "draft":
            continue
        await service.publish(
            session, user=owner, notice_id=notice.public_id, settings=settings, sealer=sealer
        )
        if fate == "amended":
            await service.amend(
                session,
                user=owner,
                notice_id=notice.public_id,
                settings=settings,
                data=NoticeAmend(
                    bid_deadline=data.bid_deadline + timedelta(days=3), reason="补充地勘资料，延长报名时间"
                ),
            )
        if fate == "cancelled":
            await service.request_cancellation(
                session, user=owner, notice_id=notice.public_id, reason="项目调整，暂停采购"
            )
            supervisor = (
                await session.execute(
                    sa.select(AppUser)
                    .where(col(AppUser.role) == Role.supervisor.value)
                    .order_by(col(AppUser.id))
                    .limit(1)
                )
            ).scalar_one_or_none()
            if supervisor is not None:  # without one the demo shows a request waiting for consent
                await service.decide_cancellation(
                    session,
                    user=supervisor,
                    notice_id=notice.public_id,
                    consent=True,
                    reason="项目资金调整属实，同意终止",
                    sealer=sealer,
                )
        if fate == "bids":
            view = await service.view(session, notice)
            bidders = 0
            for agency in approved:
                if bidders >= 4:
                    break
                if not await bids.eligibility(session, agency, view):
                    continue
                user = await session.get(AppUser, agency.owner_id)
                assert user is not None
                price = (yuan * 100) * (80 + 5 * bidders) // 100 if method == Method.lowest_price else None
                await bids.place_bid(
                    session,
                    bidder=user.public_id,
                    notice_id=notice.public_id,
                    price_fen=price,
                    receipts=receipts,
                    sealer=sealer,
                )
                bidders += 1
    print(f"Demo notices: {len(NOTICES)}", file=out)
