"""Rules for notices and bids that need no database (pure)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from market import protocol
from market.core import durations
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_
from market.core.ids import PUBLIC_ID
from market.notices.models import Method, NoticeCreate

# 投资项目统一代码 (国家发展改革委, 2016): year-region(6)-industry(2)-type(2)-serial(6).
PROJECT_CODE = re.compile(r"^([0-9]{4})-([0-9]{6})-([0-9]{2})-([0-9]{2})-([0-9]{6})$")  # ASCII digits only
FIRST_PROJECT_CODE_YEAR = 2014
DEFAULT_MIN_CANDIDATES = {Method.lottery: 3, Method.lowest_price: 3, Method.direct: 1}


def invalid(field: str, message: str, **params: object) -> InvalidInput:
    return InvalidInput(message, [FieldError(field, message, dict(params))])


def check_project_code(code: str, *, today: date) -> str:
    code = code.strip()
    match = PROJECT_CODE.match(code)
    if not match:
        raise invalid(
            "code",
            N_("A project code looks like 2026-530102-48-01-012345 (year, region, industry, type, serial)."),
        )
    year = int(match.group(1))
    if not FIRST_PROJECT_CODE_YEAR <= year <= today.year + 1:
        raise invalid(
            "code",
            N_("The project code's year must be between {first} and {last}."),
            first=FIRST_PROJECT_CODE_YEAR,
            last=today.year + 1,
        )
    return code


def min_candidates_for(data: NoticeCreate) -> int:
    return data.min_candidates if data.min_candidates is not None else DEFAULT_MIN_CANDIDATES[data.method]


def check_counts(method: str, winners: int, min_candidates: int) -> None:
    if winners < 1:
        raise invalid("winners", N_("At least one winner."))
    if min_candidates < 1:
        raise invalid("min_candidates", N_("At least one candidate."))
    if method == Method.direct and (winners != 1 or min_candidates != 1):
        raise invalid("winners", N_("Direct selection chooses exactly one agency."))
    if method == Method.lottery and winners >= min_candidates:
        raise invalid(
            "winners",
            N_(
                "A lottery needs more candidates than winners: winners must be below the minimum number of candidates."
            ),
        )
    if method == Method.lowest_price and winners > min_candidates:
        raise invalid("winners", N_("Winners cannot exceed the minimum number of candidates."))


def check_direct(method: str, agency_id: str | None, justification: str | None) -> None:
    """A direct notice names its agency and justifies the choice; the others name none."""
    if method != Method.direct:
        if agency_id is not None or justification is not None:
            raise invalid("direct_agency_id", N_("Only a direct selection names an agency."))
        return
    if agency_id is None:
        raise invalid("direct_agency_id", N_("Direct selection names the agency it chooses."))
    if not PUBLIC_ID.match(agency_id):
        raise invalid("direct_agency_id", N_("Not an agency id."))
    if justification is None or len(justification) < 10:
        raise invalid(
            "direct_justification",
            N_(
                "Explain in at least 10 characters why this agency is chosen without a draw; it is published."
            ),
        )


def check_budget(budget_fen: int) -> None:
    if budget_fen <= 0:
        raise invalid("budget_fen", N_("The budget must be a positive amount in fen."))


def check_deadline(
    deadline: datetime, *, now: datetime, min_window: int, latest: datetime | None = None
) -> datetime:
    """The deadline, in UTC, at least ``min_window`` seconds after ``now`` and, when
    ``latest`` is given, not after it (MSP/2's longest bid window)."""
    if deadline.tzinfo is None:
        raise invalid(
            "bid_deadline", N_("Give the deadline with its time zone, e.g. 2026-12-04T17:00:00+08:00.")
        )
    deadline = deadline.astimezone(UTC)
    if deadline <= now:
        raise invalid("bid_deadline", N_("The deadline is in the past."))
    if deadline < now + timedelta(seconds=min_window):
        raise invalid(
            "bid_deadline",
            N_("The deadline must be at least {duration} after publishing."),
            duration=durations.duration(min_window),
        )
    if latest is not None and deadline > latest:
        # A sealed bid names no notice: a verifier knows it must be opened within the
        # longest window the protocol allows, so no notice may stay open longer.
        raise invalid(
            "bid_deadline",
            N_("The deadline may be at most {days} days after publishing."),
            days=MAX_BID_WINDOW_DAYS,
        )
    return deadline


MAX_BID_WINDOW_DAYS = protocol.MAX_BID_WINDOW_SECONDS // 86400


def tlock_round_of(deadline: datetime) -> int:
    """The drand round a tlock notice's sealed entries are locked to: the first one
    emitted at or after its deadline (docs/protocol/msp.md)."""
    return protocol.tlock_round(protocol.deadline_unix(deadline))


# Why each term may not tighten after publication, beside its field.
TIGHTENING = {
    "required_level": N_(
        "Once published, the required level can only be lowered or removed: a higher one would exclude agencies that may already have bid."
    ),
    "budget_fen": N_(
        "Once published, the budget can only be raised: a lower cap would exclude or reprice bids that may already have been sealed."
    ),
    "service_days": N_(
        "Once published, the service period can only be lengthened or removed: a shorter one would change the work already priced."
    ),
}


def tightened(levels: tuple[str, ...], changes: dict[str, list[Any]]) -> list[str]:
    """The changed terms that could exclude a bidder or reprice the field ({field: [old,
    new]} as amend builds it; ``levels`` the category's levels, highest first).

    Whether anyone has bid is sealed until the deadline, so this holds from publication
    on, not from the first bid: a rule that applied only once a bid stood would tell the
    owner, by refusing, that someone had bid (docs/protocol/msp.md, section 2 step 8)."""
    out = []
    if "required_level" in changes:
        old, new = changes["required_level"]
        if new is not None and (
            old is None or old not in levels or new not in levels or levels.index(new) < levels.index(old)
        ):
            out.append("required_level")
    if "budget_fen" in changes:
        old, new = changes["budget_fen"]
        if new < old:
            out.append("budget_fen")
    if "service_days" in changes:
        old, new = changes["service_days"]
        if new is not None and (old is None or new < old):
            out.append("service_days")
    return out


def refuse_tightening(levels: tuple[str, ...], changes: dict[str, list[Any]]) -> None:
    fields = tightened(levels, changes)
    if fields:
        errors = [FieldError(f, TIGHTENING[f], {}) for f in fields]
        raise InvalidInput(TIGHTENING[fields[0]], errors)


def check_price(method: str, price_fen: Any, budget_fen: int) -> int | None:
    """A lowest-price bid carries a positive integer price within the budget; the others none."""
    if method != Method.lowest_price:
        if price_fen is not None:
            raise invalid("price_fen", N_("This notice is not decided by price: send no price."))
        return None
    if price_fen is None:
        raise invalid("price_fen", N_("Give your price in fen."))
    if isinstance(price_fen, bool) or not isinstance(price_fen, int):
        raise invalid("price_fen", N_("The price must be a whole number of fen."))
    if price_fen <= 0:
        raise invalid("price_fen", N_("The price must be positive."))
    if price_fen > budget_fen:
        # Shown in yuan: people read ¥260,000.00, not 26000000 fen.
        raise invalid(
            "price_fen",
            N_("The price is above the budget of {budget}."),
            budget=f"¥{budget_fen // 100:,}.{budget_fen % 100:02d}",
        )
    return int(price_fen)


def terms_document(
    *,
    notice_id: str,
    title: str,
    description: str,
    category: str,
    required_level: str | None,
    region: str,
    budget_fen: int,
    method: str,
    winners: int,
    min_candidates: int,
    bid_deadline: datetime,
    service_days: int | None,
    owner: dict[str, str] | None,
    project: dict[str, str] | None,
    avoid: list[dict[str, str]],
    direct: dict[str, str] | None = None,
) -> bytes:
    """The canonical JSON of a notice's terms; its SHA-256 is ``terms_sha256`` (MSP/1 step 1)."""
    return protocol.canonical_json(
        {
            "notice_id": notice_id,
            "title": title,
            "description": description,
            "category": category,
            "required_level": required_level,
            "region": region,
            "budget_fen": budget_fen,
            "method": method,
            "winners": winners,
            "min_candidates": min_candidates,
            "bid_deadline": protocol.format_ts(bid_deadline),
            "service_days": service_days,
            "owner": owner,
            "project": project,
            "avoid": sorted(avoid, key=lambda a: a["agency_id"]),
            "direct": direct,
        }
    )


REISSUE_MIN_WINDOW = timedelta(days=1)


def reissue_deadline(*, published_at: datetime | None, deadline: datetime, now: datetime) -> datetime:
    """The deadline a re-issued notice's draft starts with: the failed notice's bid window
    (publication to deadline) again, counted from now, and never under a day, whole minutes.
    The owner sees it in the draft and may change it before publishing."""
    window = deadline - published_at if published_at is not None else REISSUE_MIN_WINDOW
    start = now + max(window, REISSUE_MIN_WINDOW)
    return start.replace(second=0, microsecond=0) + timedelta(minutes=1)


def shown_status(status: str, deadline: datetime | None, now: datetime) -> str:
    """The status a page shows: an open notice whose deadline has passed is closed to bids
    whatever its row says yet (the scheduler closes it within a second on the primary; a
    read standby may show the row up to MARKET_READ_MAX_LAG seconds late). So no page
    says "Open for bids" after the deadline (docs/reliability.md, "Read standby")."""
    if status == "open" and deadline is not None and now >= deadline:
        return "closed"
    return status
