"""Demo data: one user of each role with known passwords, printed. Loading twice changes
nothing. Later domains add their own demo records here.

The demo's halls (issue 21): the province, 昆明市, two of its counties (五华区, 盘龙区) and
one development park (昆明经济技术开发区, added by the province's administrator as the
admin page adds one), each with an administrator and a supervisor (the province's are the
original admin@ and supervisor@ accounts), an owner organisation and notices."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service as accounts
from market.accounts.models import AppUser, Role, UserCreate
from market.agencies import service as agencies
from market.agencies.creditcode import complete_credit_code
from market.agencies.demo import load_demo_agencies
from market.agencies.models import AgencyCreate, QualificationInput
from market.app import wire_services
from market.contracts.demo import load_demo_contracts
from market.core.clock import today_in_china
from market.core.config import Settings
from market.halls import queries as halls_queries
from market.halls import service as halls
from market.notices.demo import HALL_OWNERS, NOTICES, hall_org, load_demo_hall_notices, load_demo_notices
from market.ratings.demo import load_demo_ratings
from market.reference import catalogue
from market.selection.demo import load_demo_selections

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = [
    ("admin@demo.market.cn", "平台管理员 Admin", Role.admin),
    ("supervisor@demo.market.cn", "监管人员 Supervisor", Role.supervisor),
    ("owner@demo.market.cn", "昆明市生态环境局 Owner", Role.owner),
    ("agency@demo.market.cn", "云南绿源环境科技有限公司 Agency", Role.agency),
]
# code, parent, Chinese and English names
PARK = ("530100KF", "530100", "昆明经济技术开发区", "Kunming Economic and Technological Development Zone")
# The halls below the province and what their staff are called.
HALL_STAFF = [
    ("530100", "昆明市"),
    ("530102", "五华区"),
    ("530103", "盘龙区"),
    (PARK[0], "经开区"),
]


def staff_email(role: Role, hall: str) -> str:
    return f"{role.value}.{hall.lower()}@demo.market.cn"


async def _account(
    session: AsyncSession, *, email: str, name: str, role: Role, hall: str | None, by: AppUser | None
) -> AppUser:
    user = await accounts.find_by_email(session, email)
    if user is not None:
        return user
    if role in (Role.admin, Role.supervisor):
        return await accounts.create_staff(
            session,
            email=email,
            password=DEMO_PASSWORD,
            name=name,
            role=role,
            jurisdiction=hall or "530000",
            granted_by=by.public_id if by else None,
        )
    return await accounts.register(
        session, data=UserCreate(email=email, password=DEMO_PASSWORD, name=name, role=role)
    )


async def _park(session: AsyncSession, *, admin: AppUser) -> None:
    """The development park, added by the province's administrator (logged hall.added)."""
    code, parent, name_zh, name_en = PARK
    if await halls_queries.get_hall(session, code) is None:
        await halls.add_park(
            session,
            actor=admin,
            parent=parent,
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            reason="演示数据：昆明市所属开发园区",
        )


async def _hall_owners(session: AsyncSession, *, out: TextIO) -> list[AppUser]:
    """The owners of the other halls with their organisations (the park's registered in
    its region, 昆明市, and in the park's hall)."""
    owners = []
    for number, (email, name, region, hall, _) in enumerate(HALL_OWNERS):
        owner = await _account(session, email=email, name=name, role=Role.owner, hall=None, by=None)
        await hall_org(session, owner=owner, name=name, region=region, hall=hall, number=number)
        print(f"  {'owner':<10} {email:<34} {owner.public_id}  {hall}", file=out)
        owners.append(owner)
    return owners


async def load_demo(session: AsyncSession, *, settings: Settings, out: TextIO) -> None:
    wire_services()  # the demo declines awards through the services, as the app does
    print("Demo accounts (password for all: %s):" % DEMO_PASSWORD, file=out)
    for email, name, role in DEMO_USERS:
        user = await _account(session, email=email, name=name, role=role, hall=None, by=None)
        print(f"  {role.value:<10} {email:<28} {user.public_id}", file=out)
    admin = await accounts.find_by_email(session, DEMO_USERS[0][0])
    assert admin is not None
    await _park(session, admin=admin)
    print("Demo accounts of the halls (the province's are admin@ and supervisor@ above):", file=out)
    for hall, place in HALL_STAFF:
        for role, title in ((Role.admin, "管理员"), (Role.supervisor, "监管人员")):
            email = staff_email(role, hall)
            user = await _account(session, email=email, name=place + title, role=role, hall=hall, by=admin)
            print(f"  {role.value:<10} {email:<34} {user.public_id}  {hall}", file=out)
    await load_demo_agencies(session, admin=admin, out=out)
    owner = await accounts.find_by_email(session, DEMO_USERS[2][0])
    assert owner is not None
    await load_demo_notices(session, owner=owner, settings=settings, out=out)
    await load_demo_selections(session, owner=owner, settings=settings, out=out)
    await load_demo_contracts(session, settings=settings, out=out)
    await load_demo_ratings(session, out=out)
    print("Demo owners of the other halls:", file=out)
    owners = await _hall_owners(session, out=out)
    await load_demo_hall_notices(session, owners=owners, settings=settings, out=out)
    await _demo_agency(session, admin=admin, out=out)


async def _demo_agency(session: AsyncSession, *, admin: AppUser, out: TextIO) -> None:
    """The printed agency@ account's own agency, approved, so that the account printed
    first can bid (issue 22: it had none). Registered last, after every demo bid, so the
    demo's draws stay as they were; the notices still open are open to it."""
    user = await accounts.find_by_email(session, DEMO_USERS[3][0])
    assert user is not None
    if await agencies.agency_of(session, user) is None:
        today = today_in_china()
        categories = sorted({category for _, category, *_ in NOTICES})
        data = AgencyCreate(
            name="云南绿源环境科技有限公司",
            credit_code=complete_credit_code("9", "1", "530100", "MA000001"),
            region="530100",
            categories=categories,
            qualifications=[
                QualificationInput(
                    category=category,
                    level=(catalogue.level_codes(category) or (None,))[0],  # the highest level
                    certificate_no=f"{category[:3]}-2026-00001",
                    valid_until=today + timedelta(days=730),
                )
                for category in categories
            ],
            legal_representative="李云",
            contact_phone="0871-65550001",
            address="昆明市五华区人民中路 1 号",
        )
        agency = await agencies.submit(session, owner=user, data=data, today=today)
        await agencies.transition(
            session, agency_id=agency.public_id, actor=admin, action="approve", today=today
        )
    print(
        f"  {'agency':<10} {DEMO_USERS[3][0]:<28} approved agency 云南绿源环境科技有限公司, may bid", file=out
    )
