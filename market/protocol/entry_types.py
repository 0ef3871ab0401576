"""Every type of entry the log holds, the one list that writers and the verifier share.

Plain strings (an entry's ``type`` is written as it is spelled here, byte for byte): a
service appends ``type=entry_types.NOTICE_PUBLISHED``, and the verifier reads the same
names. Adding a type means adding it here; a notice's story (``NOTICE_TYPES``) is what the
verifier re-derives notice by notice, every other type is checked only as a log entry."""

from __future__ import annotations

from typing import Final

# accounts
ACCOUNT_CREATED: Final = "account.created"
ACCOUNT_PASSWORD_CHANGED: Final = "account.password_changed"
ACCOUNT_PASSWORD_RESET_ISSUED: Final = "account.password_reset_issued"
ACCOUNT_PASSWORD_RESET: Final = "account.password_reset"
ACCOUNT_DEACTIVATED: Final = "account.deactivated"
ACCOUNT_REACTIVATED: Final = "account.reactivated"
OWNER_REGISTERED: Final = "owner.registered"
OWNER_HALL_CHANGED: Final = "owner.hall_changed"

# halls and the staff who hold them (issue 21)
HALL_ADDED: Final = "hall.added"
STAFF_GRANTED: Final = "staff.granted"
STAFF_MOVED: Final = "staff.moved"
STAFF_REVOKED: Final = "staff.revoked"

# agencies
AGENCY_SUBMITTED: Final = "agency.submitted"
AGENCY_APPROVED: Final = "agency.approved"
AGENCY_REJECTED: Final = "agency.rejected"
AGENCY_SUSPENDED: Final = "agency.suspended"
AGENCY_REINSTATED: Final = "agency.reinstated"
AGENCY_BLACKLISTED: Final = "agency.blacklisted"
AGENCY_BLACKLIST_LIFTED: Final = "agency.blacklist_lifted"
AGENCY_LINKED: Final = "agency.linked"
AGENCY_DOCUMENT_ADDED: Final = "agency.document_added"
AGENCY_QUALIFICATION_SUBMITTED: Final = "agency.qualification_submitted"
AGENCY_QUALIFICATION_APPROVED: Final = "agency.qualification_approved"
AGENCY_QUALIFICATION_REJECTED: Final = "agency.qualification_rejected"

# notices and bids
NOTICE_PUBLISHED: Final = "notice.published"
NOTICE_AMENDED: Final = "notice.amended"
NOTICE_CANCELLED: Final = "notice.cancelled"
NOTICE_CANCEL_REQUESTED: Final = "notice.cancel_requested"
NOTICE_CANCEL_CONSENTED: Final = "notice.cancel_consented"
NOTICE_CANCEL_REFUSED: Final = "notice.cancel_refused"
BID_ACCEPTED: Final = "bid.accepted"  # MSP/1
BID_WITHDRAWN: Final = "bid.withdrawn"  # MSP/1
BID_SEALED: Final = "bid.sealed"  # MSP/2: a bid or a withdrawal, told apart only at the opening
BIDS_OPENED: Final = "bids.opened"  # MSP/2

# selection and award
BIDDING_CLOSED: Final = "bidding.closed"
SELECTION_FAILED: Final = "selection.failed"
SELECTION_DRAWN: Final = "selection.drawn"
SELECTION_DIRECT: Final = "selection.direct"
AWARD_DECLINED: Final = "award.declined"
AWARD_DISQUALIFIED: Final = "award.disqualified"
AWARD_FINAL: Final = "award.final"
OBJECTION_FILED: Final = "objection.filed"
OBJECTION_ANSWERED: Final = "objection.answered"
OBJECTION_DECIDED: Final = "objection.decided"
# Told apart from the notice's story: a supervision step, checked only as a log entry.
OBJECTION_ESCALATED: Final = "objection.escalated"

# contracts
CONTRACT_RECORDED: Final = "contract.recorded"
CONTRACT_SIGNED: Final = "contract.signed"
CONTRACT_DISPUTED: Final = "contract.disputed"
CONTRACT_DISPUTE_DECIDED: Final = "contract.dispute_decided"
CONTRACT_STOPPED: Final = "contract.stopped"
CONTRACT_COMPLETED: Final = "contract.completed"
MILESTONE_SUBMITTED: Final = "milestone.submitted"
MILESTONE_ACCEPTED: Final = "milestone.accepted"
MILESTONE_RETURNED: Final = "milestone.returned"
MILESTONE_OVERDUE: Final = "milestone.overdue"

# ratings
RATING_GIVEN: Final = "rating.given"
RATING_REPLIED: Final = "rating.replied"
RATING_VOIDED: Final = "rating.voided"

# The entries that tell one notice's story; every other type is checked only as a log entry.
NOTICE_TYPES: Final[frozenset[str]] = frozenset(
    {
        NOTICE_PUBLISHED,
        NOTICE_AMENDED,
        NOTICE_CANCELLED,
        BID_ACCEPTED,
        BID_WITHDRAWN,
        BIDDING_CLOSED,
        BIDS_OPENED,
        SELECTION_FAILED,
        SELECTION_DRAWN,
        SELECTION_DIRECT,
        AWARD_DECLINED,
        AWARD_DISQUALIFIED,
        AWARD_FINAL,
        OBJECTION_FILED,
        OBJECTION_ANSWERED,
        OBJECTION_DECIDED,
    }
)
V1_ONLY_TYPES: Final[frozenset[str]] = frozenset({BID_ACCEPTED, BID_WITHDRAWN})
V2_ONLY_TYPES: Final[frozenset[str]] = frozenset({BIDS_OPENED})  # (and bid.sealed, checked on its own)
