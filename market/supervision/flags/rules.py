"""Red flags: patterns in the market's own records that a supervisor should look at.

A flag is a reason to open the file, never a verdict. Each kind is a pure function over
plain data (the dataclasses below, built from the database by ``service``) and the
thresholds in ``market.core.config.Settings`` (``flag_*``); it returns ``Flag`` values with the
numbers that tripped it and the records that show it (notices, draws, contracts, log
entries). Unit-tested without a database (tests/unit/supervision/test_flags.py).

Percentages and per-mille gaps are compared in integers (``a * 100 >= p * b``), so "at
the threshold" means exactly what it says and no float rounding moves a flag.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from market.contracts.rules import sign_by
from market.core.config import Settings
from market.core.i18n import N_


class Kind(enum.StrEnum):
    win_share = "win_share"
    pair_repeats = "pair_repeats"
    direct_share = "direct_share"
    similar_prices = "similar_prices"
    over_budget = "over_budget"
    signed_late = "signed_late"
    amended_late = "amended_late"
    withdrawals = "withdrawals"
    related_parties = "related_parties"


class Severity(enum.StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


SEVERITY_ORDER = {Severity.high.value: 0, Severity.medium.value: 1, Severity.low.value: 2}
SEVERITY_LABELS = {
    Severity.high.value: N_("High"),
    Severity.medium.value: N_("Medium"),
    Severity.low.value: N_("Low"),
}
PAIR_WINDOW_DAYS = 365
CHINA = ZoneInfo("Asia/Shanghai")  # deadlines are shown in China time, as on the notice pages


@dataclass(frozen=True)
class KindInfo:
    title: str  # catalog id
    why: str  # why it matters
    threshold: str  # the rule, with %(...)s places filled from ``threshold_params``
    summary: str  # one flag, with %(...)s places filled from the flag's ``params``


KINDS: dict[str, KindInfo] = {
    Kind.win_share.value: KindInfo(
        title=N_("One agency wins most awards"),
        why=N_(
            "When one agency wins most of the work in a category or an area, competition there may be weak: "
            "other agencies may be kept out by narrow terms, by avoidance lists, or by not bidding at all. "
            "In a lottery each eligible bidder has the same chance, so a lasting large share is unlikely by luck."
        ),
        threshold=N_(
            "Flagged when one agency holds at least %(percent)s%% of the awards in a service category or a prefecture, counted once there are at least %(min)s awards there."
        ),
        summary=N_("%(agency)s holds %(wins)s of the %(total)s awards in %(scope)s (%(share)s%%)."),
    ),
    Kind.pair_repeats.value: KindInfo(
        title=N_("The same owner and agency again and again"),
        why=N_(
            "An owner organisation whose work keeps going to the same agency may be steering its notices, "
            "for example through terms written for one agency or through direct selection."
        ),
        threshold=N_(
            "Flagged when the same owner organisation and agency are paired in at least %(repeats)s awards within %(days)s days."
        ),
        summary=N_("%(agency)s won %(wins)s awards from %(owner)s between %(first)s and %(last)s."),
    ),
    Kind.direct_share.value: KindInfo(
        title=N_("Many direct selections"),
        why=N_(
            "Direct selection skips competition and should be the exception, each with a written justification. "
            "An owner that selects directly for a large share of its notices deserves a look at those justifications."
        ),
        threshold=N_(
            "Flagged when at least %(percent)s%% of an owner's published notices end in a direct selection, counted once it has published at least %(min)s notices."
        ),
        summary=N_(
            "%(owner)s selected directly for %(direct)s of its %(notices)s published notices (%(share)s%%)."
        ),
    ),
    Kind.similar_prices.value: KindInfo(
        title=N_("Identical or near-identical prices"),
        why=N_(
            "Independent bidders rarely arrive at the same price. Identical prices, or prices a hair apart, "
            "on a lowest-price notice can mean the bids were prepared together (collusion), "
            "and a tie hands the result to the draw."
        ),
        threshold=N_(
            "Flagged on a lowest-price notice when two or more bids have the same price, or prices within %(permille)s‰ of the lower one."
        ),
        summary=N_(
            "%(count)s bids on %(notice)s have identical or near-identical prices (closest gap %(gap)s‰)."
        ),
    ),
    Kind.related_parties.value: KindInfo(
        title=N_("Winner and owner look like one party"),
        why=N_(
            "An agency may never win work from its own organisation. A winner that shares the owner's credit code "
            "or contact telephone may be the owner itself, or a firm run by the same people, behind a draw that looked fair."
        ),
        threshold=N_(
            "Flagged when an agency holding an award has the owner organisation's credit code, is linked to it by an administrator, or gives the same contact telephone number."
        ),
        summary=N_("%(agency)s, holding an award of %(notice)s, shares %(what)s with the owner %(owner)s."),
    ),
    Kind.over_budget.value: KindInfo(
        title=N_("Contract above the budget cap"),
        why=N_(
            "The budget cap is part of the published terms that agencies bid against. "
            "A contract above it changes the deal after the competition and may hide a side arrangement."
        ),
        threshold=N_("Flagged when a contract's amount is above its notice's budget cap."),
        summary=N_(
            "Contract %(contract)s is for %(amount)s, above the budget cap of %(budget)s of %(notice)s (+%(excess)s%%)."
        ),
    ),
    Kind.signed_late.value: KindInfo(
        title=N_("Contract signed late or not at all"),
        why=N_(
            "A final award should become a contract promptly. Long delays can mean the award is being renegotiated "
            "or that the winner is being pressed to decline in favour of someone else."
        ),
        threshold=N_(
            "Flagged when a contract is confirmed more than %(days)s days after the award became final, or is still unsigned after that."
        ),
        summary=N_(
            "The award of %(notice)s to %(agency)s became final on %(final)s and had to be signed by %(sign_by)s; %(state)s"
        ),
    ),
    Kind.amended_late.value: KindInfo(
        title=N_("Notice amended just before its deadline"),
        why=N_(
            "A change shortly before the deadline leaves bidders little time to react. "
            "It can favour an agency that knew of the change in advance."
        ),
        threshold=N_(
            "Flagged when a notice is amended less than %(hours)s hours before the deadline then in force."
        ),
        summary=N_("%(notice)s was amended %(hours)s hours before its deadline of %(deadline)s."),
    ),
    Kind.withdrawals.value: KindInfo(
        title=N_("Many bids withdrawn"),
        why=N_(
            "Bidders withdrawing in numbers may have been pressed or paid to step aside, "
            "or may be rotating who wins."
        ),
        threshold=N_(
            "Flagged when at least %(percent)s%% of a notice's bids are withdrawn, counted once its bidding has ended and it has at least %(min)s bids."
        ),
        summary=N_("%(withdrawn)s of the %(total)s bids on %(notice)s were withdrawn (%(share)s%%)."),
    ),
}

STATE_SIGNED_LATE = N_("it was confirmed on %(confirmed)s, %(late)s days late.")
STATE_UNSIGNED = N_("it is still unsigned, %(late)s days late.")


def threshold_params(kind: str, settings: Settings) -> dict[str, Any]:
    """What fills a kind's ``threshold`` text."""
    return {
        Kind.win_share.value: {"percent": settings.flag_win_share_percent, "min": settings.flag_min_awards},
        Kind.pair_repeats.value: {"repeats": settings.flag_pair_repeats, "days": PAIR_WINDOW_DAYS},
        Kind.direct_share.value: {
            "percent": settings.flag_direct_share_percent,
            "min": settings.flag_min_notices,
        },
        Kind.similar_prices.value: {"permille": settings.flag_price_gap_permille},
        Kind.over_budget.value: {},
        Kind.related_parties.value: {},
        Kind.signed_late.value: {"days": settings.contract_days},
        Kind.amended_late.value: {"hours": settings.flag_amend_hours},
        Kind.withdrawals.value: {"percent": settings.flag_withdrawn_percent, "min": settings.flag_min_bids},
    }[kind]


