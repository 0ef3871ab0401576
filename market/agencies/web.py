"""Agency pages: the agency's onboarding form and dashboard, the admins' review queue,
and the public directory with each agency's profile.

Plain HTML forms that work without JavaScript; htmx only checks the credit code as it is
typed, swaps a level select when a category changes, and updates the directory in place.
Every service call that writes runs in a savepoint, so a refused request leaves nothing
behind even though the page that says why is an ordinary (committed) response.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import queries, rules, service
from market.agencies.models import (
    STATUS_LABELS,
    Agency,
    AgencyCreate,
    AgencyStatus,
    Qualification,
    QualificationInput,
    ReviewStatus,
)
from market.contracts import service as contracts
from market.contracts.models import CONTRACT_STATUS_LABELS
from market.core.clock import today_in_china
from market.core.errors import DomainError, FieldError, InvalidInput, NotFound, validation_errors
from market.core.i18n import N_, gettext_for
from market.core.pagination import check_limit
from market.core.params import RowId
from market.ratings import web as rating_pages
from market.reference import catalogue, regions
from market.security.auth import current_principal, requires_role
from market.selection import service as selection
from market.selection.rules import FAIRNESS_NONE
from market.web.forms import FormErrors, errors_beside_fields, place_errors
from market.web.templating import Choices, redirect, render, request_locale, wants_partial

BLANK_ROWS = 3
MAX_ROWS = 50
DIRECTORY_LIMIT = 20
EXPIRY_WARNING_DAYS = 30
PROFILE_FIELDS = ("name", "credit_code", "legal_representative", "contact_phone", "address", "region")
ROW_FIELDS = ("category", "level", "certificate_no", "valid_until")
ROW_KEY = re.compile(r"q(\d{1,2})_(category|level|certificate_no|valid_until)")
# Field names in service errors: qualifications[1].level (service), qualifications.1.level (pydantic).
QUALIFICATION_ERROR = re.compile(r"qualifications(?:\[(\d+)\]|\.(\d+))\.(\w+)")
STATUS_ACTIONS = ("suspend", "reinstate", "blacklist", "lift_blacklist")
ACTIONS_WITH_UNTIL = ("suspend", "blacklist")

QUALIFICATION_STATUS_LABELS = {
    ReviewStatus.pending.value: N_("Waiting for review"),
    ReviewStatus.approved.value: N_("Approved"),
    ReviewStatus.rejected.value: N_("Rejected"),
    ReviewStatus.superseded.value: N_("Replaced"),
}
DOCUMENT_KIND_LABELS = {
    "licence": N_("Business licence"),
    "certificate": N_("Qualification certificate"),
    "other": N_("Other document"),
}
ACTION_LABELS = {
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "suspend": N_("Suspend"),
    "reinstate": N_("Reinstate"),
    "blacklist": N_("Blacklist"),
    "lift_blacklist": N_("Lift the blacklisting"),
}
HISTORY_LABELS = {
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "suspend": N_("Suspended"),
    "reinstate": N_("Reinstated"),
    "blacklist": N_("Blacklisted"),
    "lift_blacklist": N_("Taken off the blacklist"),
}
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


# -- names in the reader's language ----------------------------------------------------------


def find_category(code: str | None) -> catalogue.Category | None:
    try:
        return catalogue.category(code) if code else None
    except catalogue.UnknownCategory:
        return None


class Names:
    """Reference data for display: Chinese names, with the English added in English."""

    def __init__(self, locale: str) -> None:
        self.en = locale == "en"

    def _both(self, zh: str, en: str) -> str:
        return f"{zh} ({en})" if self.en else zh

    def category_label(self, category: catalogue.Category) -> str:
        return self._both(category.name_zh, category.name_en)

    def level_label(self, level: catalogue.Level) -> str:
        return self._both(level.name_zh, level.name_en)

    def region_label(self, region: regions.Region) -> str:
        return self._both(region.name_zh, region.name_en)

    def find_category(self, code: str | None) -> catalogue.Category | None:
        return find_category(code)

    def category(self, code: str) -> str:
        found = find_category(code)
        return self.category_label(found) if found else code

    def level(self, category: str, code: str | None) -> str:
        if not code:
            return "—"
        try:
            return self.level_label(catalogue.level(category, code))
        except (catalogue.UnknownCategory, catalogue.UnknownLevel):
            return code

    def qualification(self, category: str, level: str | None) -> str:
        """A category with its level, when it has one: 工程勘察 甲级, 环境影响评价."""
        return self.category(category) + (" " + self.level(category, level) if level else "")

    def region(self, code: str) -> str:
        """Prefecture and county (the province alone for a province)."""
        try:
            chain = regions.path(code)
        except regions.UnknownRegion:
            return code
        shown = chain[1:] or chain
        zh = "".join(r.name_zh for r in shown)
        if not self.en:
            return zh
        return ", ".join(r.name_en for r in reversed(shown)) + f" ({zh})"


def region_groups(names: Names, *, counties: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options for a region select, grouped: a province and its prefectures (with their
    counties when ``counties``), then the provinces this catalogue has no prefectures for."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    others: list[tuple[str, str]] = []
    for province in regions.children(None):
        prefectures = regions.children(province.code)
        if not prefectures:
            others.append((province.code, names.region_label(province)))
            continue
        if counties:
            groups.append((names.region_label(province), [(province.code, names.region_label(province))]))
            for prefecture in prefectures:
                options = [(prefecture.code, names.region_label(prefecture))]
                options += [
                    (county.code, names.region_label(county)) for county in regions.children(prefecture.code)
                ]
                groups.append((names.region_label(prefecture), options))
        else:
            options = [(province.code, names.region_label(province))]
            options += [(p.code, names.region_label(p)) for p in prefectures]
            groups.append((names.region_label(province), options))
    if others:
        groups.append((N_("Other provinces"), others))
    return groups


class Labels:
    """Reference data's names and the public lists' common selects in one language, made
    once per locale (they change only with a release): the pages that show many rows look
    labels up in dicts instead of walking the catalogues and calling gettext per cell."""

    def __init__(self, locale: str) -> None:
        gettext = gettext_for(locale)[0]
        self.names = names = Names(locale)
        # Kept escaped: notices/web.py joins them into rows without a template.
        self.categories = {c.code: escape(names.category_label(c)) for c in catalogue.CATEGORIES}
        self.category_choices = Choices([("", gettext(N_("All categories"))), *self.categories.items()])
        self.region_choices = Choices(
            [
                ("", gettext(N_("All regions"))),
                *((gettext(label), options) for label, options in region_groups(names, counties=False)),
            ]
        )
        self.statuses = {code: escape(gettext(label)) for code, label in STATUS_LABELS.items()}
        # Region codes and qualifications are closed sets (the reference data): these stay small.
        self._regions: dict[str, Markup] = {}
        self._qualifications: dict[tuple[str, str], Markup] = {}

    def category(self, code: str) -> Markup:
        return self.categories.get(code) or escape(code)

    def region(self, code: str) -> Markup:
        if (text := self._regions.get(code)) is None:
            text = self._regions[code] = escape(self.names.region(code))
        return text

    def qualification(self, category: str, level: str) -> Markup:
        if (text := self._qualifications.get((category, level))) is None:
            text = self._qualifications[(category, level)] = escape(self.names.qualification(category, level))
        return text


@cache
def labels(locale: str) -> Labels:
    return Labels(locale)


class DirectoryRow(NamedTuple):
    """A row of the directory as the page shows it, every cell's text ready."""

    public_id: str
    name: str
    status: str
    status_label: Markup | None  # only for an agency that is not approved
    credit_code: str
    region: Markup
    categories: list[Markup]
    qualifications: list[Markup]


