"""Every table model, imported once so that SQLModel.metadata (and Alembic) knows them all."""

from market.accounts.models import AppUser, PasswordReset
from market.agencies.models import Agency, AgencyCategory, AgencyDocument, AgencyReview, Qualification
from market.contracts.models import Contract, Deliverable, Milestone
from market.log.models import LogCheckpoint, LogCosignature, LogCosigner, LogEntry, LogSubtree
from market.notices.models import Bid, Notice, NoticeAvoid, NoticeRevision, NoticeSecret, OwnerOrg, Project
from market.ratings.models import Rating
from market.reference.models import CategoryLevel, Region, ServiceCategory
from market.selection.models import Award, Message, Objection, Selection

__all__ = [
    "Agency",
    "Award",
    "Message",
    "Objection",
    "Selection",
    "AgencyCategory",
    "AgencyDocument",
    "AgencyReview",
    "AppUser",
    "PasswordReset",
    "Bid",
    "CategoryLevel",
    "Contract",
    "Deliverable",
    "Milestone",
    "Rating",
    "LogCheckpoint",
    "LogCosignature",
    "LogCosigner",
    "LogEntry",
    "LogSubtree",
    "Notice",
    "NoticeAvoid",
    "NoticeRevision",
    "NoticeSecret",
    "OwnerOrg",
    "Project",
    "Qualification",
    "Region",
    "ServiceCategory",
]
