"""Notice pages: the owner's notices (organisation, projects, drafts, publish, amend,
cancel), the agency's "open to me", bids with their receipts, and the public list and
notice page.

Plain HTML forms that work without JavaScript; htmx only checks the notice form as it is
filled in, swaps the level select when the category changes, and updates the public list
in place. Every service call that writes runs in a savepoint, so a refused request leaves
nothing behind while the page that says why is an ordinary response.

Sealed bids: no page here reads another agency's bid. The only bids ever loaded are the
logged-in agency's own (``service.bids_of(session, agency, ...)``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import AppUser, Role
from market.accounts.session import load_viewer, optional_viewer
from market.agencies import service as agencies
from market.agencies.models import STATUS_LABELS, Agency
from market.agencies.web import Names, find_category, region_groups
from market.agencies.web import labels as reference_labels
from market.contracts import service as contracts
from market.contracts.models import CONTRACT_STATUS_LABELS
from market.core.clock import CHINA, today_in_china
from market.core.errors import DomainError, FieldError, Forbidden, InvalidInput, NotFound, validation_errors
from market.core.i18n import N_, gettext_for
from market.core.ids import PUBLIC_ID
from market.core.pagination import check_limit
from market.log import protocol
from market.notices import rules, service
from market.notices.models import (
    METHOD_LABELS,
    BidStatus,
    Method,
    Notice,
    NoticeAmend,
    NoticeCreate,
    NoticeStatus,
    OrgCreate,
    ProjectCreate,
)
from market.notices.present import FAIRNESS_NONE
from market.notices.queries import NoticePage
from market.reference import catalogue, regions
from market.security.auth import current_principal, requires_role
from market.selection import service as selection
from market.selection.models import ObjectionStatus
from market.web.forms import FormErrors, errors_beside_fields, place_errors
from market.web.templating import Choices, bdi, format_fen, redirect, render, request_locale, wants_partial

PROVINCE = "530000"  # 云南省: the default scope of a notice
LIST_LIMIT = 20
BLANK_AVOID_ROWS = 2
MAX_AVOID_ROWS = 50
NOTICE_FIELDS = (
    "title",
    "description",
    "category",
    "required_level",
    "region",
    "budget",
    "method",
    "winners",
    "min_candidates",
    "bid_deadline",
    "service_days",
    "project_id",
    "direct_agency_id",
    "direct_justification",
)
AMEND_FIELDS = ("title", "description", "budget", "bid_deadline", "required_level", "service_days", "reason")
AVOID_KEY = re.compile(r"avoid(\d{1,2})_(agency_id|reason)")
# Field names in service and pydantic errors: avoid[1].reason (service), avoid.1.reason (pydantic).
AVOID_ERROR = re.compile(r"avoid(?:\[(\d+)\]|\.(\d+))\.(agency_id|reason)")
YUAN = re.compile(r"^(\d{1,13})(?:\.(\d{1,2}))?$")
INT_FIELDS = {"winners", "min_candidates", "service_days"}
BUDGET_FIELDS = {"budget_fen": "budget", "price_fen": "price"}

NOTICE_STATUS_LABELS = {
    NoticeStatus.draft.value: N_("Draft"),
    NoticeStatus.open.value: N_("Open for bids"),
    NoticeStatus.closed.value: N_("Closed"),
    NoticeStatus.selected.value: N_("Selected, in publicity"),
    NoticeStatus.awarded.value: N_("Awarded"),
    NoticeStatus.failed.value: N_("Selection failed"),
    NoticeStatus.cancelled.value: N_("Cancelled"),
}
PUBLIC_STATUSES = tuple(s.value for s in NoticeStatus if s != NoticeStatus.draft)
BID_STATUS_LABELS = {
    BidStatus.standing.value: N_("Standing"),
    BidStatus.withdrawn.value: N_("Withdrawn"),
}
FIELD_LABELS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "budget_fen": N_("Budget cap"),
    "bid_deadline": N_("Bid deadline"),
    "required_level": N_("Minimum qualification level"),
    "service_days": N_("Service period (days)"),
}
OWNER_DONE = {
    "org": N_("Your organisation is registered. Add its projects, then post notices."),
    "project": N_("The project has been added."),
    "deleted": N_("The draft has been deleted."),
}
NOTICE_DONE = {
    "created": N_("The draft is saved. Only you can see it until you publish it."),
    "updated": N_("The draft has been updated."),
    "published": N_("The notice is published: its terms are frozen and its commitment is in the public log."),
    "amended": N_("The notice has been amended; the new terms are in the public log."),
    "cancelled": N_("The notice has been cancelled; any standing bids are released."),
    "cancel_requested": N_(
        "Your request to cancel is published; a supervisor will consent or refuse. Until then the notice stays open."
    ),
    "cancel_refused": N_("The cancellation is refused; the notice stays open."),
    "bid": N_("Your bid has been accepted. Keep the receipt below: it proves that the log holds your bid."),
    "withdrawn": N_("Your bid has been withdrawn."),
}


# -- small parsers ----------------------------------------------------------------------------


def parse_yuan(text: str, field_name: str) -> int:
    """An amount in yuan as typed (``300000``, ``1,234.5``, ``¥99.99``) to whole fen, exactly:
    digits are read as text, never through a float. More than two decimals is refused."""
    cleaned = text.strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥").strip()
    if not cleaned:
        raise rules.invalid(field_name, N_("This field is required."))
    match = YUAN.match(cleaned)
    if not match:
        raise rules.invalid(
            field_name, N_("Enter an amount in yuan with at most two decimals, such as 300000 or 1234.50.")
        )
    fen = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if fen <= 0:
        raise rules.invalid(field_name, N_("The amount must be more than zero."))
    return fen


def yuan_text(fen: int | None) -> str:
    """Fen as the yuan text a form field holds (no thousands separators)."""
    if fen is None:
        return ""
    yuan, rest = divmod(int(fen), 100)
    return str(yuan) if rest == 0 else f"{yuan}.{rest:02d}"


def parse_china_time(text: str, field_name: str) -> datetime:
    """A ``datetime-local`` value, read as China time (Asia/Shanghai); an explicit offset wins."""
    text = text.strip()
    if not text:
        raise rules.invalid(field_name, N_("This field is required."))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise rules.invalid(
            field_name, N_("Enter a date and time in China time, such as 2026-12-04 17:00.")
        ) from None
    return value.replace(tzinfo=CHINA) if value.tzinfo is None else value


def local_input(value: datetime | None) -> str:
    """An aware time as the value of a ``datetime-local`` input, in China time."""
    return value.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M") if value else ""


# Pure, and called per row of every list: the same deadlines and amounts recur, and
# formatting one costs microseconds (zone conversion, strftime).
@lru_cache(maxsize=8192)
def china_time(value: datetime | None) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


@lru_cache(maxsize=8192)
def utc_attr(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def remaining(deadline: datetime, now: datetime) -> dict[str, int] | None:
    """Days, hours and minutes until the deadline (rounded down), or None once it passed."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return None
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return {"days": days, "hours": hours, "minutes": rest // 60, "seconds": seconds}


def shape_changes(changes: dict[str, Any]) -> list[tuple[str, str, str]]:
    """An amendment's changes as (field, old, new) texts: money in yuan, times in China time."""

    def text(key: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if key == "budget_fen":
            return format_fen(value)
        if key == "bid_deadline":
            try:
                return china_time(protocol.parse_ts(str(value)))
            except ValueError:
                return str(value)
        return str(value)

    return [(key, text(key, old), text(key, new)) for key, (old, new) in sorted(changes.items())]


def reason_text(reason: Any, locale: str) -> str:
    return str(reason.message_zh if locale == "zh_Hans" else reason.message_en)


# -- errors beside their fields ---------------------------------------------------------------


def _known(names: Iterable[str]) -> Callable[[str], str | None]:
    allowed = set(names)

    def to_field(name: str) -> str | None:
        name = BUDGET_FIELDS.get(name, name)
        return name if name in allowed else None

    return to_field


# -- the notice form --------------------------------------------------------------------------


@dataclass
class NoticeForm:
    values: dict[str, Any]
    rows: int
    errors: FormErrors = field(default_factory=FormErrors)
    data: NoticeCreate | None = None
    row_of: list[int] = field(default_factory=list)  # data.avoid[k] is form row row_of[k]
    status: int = 422

    def field_for(self, name: str) -> str | None:
        match = AVOID_ERROR.fullmatch(name)
        if match:
            k = int(match.group(1) or match.group(2))
            row = self.row_of[k] if k < len(self.row_of) else k
            return f"avoid{row}_{match.group(3)}"
        name = BUDGET_FIELDS.get(name, name)
        return name if name in NOTICE_FIELDS else None


def blank_notice_form() -> NoticeForm:
    values: dict[str, Any] = dict.fromkeys(NOTICE_FIELDS, "")
    values.update(region=PROVINCE, method=Method.lottery.value, winners="1")
    return NoticeForm(values=values, rows=BLANK_AVOID_ROWS)


def notice_form_from(v: service.NoticeView) -> NoticeForm:
    n = v.notice
    values: dict[str, Any] = {
        "title": n.title,
        "description": n.description,
        "category": n.category,
        "required_level": n.required_level or "",
        "region": n.region,
        "budget": yuan_text(n.budget_fen),
        "method": n.method,
        "winners": str(n.winners),
        "min_candidates": str(n.min_candidates),
        "bid_deadline": local_input(n.bid_deadline),
        "service_days": str(n.service_days or ""),
        "project_id": v.project.public_id if v.project else "",
        "direct_agency_id": n.direct_agency_id or "",
        "direct_justification": n.direct_justification or "",
    }
    for i, a in enumerate(v.avoid):
        values[f"avoid{i}_agency_id"], values[f"avoid{i}_reason"] = a.agency_id, a.reason
    return NoticeForm(values=values, rows=len(v.avoid) + BLANK_AVOID_ROWS)


async def read_notice_form(request: Request[Any, Any, Any], now: datetime) -> NoticeForm:
    """The submitted notice form, checked as far as it can be without writing: each rule on
    its own, so that every mistake is shown at once. The service checks again when saving."""
    raw = await request.form()
    values: dict[str, Any] = {name: str(raw.get(name) or "").strip() for name in NOTICE_FIELDS}
    indices = sorted(
        {
            int(m.group(1))
            for key in raw.keys()
            if (m := AVOID_KEY.fullmatch(key)) and int(m.group(1)) < MAX_AVOID_ROWS
        }
    )
    form = NoticeForm(values=values, rows=max([BLANK_AVOID_ROWS, *(i + 1 for i in indices)]))
    errors = form.errors
    avoid: list[dict[str, str]] = []
    for i in indices:
        row = {name: str(raw.get(f"avoid{i}_{name}") or "").strip() for name in ("agency_id", "reason")}
        values.update({f"avoid{i}_{name}": value for name, value in row.items()})
        if not any(row.values()):
            continue  # a blank row is no avoidance
        form.row_of.append(i)
        avoid.append(row)
        if row["agency_id"] and not PUBLIC_ID.match(row["agency_id"]):
            errors.setdefault(
                f"avoid{i}_agency_id", FieldError(f"avoid{i}_agency_id", N_("Not an agency id."))
            )

    def attempt(check: Callable[[], Any]) -> Any:
        try:
            return check()
        except InvalidInput as exc:
            place_errors(errors, exc.errors, form.field_for)
            return None

    payload: dict[str, Any] = {
        k: values[k]
        for k in (
            "title",
            "description",
            "category",
            "region",
            "method",
            "direct_agency_id",
            "direct_justification",
        )
        if values[k]
    }
    for key in ("required_level", "winners", "min_candidates", "service_days", "project_id"):
        if values[key]:
            # Form fields are text; whole numbers become ints here, anything else stays text
            # and gets the model's "Enter a whole number." beside the field.
            text = values[key].strip()
            payload[key] = int(text) if key in INT_FIELDS and text.isascii() and text.isdigit() else text
    budget = attempt(lambda: parse_yuan(values["budget"], "budget"))
    if budget is not None:
        payload["budget_fen"] = budget
    deadline = attempt(lambda: parse_china_time(values["bid_deadline"], "bid_deadline"))
    if deadline is not None:
        payload["bid_deadline"] = deadline
        attempt(lambda: rules.check_deadline(deadline, now=now, min_window=0))
    payload["avoid"] = avoid

    # The service's rules, each on its own, on whatever could be read.
    category = find_category(values["category"])
    if values["category"] and category is None:
        errors.setdefault(
            "category",
            FieldError("category", N_("Unknown service category: {code}."), {"code": values["category"]}),
        )
    if (
        category is not None
        and values["required_level"]
        and values["required_level"] not in catalogue.level_codes(category.code)
    ):
        levels = ", ".join(catalogue.level_codes(category.code)) or "—"
        errors.setdefault(
            "required_level",
            FieldError(
                "required_level", N_("Choose one of this category's levels: {levels}."), {"levels": levels}
            ),
        )
    if values["region"]:
        attempt(lambda: agencies.check_region(values["region"]))
    if values["method"] in [m.value for m in Method]:
        try:
            winners = int(values["winners"] or "1")
            minimum = (
                int(values["min_candidates"])
                if values["min_candidates"]
                else rules.DEFAULT_MIN_CANDIDATES[Method(values["method"])]
            )
        except ValueError:
            pass  # pydantic says so below
        else:
            attempt(lambda: rules.check_counts(values["method"], winners, minimum))
        attempt(
            lambda: rules.check_direct(
                values["method"], values["direct_agency_id"] or None, values["direct_justification"] or None
            )
        )
    for name in ("title", "description", "direct_justification"):
        attempt(lambda name=name: agencies.check_publishable(values[name], name))
    for k, row in enumerate(avoid):
        attempt(lambda k=k, row=row: agencies.check_publishable(row["reason"], f"avoid[{k}].reason"))
    try:
        form.data = NoticeCreate.model_validate(payload)
    except ValidationError as exc:
        place_errors(errors, validation_errors(exc), form.field_for)
        if not errors:
            errors["form"] = FieldError("form", N_("Some fields are invalid"))
    return form


# -- the amend form ---------------------------------------------------------------------------


def amend_values(n: Notice) -> dict[str, str]:
    return {
        "title": n.title,
        "description": n.description,
        "budget": yuan_text(n.budget_fen),
        "bid_deadline": local_input(n.bid_deadline),
        "required_level": n.required_level or "",
        "service_days": str(n.service_days or ""),
        "reason": "",
    }


def read_amend(raw: Any, n: Notice) -> tuple[dict[str, str], FormErrors, NoticeAmend | None]:
    values = {name: str(raw.get(name) or "").strip() for name in AMEND_FIELDS}
    before = amend_values(n)
    errors = FormErrors()
    payload: dict[str, Any] = {"reason": values["reason"]}
    for name in ("title", "description", "required_level", "service_days"):
        if values[name] and values[name] != before[name]:
            payload[name] = values[name]
    if values["budget"] != before["budget"]:
        try:
            payload["budget_fen"] = parse_yuan(values["budget"], "budget")
        except InvalidInput as exc:
            place_errors(errors, exc.errors, _known(AMEND_FIELDS))
    # The field shows minutes only: left as it was, the deadline (seconds and all) stays.
    if values["bid_deadline"] != before["bid_deadline"]:
        try:
            payload["bid_deadline"] = parse_china_time(values["bid_deadline"], "bid_deadline")
        except InvalidInput as exc:
            place_errors(errors, exc.errors, _known(AMEND_FIELDS))
    data: NoticeAmend | None = None
    try:
        data = NoticeAmend.model_validate(payload)
    except ValidationError as exc:
        place_errors(errors, validation_errors(exc), _known(AMEND_FIELDS))
    if data is not None and not errors and len(payload) == 1:
        errors["form"] = FieldError("form", N_("Nothing would change: edit at least one field."))
    return values, errors, data


# -- rendering --------------------------------------------------------------------------------


def _render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    locale = request_locale(request)
    names = Names(locale)
    return render(
        request,
        template,
        status_code=status_code,
        headers=headers,
        names=names,
        CATEGORIES=catalogue.CATEGORIES,
        METHOD_LABELS=METHOD_LABELS,
        NOTICE_STATUS_LABELS=NOTICE_STATUS_LABELS,
        BID_STATUS_LABELS=BID_STATUS_LABELS,
        AGENCY_STATUS_LABELS=STATUS_LABELS,
        FIELD_LABELS=FIELD_LABELS,
        china_time=china_time,
        utc_attr=utc_attr,
        reason_text=lambda r: reason_text(r, locale),
        **context,
    )


def scope_options(names: Names) -> list[tuple[str, str]]:
    """云南省 as a whole first, then its prefectures."""
    province = regions.region(PROVINCE)
    return [(province.code, names.region_label(province))] + [
        (p.code, names.region_label(p)) for p in regions.children(PROVINCE)
    ]


class ListLabels:
    """The public list's labels and filter options in one language, made once per locale:
    they change only with a new release of the catalogues and translations. The labels are
    kept escaped, for :meth:`rows_html`."""

    def __init__(self, locale: str) -> None:
        gettext = gettext_for(locale)[0]
        common = reference_labels(locale)
        self.categories = common.categories
        self.region = common.region
        self.methods = {code: escape(gettext(label)) for code, label in METHOD_LABELS.items()}
        self.statuses = {code: escape(gettext(label)) for code, label in NOTICE_STATUS_LABELS.items()}
        self.status_classes = {code: escape(code) for code in NOTICE_STATUS_LABELS}
        self.china_time = escape(gettext(N_("China time")))
        self.choices = {
            "category": common.category_choices,
            "region": common.region_choices,
            "method": Choices([("", gettext(N_("All methods"))), *self.methods.items()]),
            "status": Choices(
                [("", gettext(N_("All published"))), *((s, self.statuses[s]) for s in PUBLIC_STATUSES)]
            ),
        }

    def rows_html(self, rows: Iterable[Any]) -> Markup:
        """The table rows of a page of the list, from rows of queries.NOTICE_LIST_COLUMNS.

        Made here rather than in a template loop: twenty rows of seven cells were a fifth of
        the page's time in Jinja (a call, a lookup and an escape per cell). Only the title
        and id come from users and are escaped here (the title in <bdi>, templating.bdi);
        every label was escaped once, above.
        templates/notices/partials/list_rows.html places them."""
        china = self.china_time
        out = []
        for r in rows:
            public_id = escape(r["public_id"])
            status = r["status"]
            deadline = r["bid_deadline"]
            when = (
                f'<time datetime="{utc_attr(deadline)}">{china_time(deadline)}</time> <span class="tz">{china}</span>'
                if deadline
                else "—"
            )
            out.append(
                f'<tr>\n  <td><a href="/notices/{public_id}">{bdi(r["title"])}</a><br><code>{public_id}</code></td>\n'
                f"  <td>{self.categories.get(r['category']) or escape(r['category'])}</td>\n"
                f"  <td>{self.region(r['region'])}</td>\n"
                # digits, separators and the yuan sign only: nothing to escape
                f"  <td>{format_fen(r['budget_fen'])}</td>\n"
                f"  <td>{self.methods.get(r['method']) or escape(r['method'])}</td>\n"
                f'  <td><span class="status notice-{self.status_classes.get(status) or escape(status)}">{self.statuses.get(status) or escape(status)}</span></td>\n'
                f"  <td>{when}</td>\n</tr>\n"
            )
        return Markup("".join(out))


@cache
def list_labels(locale: str) -> ListLabels:
    return ListLabels(locale)


class NoticePages(Controller):
    include_in_schema = False

    # -- the owner's pages -----------------------------------------------------------------------

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
        org = await service.org_of(session, user)
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
            for o in await selection.objections(session, n)
            if o.status == ObjectionStatus.filed
        ]
        return _render(
            request,
            "notices/owner.html",
            status_code=status_code,
            org=org,
            projects=await service.projects_of(session, user),
            by_status=by_status,
            to_close=to_close,
            to_answer=to_answer,
            unread=await selection.unread_count(session, user),
            # Contracts: the owner's, awards still to sign (overdue flagged), late milestones.
            contracts=await contracts.contracts_of_owner(session, user),
            unsigned=await contracts.unsigned_awards(
                session, request.app.state.settings, today_in_china(), owner=user
            ),
            late_milestones=await contracts.overdue_milestones(session, owner=user),
            CONTRACT_STATUS_LABELS=CONTRACT_STATUS_LABELS,
            message=OWNER_DONE.get(done or ""),
            org_form=org_form or {"values": {"region": PROVINCE}, "errors": FormErrors()},
            project_form=project_form or {"values": {}, "errors": FormErrors()},
            region_groups=region_groups(Names(request_locale(request)), counties=True),
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
            for name in ("name", "credit_code", "region", "contact_phone")
        }
        values["credit_code"] = values["credit_code"].upper()
        errors, status = FormErrors(), 422
        try:
            data = OrgCreate.model_validate(values)
            async with session.begin_nested():
                await service.create_org(session, user=user, data=data)
        except ValidationError as exc:
            place_errors(errors, validation_errors(exc), _known(values))
        except DomainError as exc:
            errors, status = errors_beside_fields(exc, _known(values)), exc.status
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
                await service.create_project(session, user=user, data=data)
        except ValidationError as exc:
            place_errors(errors, validation_errors(exc), _known(values))
        except DomainError as exc:
            errors, status = errors_beside_fields(exc, _known(values)), exc.status
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
        return _render(
            request,
            "notices/form.html",
            status_code=status_code,
            form=form,
            notice=notice,
            projects=await service.projects_of(session, user),
            has_org=await service.org_of(session, user) is not None,
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
        return _render(
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
        return _render(
            request, "notices/partials/level_field.html", category=category, selected="", errors=FormErrors()
        )

    async def _own_notice(
        self, request: Request[Any, Any, Any], session: AsyncSession, notice_id: str
    ) -> tuple[AppUser, Notice]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        if notice.owner_id != user.id:
            raise Forbidden(N_("This is another owner's notice."))
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
            return await self._notice_page(
                request, session, notice, user, status_code=exc.status, problem=exc
            )
        return redirect("/owner?done=deleted")

    @get("/owner/notices/{notice_id:str}/publish", guards=[requires_role(Role.owner)])
    async def confirm_publish(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        _, notice = await self._own_notice(request, session, notice_id)
        return await self._action_page(request, session, notice, "notices/publish.html")

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
            return await self._action_page(
                request, session, notice, "notices/publish.html", status_code=exc.status, problem=exc
            )
        return redirect(f"/notices/{notice.public_id}?done=published")

    async def _action_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice: Notice,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response[str]:
        now = await service.db_now(session)
        return _render(
            request,
            template,
            status_code=status_code,
            v=await service.view(session, notice),
            n=notice,
            now=now,
            min_window=request.app.state.settings.min_bid_window,
            beacon=request.app.state.settings.beacon,
            problem=context.pop("problem", None),
            **context,
        )

    @get("/owner/notices/{notice_id:str}/amend", guards=[requires_role(Role.owner)])
    async def amend_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        _, notice = await self._own_notice(request, session, notice_id)
        return await self._action_page(
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
                errors, status = errors_beside_fields(exc, _known(AMEND_FIELDS)), exc.status
                await session.refresh(notice)
            else:
                return redirect(
                    f"/notices/{notice.public_id}?"
                    + urlencode({"done": "amended", "changed": ",".join(sorted(changes))})
                )
        return await self._action_page(
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
        return await self._action_page(
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
                errors, status = errors_beside_fields(exc, _known(("reason",))), exc.status
                await session.refresh(notice)
            else:
                return redirect(f"/notices/{notice.public_id}?done=cancel_requested")
        return await self._action_page(
            request, session, notice, "notices/cancel.html", status_code=status, values=values, errors=errors
        )

    @get("/supervision/notices/{notice_id:str}/cancellation", guards=[requires_role(Role.supervisor)])
    async def cancellation_form(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        notice = await service.visible_notice(session, notice_id, await load_viewer(request, session))
        return await self._action_page(
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
                errors, status = errors_beside_fields(exc, _known(("reason",))), exc.status
                await session.refresh(notice)
            else:
                return redirect(
                    f"/notices/{notice.public_id}?done="
                    + ("cancelled" if decision == "consent" else "cancel_refused")
                )
        return await self._action_page(
            request,
            session,
            notice,
            "notices/cancellation.html",
            status_code=status,
            values=values,
            errors=errors,
        )

    # -- the public list and the notice page -------------------------------------------------------

    @get("/notices")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        reader: NamedDependency[Any],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        method: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        budget_min: FromQuery[str | None] = None,
        budget_max: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = LIST_LIMIT,
    ) -> Response[str]:
        limit = check_limit(limit)
        filters: dict[str, Any] = {
            k: (v or "").strip()
            for k, v in {
                "q": q,
                "category": category,
                "region": region,
                "method": method,
                "status": status,
                "budget_min": budget_min,
                "budget_max": budget_max,
            }.items()
        }
        errors = FormErrors()
        # A filter that cannot apply is shown beside its field and left out, never a 500.
        if filters["category"] and find_category(filters["category"]) is None:
            errors["category"] = FieldError(
                "category", N_("Unknown service category: {code}."), {"code": filters["category"]}
            )
        if filters["region"]:
            try:
                agencies.check_region(filters["region"])
            except InvalidInput as exc:
                place_errors(errors, exc.errors, _known(("region",)))
        if filters["method"] and filters["method"] not in METHOD_LABELS:
            errors["method"] = FieldError("method", N_("Choose lottery, lowest_price or direct."))
        if filters["status"] and filters["status"] not in PUBLIC_STATUSES:
            errors["status"] = FieldError("status", N_("Unknown status filter."))
        amounts: dict[str, int | None] = {"budget_min": None, "budget_max": None}
        for key in amounts:
            if filters[key]:
                try:
                    amounts[key] = parse_yuan(filters[key], key)
                except InvalidInput as exc:
                    place_errors(errors, exc.errors, _known((key,)))
        applied = {k: (None if k in errors or not v else v) for k, v in filters.items()}
        checked = service.check_filters(
            q=applied["q"],
            category=applied["category"],
            region=applied["region"],
            method=applied["method"],
            status=applied["status"],
            budget_min=amounts["budget_min"],
            budget_max=amounts["budget_max"],
        )
        rows, next_cursor = await service.public_notices(reader, checked, cursor=cursor, limit=limit)
        labels = list_labels(request_locale(request))
        kept = {
            k: v
            for k, v in {**filters, "limit": limit if limit != LIST_LIMIT else None}.items()
            if v not in (None, "")
        }
        context: dict[str, Any] = {
            "notices": rows,
            "rows_html": labels.rows_html(rows),
            "choices": labels.choices,
            "filters": filters,
            "errors": errors,
            "filtered": any(filters.values()),
            "more_url": "/notices?" + urlencode({**kept, "cursor": next_cursor}) if next_cursor else None,
            "continued": cursor is not None,
            "first_url": "/notices" + ("?" + urlencode(kept) if kept else ""),
        }
        headers = {"Vary": "Cookie, Accept-Language, HX-Request"}
        if wants_partial(request):
            template = "notices/partials/list_rows.html" if cursor else "notices/partials/list_update.html"
            return _render(request, template, headers=headers, **context)
        return _render(request, "notices/list.html", headers=headers, **context)

    async def _notice_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        notice: Notice,
        viewer: AppUser | None,
        **shown: Any,
    ) -> Response[str]:
        """The page for a logged-in viewer: the public part read on the request's own
        connection (so it sees what this transaction sees), the viewer's own part (an
        agency's bids and eligibility) through the ORM. ``shown``: the rest of what
        _render_notice takes (status code, messages, the bid form's errors and values)."""
        connection = await session.connection()
        page = await service.notice_page(
            (await connection.get_raw_connection()).driver_connection, notice.public_id
        )
        agency: Agency | None = None
        eligibility: Any = None
        own_bids: list[Any] = []
        if viewer is not None and viewer.role == Role.agency:
            agency = await agencies.agency_of(session, viewer)
            if agency is not None:
                # Only this agency's own bids: nothing here reads anyone else's.
                own_bids = await service.bids_of(
                    session, agency, notice=notice, sealer=request.app.state.sealer
                )
                if notice.status == NoticeStatus.open and page.now < notice.bid_deadline:
                    eligibility = await service.eligibility(
                        session, agency, await service.view(session, notice)
                    )
        return self._render_notice(
            request, page, viewer, agency=agency, eligibility=eligibility, own_bids=own_bids, **shown
        )

    def _render_notice(
        self,
        request: Request[Any, Any, Any],
        page: NoticePage,
        viewer: AppUser | None,
        *,
        agency: Agency | None = None,
        eligibility: Any = None,
        own_bids: list[Any] | None = None,
        status_code: int = 200,
        done: str | None = None,
        changed: str | None = None,
        problem: DomainError | None = None,
        bid_errors: FormErrors | None = None,
        bid_values: dict[str, str] | None = None,
    ) -> Response[str]:
        n, now = page.notice, page.now
        own_bids = own_bids or []
        holders = (
            page.holders
            if n.status in (NoticeStatus.selected, NoticeStatus.awarded, NoticeStatus.failed)
            else []
        )
        changed_fields = (
            [c for c in (changed or "").split(",") if c in FIELD_LABELS] if done == "amended" else []
        )
        return _render(
            request,
            "notices/detail.html",
            status_code=status_code,
            v=page,
            n=n,
            now=now,
            left=remaining(n.bid_deadline, now),
            bidding_open=n.status == NoticeStatus.open and now < n.bid_deadline,
            is_owner=viewer is not None and viewer.id == n.owner_id,
            viewer_role=viewer.role if viewer else None,
            agency=agency,
            eligibility=eligibility,
            own_bids=own_bids,
            standing=next((b for b in own_bids if b.status == BidStatus.standing), None),
            amendments=[(r, shape_changes(r.changes)) for r in page.revisions],
            fairness_none=FAIRNESS_NONE,
            holders=holders,
            message=NOTICE_DONE.get(done or ""),
            changed_fields=changed_fields,
            problem=problem,
            bid_errors=bid_errors or FormErrors(),
            bid_values=bid_values or {"price": ""},
        )

    @get("/notices/{notice_id:str}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        notice_id: FromPath[str],
        done: FromQuery[str | None] = None,
        changed: FromQuery[str | None] = None,
    ) -> Response[str]:
        database = request.app.state.db
        if current_principal(request) is None:
            # Most views are visitors': one statement on a readers' connection, no
            # transaction, no ORM (queries.NOTICE_PAGE).
            async with database.reading() as reader:
                page = await service.notice_page(reader, notice_id)
            if not service.may_see(page.notice.status, page.notice.owner_id, None):
                raise NotFound(N_("No such notice."))
            return self._render_notice(request, page, None, done=done, changed=changed)
        async with database.transaction() as session:
            viewer = await optional_viewer(request, session)
            notice = await service.visible_notice(session, notice_id, viewer)
            return await self._notice_page(request, session, notice, viewer, done=done, changed=changed)

    # -- bids -----------------------------------------------------------------------------------

    @post("/notices/{notice_id:str}/bids", guards=[requires_role(Role.agency)])
    async def bid(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        values = {"price": str((await request.form()).get("price") or "").strip()}
        errors = FormErrors()
        price: int | None = None
        if notice.method == Method.lowest_price:
            try:
                price = parse_yuan(values["price"], "price")
            except InvalidInput as exc:
                place_errors(errors, exc.errors, _known(("price",)))
        if errors:
            return await self._notice_page(
                request, session, notice, user, status_code=422, bid_errors=errors, bid_values=values
            )
        try:
            async with session.begin_nested():
                placed = await service.place_bid(
                    session,
                    bidder=user.public_id,
                    notice_id=notice.public_id,
                    price_fen=price,
                    receipts=request.app.state.receipts,
                    sealer=request.app.state.sealer,
                )
        except DomainError as exc:
            await session.refresh(notice)
            errors = FormErrors()
            place_errors(errors, exc.errors, _known(("price",)))
            # Eligibility reasons come as errors named by their code; the page lists them itself.
            return await self._notice_page(
                request,
                session,
                notice,
                user,
                status_code=exc.status,
                problem=exc,
                bid_errors=errors,
                bid_values=values,
            )
        if placed.opened is not None and placed.bid.sealed is None:
            # Timelocked: the server keeps nothing that opens the bid, so this answer is the
            # one time the bidder can take its receipt (salt, document) with it.
            body = service.receipt_body(placed.opened)
            text = json.dumps(body, ensure_ascii=False, indent=2)
            return _render(
                request,
                "notices/receipt_once.html",
                status_code=201,
                notice=notice,
                bid=placed.bid,
                receipt=text,
                download="data:application/json;base64,"
                + base64.b64encode(text.encode("utf-8")).decode("ascii"),
                headers={"Cache-Control": "no-store"},
            )
        return redirect(f"/notices/{notice.public_id}?done=bid#my-bid")

    @post("/notices/{notice_id:str}/bids/{bid_id:str}/withdraw", guards=[requires_role(Role.agency)])
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
    ) -> Response[Any]:
        user = await load_viewer(request, session)
        notice = await service.visible_notice(session, notice_id, user)
        try:
            async with session.begin_nested():
                await service.withdraw_bid(
                    session,
                    user=user,
                    notice_id=notice.public_id,
                    bid_id=bid_id,
                    sealer=request.app.state.sealer,
                )
        except DomainError as exc:
            await session.refresh(notice)
            return await self._notice_page(
                request, session, notice, user, status_code=exc.status, problem=exc
            )
        return redirect(f"/notices/{notice.public_id}?done=withdrawn")

    @get("/notices/{notice_id:str}/bids/{bid_id:str}/receipt.json", guards=[requires_role(Role.agency)])
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        notice_id: FromPath[str],
        bid_id: FromPath[str],
    ) -> Response[Any]:
        """The bidder's receipt file (MSP/2), for ``market receipt check``."""
        user = await load_viewer(request, session)
        own = await service.own_bid(
            session, user=user, notice_id=notice_id, bid_id=bid_id, sealer=request.app.state.sealer
        )
        body = await service.receipt_file(session, own)
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="receipt-{own.public_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    # -- the agency's pages ---------------------------------------------------------------------

    @get("/agency/notices", guards=[requires_role(Role.agency)])
    async def open_to_me(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        agency = await agencies.agency_of(session, user)
        rows = await service.open_notices_for(session, agency) if agency is not None else []
        return _render(
            request,
            "notices/open_to_me.html",
            agency=agency,
            rows=rows,
            now=await service.db_now(session),
            remaining=remaining,
        )

    @get("/agency/bids", guards=[requires_role(Role.agency)])
    async def my_bids(
        self, request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
    ) -> Response[str]:
        user = await load_viewer(request, session)
        agency = await agencies.agency_of(session, user)
        rows = (
            await service.bids_of(session, agency, sealer=request.app.state.sealer)
            if agency is not None
            else []
        )
        return _render(
            request, "notices/my_bids.html", agency=agency, rows=rows, now=await service.db_now(session)
        )
