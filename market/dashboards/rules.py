"""Pure rules of the dashboards: for each piece of work, what happens next, by when, and
where it is done; and which piece comes first. No database, no HTTP: the queries hand
plain rows over, these functions turn them into ``Item``s a page lists.

Urgency: the work that waits on the viewer comes before what waits on someone else; within
each, the earliest deadline first (an overdue one is earlier than any other); work with no
deadline last, newest first as the queries gave it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from market.core.clock import CHINA
from market.core.i18n import N_
from market.halls import rules as halls_rules
from market.reference import regions

# Why a selection failed (market/selection/rules.py: TOO_FEW_CANDIDATES, NO_ALTERNATES):
# the texts below say what happened, so each depends on the reason.
NO_ALTERNATES = "no_alternates"

# How many items a group shows (the queries ask for one more, to know there are more).
GROUP_LIMIT = 8


class Group(enum.StrEnum):
    # owner
    drafts = "drafts"
    open = "open"
    publicity = "publicity"
    failed = "failed"
    contract = "contract"
    accept = "accept"
    rate = "rate"
    # agency
    awards = "awards"
    milestones = "milestones"
    open_to_me = "open_to_me"
    bids = "bids"
    # supervisor and admin
    objections = "objections"
    disputes = "disputes"
    alerts = "alerts"
    overdue = "overdue"
    review = "review"
    draws = "draws"
    mail = "mail"


GROUP_TITLES: dict[str, str] = {
    Group.drafts: N_("Drafts to publish"),
    Group.open: N_("Open for bids"),
    Group.publicity: N_("In publicity"),
    Group.failed: N_("Failed selections"),
    Group.contract: N_("Contracts to sign"),
    Group.accept: N_("Deliverables to accept"),
    Group.rate: N_("Agencies to rate"),
    Group.awards: N_("Awards and contracts"),
    Group.milestones: N_("Milestones due"),
    Group.open_to_me: N_("Notices you may bid on"),
    Group.bids: N_("Your bids and their outcome"),
    Group.objections: N_("Objections"),
    Group.disputes: N_("Contract disputes"),
    Group.alerts: N_("Alerts"),
    Group.overdue: N_("Overdue milestones"),
    Group.review: N_("Agencies waiting for review"),
    Group.draws: N_("Draws coming up"),
    Group.mail: N_("E-mails not sent"),
}

# The groups of each role, in the order the page shows them.
ROLE_GROUPS: dict[str, tuple[Group, ...]] = {
    "owner": (
        Group.drafts,
        Group.publicity,
        Group.contract,
        Group.accept,
        Group.rate,
        Group.open,
        Group.failed,
    ),
    "agency": (Group.awards, Group.milestones, Group.open_to_me, Group.bids),
    "supervisor": (Group.objections, Group.disputes, Group.alerts, Group.overdue, Group.draws),
    "admin": (Group.review, Group.mail, Group.alerts, Group.overdue, Group.draws),
}


@dataclass(frozen=True)
class Item:
    """One piece of work: its subject, what happens next, by when, and the page to do it on.

    ``mine``: the viewer is the one to act (else it waits on someone else, or on time).
    ``due`` is a UTC instant; ``due_is_day`` says the deadline is a whole China day (a
    contract's signing day, a milestone's due date) and is shown as a date."""

    group: Group
    title: str
    ref: str
    action: str  # what happens next (an N_ message)
    href: str
    link: str  # the link's text (an N_ message)
    mine: bool = True
    due: datetime | None = None
    due_is_day: bool = False
    overdue: bool = False
    detail: str | None = None  # a status or outcome (an N_ message)
    params: Mapping[str, Any] = field(default_factory=dict)  # names for ``action`` (%(name)s)


def end_of_day(day: date) -> datetime:
    """The last instant of a China day: a deadline given as a date is met until it ends."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA) - timedelta(microseconds=1)


def _day_item(day: date, today: date) -> dict[str, Any]:
    return {"due": end_of_day(day), "due_is_day": True, "overdue": day < today}


