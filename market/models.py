"""Every table model, imported once so that SQLModel.metadata (and Alembic) knows them all."""

from market.accounts.models import AppUser
from market.agencies.models import Agency, AgencyCategory, AgencyDocument, AgencyReview, Qualification
from market.log.models import LogCheckpoint, LogEntry, LogSubtree
from market.reference.models import CategoryLevel, Region, ServiceCategory

__all__ = [
    "Agency",
    "AgencyCategory",
    "AgencyDocument",
    "AgencyReview",
    "AppUser",
    "CategoryLevel",
    "LogCheckpoint",
    "LogEntry",
    "LogSubtree",
    "Qualification",
    "Region",
    "ServiceCategory",
]
