"""The credit score (信用分) of an agency: pure, and published on ``/credit``.

Formula ``credit/1``, evaluated on a day ``today`` (China time):

- Every agency starts from **100** points.
- **Ratings.** Each rating that is not voided adds ``(average of its five scores − 3) × 5``
  points, so a rating is worth between −10 (all ones) and +10 (all fives), times a weight
  for its age: **1** for a rating at most 182 days old (six months), falling in a straight
  line to **0** at 730 days (24 months); older ratings count for nothing.
- **Penalties**, each counted in full while the event is less than 730 days (24 months) old:
  **−5** for each award the agency declined (``award.declined``), **−10** for each contract
  or milestone flagged overdue (``milestone.overdue``; a contract the owner recorded
  and the agency left unconfirmed past MARKET_CONTRACT_DAYS, and at least 7 days after it
  was recorded: contracts.rules.unsigned_counts_against_agency), **−15** for each award taken away on an upheld objection
  (``award.disqualified``).
- The sum is kept between **0** and **200** and rounded half up to one decimal.

Events dated after ``today`` are not counted. ``history`` gives the score as it stood on
each event's day (the same formula, with that day as ``today``), and today's.

The automatic suspension after repeated declines is the agencies' rule
(market/agencies/rules.py, ``should_suspend``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

VERSION = "credit/1"
BASE = Decimal(100)
NEUTRAL_AVERAGE = Decimal(3)  # an average of 3 adds nothing
POINTS_PER_STEP = Decimal(5)  # each point of average above or below 3 is worth 5
FULL_WEIGHT_DAYS = 182  # six months
HORIZON_DAYS = 730  # 24 months: beyond this nothing counts
PENALTIES = {
    "decline": Decimal(-5),
    "overdue": Decimal(-10),
    "disqualified": Decimal(-15),
}
MIN_SCORE, MAX_SCORE = Decimal(0), Decimal(200)
KINDS = ("rating", *PENALTIES)
ONE_DECIMAL = Decimal("0.1")
TWO_DECIMALS = Decimal("0.01")


@dataclass(frozen=True)
class CreditEvent:
    """One fact about an agency that may move its score. ``scores``: the rating's five
    scores (kind ``rating`` only); ``ref``: the public id it comes from."""

    kind: str
    on: date
    ref: str
    scores: tuple[int, ...] = ()
    voided: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown credit event kind {self.kind!r}")
        if self.kind == "rating" and not self.scores:
            raise ValueError("a rating event needs its scores")


@dataclass(frozen=True)
class Contribution:
    kind: str
    on: date
    ref: str
    points: Decimal  # rounded to two decimals for display; the score sums the exact values
    weight: Decimal


@dataclass(frozen=True)
class CreditScore:
    score: Decimal
    contributions: list[Contribution] = field(default_factory=list)
    version: str = VERSION


@dataclass(frozen=True)
class HistoryPoint:
    on: date
    score: Decimal
    kind: str | None  # None for today's point
    ref: str | None


def weight(age_days: int) -> Decimal:
    """A rating's weight at ``age_days`` old: 1, then linearly down to 0 at the horizon."""
    if age_days < 0 or age_days >= HORIZON_DAYS:
        return Decimal(0)
    if age_days <= FULL_WEIGHT_DAYS:
        return Decimal(1)
    return Decimal(HORIZON_DAYS - age_days) / Decimal(HORIZON_DAYS - FULL_WEIGHT_DAYS)


def average(scores: Sequence[int]) -> Decimal:
    return Decimal(sum(scores)) / Decimal(len(scores))


def _exact_points(event: CreditEvent, today: date) -> tuple[Decimal, Decimal]:
    """(points, weight) of one event on ``today``, unrounded."""
    age = (today - event.on).days
    if event.voided or age < 0 or age >= HORIZON_DAYS:
        return Decimal(0), Decimal(0)
    if event.kind == "rating":
        w = weight(age)
        return (average(event.scores) - NEUTRAL_AVERAGE) * POINTS_PER_STEP * w, w
    return PENALTIES[event.kind], Decimal(1)


def clamp_round(total: Decimal) -> Decimal:
    return min(MAX_SCORE, max(MIN_SCORE, total)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def score(events: Iterable[CreditEvent], today: date) -> CreditScore:
    """The score on ``today`` and every event that counts towards it, oldest first."""
    total = BASE
    contributions: list[Contribution] = []
    for event in sorted(events, key=lambda e: (e.on, e.kind, e.ref)):
        points, w = _exact_points(event, today)
        if w == 0:
            continue
        total += points
        contributions.append(
            Contribution(
                kind=event.kind,
                on=event.on,
                ref=event.ref,
                points=points.quantize(TWO_DECIMALS, rounding=ROUND_HALF_UP),
                weight=w.quantize(TWO_DECIMALS, rounding=ROUND_HALF_UP),
            )
        )
    return CreditScore(score=clamp_round(total), contributions=contributions)


def history(events: Iterable[CreditEvent], today: date) -> list[HistoryPoint]:
    """The score as it stood on the day of each event within the horizon (oldest first),
    then today's. Voided ratings count nowhere, as if never given."""
    counted = sorted(
        (e for e in events if not e.voided and e.on <= today), key=lambda e: (e.on, e.kind, e.ref)
    )
    since = today - timedelta(days=HORIZON_DAYS)
    points = [
        HistoryPoint(
            on=e.on, score=score([x for x in counted if x.on <= e.on], e.on).score, kind=e.kind, ref=e.ref
        )
        for e in counted
        if e.on > since
    ]
    points.append(HistoryPoint(on=today, score=score(counted, today).score, kind=None, ref=None))
    return points
