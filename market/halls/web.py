"""The halls' pages: the public tree (/halls) and each hall's page (/halls/{code}: its open
notices, latest results, statistics and contact line, rolled up over the halls below it),
and the admins' page (/admin/halls: the halls they reach, a new development park, a
hall's contact line). No script: plain links and forms."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.core.errors import DomainError
from market.core.i18n import N_
from market.halls import queries, rules, service
from market.security.auth import requires_role
from market.stats import rules as stats_rules
from market.web.forms import FormErrors, errors_beside_fields
from market.web.labels import NOTICE_STATUS_LABELS
from market.web.templating import redirect, render

PARK_FIELDS = ("parent", "code", "name_zh", "name_en", "reason")
CONTACT_FIELDS = ("hall", "phone")
DONE = {
    "park": N_("The development park is added; it has its own hall page now."),
    "contact": N_("The contact line is saved."),
}
KIND_LABELS = {
    "province": N_("Province"),
    "prefecture": N_("Prefecture"),
    "county": N_("County"),
    "park": N_("Development park"),
}


def _only(fields: tuple[str, ...]) -> Any:
    allowed = set(fields)
    return lambda name: name if name in allowed else None


class HallPages(Controller):
    include_in_schema = False

    @get("/halls")
    async def index(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        root = service.tree(await queries.all_halls(session))
        return render(request, "halls/index.html", root=root, KIND_LABELS=KIND_LABELS)

    @get("/halls/{code:str}")
    async def hall(
        self, request: Request[Any, Any, Any], code: FromPath[str], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        o = await service.overview(session, code)
        return render(
            request,
            "halls/hall.html",
            o=o,
            KIND_LABELS=KIND_LABELS,
            NOTICE_STATUS_LABELS=NOTICE_STATUS_LABELS,
            yuan=stats_rules.yuan,
            percent=stats_rules.percent,
        )

    # -- the admins' page -----------------------------------------------------------------------

    async def _admin_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        actor: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        park: dict[str, str] | None = None,
        park_errors: FormErrors | None = None,
        contact: dict[str, str] | None = None,
        contact_errors: FormErrors | None = None,
    ) -> Response[str]:
        halls = await queries.all_halls(session)
        scope = actor.jurisdiction or rules.PROVINCE
        reached = [h for h in halls if service.may_manage(actor, h.code)]
        return render(
            request,
            "halls/admin.html",
            status_code=status_code,
            root=service.tree(reached, scope),
            parents=[h for h in reached if h.kind in service.PARK_PARENT_KINDS],
            reached=reached,
            KIND_LABELS=KIND_LABELS,
            message=DONE.get(done or ""),
            park=park or {},
            park_errors=park_errors or FormErrors(),
            contact=contact or {},
            contact_errors=contact_errors or FormErrors(),
        )

    @get("/admin/halls", guards=[requires_role(Role.admin)])
    async def admin(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._admin_page(request, session, await load_viewer(request, session), done=done)

    @post("/admin/halls", guards=[requires_role(Role.admin)])
    async def add_park(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "") for name in PARK_FIELDS}
        try:
            async with session.begin_nested():
                await service.add_park(
                    session,
                    actor=actor,
                    parent=values["parent"],
                    code=values["code"],
                    name_zh=values["name_zh"],
                    name_en=values["name_en"],
                    reason=values["reason"],
                )
        except DomainError as exc:
            if exc.status == 403:
                raise
            return await self._admin_page(
                request,
                session,
                actor,
                status_code=exc.status,
                park=values,
                park_errors=errors_beside_fields(exc, _only(PARK_FIELDS)),
            )
        return redirect("/admin/halls?done=park")

    @post("/admin/halls/contact", guards=[requires_role(Role.admin)])
    async def set_contact(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "") for name in CONTACT_FIELDS}
        try:
            async with session.begin_nested():
                await service.set_contact(session, actor=actor, code=values["hall"], phone=values["phone"])
        except DomainError as exc:
            if exc.status == 403:
                raise
            return await self._admin_page(
                request,
                session,
                actor,
                status_code=exc.status,
                contact=values,
                contact_errors=errors_beside_fields(exc, _only(CONTACT_FIELDS)),
            )
        return redirect("/admin/halls?done=contact")