def directory_row(row: Any, labels: Labels) -> DirectoryRow:
    """A row of queries.DIRECTORY_COLUMNS."""
    return DirectoryRow(
        public_id=row["public_id"],
        name=row["name"],
        status=row["status"],
        status_label=None
        if row["status"] == AgencyStatus.approved
        else labels.statuses.get(row["status"], row["status"]),
        credit_code=row["credit_code"],
        region=labels.region(row["region"]),
        categories=[labels.category(c) for c in row["categories"]],
        qualifications=[labels.qualification(c, lv) for c, lv in queries.graded(row)],
    )


def _render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    names = Names(request_locale(request))
    return render(
        request,
        template,
        status_code=status_code,
        headers=headers,
        names=names,
        CATEGORIES=catalogue.CATEGORIES,
        STATUS_LABELS=STATUS_LABELS,
        QUALIFICATION_STATUS_LABELS=QUALIFICATION_STATUS_LABELS,
        DOCUMENT_KIND_LABELS=DOCUMENT_KIND_LABELS,
        ACTION_LABELS=ACTION_LABELS,
        HISTORY_LABELS=HISTORY_LABELS,
        today=today_in_china(),
        **context,
    )


# -- errors from the service, beside the fields they belong to --------------------------------


def _known(names: Iterable[str]) -> Callable[[str], str | None]:
    allowed = set(names)
    return lambda name: name if name in allowed else None


