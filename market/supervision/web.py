"""The supervisor console (一规运行、全程监督): search, a notice's timeline, an agency's and an
owner organisation's history, and the few decisions staff take from there.

Pages are for supervisors and administrators. Each action calls its domain's service,
which keeps its own rule about who may do it: deciding an objection and voiding a rating
are a supervisor's (market.objections.service.decide_objection, market.ratings.service.void),
suspending an agency is an administrator's or a supervisor's (market.agencies.service.transition). The
console shows each form only to the role the service admits, and says so to the other.

Writes run in a savepoint, so a refused request leaves nothing behind while the page that
says why (errors beside the fields) is an ordinary response. Refusals of the person (401,
403, 404) are error pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.agencies import service as agencies
from market.agencies.models import Agency, AgencyStatus
from market.agencies.queries import names_by_public_id as agency_names
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, InvalidInput, NotFound
from market.core.i18n import N_
from market.halls import queries as halls_queries
from market.halls import service as halls
from market.halls.rules import reaches as rules_reach
from market.notices import orgs as owner_orgs
from market.notices import service as notices
from market.notices.models import Method, Notice, OwnerOrg
from market.objections import queries as objection_queries
from market.objections import service as objection_service
from market.ratings import service as ratings
from market.security.auth import requires_role
from market.selection import queries as selection
from market.selection.models import PENDING_OBJECTIONS, Selection
from market.supervision import queries
from market.web.forms import FormErrors, errors_beside_fields
from market.web.templating import redirect, render

STAFF = requires_role(Role.supervisor, Role.admin)

DONE = {
    "decided": N_("The decision is published."),
    "voided": N_("The rating is voided; it stays visible, marked, and no longer counts."),
    "suspended": N_("The agency is suspended; it may not bid until the end date."),
    "moved": N_("The organisation now belongs to the hall chosen; its published notices keep theirs."),
}


@dataclass
class ActionForm:
    """One of the console's forms, sent back with what was typed and the errors beside it."""

    name: str  # decision, void, suspend
    target: str | None = None  # the objection or rating id
    values: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)
    status: int = 200


# The values of present.describe's phrases that people typed (names, reasons, justifications,
# milestone titles, certificate numbers, amended terms); the rest are ids, dates and amounts
# the platform made.
def _known(*names: str) -> Any:
    allowed = set(names)
    return lambda name: name if name in allowed else None


