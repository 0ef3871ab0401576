"""Contract pages: the contract with its milestones and the actions open to the viewer
(confirm or decline, hand in a deliverable, accept or return it, stop), the owner's form
to record a contract once the award is final, and the supervisors' list of what is overdue.

Writes run in a savepoint, so a refused request leaves nothing behind while the page that
says why (errors beside the fields) is an ordinary response. Refusals of the person (401,
403, 404) are error pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import queries as agency_queries
from market.contracts import queries, rules, service
from market.contracts.api import deliverable_file
from market.contracts.models import ENDED_UNSIGNED, Contract, ContractCreate
from market.core import money
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, NotFound
from market.core.i18n import N_
from market.halls import queries as halls_queries
from market.notices import service as notices
from market.notices.models import Notice, NoticeStatus
from market.ratings import service as ratings
from market.security.auth import requires_login, requires_role
from market.selection import queries as selection
from market.web.forms import FormErrors, errors_beside_fields, parse
from market.web.templating import redirect, render

MILESTONE_ROWS = 4  # blank rows on the record form (more can be typed by adding m5_... fields)
MAX_MILESTONE_ROWS = 20
ROW_KEY = re.compile(r"m(\d{1,2})_(title|due_on)")
ROW_ERROR = re.compile(r"milestones(?:\[(\d+)\]|\.(\d+))\.(title|due_on)")
RECORD_FIELDS = ("agency_id", "amount", "signed_on", "start_on", "due_on")

DONE = {
    "recorded": N_("The contract is recorded. The agency is asked to confirm it."),
    "confirmed": N_("The contract is signed: it is in service (服务中)."),
    "declined": N_("You declined the contract. The award passes to the first remaining alternate, if any."),
    "disputed": N_(
        "You declined the contract because its terms do not follow the award. Your agency keeps the award until a supervisor decides; this decline does not count toward suspension."
    ),
    "submitted": N_("The deliverable is handed in. The owner accepts it or returns it."),
    "accepted": N_("The deliverable is accepted."),
    "returned": N_("The deliverable is returned to the agency with your reasons."),
    "stopped": N_("The contract is stopped (服务中止). The reason is published."),
}

SUPERVISION_DONE = {
    "decided": N_("The decision is published. The owner and the agency are told."),
}


@dataclass
class ActionForm:
    """One of the page's forms, sent back with what was typed and the errors beside it."""

    name: str  # confirm, decline, submit, accept, return, stop
    target: int | None = None  # the milestone's position
    values: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


def _known(*names: str) -> Any:
    allowed = set(names)
    return lambda name: name if name in allowed else None


# -- the record form ------------------------------------------------------------------------------


def _parse_date(text: str, name: str, errors: FormErrors) -> date | None:
    if not text:
        errors.setdefault(name, FieldError(name, N_("This field is required.")))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.setdefault(name, FieldError(name, N_("Enter a date such as 2026-12-31.")))
        return None


def row_numbers(values: dict[str, str]) -> list[int]:
    """The milestone rows shown: at least MILESTONE_ROWS, more when more were typed."""
    typed = [int(m.group(1)) for k in values if (m := ROW_KEY.fullmatch(k))]
    return list(range(1, min(MAX_MILESTONE_ROWS, max([MILESTONE_ROWS, *typed])) + 1))


def read_record_form(values: dict[str, str]) -> tuple[ContractCreate | None, FormErrors, list[int]]:
    """The form as a ContractCreate; errors keyed by the form's own field names. Also the
    row number of each milestone given, so service errors land beside the right row."""
    errors = FormErrors()
    amount = money.yuan_to_fen(values.get("amount", ""))
    if amount is None:
        errors["amount"] = FieldError("amount", N_("Enter the amount in yuan, such as 120000 or 120000.50."))
    dates = {
        name: _parse_date(values.get(name, ""), name, errors) for name in ("signed_on", "start_on", "due_on")
    }
    rows: list[int] = []
    milestones: list[dict[str, Any]] = []
    for row in row_numbers(values):
        title, due = values.get(f"m{row}_title", ""), values.get(f"m{row}_due_on", "")
        if not title and not due:
            continue
        rows.append(row)
        due_on = _parse_date(due, f"m{row}_due_on", errors)
        if not title:
            errors.setdefault(f"m{row}_title", FieldError(f"m{row}_title", N_("Name the milestone.")))
        milestones.append({"title": title, "due_on": due_on})
    if not rows:
        errors.setdefault("m1_title", FieldError("m1_title", N_("Give at least one milestone.")))
    if errors:
        return None, errors, rows
    data, parse_errors = parse(ContractCreate, {"amount_fen": amount, **dates, "milestones": milestones})
    if data is None:
        return (
            None,
            FormErrors.of(
                [
                    FieldError(_record_field(e.field, rows) or "form", e.message, e.params)
                    for e in parse_errors.values()
                ]
            ),
            rows,
        )
    return data, errors, rows


