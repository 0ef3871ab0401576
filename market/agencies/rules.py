"""The agencies' pure rules: who may bid for what (eligibility as a function of plain facts),
the checks of what an agency submits (credit code, region, categories, qualifications),
and the automatic suspension after repeated declines.

The selection service and the pages ask the same question through :func:`eligibility`,
so an agency is never shown as eligible on one screen and refused on the other. Every
reason that applies is reported, not just the first, so an agency learns in one go
everything it has to put right.

Dates are whole days in China time, chosen by the caller: a date that something is valid
or suspended "until" includes that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from market.agencies.creditcode import CreditCodeError, validate_credit_code
from market.agencies.models import QualificationInput
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_
from market.reference import catalogue, regions

STATUSES: Final = ("pending", "approved", "rejected", "suspended", "blacklisted")

# In the order reasons are reported: the agency's standing first, then what the notice asks.
REASON_CODES: Final = (
    "not_approved",
    "suspended",
    "blacklisted",
    "category",
    "no_qualification",
    "qualification_under_review",
    "qualification_expired",
    "level_too_low",
    "region",
    "avoided",
    "not_named",
)


@dataclass(frozen=True)
class Qualification:
    category: str
    level: str | None
    certificate_no: str
    valid_until: date
    approved: bool  # False: new or changed, still under review, so it does not count yet


@dataclass(frozen=True)
class AgencyFacts:
    agency_id: str
    status: str  # one of STATUSES
    region: str
    categories: frozenset[str]
    qualifications: tuple[Qualification, ...]
    suspended_until: date | None = None  # None with status "suspended": until lifted
    blacklisted_until: date | None = None  # None with status "blacklisted": for good


@dataclass(frozen=True)
class Requirements:
    category: str
    min_level: str | None = None
    region_scope: str | None = None  # None: open to agencies from anywhere
    avoid: Mapping[str, str] = field(default_factory=dict)  # agency id → reason (回避)
    # A direct selection names its one agency: no other may bid (the same code the
    # selection excludes other bidders with, selection.rules.NOT_NAMED).
    direct_agency: str | None = None


PROVINCE: Final = "530000"  # 云南省: a notice for the whole province is open to agencies from anywhere


def agency_facts(
    *,
    agency_id: str,
    status: str,
    region: str,
    status_until: date | None,
    categories: Iterable[str],
    qualifications: Iterable[Qualification],
) -> AgencyFacts:
    """An agency's facts from its stored fields: ``status_until`` means suspended or
    blacklisted until that day, by which of the two the status is."""
    return AgencyFacts(
        agency_id=agency_id,
        status=status,
        region=region,
        categories=frozenset(categories),
        qualifications=tuple(qualifications),
        suspended_until=status_until if status == "suspended" else None,
        blacklisted_until=status_until if status == "blacklisted" else None,
    )


def notice_requirements(
    *,
    category: str,
    min_level: str | None,
    region: str,
    avoid: Mapping[str, str],
    direct_agency: str | None = None,
) -> Requirements:
    """What a notice asks of bidders, from its stored fields."""
    return Requirements(
        category=category,
        min_level=min_level,
        region_scope=None if region == PROVINCE else region,
        avoid=dict(avoid),
        direct_agency=direct_agency,
    )


@dataclass(frozen=True)
class Reason:
    code: str  # one of REASON_CODES
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Eligible:
    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class NotEligible:
    reasons: tuple[Reason, ...]

    def __post_init__(self) -> None:
        if not self.reasons:
            raise ValueError("NotEligible needs at least one reason")

    def __bool__(self) -> bool:
        return False

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


def _date_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _standing(agency: AgencyFacts, today: date) -> list[Reason]:
    """The agency's own status. Only the status decides: the until-dates say when a
    suspension or blacklisting lapses, they never impose one on an approved agency."""
    status = agency.status
    if status not in STATUSES:
        raise ValueError(f"unknown agency status {status!r}")
    if status == "pending":
        return [
            Reason(
                "not_approved",
                "the agency's registration is still under review",
                "机构入驻申请尚在审核中",
            )
        ]
    if status == "rejected":
        return [
            Reason(
                "not_approved",
                "the agency's registration was not approved",
                "机构入驻申请未通过审核",
            )
        ]
    if status == "suspended":
        until = agency.suspended_until
        if until is None:
            return [Reason("suspended", "the agency is suspended", "机构已被暂停")]
        if until >= today:
            return [
                Reason(
                    "suspended",
                    f"the agency is suspended until {until.isoformat()}",
                    f"机构已被暂停，至 {_date_zh(until)} 止",
                )
            ]
    if status == "blacklisted":
        until = agency.blacklisted_until
        if until is None:
            return [Reason("blacklisted", "the agency is blacklisted", "机构已被列入黑名单")]
        if until >= today:
            return [
                Reason(
                    "blacklisted",
                    f"the agency is blacklisted until {until.isoformat()}",
                    f"机构已被列入黑名单，至 {_date_zh(until)} 止",
                )
            ]
    return []  # approved, or a suspension or blacklisting that has lapsed


def _level_names(category_code: str, level_code: str | None) -> tuple[str, str]:
    """(English, Chinese) names of a level, falling back to the raw code for a level
    that is no longer on the ladder."""
    if level_code is None:
        return "no stated level", "未注明等级"
    try:
        level = catalogue.level(category_code, level_code)
    except catalogue.UnknownLevel:
        return level_code, level_code
    return level.name_en, level.name_zh


def _qualification(
    agency: AgencyFacts, requirements: Requirements, category: catalogue.Category, today: date
) -> list[Reason]:
    """Certificates for the category, when it has levels; under-review ones are ignored."""
    mine = [q for q in agency.qualifications if q.category == category.code]
    approved = [q for q in mine if q.approved]
    if not approved:
        reviewing = [q for q in mine if not q.approved]
        if reviewing:
            numbers = "、".join(q.certificate_no for q in reviewing)
            return [
                Reason(
                    "qualification_under_review",
                    f"the {category.name_en} qualification (certificate {numbers}) is still under review",
                    f"“{category.name_zh}”资质（证书编号 {numbers}）尚在审核中",
                )
            ]
        return [
            Reason(
                "no_qualification",
                f"the agency has no approved {category.name_en} qualification",
                f"机构没有经审核的“{category.name_zh}”资质",
            )
        ]
    current = [q for q in approved if q.valid_until >= today]
    if not current:
        latest = max(approved, key=lambda q: q.valid_until)
        return [
            Reason(
                "qualification_expired",
                f"the {category.name_en} qualification (certificate "
                f"{latest.certificate_no}) expired on {latest.valid_until.isoformat()}",
                f"“{category.name_zh}”资质（证书编号 {latest.certificate_no}）已于 "
                f"{_date_zh(latest.valid_until)} 过期",
            )
        ]
    required = requirements.min_level
    if required is None or any(catalogue.meets_level(category.code, q.level, required) for q in current):
        return []
    # The best current certificate, for the message; levels off the ladder sort last.
    codes = catalogue.level_codes(category.code)
    best = min(current, key=lambda q: codes.index(q.level) if q.level in codes else len(codes))
    held_en, held_zh = _level_names(category.code, best.level)
    required_en, required_zh = _level_names(category.code, required)
    return [
        Reason(
            "level_too_low",
            f"the agency's {category.name_en} qualification is {held_en}; this notice "
            f"requires {required_en} or higher",
            f"机构的“{category.name_zh}”资质为{held_zh}，本项目要求{required_zh}及以上",
        )
    ]


def _region_label(code: str) -> tuple[str, str]:
    try:
        known = regions.region(code)
    except regions.UnknownRegion:
        return code, code
    return known.name_en, known.name_zh


def eligibility(agency: AgencyFacts, requirements: Requirements, today: date) -> Eligible | NotEligible:
    """Whether ``agency`` may bid under ``requirements`` on ``today``, with every reason
    why not. Raises ValueError for requirements that cannot be right (an unknown
    category, or a level the category does not have) and for an unknown status."""
    category = catalogue.category(requirements.category)
    if requirements.min_level is not None and category.levels:
        catalogue.level_rank(category.code, requirements.min_level)  # raises if unknown

    reasons = _standing(agency, today)
    if category.code not in agency.categories:
        reasons.append(
            Reason(
                "category",
                f"the agency is not registered for {category.name_en}",
                f"机构未登记“{category.name_zh}”服务类别",
            )
        )
    # A category without levels needs no certificate, whatever the notice says.
    if category.levels:
        reasons.extend(_qualification(agency, requirements, category, today))
    scope = requirements.region_scope
    if scope is not None and not regions.contains(scope, agency.region):
        where_en, where_zh = _region_label(agency.region)
        scope_en, scope_zh = _region_label(scope)
        reasons.append(
            Reason(
                "region",
                f"the agency is based in {where_en}, outside {scope_en}, the area this notice is open to",
                f"机构所在地（{where_zh}）不在本项目限定的区域（{scope_zh}）内",
            )
        )
    if agency.agency_id in requirements.avoid:
        why = requirements.avoid[agency.agency_id]
        reasons.append(
            Reason(
                "avoided",
                f"the notice requires this agency to stand aside: {why}",
                f"本项目要求该机构回避：{why}",
            )
        )
    if requirements.direct_agency is not None and agency.agency_id != requirements.direct_agency:
        reasons.append(
            Reason(
                "not_named",
                "this notice is a direct selection of another agency",
                "本项目为直接选取，指定的是其他机构",
            )
        )
    return NotEligible(tuple(reasons)) if reasons else Eligible()


def expiring_soon(
    qualifications: Iterable[Qualification], today: date, days: int = 30
) -> list[Qualification]:
    """Approved qualifications still valid today that lapse within ``days`` days (the
    last day included), soonest first, for the dashboard's warning. Expired ones are
    left out: they are past warning. Ones under review are left out: they do not count
    until approved."""
    if days < 0:
        raise ValueError("days must not be negative")
    horizon = today + timedelta(days=days)
    return sorted(
        (q for q in qualifications if q.approved and today <= q.valid_until <= horizon),
        key=lambda q: (q.valid_until, q.category, q.certificate_no),
    )


# -- the automatic suspension --------------------------------------------------------------------
#
# ``declines_to_suspend`` declines (default 2) within the last ``decline_window_days``
# (default 365) suspend an approved agency for ``suspension_days``: the platform's rule,
# applied by agencies.service.suspend_automatically after each decline.


def should_suspend(
    decline_dates: Iterable[date], today: date, *, declines_to_suspend: int, window_days: int
) -> bool:
    """True when at least ``declines_to_suspend`` declines fall within the last
    ``window_days`` days (today included). A threshold of 0 turns the rule off."""
    if declines_to_suspend <= 0:
        return False
    recent = [d for d in decline_dates if 0 <= (today - d).days < window_days]
    return len(recent) >= declines_to_suspend


def automatic_reason(count: int, window_days: int) -> str:
    months = round(window_days * 12 / 365)
    return f"automatic: {count} declines within {months} months"


@dataclass(frozen=True)
class AutomaticSuspension:
    reason: str
    until: date


def automatic_suspension(
    decline_dates: Iterable[date],
    today: date,
    *,
    last_suspended_on: date | None,
    declines_to_suspend: int,
    window_days: int,
    suspension_days: int,
) -> AutomaticSuspension | None:
    """The suspension the declines call for today, or None. Declines that already led to a
    suspension (on or before ``last_suspended_on``) are spent: after it ends (or is lifted)
    the count starts again, instead of one new decline suspending the agency at once."""
    dates = [d for d in decline_dates if last_suspended_on is None or d > last_suspended_on]
    if not should_suspend(dates, today, declines_to_suspend=declines_to_suspend, window_days=window_days):
        return None
    count = sum(1 for d in dates if 0 <= (today - d).days < window_days)
    return AutomaticSuspension(
        reason=automatic_reason(count, window_days), until=today + timedelta(days=suspension_days)
    )


# -- checks of what an agency submits (raise InvalidInput naming the field) -------------------------


def check_credit_code(text: str, field_name: str = "credit_code") -> str:
    try:
        return validate_credit_code(text).code
    except CreditCodeError as exc:
        # The checker's own words say exactly which check failed and what it expected.
        raise InvalidInput(
            N_("The credit code is not valid."), [FieldError(field_name, str(exc), zh=exc.message_zh)]
        ) from None


def check_region(code: str, field_name: str = "region") -> str:
    try:
        return regions.region(code).code
    except regions.UnknownRegion:
        raise InvalidInput(
            N_("Unknown region."),
            [FieldError(field_name, N_("Choose a region from the list (GB/T 2260 code)."))],
        ) from None


def check_categories(codes: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(c.strip() for c in codes))
    for code in unique:
        try:
            catalogue.category(code)
        except catalogue.UnknownCategory:
            raise InvalidInput(
                N_("Unknown service category."),
                [FieldError("categories", N_("Unknown service category: {code}."), {"code": code})],
            ) from None
    return unique


def check_qualification(
    q: QualificationInput, *, categories: Sequence[str] | None, today: date, where: str
) -> None:
    try:
        levels = catalogue.level_codes(q.category)
    except catalogue.UnknownCategory:
        raise InvalidInput(
            N_("Unknown service category."),
            [FieldError(f"{where}.category", N_("Unknown service category: {code}."), {"code": q.category})],
        ) from None
    if categories is not None and q.category not in categories:
        raise InvalidInput(
            N_("A qualification must be for one of the agency's service categories."),
            [FieldError(f"{where}.category", N_("Add this category to the agency's services first."))],
        )
    if levels and q.level not in levels:
        raise InvalidInput(
            N_("This category has no such qualification level."),
            [
                FieldError(
                    f"{where}.level",
                    N_("Choose one of this category's levels: {levels}."),
                    {"levels": ", ".join(levels)},
                )
            ],
        )
    if not levels and q.level is not None:
        raise InvalidInput(
            N_("This category has no qualification levels."),
            [FieldError(f"{where}.level", N_("Leave the level empty for this category."))],
        )
    if q.valid_until < today:
        raise InvalidInput(
            N_("The certificate has already expired."),
            [FieldError(f"{where}.valid_until", N_("The certificate has already expired."))],
        )
