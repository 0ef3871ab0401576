"""Every table model, imported once so that SQLModel.metadata (and Alembic) knows them all."""

from market.accounts.models import AppUser
from market.log.models import LogCheckpoint, LogEntry, LogSubtree

__all__ = ["AppUser", "LogCheckpoint", "LogEntry", "LogSubtree"]
