"""The agency's own pages: onboarding (the profile, its qualifications and the licence,
checked as typed by htmx), the dashboard, and its small forms for a new qualification or
document. Every service call that writes runs in a savepoint, so a refused request leaves
nothing behind even though the page that says why is an ordinary (committed) response."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromQuery
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer
from market.agencies import queries, rules, service
from market.agencies.forms import (
    MAX_ROWS,
    QUALIFICATION_FIELDS,
    ProfileForm,
    SmallForm,
    blank_profile_form,
    known,
    profile_form_from,
    qualification_field,
    read_profile_form,
)
from market.agencies.models import Agency, AgencyStatus, QualificationInput, ReviewStatus
from market.agencies.web import views_of
from market.contracts import queries as contracts
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, InvalidInput, validation_errors
from market.core.i18n import N_
from market.inbox import service as inbox
from market.security.auth import requires_role
from market.selection import queries as selection
from market.web.forms import FormErrors, errors_beside_fields, place_errors
from market.web.names import Names, region_groups
from market.web.templating import redirect, render, request_locale

# ?done=<code> after a redirect: only these codes show a message, so a link cannot make
# the page say anything else.
AGENCY_DONE = {
    "submitted": N_(
        "Your agency has been submitted. An administrator will review it; you will see the decision here."
    ),
    "resubmitted": N_("Your corrected details have been submitted for review again."),
    "qualification": N_(
        "The qualification has been sent for review; it counts once an administrator approves it."
    ),
    "document": N_("The document has been uploaded."),
}


async def _save_profile(
    request: Request[Any, Any, Any], session: AsyncSession, owner: AppUser, form: ProfileForm, *, again: bool
) -> Agency | None:
    """Submit (or resubmit) with the licence, all or nothing; errors go into ``form``."""
    if form.errors or form.data is None:
        return None
    try:
        async with session.begin_nested():
            save = service.resubmit if again else service.submit
            agency = await save(session, owner=owner, data=form.data, today=today_in_china())
            if form.upload is not None:
                filename, content = form.upload
                await service.add_document(
                    session,
                    owner=owner,
                    kind="licence",
                    filename=filename,
                    content=content,
                )
    except DomainError as exc:
        form.errors, form.status = errors_beside_fields(exc, form.field_for), exc.status
        return None
    return agency


class AgencyOwnPages(Controller):
    include_in_schema = False

    async def _dashboard(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        owner: AppUser,
        *,
        status_code: int = 200,
        done: str | None = None,
        profile_form: ProfileForm | None = None,
        qualification_form: SmallForm | None = None,
        document_form: SmallForm | None = None,
    ) -> Response[str]:
        agency = await service.agency_of(session, owner)
        message = AGENCY_DONE.get(done or "")
        if agency is None:
            return render(
                request,
                "agencies/onboarding.html",
                status_code=status_code,
                form=profile_form or blank_profile_form(),
                region_groups=region_groups(Names(request_locale(request)), counties=True),
                message=message,
            )
        profile = await queries.load_profile(session, agency, private=True)
        today = today_in_china()
        rejected = agency.status == AgencyStatus.rejected
        awards = await selection.awards_of(session, agency)
        return render(
            request,
            "agencies/dashboard.html",
            status_code=status_code,
            agency=agency,
            profile=profile,
            shown=[q for q in profile.qualifications if q.status != ReviewStatus.superseded],
            public=agency.status in [s.value for s in queries.PUBLIC_STATUSES],
            message=message,
            form=(profile_form or profile_form_from(profile)) if rejected else None,
            # A form this page does not show (registering twice) still says why it failed.
            problem=profile_form.errors.get("form") if profile_form is not None and not rejected else None,
            region_groups=region_groups(Names(request_locale(request)), counties=True) if rejected else [],
            qualification_form=qualification_form or SmallForm(),
            document_form=document_form or SmallForm(values={"kind": "certificate"}),
            may_add_qualification=agency.status not in (AgencyStatus.blacklisted, AgencyStatus.rejected),
            awards=awards,
            # MSP/1 section 7: a result drawn without a beacon says whose fairness it rests on.
            operator_draws=any(n.scheme == "none" and n.method != "direct" for _, n in awards),
            unread=await inbox.unread_count(session, owner),
            # Contracts: the agency's, awards still to sign (overdue flagged), late milestones.
            contracts=await contracts.contracts_of_agency(session, agency),
            unsigned=await contracts.unsigned_awards(
                session, request.app.state.settings, today, agency=agency
            ),
            late_milestones=await contracts.overdue_milestones(session, agency=agency),
            **views_of(profile, today),
        )

    @get("/agency", guards=[requires_role(Role.agency)])
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        owner = await load_viewer(request, session)
        return await self._dashboard(request, session, owner, done=done)

    @get("/agency/check-credit-code", guards=[requires_role(Role.agency)])
    async def check_credit_code(
        self, request: Request[Any, Any, Any], credit_code: FromQuery[str] = ""
    ) -> Response[str]:
        """The htmx check beside the credit code field; always 200 so that htmx shows it."""
        text = credit_code.strip()
        error: FieldError | None = None
        if text:
            try:
                rules.check_credit_code(text)
            except InvalidInput as exc:
                error = (
                    exc.errors[0] if exc.errors else FieldError("credit_code", exc.detail, dict(exc.params))
                )
        return render(request, "agencies/partials/credit_code_check.html", blank=not text, error=error)

    @get("/agency/levels", guards=[requires_role(Role.agency)])
    async def level_options(
        self, request: Request[Any, Any, Any], row: FromQuery[int | None] = None
    ) -> Response[str]:
        """The level select for the category just chosen (htmx)."""
        if row is not None and not 0 <= row < MAX_ROWS:
            raise InvalidInput(N_("No such row."), [FieldError("row", N_("No such row."))])
        prefix = f"q{row}_" if row is not None else ""
        category = request.query_params.get(prefix + "category") or ""
        return render(
            request,
            "agencies/partials/level_field.html",
            name=prefix + "level",
            category=category,
            selected="",
            errors=FormErrors(),
        )

    @post("/agency/register", guards=[requires_role(Role.agency)])
    async def register(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        owner = await load_viewer(request, session)
        form = await read_profile_form(request)
        if await _save_profile(request, session, owner, form, again=False) is not None:
            return redirect("/agency?done=submitted")
        return await self._dashboard(request, session, owner, status_code=form.status, profile_form=form)

    @post("/agency/resubmit", guards=[requires_role(Role.agency)])
    async def resubmit(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        owner = await load_viewer(request, session)
        form = await read_profile_form(request)
        if await _save_profile(request, session, owner, form, again=True) is not None:
            return redirect("/agency?done=resubmitted")
        return await self._dashboard(request, session, owner, status_code=form.status, profile_form=form)

    @post("/agency/qualifications", guards=[requires_role(Role.agency)])
    async def add_qualification(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        owner = await load_viewer(request, session)
        raw = await request.form()
        values = {name: str(raw.get(name) or "").strip() for name in QUALIFICATION_FIELDS}
        form = SmallForm(values=values)
        replaces: int | None = None
        if values["replaces"]:
            try:
                replaces = int(values["replaces"])
            except ValueError:
                form.errors["replaces"] = FieldError("replaces", N_("Choose a qualification from the list."))
        data: QualificationInput | None = None
        try:
            data = QualificationInput.model_validate(
                {k: v for k, v in values.items() if v and k != "replaces"}
            )
        except ValidationError as exc:
            place_errors(form.errors, validation_errors(exc), qualification_field)
        status = 422
        if data is not None and not form.errors:
            try:
                async with session.begin_nested():
                    await service.add_qualification(
                        session, owner=owner, data=data, replaces=replaces, today=today_in_china()
                    )
            except DomainError as exc:
                form.errors, status = errors_beside_fields(exc, qualification_field), exc.status
            else:
                return redirect("/agency?done=qualification")
        return await self._dashboard(request, session, owner, status_code=status, qualification_form=form)

    @post("/agency/documents", guards=[requires_role(Role.agency)])
    async def add_document(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        owner = await load_viewer(request, session)
        raw = await request.form()
        kind = str(raw.get("kind") or "")
        form = SmallForm(values={"kind": kind})
        upload = raw.get("file")
        status = 422
        if not isinstance(upload, UploadFile) or not upload.filename:
            form.errors["file"] = FieldError("file", N_("Choose a file to upload."))
        else:
            content = await upload.read()
            try:
                async with session.begin_nested():
                    await service.add_document(
                        session,
                        owner=owner,
                        kind=kind,
                        filename=upload.filename,
                        content=content,
                    )
            except DomainError as exc:
                form.errors, status = errors_beside_fields(exc, known(("kind", "file"))), exc.status
            else:
                return redirect("/agency?done=document")
        return await self._dashboard(request, session, owner, status_code=status, document_form=form)
