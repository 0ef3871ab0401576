"""The staff's notice pages: a supervisor consents to, or refuses, an owner's request to
cancel a published notice."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import Role
from market.accounts.session import load_viewer
from market.core.errors import DomainError, FieldError
from market.core.i18n import N_
from market.notices import service
from market.notices.detail import action_page
from market.notices.forms import known
from market.security.auth import requires_role
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import redirect


class StaffNoticePages(Controller):
    include_in_schema = False

    @get("/supervision/notices/{notice_id:str}/cancellation", guards=[requires_role(Role.supervisor)])
    async def cancellation_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        service.require_may_decide_cancellation(notice, user)
        return await action_page(
            request, session, notice, "notices/cancellation.html", values={"reason": ""}, errors=FormErrors()
        )

    @post("/supervision/notices/{notice_id:str}/cancellation", guards=[requires_role(Role.supervisor)])
    async def decide_cancellation(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        service.require_may_decide_cancellation(notice, user)
        form = await request.form()
        decision = str(form.get("decision") or "")
        values = {"reason": str(form.get("reason") or "").strip()}
        errors, status = FormErrors(), 422
        if decision not in ("consent", "refuse"):
            errors["form"] = FieldError("form", N_("Choose to consent or to refuse."))
        else:
            try:
                async with session.begin_nested():
                    await service.decide_cancellation(
                        session,
                        user=user,
                        notice_id=notice.public_id,
                        consent=decision == "consent",
                        reason=values["reason"],
                        sealer=request.app.state.sealer,
                    )
            except DomainError as exc:
                errors, status = errors_beside_fields(exc, known(("reason",))), exc.status
                await session.refresh(notice)
            else:
                return redirect(
                    f"/notices/{notice.public_id}?done="
                    + ("cancelled" if decision == "consent" else "cancel_refused")
                )
        return await action_page(
            request,
            session,
            notice,
            "notices/cancellation.html",
            status_code=status,
            values=values,
            errors=errors,
        )