def _parse_date(text: str) -> date | None:
    text = text.strip()
    return date.fromisoformat(text) if text else None


# -- the onboarding form ---------------------------------------------------------------------


@dataclass
class ProfileForm:
    values: dict[str, Any]
    rows: int
    errors: FormErrors = field(default_factory=FormErrors)
    data: AgencyCreate | None = None
    row_of: list[int] = field(default_factory=list)  # data.qualifications[k] is form row row_of[k]
    upload: tuple[str, bytes] | None = None
    status: int = 422  # of the page that shows the errors

    def field_for(self, name: str) -> str | None:
        """The form field a service error names (None: no field of this form)."""
        match = QUALIFICATION_ERROR.fullmatch(name)
        if match:
            k = int(match.group(1) or match.group(2))
            row = self.row_of[k] if k < len(self.row_of) else k
            key = f"q{row}_{match.group(3)}"
            return key if match.group(3) in ROW_FIELDS and row < self.rows else None
        if name == "file":
            return "licence"
        return name if name in (*PROFILE_FIELDS, "categories") else None


def blank_profile_form() -> ProfileForm:
    return ProfileForm(values={"categories": []}, rows=BLANK_ROWS)


def profile_form_from(profile: service.Profile) -> ProfileForm:
    """The agency's current details, to correct and submit again."""
    agency = profile.agency
    values: dict[str, Any] = {name: getattr(agency, name) or "" for name in PROFILE_FIELDS}
    values["categories"] = list(profile.categories)
    current = [q for q in profile.qualifications if q.status in (ReviewStatus.pending, ReviewStatus.approved)]
    for i, q in enumerate(current):
        values.update(
            {
                f"q{i}_category": q.category,
                f"q{i}_level": q.level or "",
                f"q{i}_certificate_no": q.certificate_no,
                f"q{i}_valid_until": q.valid_until.isoformat(),
            }
        )
    return ProfileForm(values=values, rows=max(BLANK_ROWS, len(current) + 1))


async def read_profile_form(request: Request[Any, Any, Any]) -> ProfileForm:
    """The submitted form, checked as far as it can be without the database: field by
    field, so that every mistake is shown at once."""
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in PROFILE_FIELDS}
    values["credit_code"] = values["credit_code"].upper()
    values["categories"] = [c for c in form.getall("categories", []) if isinstance(c, str) and c]
    indices = sorted(
        {
            int(m.group(1))
            for key in form.keys()
            if (m := ROW_KEY.fullmatch(key)) and int(m.group(1)) < MAX_ROWS
        }
    )
    result = ProfileForm(values=values, rows=max([BLANK_ROWS, *(i + 1 for i in indices)]))
    errors = result.errors
    qualifications: list[QualificationInput] = []
    for i in indices:
        row = {name: str(form.get(f"q{i}_{name}") or "").strip() for name in ROW_FIELDS}
        values.update({f"q{i}_{name}": value for name, value in row.items()})
        if not any(row.values()):
            continue  # a row left blank is not a qualification
        try:
            qualifications.append(QualificationInput.model_validate({k: v for k, v in row.items() if v}))
            result.row_of.append(i)
        except ValidationError as exc:
            place_errors(
                errors,
                validation_errors(exc),
                lambda name, i=i: f"q{i}_{name}" if name in ROW_FIELDS else None,
            )

    if not values["categories"]:
        errors.setdefault("categories", FieldError("categories", N_("Choose at least one service category.")))
    # The service's own checks, each on its own, so that one mistake does not hide the next.
    for name, check in (("credit_code", service.check_credit_code), ("region", service.check_region)):
        if values[name]:
            try:
                check(values[name])
            except InvalidInput as exc:
                place_errors(errors, exc.errors, result.field_for)
    if values["categories"]:
        try:
            service.check_categories(values["categories"])
        except InvalidInput as exc:
            place_errors(errors, exc.errors, result.field_for)
    try:
        result.data = AgencyCreate.model_validate(
            {
                **{
                    k: v
                    for k, v in values.items()
                    if k in PROFILE_FIELDS and (v or k not in ("name", "credit_code", "region"))
                },
                "categories": values["categories"],
                "qualifications": qualifications,
            }
        )
    except ValidationError as exc:
        place_errors(errors, validation_errors(exc), result.field_for)
        if not errors:  # an error no field of this form shows must still stop the form
            errors["form"] = FieldError("form", N_("Some fields are invalid"))

    upload = form.get("licence")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read()
        try:
            await asyncio.to_thread(
                service.sniff, upload.filename, content
            )  # a PDF is parsed (seconds for a big one): off the event loop
        except InvalidInput as exc:
            place_errors(errors, exc.errors, result.field_for)
        else:
            result.upload = (upload.filename, content)
    return result


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
                    data_dir=request.app.state.settings.data_dir,
                )
    except DomainError as exc:
        form.errors, form.status = errors_beside_fields(exc, form.field_for), exc.status
        return None
    return agency


