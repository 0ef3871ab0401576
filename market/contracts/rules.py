"""Pure rules of contracts: the dates and the amount the owner records, how they follow the
award (docs/contracts.md, "Contracts follow the award"), when an unsigned award is overdue,
which milestones are overdue, and what "every milestone accepted" means.
Unit-tested without a database (tests/unit/contracts/test_rules.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from market.core.errors import FieldError
from market.core.i18n import N_
from market.core.money import format_fen

# Milestones still waiting for the agency: these are the ones that can fall overdue.
WAITING_FOR_AGENCY = ("pending", "returned")


@dataclass(frozen=True)
class MilestoneDates:
    title: str
    due_on: date


def contract_errors(
    *, amount_fen: int, signed_on: date, start_on: date, due_on: date, milestones: Sequence[MilestoneDates]
) -> list[FieldError]:
    """Everything wrong with a contract as the owner records it, each error naming its field
    (``milestones[i].due_on`` counts from 0, like the request body's list)."""
    errors: list[FieldError] = []
    if amount_fen <= 0:
        errors.append(FieldError("amount_fen", N_("The amount must be greater than zero.")))
    if signed_on > start_on:
        errors.append(
            FieldError("signed_on", N_("The contract is signed on or before the day the service starts."))
        )
    if start_on > due_on:
        errors.append(FieldError("due_on", N_("The service is due on or after the day it starts.")))
    if not milestones:
        errors.append(FieldError("milestones", N_("Give at least one milestone.")))
    previous: date | None = None
    for i, m in enumerate(milestones):
        if not m.title.strip():
            errors.append(FieldError(f"milestones[{i}].title", N_("Name the milestone.")))
        if m.due_on < start_on or m.due_on > due_on:
            errors.append(
                FieldError(
                    f"milestones[{i}].due_on",
                    N_("A milestone is due between the service's start and due dates."),
                )
            )
        elif previous is not None and m.due_on < previous:
            errors.append(
                FieldError(f"milestones[{i}].due_on", N_("Milestones are listed in the order they are due."))
            )
        previous = m.due_on if previous is None or m.due_on >= previous else previous
    return errors


@dataclass(frozen=True)
class AwardTerms:
    """What the award and the notice published, which a contract must follow.

    ``price_fen``: the awarded bid's price when bids carry one (lowest-price notices); None
    when they do not (lottery and direct notices, whose bids carry no price: the budget is
    then the only published figure, and the amount may not exceed it). ``final_on``: the
    China date the award became final; ``service_days``: the service period the notice
    published, if it published one."""

    budget_fen: int
    price_fen: int | None
    service_days: int | None
    final_on: date


def earliest_due(start_on: date, service_days: int | None) -> date:
    """The earliest due date the published service period allows: ``service_days`` days
    after the service starts (a 90-day service starting on 1 March is due no earlier than
    30 May). Without a published period, the start itself."""
    return start_on + timedelta(days=service_days) if service_days else start_on


def award_errors(
    terms: AwardTerms, *, amount_fen: int, signed_on: date, start_on: date, due_on: date, today: date
) -> list[FieldError]:
    """Everything in a contract that does not follow the award, each error naming its field.

    - the amount is the awarded bid's price when bids carry one, and never above the budget;
    - it is signed no earlier than the day the award became final, and the service starts
      no earlier than the day the contract is recorded: a start in the past would eat into
      the period the notice published, and could make the contract overdue at once;
    - the due date leaves at least the published service period after the start (the
      milestones lie between start and due, by ``contract_errors``).
    """
    errors: list[FieldError] = []
    if terms.price_fen is not None and amount_fen != terms.price_fen:
        errors.append(
            FieldError(
                "amount_fen",
                N_("The amount is the winning price of the award, {price}."),
                {"price": format_fen(terms.price_fen)},
            )
        )
    elif amount_fen > terms.budget_fen:
        errors.append(
            FieldError(
                "amount_fen",
                N_("The amount may not exceed the notice's budget of {budget}."),
                {"budget": format_fen(terms.budget_fen)},
            )
        )
    if signed_on < terms.final_on:
        errors.append(
            FieldError(
                "signed_on",
                N_("The contract is signed on or after {day}, the day the award became final."),
                {"day": terms.final_on.isoformat()},
            )
        )
    if start_on < today:
        errors.append(FieldError("start_on", N_("The service starts today or later, not in the past.")))
    earliest = earliest_due(start_on, terms.service_days)
    if terms.service_days and due_on < earliest:
        errors.append(
            FieldError(
                "due_on",
                N_(
                    "The notice published a service period of {days} days: the service is due on {day} or later."
                ),
                {"days": terms.service_days, "day": earliest.isoformat()},
            )
        )
    return errors


def sign_by(final_on: date, contract_days: int) -> date:
    """The last day to sign: ``contract_days`` after the day the award became final."""
    return final_on + timedelta(days=contract_days)


def unsigned_overdue(*, final_on: date | None, signed: bool, today: date, contract_days: int) -> bool:
    """An award holder with no signed contract past the signing window. ``final_on`` is the
    China date of the notice's latest ``award.final`` entry (a replacement's own final
    award restarts the clock); None while the award is not final."""
    if signed or final_on is None:
        return False
    return today > sign_by(final_on, contract_days)


# However late the owner records the contract, the agency gets at least this long to confirm.
AGENCY_DAYS_TO_CONFIRM = 7


def unsigned_counts_against_agency(
    *,
    final_on: date | None,
    recorded_on: date | None,
    signed_on: date | None,
    disputed: bool,
    today: date,
    contract_days: int,
) -> bool:
    """Whether an award signed late, or not at all, counts against the agency's credit.

    Only when the delay was the agency's: the owner's contract (recorded on
    ``recorded_on``) waited for its confirmation past the later of the window's last day
    and ``AGENCY_DAYS_TO_CONFIRM`` days after it was recorded. An owner who records no
    contract, or records one at the last moment, cannot dent the winner's score by it
    (issue 19: an owner must not be able to punish a fair winner); nor does a contract whose
    terms the agency disputed. The owner's delay is still the signed_late red flag."""
    if final_on is None or recorded_on is None or disputed:
        return False
    last_day = max(sign_by(final_on, contract_days), recorded_on + timedelta(days=AGENCY_DAYS_TO_CONFIRM))
    return (signed_on if signed_on is not None else today) > last_day


def milestone_overdue(*, status: str, due_on: date, overdue_on: date | None, today: date) -> bool:
    """Whether the daily task should flag this milestone now: still waiting for the agency,
    past its due date, and not flagged before (a milestone is flagged once)."""
    return status in WAITING_FOR_AGENCY and due_on < today and overdue_on is None


def all_accepted(statuses: Iterable[str]) -> bool:
    items = list(statuses)
    return bool(items) and all(s == "accepted" for s in items)
