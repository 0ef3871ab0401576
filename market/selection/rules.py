"""Pure rules of public selection: who is a candidate at closing, the draw, who replaces
whom, and the shape of the selection record. No database, no clock, no randomness."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from market import protocol
from market.agencies import rules as agency_rules
from market.core.i18n import N_
from market.protocol import entry_types

ATTEMPT: Final = 1  # MSP/1: there is no second draw
WEIGHT: Final = 1  # MSP/1 version 1: every candidate weighs the same
TOO_FEW_CANDIDATES: Final = "too_few_candidates"
NO_ALTERNATES: Final = "no_alternates"
NOT_NAMED: Final = "not_named"  # a bidder on a direct notice other than the agency it names
# How the codes in bidding.closed (excluded) and selection.failed read, in every front end.
OVER_BUDGET = "over_budget"
RELATED_TO_OWNER = "related_to_owner"
EXCLUSION_REASONS = {
    "not_approved": N_("not an approved agency"),
    "suspended": N_("suspended"),
    "blacklisted": N_("blacklisted"),
    "category": N_("not registered for this service category"),
    "no_qualification": N_("no qualification for this service category"),
    "qualification_under_review": N_("qualification still under review"),
    "qualification_expired": N_("qualification expired"),
    "level_too_low": N_("qualification level too low"),
    "region": N_("outside the notice's region"),
    "avoided": N_("on the notice's avoidance list (回避)"),
    "not_named": N_("not the agency this direct selection names"),
    "over_budget": N_("price above the budget cap in force at closing"),
    "related_to_owner": N_(
        "one party with the notice's owner (the same credit code, or linked by an administrator)"
    ),
}
FAILED_REASONS = {
    "too_few_candidates": N_("fewer eligible candidates than the notice's minimum"),
    "no_alternates": N_("every winner declined or was disqualified and no alternate was left"),
}
FAIRNESS_NONE: Final = N_(
    "No randomness beacon was committed (scheme none): this draw is only as fair as the operator, "
    "who knows the secret and could have added a sham bidder before the deadline (MSP/1 section 7)."
)


@dataclass(frozen=True)
class StandingBid:
    document: dict[str, Any]  # the MSP/1 bid document, as logged in bidding.closed
    facts: agency_rules.AgencyFacts  # the bidder as it stands at closing


@dataclass(frozen=True)
class Decided:
    candidates: list[tuple[str, int]]  # canonical order
    excluded: list[dict[str, str]]  # sorted by agency_id


def candidates_at_close(
    bids: Iterable[StandingBid],
    requirements: agency_rules.Requirements,
    today: date,
    *,
    direct_agency_id: str | None = None,
    budget_fen: int | None = None,
    related: frozenset[str] = frozenset(),
) -> Decided:
    """Re-check every bidder on the day of closing: an agency suspended, blacklisted or
    whose qualification lapsed since it bid is excluded, with the first reason's code; and
    a price above the budget cap in force at closing (``budget_fen``: an amendment may
    have lowered it after the bid) is excluded as ``over_budget``, so that no bid above
    the published cap can win; an agency that is one party with the notice's owner
    (``related``: the same credit code, or linked by an admin, perhaps since it bid) is
    excluded as ``related_to_owner``."""
    candidates: list[tuple[str, int]] = []
    excluded: list[dict[str, str]] = []
    for bid in bids:
        agency_id = bid.document["agency_id"]
        if direct_agency_id is not None and agency_id != direct_agency_id:
            excluded.append({"agency_id": agency_id, "reason": NOT_NAMED})
            continue
        result = agency_rules.eligibility(bid.facts, requirements, today)
        price = bid.document.get("price_fen")
        if agency_id in related:
            excluded.append({"agency_id": agency_id, "reason": RELATED_TO_OWNER})
        elif isinstance(result, agency_rules.NotEligible):
            excluded.append({"agency_id": agency_id, "reason": result.codes[0]})
        elif budget_fen is not None and isinstance(price, int) and price > budget_fen:
            excluded.append({"agency_id": agency_id, "reason": OVER_BUDGET})
        else:
            candidates.append((agency_id, WEIGHT))
    excluded.sort(key=lambda e: e["agency_id"].encode("utf-8"))
    return Decided(candidates=protocol.canonical_candidates(candidates), excluded=excluded)


@dataclass(frozen=True)
class DrawResult:
    eligible: bytes
    seed: bytes
    order: list[str]
    ranking: list[str]
    winners: list[str]
    alternates: list[str]


def draw(
    *,
    notice_id: str,
    method: str,
    k: int,
    secret: bytes,
    candidates: Sequence[tuple[str, int]],
    bids: Sequence[Mapping[str, Any]],
    scheme: str,
    beacon: bytes,
) -> DrawResult:
    """MSP/1 steps 4 to 6 over the values ``bidding.closed`` published."""
    eligible, seed, order = protocol.draw_steps(notice_id, ATTEMPT, secret, candidates, scheme, beacon)
    prices = {b["agency_id"]: b["price_fen"] for b in bids} if method == "lowest_price" else None
    ranking = protocol.rank(method, order, prices)
    winners, alternates = protocol.split_winners(ranking, k)
    return DrawResult(
        eligible=eligible, seed=seed, order=order, ranking=ranking, winners=winners, alternates=alternates
    )


def next_alternate(alternates: Sequence[str], used: Iterable[str]) -> str | None:
    """MSP/1 step 7: the first alternate, in ranking order, that has not held the award."""
    taken = set(used)
    for agency_id in alternates:
        if agency_id not in taken:
            return agency_id
    return None


def waiting_for_round(round_number: int, at: datetime) -> str:
    return (
        f"waiting for drand quicknet round {round_number}, emitted at {at.isoformat().replace('+00:00', 'Z')}"
    )


def fairness(scheme: str | None) -> str:
    """MSP/1 section 7: with no beacon the result is only as fair as the operator."""
    return "operator" if (scheme or protocol.SCHEME_NONE) == protocol.SCHEME_NONE else "beacon"


def _rfc3339(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def timelock_wait(notice: Any) -> str | None:
    """Why a tlock notice past its deadline is not closed yet: its bids open only with the
    deadline's drand round (None once asked for nothing yet, or for other notices)."""
    if (
        notice.sealing != "tlock"
        or notice.status != "open"
        or getattr(notice, "tlock_checked_at", None) is None
    ):
        return None
    round_number = protocol.tlock_round(protocol.deadline_unix(notice.bid_deadline))
    at = datetime.fromtimestamp(protocol.round_emitted_unix(round_number), UTC)
    return waiting_for_round(round_number, at) + ", to open the timelocked bids"