# -- what a flag is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """A record that shows the flag: ``notice``, ``draw`` (the notice's draw page), ``contract``,
    ``agency``, ``log`` (an entry's seq) or ``bid`` (shown on the draw page)."""

    type: str
    ref: str

    @property
    def href(self) -> str | None:
        return {
            "notice": f"/notices/{self.ref}",
            "draw": f"/notices/{self.ref}/draw",
            "contract": f"/contracts/{self.ref}",
            "agency": f"/agencies/{self.ref}",
            "log": f"/log/entries/{self.ref}",
        }.get(self.type)


@dataclass(frozen=True)
class Flag:
    kind: str
    subject: str  # a public id: agency, owner (organisation or user), notice or contract
    subject_name: str
    severity: str
    numbers: dict[str, Any]
    evidence: tuple[Evidence, ...]
    # Fill the kind's ``summary``. A value that is a {"zh_Hans": ..., "en": ...} dict is a
    # name in both languages; the page picks the reader's.
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "subject_name": self.subject_name,
            "severity": self.severity,
            "numbers": self.numbers,
            "evidence": [{"type": e.type, "ref": e.ref, "href": e.href} for e in self.evidence],
            "params": self.params,
        }


def _at_least_percent(part: int, whole: int, percent: int) -> bool:
    return whole > 0 and part * 100 >= percent * whole