async def _values(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
    raw = await request.form()
    return {name: str(raw.get(name) or "").strip() for name in names}


def _not_found(message: str, **params: Any) -> NotFound:
    missing = NotFound(message)
    missing.params = params
    return missing


async def _codes(session: AsyncSession, viewer: AppUser) -> list[str] | None:
    """The halls the viewer reaches, for the console's lists (None: the province, all)."""
    if viewer.jurisdiction is None:  # (staff always hold one: a check constraint)
        return []
    return await halls_queries.codes_under(session, viewer.jurisdiction)


async def _attempt(session: AsyncSession, form: ActionForm, call: Any) -> bool:
    """Run ``call`` in a savepoint; on a refusal about the input or the state, put the
    errors beside the form's fields and say False. 401, 403 and 404 go to the error page."""
    try:
        async with session.begin_nested():
            await call()
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        form.errors = errors_beside_fields(exc, _known(*form.values))
        form.status = exc.status
        return False
    return True


class SupervisionPages(Controller):
    path = "/supervision"
    include_in_schema = False

    # -- home and search ------------------------------------------------------------------------

    @get("/", guards=[STAFF])
    async def home(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        codes = await _codes(session, viewer)
        query = (q or "").strip()
        results = await queries.search(session, query, codes=codes) if query else None
        return render(
            request,
            "supervision/console/home.html",
            viewer_user=viewer,
            q=query,
            results=results,
            pending_count=await objection_queries.pending_count(session, codes=codes),
            dispute_count=await queries.disputed_contract_count(session, codes),
            hall_names=await halls_queries.hall_names(session),
        )

    # -- a notice ---------------------------------------------------------------------------------

    async def _notice_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice: Notice,
        viewer: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        form: ActionForm | None = None,
    ) -> Response[str]:
        timeline = await queries.notice_timeline(session, notice)
        sel = await session.get(Selection, notice.id)
        awards = await selection.awards(session, notice) if sel is not None else []
        objections = await objection_queries.objections(session, notice) if sel is not None else []
        contracts = await queries.contracts_of_notices(session, [notice.id])  # type: ignore[list-item]
        mentioned = [a for row in timeline for a in row.description.agencies]
        mentioned += (
            [a.agency_public_id for a in awards]
            + [o.agency_public_id or "" for o in objections]
            + [notice.direct_agency_id or ""]
        )
        org = await session.get(OwnerOrg, notice.org_id) if notice.org_id is not None else None
        names = await halls_queries.hall_names(session)
        return render(
            request,
            "supervision/console/notice.html",
            status_code=status_code,
            n=notice,
            org=org,
            sel=sel,
            timeline=timeline,
            awards=awards,
            objections=objections,
            pending=[o for o in objections if o.status in PENDING_OBJECTIONS],
            contracts=contracts,
            names_of=await agency_names(session, mentioned),
            may_decide=objection_service.may_decide_objections(viewer),
            may_decide_here={
                o.public_id: objection_service.may_decide_objections(viewer, o) for o in objections
            },
            escalations=await objection_service.escalation_history(session, notice) if objections else {},
            hall_names=names,
            direct=notice.method == Method.direct,
            form=form,
            message=DONE.get(done or ""),
        )

    async def _notice(self, session: AsyncSession, notice_id: str) -> Notice:
        try:
            return await notices.get_notice(session, notice_id)
        except NotFound:
            raise _not_found(N_("No such notice.")) from None

    @get("/notices/{notice_id:str}", guards=[STAFF])
    async def notice(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        notice = await self._notice(session, notice_id)
        halls.require_reach(viewer, notice.hall)
        return await self._notice_page(request, session, notice, viewer, done=done)

    @post(
        "/notices/{notice_id:str}/objections/{objection_id:str}/decision",
        guards=[requires_role(Role.supervisor)],
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        objection_id: FromPath[str],
    ) -> Response[Any]:
        viewer = await load_viewer(request, session)
        notice = await self._notice(session, notice_id)
        halls.require_reach(viewer, notice.hall)
        form = ActionForm(
            "decision", target=objection_id, values=await _values(request, "decision", "reason")
        )

        async def call() -> None:
            await objection_service.decide_objection(
                session,
                user=viewer,
                notice_id=notice.public_id,
                objection_id=objection_id,
                decision=form.values["decision"],
                reason=form.values["reason"],
                settings=request.app.state.settings,
            )

        if not await _attempt(session, form, call):
            await session.refresh(notice)
            return await self._notice_page(
                request, session, notice, viewer, status_code=form.status, form=form
            )
        return redirect(f"/supervision/notices/{notice.public_id}?done=decided#timeline")

    # -- an agency --------------------------------------------------------------------------------

    async def _agency(self, session: AsyncSession, agency_id: str) -> Agency:
        try:
            return await agencies.get_agency(session, agency_id)
        except NotFound:
            raise _not_found(N_("No such agency.")) from None

    async def _agency_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        agency: Agency,
        viewer: AppUser,
        *,
        before: int | None = None,
        status_code: int = 200,
        done: str | None = None,
        form: ActionForm | None = None,
    ) -> Response[str]:
        today = today_in_china()
        history, more = await queries.agency_history(session, agency.public_id, before=before)
        standing = await ratings.standing_of(
            session, agency, today=today, contract_days=request.app.state.settings.contract_days
        )
        rated = await ratings.ratings_of(session, agency)
        codes = await _codes(session, viewer)
        mentioned = [a for row in history for a in row.description.agencies]
        return render(
            request,
            "supervision/console/agency.html",
            status_code=status_code,
            agency=agency,
            history=history,
            more_url=f"/supervision/agencies/{agency.public_id}?before={more}#history"
            if more is not None
            else None,
            continued=before is not None,
            awards=await selection.awards_of(session, agency),
            contracts=await queries.contracts_of_agency(session, agency, codes),
            ratings=rated,
            credit=standing.credit(today),
            summary=standing.summary(),
            names_of=await agency_names(session, mentioned),
            may_void=ratings.may_void(viewer),
            suspendable=agency.status == AgencyStatus.approved,
            today=today.isoformat(),
            form=form,
            message=DONE.get(done or ""),
        )

    @get("/agencies/{agency_id:str}", guards=[STAFF])
    async def agency(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
        before: FromQuery[int | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        return await self._agency_page(
            request, session, await self._agency(session, agency_id), viewer, before=before, done=done
        )

    @post("/agencies/{agency_id:str}/ratings/{rating_id:str}/void", guards=[requires_role(Role.supervisor)])
    async def void(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
        rating_id: FromPath[str],
    ) -> Response[Any]:
        viewer = await load_viewer(request, session)
        agency = await self._agency(session, agency_id)
        rating = await ratings.get_rating(session, rating_id)
        if rating.agency_id != agency.id:
            raise _not_found(N_("No such rating."))
        form = ActionForm("void", target=rating_id, values=await _values(request, "reason"))

        async def call() -> None:
            await ratings.void(session, user=viewer, rating_id=rating_id, reason=form.values["reason"])

        if not await _attempt(session, form, call):
            return await self._agency_page(
                request, session, agency, viewer, status_code=form.status, form=form
            )
        return redirect(f"/supervision/agencies/{agency.public_id}?done=voided#ratings")

    @post("/agencies/{agency_id:str}/suspend", guards=[requires_role(Role.admin, Role.supervisor)])
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[Any]:
        viewer = await load_viewer(request, session)
        agency = await self._agency(session, agency_id)
        agencies.require_reach(viewer, agency, "suspend")  # 403 before any word on the input
        form = ActionForm("suspend", values=await _values(request, "reason", "until"))

        async def call() -> None:
            if not form.values["until"]:
                raise InvalidInput(
                    N_("Give the last day of the suspension."),
                    [FieldError("until", N_("Give the last day of the suspension."))],
                )
            try:
                until = date.fromisoformat(form.values["until"])
            except ValueError:
                raise InvalidInput(
                    N_("Enter a date such as 2026-12-31."),
                    [FieldError("until", N_("Enter a date such as 2026-12-31."))],
                ) from None
            await agencies.transition(
                session,
                agency_id=agency.public_id,
                actor=viewer,
                action="suspend",
                reason=form.values["reason"],
                until=until,
                today=today_in_china(),
            )

        if not await _attempt(session, form, call):
            await session.refresh(agency)
            return await self._agency_page(
                request, session, agency, viewer, status_code=form.status, form=form
            )
        return redirect(f"/supervision/agencies/{agency.public_id}?done=suspended")

    # -- an owner organisation --------------------------------------------------------------------

    @get("/owners/{org_id:str}", guards=[STAFF])
    async def owner_org(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        org_id: FromPath[str],
        before: FromQuery[int | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        viewer = await load_viewer(request, session)
        return await self._owner_page(
            request, session, await self._org(session, viewer, org_id), viewer, before=before, done=done
        )

    async def _org(self, session: AsyncSession, viewer: AppUser, org_id: str) -> OwnerOrg:
        org = await queries.get_org(session, org_id)
        if org is None:
            raise _not_found(N_("No such owner organisation."))
        halls.require_reach(viewer, org.hall)
        return org

    @post("/owners/{org_id:str}/hall", guards=[requires_role(Role.admin)])
    async def change_org_hall(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], org_id: FromPath[str]
    ) -> Response[Any]:
        viewer = await load_viewer(request, session)
        org = await self._org(session, viewer, org_id)
        form = ActionForm("hall", values=await _values(request, "hall", "reason"))

        async def call() -> None:
            await owner_orgs.change_org_hall(
                session,
                actor=viewer,
                org_id=org.public_id,
                hall=form.values["hall"],
                reason=form.values["reason"],
            )

        if not await _attempt(session, form, call):
            await session.refresh(org)
            return await self._owner_page(request, session, org, viewer, status_code=form.status, form=form)
        return redirect(f"/supervision/owners/{org.public_id}?done=moved")

    async def _owner_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        org: OwnerOrg,
        viewer: AppUser,
        *,
        before: int | None = None,
        done: str | None = None,
        status_code: int = 200,
        form: ActionForm | None = None,
    ) -> Response[str]:
        rows = await queries.org_notices(session, org)
        published = [n for n, _ in rows]
        history, more = await queries.org_history(
            session, org, [n.public_id for n in published], before=before
        )
        contracts = await queries.contracts_of_notices(session, [n.id for n in published])  # type: ignore[misc]
        mentioned = [a for row in history for a in row.description.agencies]
        mentioned += [w for _, s in rows if s is not None for w in (s.winners or [])]
        hall_choices = [
            h
            for h in await owner_orgs.hall_choices(session, org.region)
            if rules_reach(viewer.jurisdiction, h)
        ]
        return render(
            request,
            "supervision/console/owner.html",
            status_code=status_code,
            message=DONE.get(done or ""),
            hall_form=form or ActionForm("hall"),
            may_move=owner_orgs.may_change_hall(viewer, org) and len(hall_choices) > 1,
            hall_choices=hall_choices,
            org=org,
            hall_names=await halls_queries.hall_names(session),
            rows=rows,
            direct_count=sum(1 for n, _ in rows if n.method == Method.direct),
            contracts=contracts,
            history=history,
            more_url=f"/supervision/owners/{org.public_id}?before={more}#history"
            if more is not None
            else None,
            continued=before is not None,
            names_of=await agency_names(session, mentioned),
        )