def _milestone_item(
    group: Group, row: Mapping[str, Any], today: date, *, action: str, link: str, mine: bool = True
) -> Item:
    """A milestone of a contract (``action`` names it by %(position)s and %(milestone)s), done
    on the contract's page and due by the end of its due day."""
    return Item(
        group,
        title=row["title"],
        ref=row["contract_public_id"],
        action=action,
        params={"position": row["position"], "milestone": row["milestone_title"]},
        href=f"/contracts/{row['contract_public_id']}",
        link=link,
        mine=mine,
        **_day_item(row["due_on"], today),
    )


def urgency(item: Item) -> tuple[int, int, float]:
    """Sort key: the viewer's own work first, then the earliest deadline (overdue ones are
    the earliest), then no deadline."""
    return (
        0 if item.mine else 1,
        0 if item.due is not None else 1,
        item.due.timestamp() if item.due else 0.0,
    )


def ordered(items: Iterable[Item]) -> list[Item]:
    return sorted(items, key=urgency)  # stable: items without a deadline keep their order


def first(items: Sequence[Item]) -> Item | None:
    """The one item to put at the top of the page: the most urgent of all."""
    return ordered(items)[0] if items else None


# -- the owner -------------------------------------------------------------------------------


def owner_notice(row: Mapping[str, Any], now: datetime) -> Item:
    """A notice of the owner's, by its state: a draft to publish, bidding open, the draw
    waiting, a result in publicity (with objections to answer), a failed selection."""
    nid, title, status = row["public_id"], row["title"], row["status"]
    common = {"title": title, "ref": nid}
    if status == "draft":
        late = row["bid_deadline"] is not None and row["bid_deadline"] <= now
        return Item(
            Group.drafts,
            action=N_("Set a later bid deadline, then publish it.")
            if late
            else N_("Publish it before its bid deadline."),
            href=f"/owner/notices/{nid}/edit" if late else f"/owner/notices/{nid}/publish",
            link=N_("Edit") if late else N_("Publish"),
            due=None if late else row["bid_deadline"],
            overdue=late,
            **common,
        )
    if status == "open":
        return Item(
            Group.open,
            action=N_("Bids are taken until the deadline; the selection follows by itself."),
            href=f"/notices/{nid}",
            link=N_("See the notice"),
            mine=False,
            due=row["bid_deadline"],
            **common,
        )
    if status == "closed":
        return Item(
            Group.open,
            action=N_(
                "Bidding has closed; the draw takes place as soon as the committed beacon round is out."
            ),
            href=f"/notices/{nid}/draw",
            link=N_("Watch the draw"),
            mine=False,
            **common,
        )
    if status == "selected":
        filed = int(row.get("objections_filed") or 0)
        if filed:
            return Item(
                Group.publicity,
                action=N_("Answer the objections filed against the result before publicity ends."),
                href=f"/notices/{nid}/draw#objections",
                link=N_("Answer"),
                due=row.get("publicity_ends"),
                detail=N_("Objection waiting for your answer"),
                **common,
            )
        return Item(
            Group.publicity,
            action=N_(
                "The result is in publicity: anyone may object until it ends; then the award is final and the contract follows."
            ),
            href=f"/notices/{nid}/draw",
            link=N_("See the result"),
            mine=False,
            due=row.get("publicity_ends"),
            **common,
        )
    # failed: the way on is the re-issue button in the owner's actions on the notice page.
    return Item(
        Group.failed,
        action=N_(
            "Every winner declined or was disqualified and no alternate was left: re-issue the notice as a new draft and publish it."
        )
        if row.get("failed_reason") == NO_ALTERNATES
        else N_("Too few eligible bids: re-issue the notice as a new draft and publish it."),
        href=f"/notices/{nid}#owner-h",
        link=N_("Re-issue"),
        detail=N_("Selection failed"),
        **common,
    )


def owner_unsigned(row: Mapping[str, Any], today: date) -> Item:
    """A final award the owner has no signed contract for."""
    nid = row["notice_public_id"]
    if row["proposed_id"]:
        return Item(
            Group.contract,
            title=row["title"],
            ref=nid,
            action=N_("You recorded the contract; the agency confirms or declines it by the signing day."),
            href=f"/contracts/{row['proposed_id']}",
            link=N_("See the contract"),
            mine=False,
            **_day_item(row["sign_by"], today),
        )
    return Item(
        Group.contract,
        title=row["title"],
        ref=nid,
        action=N_("Record the contract signed with %(agency)s."),
        params={"agency": row["agency_name"]},
        href=f"/notices/{nid}/contract",
        link=N_("Record the contract"),
        **_day_item(row["sign_by"], today),
    )


