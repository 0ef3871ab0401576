"""The owner's notice pages: the organisation and its projects, drafts (the notice form
with its live check), publishing, amending and cancelling. Every service call that writes
runs in a savepoint, so a refused request leaves nothing behind while the page that says
why is an ordinary response."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.contracts import queries as contracts
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, validation_errors
from market.core.i18n import N_
from market.halls import queries as hall_queries
from market.halls.models import Jurisdiction
from market.inbox import service as inbox
from market.notices import orgs, service
from market.notices.detail import action_page, notice_page
from market.notices.forms import (
    AMEND_FIELDS,
    NOTICE_FIELDS,
    PROVINCE,
    NoticeForm,
    amend_values,
    blank_notice_form,
    known,
    notice_form_from,
    read_amend,
    read_notice_form,
    scope_options,
)
from market.notices.models import Notice, NoticeStatus, OrgCreate, ProjectCreate
from market.objections import queries as objections
from market.security.auth import requires_role
from market.selection.models import ObjectionStatus
from market.web.forms import FormErrors, errors_beside_fields, place_errors
from market.web.names import Names, region_groups
from market.web.templating import redirect, render, request_locale

OWNER_DONE = {
    "org": N_("Your organisation is registered. Add its projects, then post notices."),
    "project": N_("The project has been added."),
    "deleted": N_("The draft has been deleted."),
}


def _hall_options(halls: dict[str, Jurisdiction], locale: str) -> list[tuple[str, str]]:
    """The organisation form's development parks, each with its parent's name, offered
    after the region's own hall (the default, an empty value); the server checks that a
    park chosen lies inside the region chosen."""

    def name(h: Jurisdiction) -> str:
        return h.name_zh if locale == "zh_Hans" else h.name_en

    options = []
    for h in halls.values():
        if h.kind == "park":
            parent = halls.get(h.parent or "")
            options.append((h.code, f"{name(h)} ({name(parent)})" if parent else name(h)))
    return options


class OwnerNoticePages(Controller):
    include_in_schema = False

    async def _owner_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        org_form: dict[str, Any] | None = None,
        project_form: dict[str, Any] | None = None,
    ) -> Response[str]:
        org = await orgs.org_of(session, user)
        halls = {h.code: h for h in await hall_queries.all_halls(session)}
        by_status: dict[str, list[Notice]] = {}
        for status in NoticeStatus:
            notices, _ = await service.list_notices(session, owner=user, status=status.value, limit=100)
            by_status[status.value] = notices
        now = await service.db_now(session)
        # After the deadline: notices to close now (the scheduler does it within seconds
        # anyway), and objections to results in publicity that wait for this owner's answer.
        to_close = [n for n in by_status[NoticeStatus.open.value] if now >= n.bid_deadline] + by_status[
            NoticeStatus.closed.value
        ]
        to_answer = [
            (o, n)
            for n in by_status[NoticeStatus.selected.value]
            for o in await objections.objections(session, n)
            if o.status == ObjectionStatus.filed
        ]
        return render(
            request,
            "notices/owner.html",
            status_code=status_code,
            org=org,
            projects=await orgs.projects_of(session, user),
            by_status=by_status,
            to_close=to_close,
            to_answer=to_answer,
            unread=await inbox.unread_count(session, user),
            # Contracts: the owner's, awards still to sign (overdue flagged), late milestones.
            contracts=await contracts.contracts_of_owner(session, user),
            unsigned=await contracts.unsigned_awards(
                session, request.app.state.settings, today_in_china(), owner=user
            ),
            late_milestones=await contracts.overdue_milestones(session, owner=user),
            message=OWNER_DONE.get(done or ""),
            org_form=org_form or {"values": {"region": PROVINCE}, "errors": FormErrors()},
            project_form=project_form or {"values": {}, "errors": FormErrors()},
            # An organisation belongs to a hall of this province: no other province to choose.
            region_groups=region_groups(Names(request_locale(request)), counties=True, others=False),
            org_hall=halls.get(org.hall) if org else None,
            hall_options=_hall_options(halls, request_locale(request)),
        )

    @get("/owner", guards=[requires_role(Role.owner)])
    async def owner_home(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._owner_page(request, session, await load_viewer(request, session), done=done)

    @post("/owner/org", guards=[requires_role(Role.owner)])
    async def create_org(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        raw = await request.form()
        values = {
            name: str(raw.get(name) or "").strip()
            for name in ("name", "credit_code", "region", "contact_phone", "hall")
        }
        values["credit_code"] = values["credit_code"].upper()
        errors, status = FormErrors(), 422
        try:
            data = OrgCreate.model_validate(values)
            async with session.begin_nested():
                await orgs.create_org(session, user=user, data=data)
        except ValidationError as exc:
            place_errors(errors, validation_errors(exc), known(values))
        except DomainError as exc:
            errors, status = errors_beside_fields(exc, known(values)), exc.status
        else:
            return redirect("/owner?done=org")
        return await self._owner_page(
            request, session, user, status_code=status, org_form={"values": values, "errors": errors}
        )

    @post("/owner/projects", guards=[requires_role(Role.owner)])
    async def create_project(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "").strip() for name in ("name", "code")}
        errors, status = FormErrors(), 422
        try:
            data = ProjectCreate.model_validate(values)
            async with session.begin_nested():
                await orgs.create_project(session, user=user, data=data)
        except ValidationError as exc:
            place_errors(errors, validation_errors(exc), known(values))
        except DomainError as exc:
            errors, status = errors_beside_fields(exc, known(values)), exc.status
        else:
            return redirect("/owner?done=project")
        return await self._owner_page(
            request, session, user, status_code=status, project_form={"values": values, "errors": errors}
        )

    async def _notice_form_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        user: AppUser,
        form: NoticeForm,
        *,
        notice: Notice | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        names = Names(request_locale(request))
        return render(
            request,
            "notices/form.html",
            status_code=status_code,
            form=form,
            notice=notice,
            projects=await orgs.projects_of(session, user),
            has_org=await orgs.org_of(session, user) is not None,
            scope_options=scope_options(names),
            action=f"/owner/notices/{notice.public_id}/edit" if notice else "/owner/notices",
        )

    @get("/owner/notices/new", guards=[requires_role(Role.owner)])
    async def new_notice(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        return await self._notice_form_page(request, session, user, blank_notice_form())

    @post("/owner/notices", guards=[requires_role(Role.owner)])
    async def create_notice(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        form = await read_notice_form(request, await service.db_now(session))
        if not form.errors and form.data is not None:
            try:
                async with session.begin_nested():
                    notice = await service.create_notice(session, user=user, data=form.data)
            except DomainError as exc:
                form.errors, form.status = errors_beside_fields(exc, form.field_for), exc.status
            else:
                return redirect(f"/notices/{notice.public_id}?done=created")
        return await self._notice_form_page(request, session, user, form, status_code=form.status)

    @post("/owner/notices/validate", guards=[requires_role(Role.owner)])
    async def validate_notice(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        """The live check (htmx): every field's error slot, swapped out of band. Writes nothing."""
        form = await read_notice_form(request, await service.db_now(session))
        return render(
            request,
            "notices/partials/field_errors.html",
            form=form,
            fields=[
                *NOTICE_FIELDS,
                *(f"avoid{i}_{name}" for i in range(form.rows) for name in ("agency_id", "reason")),
            ],
        )

    @get("/owner/notices/levels", guards=[requires_role(Role.owner)])
    async def level_options(
        self, request: Request[Any, Any, Any], category: FromQuery[str] = ""
    ) -> Response[str]:
        """The required-level select for the category just chosen (htmx)."""
        return render(
            request, "notices/partials/level_field.html", category=category, selected="", errors=FormErrors()
        )

    async def _own_notice(
        self, request: Request[Any, Any, Any], session: AsyncSession, notice_id: str
    ) -> tuple[AppUser, Notice]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        service.require_owner(notice, user)
        return user, notice

    @get("/owner/notices/{notice_id:str}/edit", guards=[requires_role(Role.owner)])
    async def edit_notice(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        if notice.status != NoticeStatus.draft:
            return redirect(f"/notices/{notice.public_id}")
        return await self._notice_form_page(
            request, session, user, notice_form_from(await service.view(session, notice)), notice=notice
        )

    @post("/owner/notices/{notice_id:str}/edit", guards=[requires_role(Role.owner)])
    async def update_notice(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        form = await read_notice_form(request, await service.db_now(session))
        if not form.errors and form.data is not None:
            try:
                async with session.begin_nested():
                    await service.update_draft(session, user=user, notice_id=notice.public_id, data=form.data)
            except DomainError as exc:
                form.errors, form.status = errors_beside_fields(exc, form.field_for), exc.status
            else:
                return redirect(f"/notices/{notice.public_id}?done=updated")
        return await self._notice_form_page(
            request, session, user, form, notice=notice, status_code=form.status
        )

    @post("/owner/notices/{notice_id:str}/delete", guards=[requires_role(Role.owner)])
    async def delete_notice(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        try:
            async with session.begin_nested():
                await service.delete_draft(session, user=user, notice_id=notice.public_id)
        except DomainError as exc:
            return await notice_page(request, session, notice, user, status_code=exc.status, problem=exc)
        return redirect("/owner?done=deleted")

    @post("/owner/notices/{notice_id:str}/reissue", guards=[requires_role(Role.owner)])
    async def reissue_notice(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        try:
            async with session.begin_nested():
                made = await service.reissue(session, user=user, notice_id=notice.public_id)
        except DomainError as exc:
            return await notice_page(request, session, notice, user, status_code=exc.status, problem=exc)
        # Asked again (a double click, a resent form): the notice made the first time.
        done = "reissued" if made.new else "reissued_before"
        return redirect(f"/notices/{made.notice.public_id}?done={done}")

    @get("/owner/notices/{notice_id:str}/publish", guards=[requires_role(Role.owner)])
    async def confirm_publish(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        return await action_page(
            request,
            session,
            notice,
            "notices/publish.html",
            has_org=await orgs.org_of(session, user) is not None,
        )

    @post("/owner/notices/{notice_id:str}/publish", guards=[requires_role(Role.owner)])
    async def publish(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        state = request.app.state
        try:
            async with session.begin_nested():
                await service.publish(
                    session,
                    user=user,
                    notice_id=notice.public_id,
                    settings=state.settings,
                    sealer=state.sealer,
                )
        except DomainError as exc:
            await session.refresh(notice)
            return await action_page(
                request,
                session,
                notice,
                "notices/publish.html",
                status_code=exc.status,
                problem=exc,
                has_org=await orgs.org_of(session, user) is not None,
            )
        return redirect(f"/notices/{notice.public_id}?done=published")

    @get("/owner/notices/{notice_id:str}/amend", guards=[requires_role(Role.owner)])
    async def amend_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        _, notice = await self._own_notice(request, session, notice_id)
        return await action_page(
            request, session, notice, "notices/amend.html", values=amend_values(notice), errors=FormErrors()
        )

    @post("/owner/notices/{notice_id:str}/amend", guards=[requires_role(Role.owner)])
    async def amend(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        values, errors, data = read_amend(await request.form(), notice)
        status = 422
        if data is not None and not errors:
            try:
                async with session.begin_nested():
                    _, changes = await service.amend(
                        session,
                        user=user,
                        notice_id=notice.public_id,
                        data=data,
                        settings=request.app.state.settings,
                    )
            except DomainError as exc:
                errors, status = errors_beside_fields(exc, known(AMEND_FIELDS)), exc.status
                await session.refresh(notice)
            else:
                return redirect(
                    f"/notices/{notice.public_id}?"
                    + urlencode({"done": "amended", "changed": ",".join(sorted(changes))})
                )
        return await action_page(
            request, session, notice, "notices/amend.html", status_code=status, values=values, errors=errors
        )

    @get("/owner/notices/{notice_id:str}/cancel", guards=[requires_role(Role.owner)])
    async def cancel_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        _, notice = await self._own_notice(request, session, notice_id)
        return await action_page(
            request, session, notice, "notices/cancel.html", values={"reason": ""}, errors=FormErrors()
        )

    @post("/owner/notices/{notice_id:str}/cancel", guards=[requires_role(Role.owner)])
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user, notice = await self._own_notice(request, session, notice_id)
        values = {"reason": str((await request.form()).get("reason") or "").strip()}
        errors, status = FormErrors(), 422
        if not values["reason"]:
            errors["reason"] = FieldError("reason", N_("Give a reason; it is published."))
        else:
            try:
                async with session.begin_nested():
                    await service.request_cancellation(
                        session, user=user, notice_id=notice.public_id, reason=values["reason"]
                    )
            except DomainError as exc:
                errors, status = errors_beside_fields(exc, known(("reason",))), exc.status
                await session.refresh(notice)
            else:
                return redirect(f"/notices/{notice.public_id}?done=cancel_requested")
        return await action_page(
            request, session, notice, "notices/cancel.html", status_code=status, values=values, errors=errors
        )
