"""Every table model, imported once so that SQLModel.metadata (and Alembic) knows them all."""

from market.accounts.models import AppUser

__all__ = ["AppUser"]