def owner_to_accept(row: Mapping[str, Any], today: date) -> Item:
    """A milestone's deliverable handed in, for the owner to accept or return."""
    return _milestone_item(
        Group.accept,
        row,
        today,
        action=N_("Accept or return the deliverable of milestone %(position)s: %(milestone)s."),
        link=N_("Review the deliverable"),
    )


def owner_to_rate(row: Mapping[str, Any]) -> Item:
    return Item(
        Group.rate,
        title=row["title"],
        ref=row["contract_public_id"],
        action=N_("The service is complete: rate %(agency)s."),
        params={"agency": row["agency_name"]},
        href=f"/contracts/{row['contract_public_id']}/rating",
        link=N_("Rate"),
    )


# -- the agency ------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    withdrawn = "withdrawn"
    waiting_deadline = "waiting_deadline"
    waiting_draw = "waiting_draw"
    won = "won"
    declined = "declined"  # and the next alternate took the award
    declined_unreplaced = "declined_unreplaced"  # no alternate was left to take it
    disqualified = "disqualified"
    not_chosen = "not_chosen"
    failed = "failed"  # too few eligible bids
    failed_no_alternates = "failed_no_alternates"  # every winner gone, no alternate left
    cancelled = "cancelled"


OUTCOME_LABELS: dict[str, str] = {
    Outcome.withdrawn: N_("Withdrawn"),
    Outcome.waiting_deadline: N_("Submitted: waiting for the deadline"),
    Outcome.waiting_draw: N_("Bidding closed: waiting for the draw"),
    Outcome.won: N_("Won"),
    Outcome.declined: N_("Won, then declined"),
    Outcome.declined_unreplaced: N_("Won, then declined"),
    Outcome.disqualified: N_("Won, then disqualified"),
    Outcome.not_chosen: N_("Not chosen"),
    Outcome.failed: N_("Selection failed"),
    Outcome.failed_no_alternates: N_("Selection failed"),
    Outcome.cancelled: N_("Notice cancelled"),
}

# What the bidder can do next, by outcome.
OUTCOME_NEXT: dict[str, str] = {
    Outcome.withdrawn: N_("You withdrew this bid. You may bid again while bidding is open."),
    Outcome.waiting_deadline: N_(
        "Nothing to do: the bids are opened at the deadline and the selection follows."
    ),
    Outcome.waiting_draw: N_(
        "Nothing to do: the draw takes place as soon as the committed beacon round is out."
    ),
    Outcome.won: N_(
        "Your agency was selected. After publicity the owner records the contract; confirm it by the signing day."
    ),
    Outcome.declined: N_("You declined this award; the next alternate took it."),
    Outcome.declined_unreplaced: N_("You declined this award; no alternate was left to take it."),
    Outcome.disqualified: N_("The award was taken away; the reason is on the draw page."),
    Outcome.not_chosen: N_(
        "Another agency was selected. You may object during publicity; look for new notices open to you."
    ),
    Outcome.failed: N_(
        "The selection failed (too few eligible bids); the owner may publish the notice again."
    ),
    Outcome.failed_no_alternates: N_(
        "The selection failed: every winner declined or was disqualified and no alternate was left; the owner may publish the notice again."
    ),
    Outcome.cancelled: N_(
        "The owner cancelled the notice; your bid was opened and published with the cancellation."
    ),
}


