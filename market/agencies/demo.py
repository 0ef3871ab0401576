"""About sixty demo agencies across the catalogue and Yunnan's prefectures: most approved,
some pending, one suspended, one blacklisted. Deterministic, so loading twice adds nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service as accounts
from market.accounts.models import AppUser, Role, UserCreate
from market.agencies import service
from market.agencies.creditcode import complete_credit_code
from market.agencies.models import AgencyCreate, QualificationInput
from market.core.clock import today_in_china
from market.reference import catalogue

# (prefecture code, short place name used in firm names)
PLACES = [
    ("530100", "昆明"),
    ("530300", "曲靖"),
    ("530400", "玉溪"),
    ("530500", "保山"),
    ("530600", "昭通"),
    ("530700", "丽江"),
    ("530800", "普洱"),
    ("530900", "临沧"),
    ("532300", "楚雄"),
    ("532500", "红河"),
    ("532600", "文山"),
    ("532800", "西双版纳"),
    ("532900", "大理"),
    ("533100", "德宏"),
    ("533300", "怒江"),
    ("533400", "迪庆"),
]
TRADE_NAMES = [
    "绿源",
    "滇润",
    "彩云",
    "金碧",
    "高原",
    "春城",
    "苍洱",
    "澜沧",
    "红土",
    "翠湖",
    "南诏",
    "三江",
    "云岭",
    "哀牢",
    "乌蒙",
    "碧鸡",
    "金沙",
    "抚仙",
    "玉龙",
    "梅里",
]
# What a firm of each kind is called, and the categories it offers.
KINDS = [
    ("环境科技有限公司", ["EIA", "SOIL_WATER", "ENERGY_SAVING"]),
    ("工程勘察设计有限公司", ["ENG_INVESTIGATION", "ENG_DESIGN", "FEASIBILITY"]),
    ("地质工程有限公司", ["GEOHAZARD", "SEISMIC_SAFETY", "ENG_INVESTIGATION"]),
    ("安全技术咨询有限公司", ["SAFETY_ASSESSMENT", "SOCIAL_RISK"]),
    ("工程咨询有限公司", ["FEASIBILITY", "COST_CONSULTING", "TENDER_AGENCY", "SOCIAL_RISK"]),
    ("建设监理有限公司", ["ENG_SUPERVISION", "COST_CONSULTING"]),
    ("测绘地理信息有限公司", ["SURVEYING"]),
    ("水利水电勘测设计有限公司", ["FLOOD_CONTROL", "SOIL_WATER", "ENG_DESIGN"]),
    ("施工图审查中心有限公司", ["DRAWING_REVIEW"]),
]
COUNT = 60
PASSWORD = "demo-password-2026"


def _plan(i: int, rng: random.Random) -> tuple[str, str, str, list[str]]:
    region, place = PLACES[i % len(PLACES)]
    kind, categories = KINDS[i % len(KINDS)]
    name = (
        f"云南{place}{TRADE_NAMES[i % len(TRADE_NAMES)]}{kind}"
        if i >= len(PLACES)
        else f"{place}{TRADE_NAMES[i]}{kind}"
    )
    code = complete_credit_code("9", "1", region, f"MA{6_000 + i:06d}")
    chosen = categories[: 1 + rng.randrange(len(categories))]
    return name, code, region, chosen


async def load_demo_agencies(session: AsyncSession, *, admin: AppUser, out: TextIO) -> None:
    rng = random.Random(20261127)
    today = today_in_china()
    for i in range(COUNT):
        name, code, region, categories = _plan(i, rng)
        email = f"agency{i + 1:02d}@demo.market.cn"
        user = await accounts.find_by_email(session, email)
        if user is None:
            user = await accounts.register(
                session, data=UserCreate(email=email, password=PASSWORD, name=name, role=Role.agency)
            )
        if await service.agency_of(session, user) is not None:
            continue
        qualifications = []
        for category in categories:
            levels = catalogue.level_codes(category)
            level = levels[rng.randrange(len(levels))] if levels else None
            qualifications.append(
                QualificationInput(
                    category=category,
                    level=level,
                    certificate_no=f"{category[:3]}-{2020 + i % 6}-{1000 + i:05d}",
                    # a few expire within the month, so the dashboards' warnings have something to show
                    valid_until=today + timedelta(days=20 if i % 11 == 0 else 365 + 30 * (i % 24)),
                )
            )
        data = AgencyCreate(
            name=name,
            credit_code=code,
            region=region,
            categories=categories,
            qualifications=qualifications,
            legal_representative=f"法定代表人{i + 1:02d}",
            contact_phone=f"0871-6{i:07d}",
            address=f"{name}办公地址",
        )
        agency = await service.submit(session, owner=user, data=data, today=today)
        if i % 10 == 9:
            continue  # left pending, for the review queue
        await service.transition(
            session, agency_id=agency.public_id, actor=admin, action="approve", today=today
        )
        if i == 12:
            await service.transition(
                session,
                agency_id=agency.public_id,
                actor=admin,
                action="suspend",
                reason="报告质量抽查不合格，责令整改",
                until=today + timedelta(days=90),
                today=today,
            )
        if i == 25:
            await service.transition(
                session,
                agency_id=agency.public_id,
                actor=admin,
                action="blacklist",
                reason="出具虚假评估报告",
                until=None,
                today=today,
            )
    # The same words on every load, so that a second load visibly changes nothing.
    print(f"Demo agencies: {COUNT} (logins agency01..{COUNT}@demo.market.cn, password {PASSWORD})", file=out)