# -- the dashboard's small forms ---------------------------------------------------------------


@dataclass
class SmallForm:
    values: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


QUALIFICATION_FIELDS = ("category", "level", "certificate_no", "valid_until", "replaces")


def _qualification_field(name: str) -> str | None:
    name = name.removeprefix("qualification.")
    return name if name in QUALIFICATION_FIELDS else None


def _views_of(profile: service.Profile, today: date) -> dict[str, Any]:
    """What the dashboard and the profile show about qualifications."""
    soon = rules.expiring_soon(profile.facts().qualifications, today, EXPIRY_WARNING_DAYS)
    keys = {(q.category, q.level, q.certificate_no, q.valid_until) for q in soon}
    expiring = {
        q.id
        for q in profile.approved_qualifications
        if (q.category, q.level, q.certificate_no, q.valid_until) in keys
    }
    expired = {q.id for q in profile.approved_qualifications if q.valid_until < today}
    return {
        "expiring": expiring,
        "expired": expired,
        "soon": [q for q in profile.approved_qualifications if q.id in expiring],
    }


class AgencyPages(Controller):
    include_in_schema = False

    # -- the agency's own pages --------------------------------------------------------------

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
            return _render(
                request,
                "agencies/onboarding.html",
                status_code=status_code,
                form=profile_form or blank_profile_form(),
                region_groups=region_groups(Names(request_locale(request)), counties=True),
                message=message,
            )
        profile = await service.load_profile(session, agency, private=True)
        today = today_in_china()
        rejected = agency.status == AgencyStatus.rejected
        awards = await selection.awards_of(session, agency)
        return _render(
            request,
            "agencies/dashboard.html",
            status_code=status_code,
            agency=agency,
            profile=profile,
            shown=[q for q in profile.qualifications if q.status != ReviewStatus.superseded],
            public=agency.status in [s.value for s in service.PUBLIC_STATUSES],
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
            fairness_none=FAIRNESS_NONE,
            unread=await selection.unread_count(session, owner),
            # Contracts: the agency's, awards still to sign (overdue flagged), late milestones.
            contracts=await contracts.contracts_of_agency(session, agency),
            unsigned=await contracts.unsigned_awards(
                session, request.app.state.settings, today, agency=agency
            ),
            late_milestones=await contracts.overdue_milestones(session, agency=agency),
            CONTRACT_STATUS_LABELS=CONTRACT_STATUS_LABELS,
            **_views_of(profile, today),
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
                service.check_credit_code(text)
            except InvalidInput as exc:
                error = (
                    exc.errors[0] if exc.errors else FieldError("credit_code", exc.detail, dict(exc.params))
                )
        return _render(request, "agencies/partials/credit_code_check.html", blank=not text, error=error)

    @get("/agency/levels", guards=[requires_role(Role.agency)])
    async def level_options(
        self, request: Request[Any, Any, Any], row: FromQuery[int | None] = None
    ) -> Response[str]:
        """The level select for the category just chosen (htmx)."""
        if row is not None and not 0 <= row < MAX_ROWS:
            raise InvalidInput(N_("No such row."), [FieldError("row", N_("No such row."))])
        prefix = f"q{row}_" if row is not None else ""
        category = request.query_params.get(prefix + "category") or ""
        return _render(
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
            place_errors(form.errors, validation_errors(exc), _qualification_field)
        status = 422
        if data is not None and not form.errors:
            try:
                async with session.begin_nested():
                    await service.add_qualification(
                        session, owner=owner, data=data, replaces=replaces, today=today_in_china()
                    )
            except DomainError as exc:
                form.errors, status = errors_beside_fields(exc, _qualification_field), exc.status
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
                        data_dir=request.app.state.settings.data_dir,
                    )
            except DomainError as exc:
                form.errors, status = errors_beside_fields(exc, _known(("kind", "file"))), exc.status
            else:
                return redirect("/agency?done=document")
        return await self._dashboard(request, session, owner, status_code=status, document_form=form)

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
        pending, changes = await service.review_queue(session)
        replaced: dict[int, Qualification | None] = {}
        for _, change in changes:
            if change.replaces_id is not None:
                replaced[change.replaces_id] = await session.get(Qualification, change.replaces_id)
        found = await queries.find_agencies(session, q=q) if q.strip() else []
        return _render(
            request,
            "agencies/review.html",
            status_code=status_code,
            can_act=principal is not None and principal.role == Role.admin,
            pending=pending,
            changes=changes,
            replaced=replaced,
            counts=await service.counts(session),
            q=q.strip(),
            found=found,
            same_code=await service.orgs_sharing_credit_code(session, [p.agency for p in pending]),
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
            place_errors(errors, exc.errors, _known(fields))
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
                until = _parse_date(values["until"]) if action in ACTIONS_WITH_UNTIL else None
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

    # -- the public directory and profiles -------------------------------------------------------

    @get("/agencies")
    async def directory(
        self,
        request: Request[Any, Any, Any],
        reader: NamedDependency[Any],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = DIRECTORY_LIMIT,
    ) -> Response[str]:
        limit = check_limit(limit)
        q, category, region, status = ((v or "").strip() or None for v in (q, category, region, status))
        level = (level or "").strip() or None
        chosen = find_category(category)
        if level and (chosen is None or level not in catalogue.level_codes(chosen.code)):
            level = None  # the level select offers the chosen category's levels only; a stale one is dropped
        checked = service.check_directory(q=q, category=category, level=level, region=region, status=status)
        rows, next_cursor = await queries.directory_rows(reader, checked, cursor=cursor, limit=limit)
        shown = labels(request_locale(request))
        filters = {
            "q": q,
            "category": category,
            "level": level,
            "region": region,
            "status": status,
            "limit": limit if limit != DIRECTORY_LIMIT else None,
        }
        kept = {k: v for k, v in filters.items() if v not in (None, "")}
        context: dict[str, Any] = {
            "rows": [directory_row(r, shown) for r in rows],
            "filters": filters,
            "filtered": any(filters[k] for k in ("q", "category", "level", "region")),
            "more_url": "/agencies?" + urlencode({**kept, "cursor": next_cursor}) if next_cursor else None,
            "continued": cursor is not None,
            "first_url": "/agencies" + ("?" + urlencode(kept) if kept else ""),
            "public_statuses": [s.value for s in service.PUBLIC_STATUSES],
            "labels": shown,
        }
        headers = {"Vary": "Cookie, Accept-Language, HX-Request"}
        if wants_partial(request):
            template = (
                "agencies/partials/directory_rows.html"
                if cursor
                else "agencies/partials/directory_update.html"
            )
            return _render(request, template, headers=headers, **context)
        return _render(request, "agencies/directory.html", headers=headers, **context)

    @get("/agencies/{agency_id:str}")
    async def profile(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        agency_id: FromPath[str],
    ) -> Response[str]:
        agency = await service.get_agency(session, agency_id)
        viewer = await optional_viewer(request, session)
        private = service.may_see_private(viewer, agency)
        if agency.status not in [s.value for s in service.PUBLIC_STATUSES] and not private:
            raise NotFound(N_("No such agency."))
        profile = await service.load_profile(session, agency, private=private)
        shown = (
            [q for q in profile.qualifications if q.status != ReviewStatus.superseded]
            if private
            else profile.approved_qualifications
        )
        return _render(
            request,
            "agencies/profile.html",
            agency=agency,
            profile=profile,
            shown=shown,
            private=private,
            **_views_of(profile, today_in_china()),
            **await rating_pages.profile_context(
                session,
                agency,
                today=today_in_china(),
                contract_days=request.app.state.settings.contract_days,
            ),
        )
