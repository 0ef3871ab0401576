"""Demo data: one user of each role with known passwords, printed. Loading twice changes
nothing. Later domains add their own demo records here."""

from __future__ import annotations

from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service as accounts
from market.accounts.models import Role, UserCreate
from market.agencies.demo import load_demo_agencies
from market.app import wire_services
from market.contracts.demo import load_demo_contracts
from market.core.config import Settings
from market.notices.demo import load_demo_notices
from market.ratings.demo import load_demo_ratings
from market.selection.demo import load_demo_selections

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = [
    ("admin@demo.market.cn", "平台管理员 Admin", Role.admin),
    ("supervisor@demo.market.cn", "监管人员 Supervisor", Role.supervisor),
    ("owner@demo.market.cn", "昆明市生态环境局 Owner", Role.owner),
    ("agency@demo.market.cn", "云南绿源环境科技有限公司 Agency", Role.agency),
]


async def load_demo(session: AsyncSession, *, settings: Settings, out: TextIO) -> None:
    wire_services()  # the demo declines awards through the services, as the app does
    print("Demo accounts (password for all: %s):" % DEMO_PASSWORD, file=out)
    for email, name, role in DEMO_USERS:
        user = await accounts.find_by_email(session, email)
        if user is None:
            if role in (Role.admin, Role.supervisor):
                user = await accounts.create_staff(
                    session, email=email, password=DEMO_PASSWORD, name=name, role=role
                )
            else:
                data = UserCreate(email=email, password=DEMO_PASSWORD, name=name, role=role)
                user = await accounts.register(session, data=data)
        print(f"  {role.value:<10} {email:<28} {user.public_id}", file=out)
    admin = await accounts.find_by_email(session, DEMO_USERS[0][0])
    assert admin is not None
    await load_demo_agencies(session, admin=admin, out=out)
    owner = await accounts.find_by_email(session, DEMO_USERS[2][0])
    assert owner is not None
    await load_demo_notices(session, owner=owner, settings=settings, out=out)
    await load_demo_selections(session, owner=owner, settings=settings, out=out)
    await load_demo_contracts(session, settings=settings, out=out)
    await load_demo_ratings(session, out=out)