def bid_outcome(
    *,
    bid_status: str,
    notice_status: str,
    selection_outcome: str | None,
    award_status: str | None,
    failed_reason: str | None = None,
    replaced_by: str | None = None,
) -> Outcome:
    """What became of a bid: the notice's fate first (cancelled, failed, and why it
    failed), then the bid's own (withdrawn), then the draw (won, its award since declined,
    taken over by an alternate or not (``replaced_by``), or disqualified, or not chosen),
    else still waiting."""
    if notice_status == "cancelled":
        return Outcome.cancelled
    if bid_status == "withdrawn":
        return Outcome.withdrawn
    if notice_status == "failed" or selection_outcome == "failed":
        return Outcome.failed_no_alternates if failed_reason == NO_ALTERNATES else Outcome.failed
    if notice_status == "open":
        return Outcome.waiting_deadline
    if award_status == "holding":
        return Outcome.won
    if award_status == "declined":
        return Outcome.declined if replaced_by is not None else Outcome.declined_unreplaced
    if award_status == "disqualified":
        return Outcome.disqualified
    if notice_status in ("selected", "awarded"):
        return Outcome.not_chosen
    return Outcome.waiting_draw


def agency_bid(row: Mapping[str, Any]) -> Item:
    outcome = bid_outcome(
        bid_status=row["bid_status"],
        notice_status=row["notice_status"],
        selection_outcome=row["selection_outcome"],
        award_status=row["award_status"],
        failed_reason=row.get("failed_reason"),
        replaced_by=row.get("replaced_by"),
    )
    nid = row["notice_public_id"]
    # Before the draw (and for a cancelled notice) there is no result page to go to.
    waiting = outcome in (Outcome.waiting_deadline, Outcome.withdrawn, Outcome.cancelled)
    return Item(
        Group.bids,
        title=row["title"],
        ref=nid,
        action=OUTCOME_NEXT[outcome],
        href=f"/notices/{nid}" if waiting else f"/notices/{nid}/draw",
        link=N_("See the notice") if waiting else N_("See the result"),
        mine=False,
        due=row["bid_deadline"] if outcome == Outcome.waiting_deadline else None,
        detail=OUTCOME_LABELS[outcome],
    )


def agency_open(row: Mapping[str, Any]) -> Item:
    """A notice open to the agency that it has not bid on yet."""
    nid = row["public_id"]
    return Item(
        Group.open_to_me,
        title=row["title"],
        ref=nid,
        action=N_("Your agency may bid: submit a sealed bid before the deadline."),
        href=f"/notices/{nid}#bid",
        link=N_("Bid"),
        due=row["bid_deadline"],
    )


def agency_award(row: Mapping[str, Any], today: date) -> Item:
    """A holding award: in publicity, or final and waiting for the contract."""
    nid = row["notice_public_id"]
    if row["notice_status"] == "selected":
        return Item(
            Group.awards,
            title=row["title"],
            ref=nid,
            action=N_(
                "Your agency was selected and the result is in publicity; until the contract is signed you may still decline the award."
            ),
            href=f"/notices/{nid}/draw",
            link=N_("See the result"),
            mine=False,
            due=row.get("publicity_ends"),
            detail=OUTCOME_LABELS[Outcome.won],
        )
    if row.get("proposed_id"):
        return Item(
            Group.awards,
            title=row["title"],
            ref=nid,
            action=N_("The owner recorded the contract: confirm it, or decline it, by the signing day."),
            href=f"/contracts/{row['proposed_id']}",
            link=N_("Confirm or decline"),
            detail=OUTCOME_LABELS[Outcome.won],
            **_day_item(row["sign_by"], today),
        )
    return Item(
        Group.awards,
        title=row["title"],
        ref=nid,
        action=N_(
            "The award is final: the owner records the contract, then you confirm it by the signing day."
        ),
        href=f"/notices/{nid}/draw",
        link=N_("See the result"),
        mine=False,
        detail=OUTCOME_LABELS[Outcome.won],
        **_day_item(row["sign_by"], today),
    )


def agency_milestone(row: Mapping[str, Any], today: date) -> Item:
    returned = row["status"] == "returned"
    return _milestone_item(
        Group.milestones,
        row,
        today,
        action=(
            N_("Milestone %(position)s was returned: hand in a corrected deliverable: %(milestone)s.")
            if returned
            else N_("Hand in the deliverable of milestone %(position)s: %(milestone)s.")
        ),
        link=N_("Hand in"),
    )


# -- supervisors and admins ------------------------------------------------------------------