def _percent(part: int, whole: int) -> int:
    """Rounded down, for display: the comparison itself is exact."""
    return part * 100 // whole if whole else 0


def sort_flags(flags: Iterable[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.kind, f.subject))


# -- win_share -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WinCount:
    """One agency's awards in one scope (a category or a prefecture), and the scope's total."""

    scope: str  # "category" or "region"
    key: str  # category code or prefecture code
    scope_name: dict[str, str]  # {"zh_Hans": ..., "en": ...}
    agency_id: str
    agency_name: str
    wins: int
    total: int
    notices: tuple[str, ...] = ()


def win_share(counts: Sequence[WinCount], *, percent: int, min_awards: int) -> list[Flag]:
    out = []
    for c in counts:
        if c.total < min_awards or not _at_least_percent(c.wins, c.total, percent):
            continue
        share = _percent(c.wins, c.total)
        high = c.wins == c.total or _at_least_percent(c.wins, c.total, percent + (100 - percent) // 2)
        out.append(
            Flag(
                kind=Kind.win_share.value,
                subject=c.agency_id,
                subject_name=c.agency_name,
                severity=Severity.high.value if high else Severity.medium.value,
                numbers={
                    "scope": c.scope,
                    "key": c.key,
                    "wins": c.wins,
                    "total": c.total,
                    "share_percent": share,
                },
                evidence=(Evidence("agency", c.agency_id), *(Evidence("notice", n) for n in c.notices)),
                params={
                    "agency": c.agency_name,
                    "wins": c.wins,
                    "total": c.total,
                    "scope": c.scope_name,
                    "share": share,
                },
            )
        )
    return out


# -- pair_repeats --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairWins:
    """Every award of one owner organisation to one agency, with the day each was made."""

    owner_id: str
    owner_name: str
    agency_id: str
    agency_name: str
    wins: tuple[tuple[date, str], ...]  # (day, notice id)


def densest_window(days: Sequence[tuple[date, str]], window_days: int) -> list[tuple[date, str]]:
    """The most awards falling within ``window_days`` days (first and last at most
    ``window_days - 1`` days apart); the earliest such run on a tie."""
    items = sorted(days)
    best: list[tuple[date, str]] = []
    start = 0
    for end in range(len(items)):
        while (items[end][0] - items[start][0]).days >= window_days:
            start += 1
        if end - start + 1 > len(best):
            best = items[start : end + 1]
    return best


def pair_repeats(
    pairs: Sequence[PairWins], *, repeats: int, window_days: int = PAIR_WINDOW_DAYS
) -> list[Flag]:
    out = []
    for p in pairs:
        if len(p.wins) < repeats:
            continue
        run = densest_window(p.wins, window_days)
        if len(run) < repeats:
            continue
        first, last = run[0][0], run[-1][0]
        out.append(
            Flag(
                kind=Kind.pair_repeats.value,
                subject=p.owner_id,
                subject_name=p.owner_name,
                severity=Severity.high.value if len(run) >= 2 * repeats else Severity.medium.value,
                numbers={
                    "agency_id": p.agency_id,
                    "wins": len(run),
                    "first": first.isoformat(),
                    "last": last.isoformat(),
                    "all_wins": len(p.wins),
                },
                evidence=(Evidence("agency", p.agency_id), *(Evidence("notice", n) for _, n in run)),
                params={
                    "agency": p.agency_name,
                    "owner": p.owner_name,
                    "wins": len(run),
                    "first": first.isoformat(),
                    "last": last.isoformat(),
                },
            )
        )
    return out


# -- direct_share --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerNotices:
    owner_id: str
    owner_name: str
    published: int
    direct: tuple[str, ...]  # notices that ended in selection.direct


def direct_share(owners: Sequence[OwnerNotices], *, percent: int, min_notices: int) -> list[Flag]:
    out = []
    for o in owners:
        n = len(o.direct)
        if o.published < min_notices or n == 0 or not _at_least_percent(n, o.published, percent):
            continue
        share = _percent(n, o.published)
        out.append(
            Flag(
                kind=Kind.direct_share.value,
                subject=o.owner_id,
                subject_name=o.owner_name,
                severity=Severity.high.value
                if _at_least_percent(n, o.published, min(100, 2 * percent))
                else Severity.medium.value,
                numbers={"direct": n, "notices": o.published, "share_percent": share},
                evidence=tuple(Evidence("notice", x) for x in o.direct),
                params={"owner": o.owner_name, "direct": n, "notices": o.published, "share": share},
            )
        )
    return out


# -- similar_prices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedBid:
    bid_id: str
    agency_id: str
    price_fen: int


@dataclass(frozen=True)
class PricedNotice:
    """A closed lowest-price notice and the priced bids that ``bidding.closed`` published."""

    notice_id: str
    title: str
    closed_seq: int
    bids: tuple[PricedBid, ...]


def gap_permille(low: int, high: int) -> int:
    """How far ``high`` is above ``low``, in ‰ of ``low``, rounded up (so a gap just over the
    threshold never rounds down onto it)."""
    if low <= 0:
        return 0 if high == low else 1000
    return -(-(high - low) * 1000 // low)


def close_prices(low: int, high: int, permille: int) -> bool:
    """Identical, or ``high`` within ``permille`` ‰ of ``low`` (exact integer comparison)."""
    return high == low or (low > 0 and (high - low) * 1000 <= permille * low)


def similar_prices(notices: Sequence[PricedNotice], *, permille: int) -> list[Flag]:
    out = []
    for n in notices:
        bids = sorted((b for b in n.bids if b.price_fen is not None), key=lambda b: (b.price_fen, b.bid_id))
        involved: dict[str, PricedBid] = {}
        gaps: list[int] = []
        identical = False
        for a, b in zip(bids, bids[1:]):
            if close_prices(a.price_fen, b.price_fen, permille):
                involved[a.bid_id] = a
                involved[b.bid_id] = b
                gaps.append(gap_permille(a.price_fen, b.price_fen))
                identical = identical or a.price_fen == b.price_fen
        if len(involved) < 2:
            continue
        gap = min(gaps)
        out.append(
            Flag(
                kind=Kind.similar_prices.value,
                subject=n.notice_id,
                subject_name=n.title,
                severity=Severity.high.value if identical else Severity.medium.value,
                numbers={
                    "bids": len(involved),
                    "identical": identical,
                    "gap_permille": gap,
                    "prices_fen": sorted(b.price_fen for b in involved.values()),
                },
                evidence=(
                    Evidence("notice", n.notice_id),
                    Evidence("draw", n.notice_id),
                    *(Evidence("bid", bid_id) for bid_id in sorted(involved)),
                    Evidence("log", str(n.closed_seq)),
                ),
                params={"count": len(involved), "notice": n.notice_id, "gap": gap},
            )
        )
    return out


# -- over_budget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractAmount:
    contract_id: str
    notice_id: str
    agency_id: str
    agency_name: str
    amount_fen: int
    budget_fen: int
    recorded_seq: int


def over_budget(contracts: Sequence[ContractAmount]) -> list[Flag]:
    out = []
    for c in contracts:
        if c.amount_fen <= c.budget_fen:
            continue
        excess = _percent(c.amount_fen - c.budget_fen, c.budget_fen)
        out.append(
            Flag(
                kind=Kind.over_budget.value,
                subject=c.contract_id,
                subject_name=c.agency_name,
                severity=Severity.high.value,
                numbers={
                    "amount_fen": c.amount_fen,
                    "budget_fen": c.budget_fen,
                    "excess_fen": c.amount_fen - c.budget_fen,
                    "excess_percent": excess,
                },
                evidence=(
                    Evidence("contract", c.contract_id),
                    Evidence("notice", c.notice_id),
                    Evidence("log", str(c.recorded_seq)),
                ),
                params={
                    "contract": c.contract_id,
                    "notice": c.notice_id,
                    "amount_fen": c.amount_fen,
                    "budget_fen": c.budget_fen,
                    "excess": excess,
                },
            )
        )
    return out


# -- related_parties -----------------------------------------------------------------------------

# How each shared detail reads in the summary (catalog ids).
SHARED = {
    "credit_code": N_("its unified social credit code"),
    "link": N_("an administrator's link"),
    "phone": N_("its contact telephone number"),
}


@dataclass(frozen=True)
class HolderAndOwner:
    notice_id: str
    agency_id: str
    agency_name: str
    owner_id: str
    owner_name: str
    same_credit_code: bool
    linked: bool
    # the same contact telephone, compared by its digits (at least 7) in service
    same_phone: bool


def related_parties(awards: Sequence[HolderAndOwner]) -> list[Flag]:
    out = []
    for a in awards:
        shared = [
            what
            for what, yes in (
                ("credit_code", a.same_credit_code),
                ("link", a.linked),
                ("phone", a.same_phone),
            )
            if yes
        ]
        if not shared:
            continue
        out.append(
            Flag(
                kind=Kind.related_parties.value,
                subject=f"{a.notice_id}/{a.agency_id}",
                subject_name=a.agency_name,
                severity=Severity.high.value,
                numbers={"shared": len(shared)},
                evidence=(
                    Evidence("notice", a.notice_id),
                    Evidence("draw", a.notice_id),
                    Evidence("agency", a.agency_id),
                ),
                params={
                    "agency": a.agency_id,
                    "notice": a.notice_id,
                    "owner": a.owner_name,
                    "what": shared[0],
                },
            )
        )
    return out


# -- signed_late ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signing:
    """An award holder's contract timing: confirmed (``confirmed_on``) or not yet (None)."""

    notice_id: str
    agency_id: str
    agency_name: str
    final_on: date  # China date of the notice's latest award.final
    final_seq: int
    contract_id: str | None = None
    confirmed_on: date | None = None  # China date the agency confirmed
    signed_seq: int | None = None


def signed_late(signings: Sequence[Signing], *, contract_days: int, today: date) -> list[Flag]:
    out = []
    for s in signings:
        deadline = sign_by(s.final_on, contract_days)
        if s.confirmed_on is not None:
            if s.confirmed_on <= deadline:
                continue
            late, state = (s.confirmed_on - deadline).days, "signed"
        else:
            if today <= deadline:
                continue
            late, state = (today - deadline).days, "unsigned"
        evidence = [Evidence("notice", s.notice_id), Evidence("log", str(s.final_seq))]
        if s.contract_id:
            evidence.insert(0, Evidence("contract", s.contract_id))
        if s.signed_seq is not None:
            evidence.append(Evidence("log", str(s.signed_seq)))
        out.append(
            Flag(
                kind=Kind.signed_late.value,
                subject=s.contract_id or s.notice_id,
                subject_name=s.agency_name,
                severity=Severity.medium.value if state == "unsigned" else Severity.low.value,
                numbers={
                    "state": state,
                    "final_on": s.final_on.isoformat(),
                    "sign_by": deadline.isoformat(),
                    "confirmed_on": s.confirmed_on.isoformat() if s.confirmed_on else None,
                    "days_late": late,
                },
                evidence=tuple(evidence),
                params={
                    "notice": s.notice_id,
                    "agency": s.agency_name,
                    "final": s.final_on.isoformat(),
                    "sign_by": deadline.isoformat(),
                    "state": state,
                    "confirmed": s.confirmed_on.isoformat() if s.confirmed_on else None,
                    "late": late,
                },
            )
        )
    return out


# -- amended_late --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amendment:
    at: datetime
    log_seq: int
    deadline_before: datetime | None = None  # set when the amendment moved the deadline


@dataclass(frozen=True)
class AmendedNotice:
    notice_id: str
    title: str
    deadline: datetime  # the deadline now
    amendments: tuple[Amendment, ...]


def deadlines_in_force(notice: AmendedNotice) -> list[tuple[Amendment, datetime]]:
    """Each amendment with the deadline in force when it was made: the deadline before the
    next amendment that moved it (its recorded old value), or the current one."""
    items = sorted(notice.amendments, key=lambda a: (a.at, a.log_seq))
    out: list[tuple[Amendment, datetime]] = []
    then = notice.deadline
    for a in reversed(items):
        if a.deadline_before is not None:
            then = a.deadline_before
        out.append((a, then))
    out.reverse()
    return out


def amended_late(notices: Sequence[AmendedNotice], *, hours: int) -> list[Flag]:
    out = []
    limit = timedelta(hours=hours)
    for n in notices:
        late = [(a, d) for a, d in deadlines_in_force(n) if a.at <= d and d - a.at < limit]
        if not late:
            continue
        closest_a, closest_d = min(late, key=lambda ad: ad[1] - ad[0].at)
        left = closest_d - closest_a.at
        hours_left = round(left.total_seconds() / 3600, 1)
        out.append(
            Flag(
                kind=Kind.amended_late.value,
                subject=n.notice_id,
                subject_name=n.title,
                severity=Severity.high.value if left * 4 < limit else Severity.medium.value,
                numbers={
                    "amendments": len(late),
                    "hours_before": hours_left,
                    "deadline": closest_d.isoformat(),
                },
                evidence=(
                    Evidence("notice", n.notice_id),
                    *(Evidence("log", str(a.log_seq)) for a, _ in late),
                ),
                params={
                    "notice": n.notice_id,
                    "hours": hours_left,
                    "deadline": closest_d.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
                },
            )
        )
    return out


# -- withdrawals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidCounts:
    notice_id: str
    title: str
    total: int
    withdrawn: int


def withdrawals(notices: Sequence[BidCounts], *, percent: int, min_bids: int) -> list[Flag]:
    out = []
    for n in notices:
        if n.total < min_bids or n.withdrawn == 0 or not _at_least_percent(n.withdrawn, n.total, percent):
            continue
        share = _percent(n.withdrawn, n.total)
        out.append(
            Flag(
                kind=Kind.withdrawals.value,
                subject=n.notice_id,
                subject_name=n.title,
                severity=Severity.high.value
                if _at_least_percent(n.withdrawn, n.total, min(100, 2 * percent))
                else Severity.medium.value,
                numbers={"withdrawn": n.withdrawn, "total": n.total, "share_percent": share},
                evidence=(Evidence("notice", n.notice_id),),
                params={"notice": n.notice_id, "withdrawn": n.withdrawn, "total": n.total, "share": share},
            )
        )
    return out


# -- everything at once --------------------------------------------------------------------------


@dataclass
class Inputs:
    wins: list[WinCount] = field(default_factory=list)
    pairs: list[PairWins] = field(default_factory=list)
    owners: list[OwnerNotices] = field(default_factory=list)
    priced: list[PricedNotice] = field(default_factory=list)
    amounts: list[ContractAmount] = field(default_factory=list)
    signings: list[Signing] = field(default_factory=list)
    amended: list[AmendedNotice] = field(default_factory=list)
    bid_counts: list[BidCounts] = field(default_factory=list)
    holders: list[HolderAndOwner] = field(default_factory=list)


def evaluate(inputs: Inputs, settings: Settings, today: date) -> list[Flag]:
    """Every flag the inputs raise, most severe first."""
    s = settings
    flags = [
        *win_share(inputs.wins, percent=s.flag_win_share_percent, min_awards=s.flag_min_awards),
        *pair_repeats(inputs.pairs, repeats=s.flag_pair_repeats),
        *direct_share(inputs.owners, percent=s.flag_direct_share_percent, min_notices=s.flag_min_notices),
        *similar_prices(inputs.priced, permille=s.flag_price_gap_permille),
        *over_budget(inputs.amounts),
        *signed_late(inputs.signings, contract_days=s.contract_days, today=today),
        *amended_late(inputs.amended, hours=s.flag_amend_hours),
        *withdrawals(inputs.bid_counts, percent=s.flag_withdrawn_percent, min_bids=s.flag_min_bids),
        *related_parties(inputs.holders),
    ]
    return sort_flags(flags)


def count_by_kind(flags: Iterable[Flag]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for f in flags:
        counts[f.kind] += 1
    return {k: counts.get(k, 0) for k in KINDS}


def alert_key(flag: Flag) -> str:
    """What tells one flag from another of its kind, for alerting it once: the subject, and
    for a share the scope it was counted in (one agency may lead several)."""
    if flag.kind == Kind.win_share.value:
        return f"{flag.subject}@{flag.numbers.get('scope')}:{flag.numbers.get('key')}"
    return flag.subject
