"""Every table model, imported once so that SQLModel.metadata (and Alembic) knows them all."""

from market.accounts.models import AccountCount, AppUser, PasswordReset
from market.agencies.models import (
    Agency,
    AgencyCategory,
    AgencyCount,
    AgencyDocument,
    AgencyReview,
    Qualification,
)
from market.contracts.models import Contract, Deliverable, Milestone
from market.files.models import StoredFile, StoredFileChunk
from market.halls.models import Jurisdiction
from market.inbox.models import Message
from market.log.models import LogCheckpoint, LogCosignature, LogCosigner, LogEntry, LogEntryAgency, LogSubtree
from market.notices.models import Bid, Notice, NoticeAvoid, NoticeRevision, NoticeSecret, OwnerOrg, Project
from market.notify.models import MailOutbox, MailPreference, SubscriptionCategory, SubscriptionRegion
from market.ocds.models import OcdsRelease
from market.ratings.models import Rating
from market.reference.models import CategoryLevel, Region, ServiceCategory
from market.security.models import LoginFailure, RateWindow
from market.selection.models import Award, Objection, Selection
from market.stats.models import StatsFigure, StatsRefresh
from market.supervision.models import FlagAlert, FlagView, RedFlag

__all__ = [
    "AccountCount",
    "Agency",
    "AgencyCategory",
    "AgencyCount",
    "AgencyDocument",
    "AgencyReview",
    "AppUser",
    "Award",
    "Bid",
    "CategoryLevel",
    "Contract",
    "Deliverable",
    "FlagAlert",
    "FlagView",
    "Jurisdiction",
    "LogCheckpoint",
    "LogCosignature",
    "LogCosigner",
    "LogEntry",
    "LogEntryAgency",
    "LogSubtree",
    "LoginFailure",
    "MailOutbox",
    "MailPreference",
    "Message",
    "Milestone",
    "Notice",
    "NoticeAvoid",
    "NoticeRevision",
    "NoticeSecret",
    "Objection",
    "OcdsRelease",
    "OwnerOrg",
    "PasswordReset",
    "Project",
    "Qualification",
    "RateWindow",
    "Rating",
    "RedFlag",
    "Region",
    "Selection",
    "ServiceCategory",
    "StatsFigure",
    "StatsRefresh",
    "StoredFile",
    "StoredFileChunk",
    "SubscriptionCategory",
    "SubscriptionRegion",
]