def escalation_at(
    *, hall: str | None, filed_at: datetime, escalated_at: datetime | None, days: int, province: str
) -> datetime | None:
    """When a pending objection goes one hall up if no one decides it (None at the
    province: there is no hall above). The same rule as objections.service._escalation_due."""
    if hall is None or hall == province:
        return None
    return (escalated_at or filed_at) + timedelta(days=days)


def supervisor_objection(row: Mapping[str, Any], *, days: int, province: str) -> Item:
    nid = row["notice_public_id"]
    due = escalation_at(
        hall=row["hall"],
        filed_at=row["filed_at"],
        escalated_at=row["escalated_at"],
        days=days,
        province=province,
    )
    answered = row["status"] == "answered"
    return Item(
        Group.objections,
        title=row["title"],
        ref=row["public_id"],
        action=(
            N_("The owner has answered: decide the objection before it goes to the hall above.")
            if answered
            else N_(
                "Waiting for the owner's answer; you may decide it already. Undecided, it goes to the hall above."
            )
        ),
        href=f"/supervision/notices/{nid}",
        link=N_("Decide"),
        mine=answered,
        due=due,
        detail=N_("Answered by the owner") if answered else N_("Waiting for the owner's answer"),
    )


def supervisor_dispute(row: Mapping[str, Any]) -> Item:
    return Item(
        Group.disputes,
        title=row["title"],
        ref=row["contract_public_id"],
        action=N_(
            "%(agency)s declined the contract, saying its terms do not follow the award: decide whether they do."
        ),
        params={"agency": row["agency_name"]},
        href="/supervision/contracts",
        link=N_("Decide"),
    )


def supervisor_overdue(row: Mapping[str, Any], today: date) -> Item:
    return _milestone_item(
        Group.overdue,
        row,
        today,
        action=N_(
            "Milestone %(position)s is overdue: %(milestone)s. Follow it up with the agency and the owner."
        ),
        link=N_("See the contract"),
        mine=False,
    )


def alerts_item(unread: int) -> Item:
    return Item(
        Group.alerts,
        title=N_("Unread alerts"),
        ref=str(unread),
        action=N_(
            "Read the alerts left for your hall: failed selections, red flags, objections, overdue milestones."
        ),
        href="/messages",
        link=N_("Read the alerts"),
    )


def agency_reach(jurisdiction: str | None) -> str | None:
    """The prefix of the registered regions an admin's jurisdiction reaches, for the review
    queue's SQL filter: the same reach as halls.rules.reaches (agencies.service.reaches),
    as a prefix an index scan can filter by. "" reaches every agency (the province also
    reaches agencies from elsewhere); None reaches none (no jurisdiction, or a park: a park
    reaches only itself, and an agency is registered in a region, never in a park)."""
    if jurisdiction is None or halls_rules.PARK_CODE.fullmatch(jurisdiction):
        return None
    if jurisdiction == halls_rules.PROVINCE:
        return ""
    if halls_rules.kind_of(jurisdiction) == "province":
        return jurisdiction  # another province's code reaches only itself
    return regions.scope_prefix(jurisdiction)


def review_agency(row: Mapping[str, Any]) -> Item:
    return Item(
        Group.review,
        title=row["name"],
        ref=row["public_id"],
        action=N_("Check its details and documents, then approve or reject it."),
        href=f"/admin/agencies?q={row['public_id']}",
        link=N_("Review it"),
    )


def coming_draw(row: Mapping[str, Any]) -> Item:
    """A notice of the viewer's halls whose bidding closes soon: its draw is public and
    live, and a supervisor may watch it."""
    nid = row["public_id"]
    return Item(
        Group.draws,
        title=row["title"],
        ref=nid,
        action=N_("Bidding closes at the deadline; the draw follows, live and public."),
        href=f"/notices/{nid}/draw",
        link=N_("Watch the draw"),
        mine=False,
        due=row["bid_deadline"],
    )


def failed_mail(count: int, more: bool) -> Item:
    """E-mails the queue gave up on (the mail server refused them or was down too long)."""
    return Item(
        Group.mail,
        title=N_("E-mails not sent"),
        ref=f"{count}+" if more else str(count),
        action=N_("Some e-mails could not be sent: check the mail server, then queue them again."),
        href="/admin/mail",
        link=N_("See the e-mail queue"),
    )
