"""Small steps that many tests take, through the public API."""

from __future__ import annotations

import itertools
import re
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import Role
from market.core.db import Database

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.cn"


async def register(
    client: AsyncClient, *, role: str = "owner", email: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    email = email or unique_email(role)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "name": f"Test {role}", "role": role},
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "password": password}


async def token_for(client: AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_staff(
    db: Database, *, role: Role, email: str | None = None, password: str = PASSWORD
) -> str:
    email = email or unique_email(role.value)
    session: AsyncSession = db.sessionmaker()
    async with session:
        await service.create_staff(
            session, email=email, password=password, name=f"Staff {role.value}", role=role
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
