"""The caller's messages over JSON (api-v1.md)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.session import load_viewer
from market.inbox import service
from market.security.auth import requires_login


class MessageApi(Controller):
    path = "/api/v1/me/messages"
    tags = ["accounts"]
    guards = [requires_login]

    @get("/", summary="The caller's messages (won, replaced, objections...), newest first")
    async def messages(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> list[dict[str, Any]]:
        user = await load_viewer(request, session)
        return [
            {
                "id": m.id,
                "kind": m.kind,
                "notice_id": n.public_id if n else None,
                "params": m.params,
                "created_at": m.created_at.isoformat(),
                "read": m.read_at is not None,
            }
            for m, n in await service.messages_for(session, user)
        ]
