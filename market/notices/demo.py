"""Demo notices in every state a notice can be in before closing: drafts, open ones with
sealed bids from eligible demo agencies, an amended one and a cancelled one; and open
notices of an owner organisation in each of the demo's other halls (the province's own,
two counties of 昆明市 and a development park)."""

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
from market.notices import orgs, service
from market.notices.models import (
    Method,
    Notice,
    NoticeAmend,
    NoticeCreate,
    OrgCreate,
    OwnerOrg,
    ProjectCreate,
)
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


# The other halls' owners: e-mail, organisation, region, hall, and two notices each
# (title, category, budget in yuan, method, days to the deadline). The park's organisation
# lies in 昆明市 and registers in the park's hall.
HALL_OWNERS = [
    (
        "owner.530000@demo.market.cn",
        "云南省交通运输厅",
        "530000",
        "530000",
        [
            ("云南省高速公路网规划环境影响评价", "EIA", 900_000, Method.lottery, 9),
            ("省级干线公路养护工程造价咨询", "COST_CONSULTING", 300_000, Method.lowest_price, 7),
        ],
    ),
    (
        "owner.530102@demo.market.cn",
        "昆明市五华区住房和城乡建设局",
        "530102",
        "530102",
        [
            ("五华区老旧小区改造项目社会稳定风险评估", "SOCIAL_RISK", 120_000, Method.lottery, 8),
            ("五华区学校改扩建工程施工图审查", "DRAWING_REVIEW", 150_000, Method.lowest_price, 6),
        ],
    ),
    (
        "owner.530103@demo.market.cn",
        "昆明市盘龙区水务局",
        "530103",
        "530103",
        [
            ("盘龙江河道整治工程防洪评价", "FLOOD_CONTROL", 180_000, Method.lottery, 10),
            ("盘龙区供水管网改造工程地质灾害危险性评估", "GEOHAZARD", 110_000, Method.lowest_price, 7),
        ],
    ),
    (
        "owner.530100kf@demo.market.cn",
        "昆明经济技术开发区管理委员会",
        "530100",
        "530100KF",
        [
            ("经开区标准厂房项目环境影响评价", "EIA", 260_000, Method.lottery, 9),
            ("经开区危险化学品仓储项目安全评价", "SAFETY_ASSESSMENT", 220_000, Method.lowest_price, 8),
        ],
    ),
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
    org = await orgs.org_of(session, owner) or await orgs.create_org(
        session,
        user=owner,
        data=OrgCreate(name=ORG.name, credit_code=_fix_credit_code(ORG.credit_code), region=ORG.region),
    )
    project = await orgs.create_project(session, user=owner, data=PROJECT)
    sealer = SecretSealer.from_data_dir(settings.data_dir)
    receipts = ReceiptSigner.from_data_dir(settings.data_dir)
    approved = await _approved(session)
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
            await _bids(session, notice, approved, receipts=receipts, sealer=sealer, most=4)
    print(f"Demo notices: {len(NOTICES)}", file=out)


async def _approved(session: AsyncSession) -> list[Agency]:
    return list(
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


async def _bids(
    session: AsyncSession,
    notice: Notice,
    approved: list[Agency],
    *,
    receipts: ReceiptSigner,
    sealer: SecretSealer,
    most: int,
) -> None:
    """Sealed bids on an open notice from up to ``most`` eligible demo agencies."""
    view = await service.view(session, notice)
    bidders = 0
    for agency in approved:
        if bidders >= most:
            break
        if not await bids.eligibility(session, agency, view):
            continue
        user = await session.get(AppUser, agency.owner_id)
        assert user is not None
        price = (
            notice.budget_fen * (80 + 5 * bidders) // 100 if notice.method == Method.lowest_price else None
        )
        await bids.place_bid(
            session,
            bidder=user.public_id,
            notice_id=notice.public_id,
            price_fen=price,
            receipts=receipts,
            sealer=sealer,
        )
        bidders += 1


async def hall_org(
    session: AsyncSession, *, owner: AppUser, name: str, region: str, hall: str, number: int
) -> OwnerOrg:
    """The organisation of one of the other halls' owners, registered once in its hall (its
    region's own, or a park inside it)."""
    return await orgs.org_of(session, owner) or await orgs.create_org(
        session,
        user=owner,
        data=OrgCreate(
            name=name,
            credit_code=_fix_credit_code(f"11{region}MB{100 + number:06d}"),
            region=region,
            hall=hall,
        ),
    )


async def load_demo_hall_notices(
    session: AsyncSession, *, owners: list[AppUser], settings: Settings, out: TextIO
) -> None:
    """The notices of the other halls' owners (``owners`` in HALL_OWNERS' order, their
    organisations already in their halls): each publishes two, the lottery one with bids."""
    sealer = SecretSealer.from_data_dir(settings.data_dir)
    receipts = ReceiptSigner.from_data_dir(settings.data_dir)
    approved = await _approved(session)
    now = datetime.now(UTC)
    count = 0
    for owner, (_, _, region, _, notices) in zip(owners, HALL_OWNERS, strict=True):
        count += len(notices)
        if (
            await session.execute(sa.select(col(Notice.id)).where(col(Notice.owner_id) == owner.id).limit(1))
        ).first():
            continue
        for i, (title, category, yuan, method, days) in enumerate(notices):
            notice = await service.create_notice(
                session,
                user=owner,
                data=NoticeCreate(
                    title=title,
                    description=f"{title}。服务期限以合同约定为准。",
                    category=category,
                    region=region,
                    budget_fen=yuan * 100,
                    method=method,
                    winners=1,
                    bid_deadline=(now + timedelta(days=days)).replace(
                        hour=9, minute=0, second=0, microsecond=0
                    ),
                    service_days=60 + 30 * i,
                ),
            )
            await service.publish(
                session, user=owner, notice_id=notice.public_id, settings=settings, sealer=sealer
            )
            if method == Method.lottery:
                await _bids(session, notice, approved, receipts=receipts, sealer=sealer, most=3)
    print(f"Demo notices in the other halls: {count}", file=out)
