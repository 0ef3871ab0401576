"""Notification pages: each user's choices (/account/notifications: e-mail per kind of
message and, for an agency, its subscriptions to new notices) and the e-mail queue for
administrators (/admin/mail). Plain forms, no script."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.core.errors import DomainError
from market.core.i18n import N_
from market.halls.rules import PROVINCE
from market.notify import rules, service
from market.reference import catalogue, regions
from market.security.auth import requires_login, requires_role
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import redirect, render

DONE = {
    "saved": N_("Your notification settings are saved."),
    "requeued": N_("The failed e-mails are queued again."),
}
FIELDS = ("email", "categories", "regions")


def province_regions() -> list[regions.Region]:
    """The province and every region inside it, in code order (the subscription's choices)."""
    prefix = regions.scope_prefix(PROVINCE)
    return sorted((r for r in regions.REGIONS.values() if r.code.startswith(prefix)), key=lambda r: r.code)


class NotificationPages(Controller):
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        chosen: dict[str, Any] | None = None,
        errors: FormErrors | None = None,
    ) -> Response[str]:
        if chosen is None:
            email = await service.preferences(session, user=user)
            subs = await service.subscriptions(session, user=user)
            chosen = {
                "email": {k for k, on in email.items() if on},
                "categories": set(subs.categories),
                "regions": set(subs.regions),
            }
        return render(
            request,
            "notify/preferences.html",
            status_code=status_code,
            user=user,
            kinds=rules.kinds_for(user.role),
            is_agency=user.role == Role.agency,
            email_configured=request.app.state.settings.smtp is not None,
            chosen=chosen,
            categories=catalogue.CATEGORIES,
            region_list=province_regions(),
            errors=errors or FormErrors(),
            message=DONE.get(done or ""),
        )

    @get("/account/notifications", guards=[requires_login])
    async def preferences(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._page(request, session, await load_viewer(request, session), done=done)

    @post("/account/notifications", guards=[requires_login])
    async def save(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        form = await request.form()
        chosen = {name: [str(v) for v in form.getall(name, [])] for name in FIELDS}
        try:
            async with session.begin_nested():
                await service.save_settings(
                    session,
                    user=user,
                    email_on=chosen["email"],
                    categories=chosen["categories"],
                    region_codes=chosen["regions"],
                )
        except DomainError as exc:
            if exc.status == 403:
                raise
            errors = errors_beside_fields(exc, lambda name: name if name in FIELDS else "email")
            return await self._page(
                request,
                session,
                user,
                status_code=exc.status,
                chosen={k: set(v) for k, v in chosen.items()},
                errors=errors,
            )
        return redirect("/account/notifications?done=saved")

    # -- the queue, for administrators -----------------------------------------------------------

    @get("/admin/mail", guards=[requires_role(Role.admin)])
    async def outbox(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        state = await service.outbox_state(session, actor=await load_viewer(request, session))
        return render(
            request,
            "notify/outbox.html",
            state=state,
            email_configured=request.app.state.settings.smtp is not None,
            message=DONE.get(done or ""),
        )

    @post("/admin/mail/retry", guards=[requires_role(Role.admin)])
    async def retry(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        await service.retry_failed(session, actor=await load_viewer(request, session))
        return redirect("/admin/mail?done=requeued")
