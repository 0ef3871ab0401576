"""Small steps that many tests take, through the public API."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import Role
from market.agencies.creditcode import complete_credit_code
from market.core.db import Database
from market.halls.rules import PROVINCE

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.cn"


_org_codes = itertools.count(1)
# Where test owners' organisations are unless a test says otherwise: 五华区, a county of 昆明市.
ORG_REGION = "530102"


def org_credit_code() -> str:
    """A valid credit code for an owner organisation (registered by 机构编制, leading 1)."""
    return complete_credit_code("1", "1", "530100", f"GY{next(_org_codes):06d}")


async def register(
    client: AsyncClient,
    *,
    role: str = "owner",
    email: str | None = None,
    password: str = PASSWORD,
    org: str | None = ORG_REGION,
) -> dict[str, Any]:
    """A self-registered account. An owner also registers its organisation in region
    ``org`` (its hall: the region's own), since a notice is published in its
    organisation's hall; ``org=None`` leaves the owner without one."""
    email = email or unique_email(role)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "name": f"Test {role}", "role": role},
    )
    assert response.status_code == 201, response.text
    user = {**response.json(), "password": password}
    if role == "owner" and org is not None:
        user["org"] = await register_org(client, bearer(await token_for(client, email, password)), region=org)
    return user


async def register_org(
    client: AsyncClient, headers: dict[str, str], *, region: str = ORG_REGION, hall: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"测试业主单位{next(_counter)}",
        "credit_code": org_credit_code(),
        "region": region,
    }
    if hall is not None:
        body["hall"] = hall
    response = await client.post("/api/v1/owners/org", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def register_org_sync(
    api: httpx.Client, headers: dict[str, str], *, region: str = ORG_REGION
) -> dict[str, Any]:
    """``register_org`` for the browser tests' blocking client."""
    body = {"name": f"测试业主单位{next(_counter)}", "credit_code": org_credit_code(), "region": region}
    response = api.post("/api/v1/owners/org", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def token_for(client: AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_staff(
    db: Database,
    *,
    role: Role,
    email: str | None = None,
    password: str = PASSWORD,
    jurisdiction: str = PROVINCE,
) -> str:
    """A staff account holding ``jurisdiction`` (the province unless told), as the
    operator's ``market users create`` makes one."""
    email = email or unique_email(role.value)
    session: AsyncSession = db.sessionmaker()
    async with session:
        await service.create_staff(
            session,
            email=email,
            password=password,
            name=f"Staff {role.value}",
            role=role,
            jurisdiction=jurisdiction,
        )
        await session.commit()
    return email


async def cancel_notice(
    client: AsyncClient, db: Database, notice_id: str, owner: dict[str, str], reason: str = "项目调整"
) -> Any:
    """A cancellation as it goes since issue 19: the owner's request, a supervisor's consent."""
    asked = await client.post(f"/api/v1/notices/{notice_id}/cancel", json={"reason": reason}, headers=owner)
    assert asked.status_code == 202, asked.text
    chief = bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))
    return await client.post(
        f"/api/v1/notices/{notice_id}/cancellation", json={"consent": True}, headers=chief
    )


def csrf_from(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)
