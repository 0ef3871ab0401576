"""Notifications over JSON (api-v1.md): the caller's e-mail choices and, for agencies,
subscriptions to new notices; the e-mail queue's state for the province's administrators."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.notify import rules, service
from market.security.auth import requires_login, requires_role


class PreferencesUpdate(BaseModel):
    """Kinds of message to e-mail (true) or leave in the inbox only (false); kinds not
    named keep their setting."""

    # Values checked by the service (rules.check_choices): true or false, nothing taken for either.
    email: dict[str, Any] = Field(default_factory=dict)


class SubscriptionsUpdate(BaseModel):
    """Service category codes, and regions of the province (GB/T 2260; none: the whole
    province). Replaces the agency's subscriptions; no category: none at all."""

    categories: list[str] = Field(default_factory=list, max_length=100)
    regions: list[str] = Field(default_factory=list, max_length=200)


def _preferences(request: Request[Any, Any, Any], role: str, email: dict[str, bool]) -> dict[str, Any]:
    return {
        "email_configured": request.app.state.settings.smtp is not None,
        "email": email,
        "kinds": [{"kind": k.code, "label": k.label, "default": k.email} for k in rules.kinds_for(role)],
    }


class NotificationApi(Controller):
    path = "/api/v1/me"
    tags = ["accounts"]
    guards = [requires_login]

    @get("/notifications", summary="Which kinds of message the caller receives by e-mail")
    async def preferences(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        return _preferences(request, user.role, await service.preferences(session, user=user))

    @put("/notifications", summary="Turn e-mail on or off per kind of message (the inbox always has them)")
    async def save_preferences(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PreferencesUpdate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        user = await load_viewer(request, session)
        email = await service.save_preferences(session, user=user, choices=data.email)
        return _preferences(request, user.role, email)

    @get(
        "/subscriptions",
        guards=[requires_role(Role.agency)],
        summary="The agency's subscriptions to new notices",
    )
    async def subscriptions(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        subs = await service.subscriptions(session, user=await load_viewer(request, session))
        return {"categories": subs.categories, "regions": subs.regions}

    @put(
        "/subscriptions",
        guards=[requires_role(Role.agency)],
        summary="Hear of new notices of these categories in these regions (replaces the subscriptions)",
    )
    async def save_subscriptions(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SubscriptionsUpdate],
        session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        subs = await service.save_subscriptions(
            session,
            user=await load_viewer(request, session),
            categories=data.categories,
            region_codes=data.regions,
        )
        return {"categories": subs.categories, "regions": subs.regions}


class MailAdminApi(Controller):
    path = "/api/v1/admin/mail"
    tags = ["admin"]
    guards = [requires_role(Role.admin)]

    @get("/", summary="The e-mail queue: counts by status and the latest failed e-mails")
    async def state(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        state = await service.outbox_state(session, actor=await load_viewer(request, session))
        return {
            "counts": state.counts,
            "failed": [
                {
                    "id": r.id,
                    "user_id": r.user_public_id,
                    "kind": r.kind,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "created_at": r.created_at.isoformat(),
                }
                for r in state.failed
            ],
        }

    @post(
        "/retry", status_code=200, summary="Queue every failed e-mail again (once the mail server is mended)"
    )
    async def retry(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> dict[str, int]:
        return {"requeued": await service.retry_failed(session, actor=await load_viewer(request, session))}