def _record_field(name: str, rows: list[int]) -> str | None:
    if name == "amount_fen":
        return "amount"
    if name in RECORD_FIELDS:
        return name
    if name == "milestones":
        return "m1_title"
    match = ROW_ERROR.fullmatch(name)
    if match:
        index = int(match.group(1) or match.group(2))
        if index < len(rows):
            return f"m{rows[index]}_{match.group(3)}"
    return None


# -- pages ----------------------------------------------------------------------------------------


class ContractPages(Controller):
    include_in_schema = False

    async def _contract_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        contract: Contract,
        viewer: AppUser | None,
        *,
        status_code: int = 200,
        done: str | None = None,
        form: ActionForm | None = None,
    ) -> Response[str]:
        v = await queries.view(session, contract)
        sign_by = None
        if contract.status == "proposed":
            finals = await queries.final_dates(session, [contract.notice_id])
            if contract.notice_id in finals:
                sign_by = rules.sign_by(finals[contract.notice_id], request.app.state.settings.contract_days)
        return render(
            request,
            "contracts/contract.html",
            status_code=status_code,
            v=v,
            c=contract,
            n=v.notice,
            viewer_user=viewer,
            is_owner=v.is_owner(viewer),
            is_agency=v.is_agency(viewer),
            private=v.may_see_deliverables(viewer),
            may_confirm=v.may_confirm(viewer),
            may_submit=v.may_submit(viewer),
            may_decide=v.may_decide_milestones(viewer),
            may_stop=v.may_stop(viewer),
            sign_by=sign_by,
            sign_overdue=sign_by is not None and today_in_china() > sign_by,
            today=today_in_china(),
            message=DONE.get(done or ""),
            form=form,
            rating=await ratings.rating_of_contract(session, contract),
            may_rate=ratings.may_rate(contract, viewer) and contract.status in ratings.RATEABLE,
        )

    @get("/contracts/{contract_id:str}")
    async def contract(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        contract = await queries.get_contract(session, contract_id)
        return await self._contract_page(
            request, session, contract, await optional_viewer(request, session), done=done
        )

    async def _act(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        contract_id: str,
        form: ActionForm,
        call: Any,
        done: str,
        fields: tuple[str, ...] = (),
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        contract = await queries.get_contract(session, contract_id)
        try:
            async with session.begin_nested():
                await call(user)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            form.errors = errors_beside_fields(exc, _known(*fields))
            await session.refresh(contract)
            return await self._contract_page(
                request, session, contract, user, status_code=exc.status, form=form
            )
        return redirect(f"/contracts/{contract.public_id}?done={done}")

    @staticmethod
    async def _values(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
        raw = await request.form()
        return {name: str(raw.get(name) or "").strip() for name in names}

    @post("/contracts/{contract_id:str}/confirm", guards=[requires_role(Role.agency)])
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[Any]:
        async def call(user: AppUser) -> None:
            await service.confirm(session, user=user, contract_id=contract_id)

        return await self._act(request, session, contract_id, ActionForm("confirm"), call, "confirmed")

    @post("/contracts/{contract_id:str}/decline", guards=[requires_role(Role.agency)])
    async def decline(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm("decline", values=await self._values(request, "reason", "terms_mismatch"))
        mismatch = form.values["terms_mismatch"] == "yes"

        async def call(user: AppUser) -> None:
            await service.decline_contract(
                session,
                user=user,
                contract_id=contract_id,
                reason=form.values["reason"],
                settings=request.app.state.settings,
                terms_mismatch=mismatch,
            )

        return await self._act(
            request, session, contract_id, form, call, "disputed" if mismatch else "declined", ("reason",)
        )

    @post("/contracts/{contract_id:str}/stop", guards=[requires_role(Role.owner)])
    async def stop(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[Any]:
        form = ActionForm("stop", values=await self._values(request, "reason"))

        async def call(user: AppUser) -> None:
            await service.stop_contract(
                session, user=user, contract_id=contract_id, reason=form.values["reason"]
            )

        return await self._act(request, session, contract_id, form, call, "stopped", ("reason",))

    @post(
        "/contracts/{contract_id:str}/milestones/{position:int}/submit", guards=[requires_role(Role.agency)]
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
        position: FromPath[int],
    ) -> Response[Any]:
        raw = await request.form()
        form = ActionForm("submit", target=position, values={"note": str(raw.get("note") or "").strip()})
        upload = raw.get("file")

        async def call(user: AppUser) -> None:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise service._invalid("file", N_("Choose a file to upload."))
            content = await upload.read()
            await service.submit_milestone(
                session,
                user=user,
                contract_id=contract_id,
                position=position,
                filename=upload.filename,
                content=content,
                note=form.values["note"],
            )

        return await self._act(request, session, contract_id, form, call, "submitted", ("note", "file"))

    @post("/contracts/{contract_id:str}/milestones/{position:int}/accept", guards=[requires_role(Role.owner)])
    async def accept(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
        position: FromPath[int],
    ) -> Response[Any]:
        async def call(user: AppUser) -> None:
            await service.accept_milestone(session, user=user, contract_id=contract_id, position=position)

        return await self._act(
            request, session, contract_id, ActionForm("accept", target=position), call, "accepted"
        )

    @post("/contracts/{contract_id:str}/milestones/{position:int}/return", guards=[requires_role(Role.owner)])
    async def give_back(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
        position: FromPath[int],
    ) -> Response[Any]:
        form = ActionForm("return", target=position, values=await self._values(request, "reason"))

        async def call(user: AppUser) -> None:
            await service.return_milestone(
                session, user=user, contract_id=contract_id, position=position, reason=form.values["reason"]
            )

        return await self._act(request, session, contract_id, form, call, "returned", ("reason",))

    @get("/contracts/{contract_id:str}/milestones/{position:int}/deliverable", guards=[requires_login])
    async def deliverable(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
        position: FromPath[int],
    ) -> Stream:
        viewer = await load_viewer(request, session)
        d, stored = await service.read_deliverable(
            session, viewer=viewer, contract_id=contract_id, position=position
        )
        return deliverable_file(request, d, stored)

    # -- the owner records a contract ---------------------------------------------------------------

    async def _record_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice: Notice,
        user: AppUser,
        *,
        status_code: int = 200,
        values: dict[str, str] | None = None,
        errors: FormErrors | None = None,
    ) -> Response[str]:
        if not service.may_record(notice, user):
            raise NotFound(N_("No such notice."))
        holders = await selection.holders(session, notice)
        contracts = await queries.contracts_of_notice(session, notice)
        live = {c.award_id for c in contracts if c.status not in ENDED_UNSIGNED}
        names = {a.id: a.name for a in await agency_queries.by_ids(session, [h.agency_id for h in holders])}
        open_awards = [
            (h.agency_public_id, names.get(h.agency_id, h.agency_public_id))
            for h in holders
            if h.id not in live
        ]
        # What each open award requires of its contract, shown beside the form.
        terms = (
            {
                h.agency_public_id: await service.award_terms(session, notice, h)
                for h in holders
                if h.id not in live
            }
            if notice.status == NoticeStatus.awarded
            else {}
        )
        values = values or {}
        if not values.get("agency_id") and open_awards:
            values = {**values, "agency_id": open_awards[0][0]}
        return render(
            request,
            "contracts/record.html",
            status_code=status_code,
            n=notice,
            awarded=notice.status == NoticeStatus.awarded,
            open_awards=open_awards,
            terms=terms,
            today=today_in_china(),
            contracts=contracts,
            values=values,
            errors=errors or FormErrors(),
            rows=row_numbers(values),
        )

    @get("/notices/{notice_id:str}/contract", guards=[requires_role(Role.owner)])
    async def record_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[str]:
        user = await load_viewer(request, session)
        return await self._record_page(
            request, session, await notices.visible_notice(session, notice_id, user), user
        )

    @post("/notices/{notice_id:str}/contract", guards=[requires_role(Role.owner)])
    async def record(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await notices.visible_notice(session, notice_id, user)
        raw = await request.form()
        values = {
            k: str(v).strip()
            for k, v in raw.items()
            if k != "_csrf_token" and (k in RECORD_FIELDS or ROW_KEY.fullmatch(k))
        }
        data, errors, rows = read_record_form(values)
        status = 422
        if data is not None:
            try:
                async with session.begin_nested():
                    contract = await service.record_contract(
                        session,
                        owner=user,
                        notice_id=notice.public_id,
                        agency_id=values.get("agency_id", ""),
                        data=data,
                        settings=request.app.state.settings,
                    )
            except DomainError as exc:
                if exc.status in (401, 403):
                    raise
                errors, status = errors_beside_fields(exc, lambda name: _record_field(name, rows)), exc.status
                await session.refresh(notice)
            else:
                return redirect(f"/contracts/{contract.public_id}?done=recorded")
        return await self._record_page(
            request, session, notice, user, status_code=status, values=values, errors=errors
        )

    # -- supervisors ---------------------------------------------------------------------------------

    async def _supervision_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        viewer: AppUser,
        *,
        status_code: int = 200,
        form: ActionForm | None = None,
        done: str | None = None,
        unsigned_after: str | None = None,
        milestones_after: str | None = None,
    ) -> Response[str]:
        today = today_in_china()
        # Only what the viewer's jurisdiction reaches (None: the province, no filter).
        codes = await halls_queries.codes_under(session, viewer.jurisdiction) if viewer.jurisdiction else []
        # Each list a page at a time (queries.SUPERVISION_PAGE), with a link to the next.
        page = queries.SUPERVISION_PAGE
        unsigned_from = queries.unsigned_after(unsigned_after)
        milestones_from = queries.milestones_after(milestones_after)
        milestones = await queries.overdue_milestones(
            session, codes=codes, after=milestones_from, limit=page + 1
        )
        milestones_next = (
            f"{milestones[page - 1][0].due_on.isoformat()}.{milestones[page - 1][0].id}"
            if len(milestones) > page
            else None
        )
        milestones = milestones[:page]
        unsigned, unsigned_next = await queries.overdue_unsigned_page(
            session, request.app.state.settings, today, codes=codes, after=unsigned_from, limit=page
        )
        return render(
            request,
            "contracts/supervision.html",
            status_code=status_code,
            disputes=await queries.pending_disputes(session, codes),
            may_decide=service.may_decide_dispute(viewer),
            form=form,
            message=SUPERVISION_DONE.get(done or ""),
            unsigned=unsigned,
            unsigned_more=f"/supervision/contracts?unsigned_after={unsigned_next[0]}.{unsigned_next[1]}#unsigned-h"
            if unsigned_next is not None
            else None,
            unsigned_continued=unsigned_from is not None,
            milestones_more=f"/supervision/contracts?milestones_after={milestones_next}#milestones-h"
            if milestones_next is not None
            else None,
            milestones_continued=milestones_from is not None,
            hall_names=await halls_queries.hall_names(session),
            milestones=milestones,
            agencies_by_id={
                a.id: a for a in await agency_queries.by_ids(session, [c.agency_id for _, c, _ in milestones])
            },
            contract_days=request.app.state.settings.contract_days,
        )

    @get("/supervision/contracts", guards=[requires_role(Role.supervisor, Role.admin)])
    async def supervision(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
        unsigned_after: FromQuery[str | None] = None,
        milestones_after: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._supervision_page(
            request,
            session,
            await load_viewer(request, session),
            done=done,
            unsigned_after=unsigned_after,
            milestones_after=milestones_after,
        )

    @post("/supervision/contracts/{contract_id:str}/dispute", guards=[requires_role(Role.supervisor)])
    async def decide_dispute(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        contract_id: FromPath[str],
    ) -> Response[Any]:
        """A supervisor decides a contract declined because its terms do not follow the award."""
        user = await load_viewer(request, session)
        form = ActionForm("dispute", values=await self._values(request, "decision", "reason"))
        try:
            async with session.begin_nested():
                await service.decide_dispute(
                    session,
                    user=user,
                    contract_id=contract_id,
                    decision=form.values["decision"],
                    reason=form.values["reason"],
                    settings=request.app.state.settings,
                )
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            form.errors = errors_beside_fields(exc, _known("decision", "reason"))
            form.values["contract_id"] = contract_id
            return await self._supervision_page(request, session, user, status_code=exc.status, form=form)
        return redirect("/supervision/contracts?done=decided#disputes-h")
