"""The agency forms, read: the onboarding form (the profile with its qualification rows and
the licence), and the dashboard's small forms. Errors land beside the fields they belong to."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from pydantic import ValidationError

from market.agencies import queries, rules, service
from market.agencies.models import AgencyCreate, QualificationInput, ReviewStatus
from market.core.errors import FieldError, InvalidInput, validation_errors
from market.core.i18n import N_
from market.web.forms import FormErrors, place_errors

BLANK_ROWS = 3
MAX_ROWS = 50
PROFILE_FIELDS = ("name", "credit_code", "legal_representative", "contact_phone", "address", "region")
ROW_FIELDS = ("category", "level", "certificate_no", "valid_until")
ROW_KEY = re.compile(r"q(\d{1,2})_(category|level|certificate_no|valid_until)")
# Field names in service errors: qualifications[1].level (service), qualifications.1.level (pydantic).
QUALIFICATION_ERROR = re.compile(r"qualifications(?:\[(\d+)\]|\.(\d+))\.(\w+)")


# -- errors from the service, beside the fields they belong to --------------------------------


def _row_field(i: int) -> Callable[[str], str | None]:
    """A qualification's field as the form's row ``i`` names it."""
    return lambda name: f"q{i}_{name}" if name in ROW_FIELDS else None


def known(names: Iterable[str]) -> Callable[[str], str | None]:
    allowed = set(names)
    return lambda name: name if name in allowed else None


def parse_date(text: str) -> date | None:
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


def profile_form_from(profile: queries.Profile) -> ProfileForm:
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
                _row_field(i),
            )

    if not values["categories"]:
        errors.setdefault("categories", FieldError("categories", N_("Choose at least one service category.")))
    # The service's own checks, each on its own, so that one mistake does not hide the next.
    for name, check in (("credit_code", rules.check_credit_code), ("region", rules.check_region)):
        if values[name]:
            try:
                check(values[name])
            except InvalidInput as exc:
                place_errors(errors, exc.errors, result.field_for)
    if values["categories"]:
        try:
            rules.check_categories(values["categories"])
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


@dataclass
class SmallForm:
    values: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


QUALIFICATION_FIELDS = ("category", "level", "certificate_no", "valid_until", "replaces")


def qualification_field(name: str) -> str | None:
    name = name.removeprefix("qualification.")
    return name if name in QUALIFICATION_FIELDS else None
