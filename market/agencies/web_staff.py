"""The admins' agency pages: the review queue (new agencies, changed qualifications, a
search), and the decisions taken from it: approve or reject, suspend or blacklist and lift
it, link an agency to an owner organisation. Supervisors see the queue; admins act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.agencies import queries, service
from market.agencies.forms import known, parse_date
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, InvalidInput
from market.core.i18n import N_
from market.core.params import RowId
from market.security.auth import current_principal, requires_role
from market.web.forms import FormErrors, place_errors
from market.web.templating import redirect, render

STATUS_ACTIONS = ("suspend", "reinstate", "blacklist", "lift_blacklist")
ACTIONS_WITH_UNTIL = ("suspend", "blacklist")

ADMIN_DONE = {
    "approve": N_("The agency is approved and now appears in the public directory."),
    "reject": N_("The agency is rejected; it can correct its details and submit them again."),
    "suspend": N_("The agency is suspended."),
    "reinstate": N_("The agency is reinstated."),
    "blacklist": N_("The agency is blacklisted."),
    "lift_blacklist": N_("The agency has been taken off the blacklist."),
    "qualification_approve": N_("The qualification is approved."),
    "qualification_reject": N_("The qualification is rejected."),
    "linked": N_(
        "The agency is linked to the owner organisation: it can no longer bid on, or be named by, that organisation's notices."
    ),
}


class AgencyReviewPages(Controller):
    include_in_schema = False

    # -- the admins' review queue --------------------------------------------------------------

    async def _review_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        q: str = "",
        status_code: int = 200,
        done: str | None = None,
        problem: DomainError | None = None,
        failed: dict[str, Any] | None = None,
    ) -> Response[str]:
        principal = current_principal(request)
        queue = await queries.review_queue(session, limit=queries.REVIEW_LIMIT)
        found = await queries.find_agencies(session, q=q) if q.strip() else []
        return render(
            request,
            "agencies/review.html",
            status_code=status_code,
            can_act=service.may_review(principal),
            pending=queue.pending,
            pending_total=queue.pending_total,
            queued={p.agency.public_id for p in queue.pending},
            changes=queue.changes,
            changes_total=queue.changes_total,
            replaced=queue.replaced,
            counts=queue.counts,
            q=q.strip(),
            found=found,
            same_code=await queries.orgs_sharing_credit_code(session, [p.agency for p in queue.pending]),
            actions_for=lambda status: [a for a in STATUS_ACTIONS if status in service.TRANSITIONS[a][0]],
            ACTIONS_WITH_UNTIL=ACTIONS_WITH_UNTIL,
            message=ADMIN_DONE.get(done or ""),
            problem=problem,
            failed=failed or {},
        )

    @get("/admin/agencies", guards=[requires_role(Role.admin, Role.supervisor)])
    async def review_queue(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        q: FromQuery[str] = "",
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._review_page(request, session, q=q, done=done)

    async def _decide(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        key: str,
        fields: tuple[str, ...],
        done: str,
        call: Callable[[AppUser, dict[str, str]], Any],
    ) -> Response[Any]:
        """Run one admin decision in a savepoint; on refusal show the queue again with the
        message, and the error beside the field of the form that was sent."""
        actor = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "") for name in fields}
        q = str(raw.get("q") or "").strip()
        try:
            async with session.begin_nested():
                await call(actor, values)
        except DomainError as exc:
            errors = FormErrors()
            place_errors(errors, exc.errors, known(fields))
            failed = {"key": key, "values": values, "errors": errors}
            return await self._review_page(
                request, session, q=q, status_code=exc.status, problem=exc, failed=failed
            )
        target = {"done": done, **({"q": q} if q else {})}
        return redirect("/admin/agencies?" + urlencode(target))

    @post("/admin/agencies/{agency_id:str}/review", guards=[requires_role(Role.admin)])
    async def review(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[Any]:
        decision = str((await request.form()).get("decision") or "")

        async def call(actor: AppUser, values: dict[str, str]) -> None:
            if decision not in ("approve", "reject"):
                raise InvalidInput(
                    N_("Unknown decision."), [FieldError("decision", N_("Choose approve or reject."))]
                )
            await service.transition(
                session,
                agency_id=agency_id,
                actor=actor,
                action=decision,
                reason=values["reason"],
                today=today_in_china(),
            )

        return await self._decide(
            request, session, key=f"{decision}-{agency_id}", fields=("reason",), done=decision, call=call
        )

    @post("/admin/agencies/{agency_id:str}/status", guards=[requires_role(Role.admin)])
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[Any]:
        action = str((await request.form()).get("action") or "")

        async def call(actor: AppUser, values: dict[str, str]) -> None:
            if action not in STATUS_ACTIONS:
                raise InvalidInput(N_("Unknown action."), [FieldError("action", N_("Unknown action."))])
            try:
                until = parse_date(values["until"]) if action in ACTIONS_WITH_UNTIL else None
            except ValueError:
                raise InvalidInput(
                    N_("Enter a date such as 2026-12-31."),
                    [FieldError("until", N_("Enter a date such as 2026-12-31."))],
                ) from None
            await service.transition(
                session,
                agency_id=agency_id,
                actor=actor,
                action=action,
                reason=values["reason"],
                until=until,
                today=today_in_china(),
            )

        return await self._decide(
            request,
            session,
            key=f"{action}-{agency_id}",
            fields=("reason", "until"),
            done=action if action in STATUS_ACTIONS else "",
            call=call,
        )

    @post("/admin/agencies/{agency_id:str}/link", guards=[requires_role(Role.admin)])
    async def link(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[Any]:
        async def call(actor: AppUser, values: dict[str, str]) -> None:
            await service.link_to_org(
                session,
                actor=actor,
                agency_id=agency_id,
                org_id=values["org_id"].strip(),
                reason=values["reason"],
            )

        return await self._decide(
            request, session, key=f"link-{agency_id}", fields=("org_id", "reason"), done="linked", call=call
        )

    @post(
        "/admin/agencies/{agency_id:str}/qualifications/{qualification_id:int}/review",
        guards=[requires_role(Role.admin)],
    )
    async def review_qualification(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
        qualification_id: FromPath[RowId],
    ) -> Response[Any]:
        decision = str((await request.form()).get("decision") or "")

        async def call(actor: AppUser, values: dict[str, str]) -> None:
            await service.review_qualification(
                session,
                agency_id=agency_id,
                qualification_id=qualification_id,
                actor=actor,
                decision=decision,
                reason=values["reason"],
            )

        return await self._decide(
            request,
            session,
            key=f"q{decision}-{qualification_id}",
            fields=("reason",),
            done=f"qualification_{decision}",
            call=call,
        )
