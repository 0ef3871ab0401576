"""The notice forms, read: the owner's notice form (with its avoidance rows) and the amend
form, each field checked on its own so that every mistake shows at once beside its field.
The service checks again when saving."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from litestar import Request
from pydantic import ValidationError

from market.agencies import rules as agency_rules
from market.agencies import service as agencies
from market.core.clock import CHINA
from market.core.errors import FieldError, InvalidInput, validation_errors
from market.core.i18n import N_
from market.core.ids import PUBLIC_ID
from market.core.money import parse_yuan, yuan_text
from market.notices import rules, service
from market.notices.models import Method, Notice, NoticeAmend, NoticeCreate
from market.reference import catalogue, regions
from market.web.forms import FormErrors, place_errors
from market.web.names import Names, find_category
from market.web.times import local_input

PROVINCE = "530000"  # 云南省: the default scope of a notice
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
INT_FIELDS = {"winners", "min_candidates", "service_days"}
BUDGET_FIELDS = {"budget_fen": "budget", "price_fen": "price"}


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


def known(names: Iterable[str]) -> Callable[[str], str | None]:
    allowed = set(names)

    def to_field(name: str) -> str | None:
        name = BUDGET_FIELDS.get(name, name)
        return name if name in allowed else None

    return to_field


def scope_options(names: Names) -> list[tuple[str, str]]:
    """云南省 as a whole first, then its prefectures."""
    province = regions.region(PROVINCE)
    return [(province.code, names.region_label(province))] + [
        (p.code, names.region_label(p)) for p in regions.children(PROVINCE)
    ]


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
        attempt(lambda: agency_rules.check_region(values["region"]))
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
        attempt(partial(agencies.check_publishable, values[name], name))
    for k, row in enumerate(avoid):
        attempt(partial(agencies.check_publishable, row["reason"], f"avoid[{k}].reason"))
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
            place_errors(errors, exc.errors, known(AMEND_FIELDS))
    # The field shows minutes only: left as it was, the deadline (seconds and all) stays.
    if values["bid_deadline"] != before["bid_deadline"]:
        try:
            payload["bid_deadline"] = parse_china_time(values["bid_deadline"], "bid_deadline")
        except InvalidInput as exc:
            place_errors(errors, exc.errors, known(AMEND_FIELDS))
    data: NoticeAmend | None = None
    try:
        data = NoticeAmend.model_validate(payload)
    except ValidationError as exc:
        place_errors(errors, validation_errors(exc), known(AMEND_FIELDS))
    if data is not None and not errors and len(payload) == 1:
        errors["form"] = FieldError("form", N_("Nothing would change: edit at least one field."))
    return values, errors, data
