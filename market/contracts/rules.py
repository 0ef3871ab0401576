"""Pure rules of contracts: the dates and the amount the owner records, when an unsigned
award is overdue, which milestones are overdue, and what "every milestone accepted" means.
Unit-tested without a database (tests/unit/contracts/test_rules.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from market.errors import FieldError
from market.i18n import N_

# Milestones still waiting for the agency: these are the ones that can fall overdue.
WAITING_FOR_AGENCY = ("pending", "returned")
YUAN = re.compile(r"^(\d{1,13})(?:\.(\d{1,2}))?$")


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
        errors.append(FieldError("signed_on", N_("The contract is signed on or before the day the service starts.")))
    if start_on > due_on:
        errors.append(FieldError("due_on", N_("The service is due on or after the day it starts.")))
    if not milestones:
        errors.append(FieldError("milestones", N_("Give at least one milestone.")))
    previous: date | None = None
    for i, m in enumerate(milestones):
        if not m.title.strip():
            errors.append(FieldError(f"milestones[{i}].title", N_("Name the milestone.")))
        if m.due_on < start_on or m.due_on > due_on:
            errors.append(FieldError(f"milestones[{i}].due_on", N_("A milestone is due between the service's start and due dates.")))
        elif previous is not None and m.due_on < previous:
            errors.append(FieldError(f"milestones[{i}].due_on", N_("Milestones are listed in the order they are due.")))
        previous = m.due_on if previous is None or m.due_on >= previous else previous
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


def milestone_overdue(*, status: str, due_on: date, overdue_on: date | None, today: date) -> bool:
    """Whether the daily task should flag this milestone now: still waiting for the agency,
    past its due date, and not flagged before (a milestone is flagged once)."""
    return status in WAITING_FOR_AGENCY and due_on < today and overdue_on is None


def all_accepted(statuses: Iterable[str]) -> bool:
    items = list(statuses)
    return bool(items) and all(s == "accepted" for s in items)


def yuan_to_fen(text: str) -> int | None:
    """``"12,345.6"`` -> 1234560; None when it is not an amount of yuan with at most two
    decimals (no floats on the way: money is integers of fen)."""
    match = YUAN.fullmatch(text.strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", ""))
    if match is None:
        return None
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def fen_to_yuan(value: int) -> str:
    yuan, fen = divmod(value, 100)
    return f"{yuan}.{fen:02d}"
