"""The labels pages show for codes (statuses, decisions, reasons), in one place: the
templating setup registers ``GLOBALS`` as Jinja globals once, so that every template can
say ``_(NOTICE_STATUS_LABELS[n.status])`` without each handler passing the dictionaries."""

from __future__ import annotations

from typing import Any

from market.agencies.models import STATUS_LABELS as AGENCY_STATUS_LABELS
from market.agencies.models import ReviewStatus
from market.contracts.models import CONTRACT_STATUS_LABELS, DISPUTE_DECISION_LABELS, MilestoneStatus
from market.core.clock import utcnow
from market.core.i18n import N_
from market.notices.models import METHOD_LABELS, BidStatus, NoticeStatus
from market.notices.rules import shown_status
from market.ratings.models import DIMENSION_LABELS, DIMENSIONS
from market.reference import catalogue
from market.selection.models import AwardStatus, ObjectionStatus
from market.selection.rules import EXCLUSION_REASONS, FAILED_REASONS, FAIRNESS_NONE
from market.supervision.flags.rules import KINDS as FLAG_KINDS
from market.supervision.present import SCORE_LABELS
from market.web.times import china_date, china_time, utc_attr

# -- notices and bids -------------------------------------------------------------------------

NOTICE_STATUS_LABELS = {
    NoticeStatus.draft.value: N_("Draft"),
    NoticeStatus.open.value: N_("Open for bids"),
    NoticeStatus.closed.value: N_("Closed"),
    NoticeStatus.selected.value: N_("Selected, in publicity"),
    NoticeStatus.awarded.value: N_("Awarded"),
    NoticeStatus.failed.value: N_("Selection failed"),
    NoticeStatus.cancelled.value: N_("Cancelled"),
}
BID_STATUS_LABELS = {
    BidStatus.standing.value: N_("Standing"),
    BidStatus.withdrawn.value: N_("Withdrawn"),
}
# The fields an amendment may change, as its history names them.
FIELD_LABELS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "budget_fen": N_("Budget cap"),
    "bid_deadline": N_("Bid deadline"),
    "required_level": N_("Minimum qualification level"),
    "service_days": N_("Service period (days)"),
}

# -- selection ----------------------------------------------------------------------------------

OBJECTION_STATUS_LABELS = {
    ObjectionStatus.filed.value: N_("Waiting for the owner's answer"),
    ObjectionStatus.answered.value: N_("Waiting for a supervisor's decision"),
    ObjectionStatus.upheld.value: N_("Upheld"),
    ObjectionStatus.rejected.value: N_("Rejected"),
}
AWARD_STATUS_LABELS = {
    AwardStatus.holding.value: N_("Holds the award"),
    AwardStatus.declined.value: N_("Declined"),
    AwardStatus.disqualified.value: N_("Disqualified"),
}
DECISION_LABELS = {
    ObjectionStatus.upheld.value: N_("upheld"),
    ObjectionStatus.rejected.value: N_("rejected"),
}

# -- agencies -------------------------------------------------------------------------------------

QUALIFICATION_STATUS_LABELS = {
    ReviewStatus.pending.value: N_("Waiting for review"),
    ReviewStatus.approved.value: N_("Approved"),
    ReviewStatus.rejected.value: N_("Rejected"),
    ReviewStatus.superseded.value: N_("Replaced"),
}
DOCUMENT_KIND_LABELS = {
    "licence": N_("Business licence"),
    "certificate": N_("Qualification certificate"),
    "other": N_("Other document"),
}
ACTION_LABELS = {
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "suspend": N_("Suspend"),
    "reinstate": N_("Reinstate"),
    "blacklist": N_("Blacklist"),
    "lift_blacklist": N_("Lift the blacklisting"),
}
HISTORY_LABELS = {
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "suspend": N_("Suspended"),
    "reinstate": N_("Reinstated"),
    "blacklist": N_("Blacklisted"),
    "lift_blacklist": N_("Taken off the blacklist"),
}

# -- contracts ------------------------------------------------------------------------------------

MILESTONE_STATUS_LABELS = {
    MilestoneStatus.pending.value: N_("Waiting for the deliverable"),
    MilestoneStatus.submitted.value: N_("Handed in, waiting for the owner"),
    MilestoneStatus.accepted.value: N_("Accepted"),
    MilestoneStatus.returned.value: N_("Returned for changes"),
}


def notice_status(notice: Any) -> str:
    """A notice's status as of this moment (notices/rules.shown_status), for a page made
    from a row that may be seconds old (a read standby, the home page's cache)."""
    return shown_status(notice.status, getattr(notice, "bid_deadline", None), utcnow())


# Every template sees these (market/web/templating.py registers them once).
GLOBALS: dict[str, Any] = {
    "CATEGORIES": catalogue.CATEGORIES,
    "STATUS_LABELS": AGENCY_STATUS_LABELS,  # the agencies' pages' name for it
    "AGENCY_STATUS_LABELS": AGENCY_STATUS_LABELS,
    "QUALIFICATION_STATUS_LABELS": QUALIFICATION_STATUS_LABELS,
    "DOCUMENT_KIND_LABELS": DOCUMENT_KIND_LABELS,
    "ACTION_LABELS": ACTION_LABELS,
    "HISTORY_LABELS": HISTORY_LABELS,
    "METHOD_LABELS": METHOD_LABELS,
    "NOTICE_STATUS_LABELS": NOTICE_STATUS_LABELS,
    "BID_STATUS_LABELS": BID_STATUS_LABELS,
    "FIELD_LABELS": FIELD_LABELS,
    "EXCLUSION_REASONS": EXCLUSION_REASONS,
    "FAILED_REASONS": FAILED_REASONS,
    "OBJECTION_STATUS_LABELS": OBJECTION_STATUS_LABELS,
    "AWARD_STATUS_LABELS": AWARD_STATUS_LABELS,
    "DECISION_LABELS": DECISION_LABELS,
    "fairness_none": FAIRNESS_NONE,
    "CONTRACT_STATUS_LABELS": CONTRACT_STATUS_LABELS,
    "MILESTONE_STATUS_LABELS": MILESTONE_STATUS_LABELS,
    "DISPUTE_DECISION_LABELS": DISPUTE_DECISION_LABELS,
    "FLAG_TITLES": {kind: info.title for kind, info in FLAG_KINDS.items()},
    "DIMENSIONS": DIMENSIONS,
    "DIMENSION_LABELS": DIMENSION_LABELS,
    "SCORE_LABELS": SCORE_LABELS,
    "china_time": china_time,
    "china_date": china_date,
    "utc_attr": utc_attr,
    "notice_status": notice_status,
}