def sealed_seqs(openings: Sequence[Mapping[str, Any]] | None) -> list[int] | None:
    """The seqs of every sealed entry an MSP/2 opening claims (bids and withdrawals), sorted."""
    if openings is None:
        return None
    seqs = [int(o["seq"]) for o in openings]
    seqs += [int(o["withdrawn"]["seq"]) for o in openings if o.get("withdrawn")]
    return sorted(seqs)


def selection_record(
    *, notice: Any, selection: Any, seqs: Mapping[str, list[int]], holders: list[str], base_url: str
) -> dict[str, Any]:
    """The public selection record. ``notice`` and ``selection`` are the stored rows (the
    selection None before closing); ``seqs`` maps entry types to this notice's seqs."""
    closed = selection is not None

    def one(kind: str) -> int | None:
        found = seqs.get(kind) or []
        return found[0] if found else None

    outcome = None
    for kind in (entry_types.SELECTION_DRAWN, entry_types.SELECTION_DIRECT, entry_types.SELECTION_FAILED):
        if seqs.get(kind):
            outcome = seqs[kind][0]
    verify = f"python3 ops/verify_log.py --url {base_url or 'URL'} --notice {notice.public_id}"
    record: dict[str, Any] = {
        "notice_id": notice.public_id,
        "protocol": notice.protocol,
        "sealing": notice.sealing,
        "status": notice.status,
        "method": notice.method,
        "k": notice.winners,
        "min_candidates": notice.min_candidates,
        "bid_deadline": _rfc3339(notice.bid_deadline),
        "commit": notice.commit,
        "scheme": notice.scheme,
        "terms_sha256": notice.terms_sha256,
        "fairness": fairness(notice.scheme),
        "fairness_note": FAIRNESS_NONE if fairness(notice.scheme) == "operator" else None,
        "waiting_reason": selection.waiting_reason if closed else timelock_wait(notice),
        "seqs": {
            "published": one(entry_types.NOTICE_PUBLISHED),
            "amended": list(seqs.get(entry_types.NOTICE_AMENDED, [])),
            "cancelled": one(entry_types.NOTICE_CANCELLED),
            # Before closing, who bid stays out of the record. MSP/1 logged bids under the
            # notice; an MSP/2 sealed entry names nothing, and its notice is known only from
            # the opening (``sealed``, below).
            "bids_accepted": list(seqs.get(entry_types.BID_ACCEPTED, []))
            if closed and notice.protocol == 1
            else None,
            "bids_withdrawn": list(seqs.get(entry_types.BID_WITHDRAWN, []))
            if closed and notice.protocol == 1
            else None,
            "closed": one(entry_types.BIDDING_CLOSED),
            "outcome": outcome,
            "awards": sorted(
                seqs.get(entry_types.AWARD_DECLINED, []) + seqs.get(entry_types.AWARD_DISQUALIFIED, [])
            ),
            "objections": sorted(
                seqs.get(entry_types.OBJECTION_FILED, [])
                + seqs.get(entry_types.OBJECTION_ANSWERED, [])
                + seqs.get(entry_types.OBJECTION_DECIDED, [])
            ),
            "final": seqs[entry_types.AWARD_FINAL][-1] if seqs.get(entry_types.AWARD_FINAL) else None,
        },
        "secret": None,
        "bids": None,
        "openings": None,
        "sealed": None,
        "candidates": None,
        "excluded": None,
        "eligible": None,
        "attempt": None,
        "beacon": None,
        "seed": None,
        "order": None,
        "ranking": None,
        "winners": None,
        "alternates": None,
        "holders": holders,
        "direct": (
            {"agency_id": notice.direct_agency_id, "justification": notice.direct_justification}
            if notice.direct_agency_id
            else None
        ),
        "publicity_ends": None,
        "failed_reason": None,
        "verify_command": verify,
    }
    if closed:
        record.update(
            secret=selection.secret,
            bids=selection.bids,
            openings=selection.openings,
            sealed=sealed_seqs(selection.openings),
            candidates=selection.candidates,
            excluded=selection.excluded,
            eligible=selection.eligible,
            publicity_ends=_rfc3339(selection.publicity_ends),
            failed_reason=selection.failed_reason,
        )
        if selection.outcome == "drawn":
            record.update(
                attempt=ATTEMPT,
                beacon=selection.beacon,
                seed=selection.seed,
                order=selection.order,
                ranking=selection.ranking,
                winners=selection.winners,
                alternates=selection.alternates,
            )
        elif selection.outcome == "direct":
            record.update(winners=selection.winners, alternates=[])
    return record


# -- who an objection may name (docs/selection.md, "Objections with standing") ------------------

HOLDER_OBJECTS_TO_ITSELF: Final = N_(
    "Your agency holds this award: name another winner, or decline the award instead of objecting to it."
)
SOLE_HOLDER_MAY_NOT_OBJECT: Final = N_(
    "Your agency holds this award and no other winner is left to object to: an objection would only be against your own award. If your agency cannot take the work, decline the award instead."
)


def objection_targets(holders: Sequence[str], party: str) -> list[str]:
    """The winners ``party`` may name: every current holder but itself. Upheld, an
    objection against itself would take the award from it without the decline counting."""
    return [h for h in holders if h != party]


def may_object_to_whole_result(holders: Sequence[str], party: str) -> bool:
    """The whole result includes every holder, so a holder may not object to it."""
    return party not in holders


def objects_to_itself(holders: Sequence[str], party: str, agency_id: str | None) -> bool:
    """An objection by a holder against itself, or against the whole result."""
    return party in holders and agency_id in (None, party)


def may_object_at_all(holders: Sequence[str], party: str) -> bool:
    """Whether anything is left for ``party`` to object to (a sole holder has nothing)."""
    return may_object_to_whole_result(holders, party) or bool(objection_targets(holders, party))
