"""The reach of a scoped administrator over the accounts, as the one WHERE clause the
accounts pages used before issue 24: the reference the kept counts and the indexed pages
are tested against (test_counts.py, test_users_scope.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.accounts.models import STAFF_ROLES, AppUser, Role
from market.agencies.models import Agency
from market.halls import rules as halls_rules
from market.halls.queries import codes_under
from market.notices.models import OwnerOrg
from market.reference import regions


async def reach_filter(session: AsyncSession, scope: str | None) -> sa.ColumnElement[bool] | None:
    """The accounts ``scope`` reaches, as a WHERE clause; None for the province (no filter).
    What the admins' counts and scoped accounts list read before issue 24, and what the kept
    counts (AccountCount) and ``service._scoped_page`` are held equal to: too slow for a page
    at scale (it decides every account in turn)."""
    if scope is None:
        return sa.false()
    codes = await codes_under(session, scope)
    if codes is None:
        return None
    below = [c for c in codes if c != scope]
    staff = sa.and_(
        col(AppUser.role).in_([r.value for r in STAFF_ROLES]), col(AppUser.jurisdiction).in_(below)
    )
    owners = sa.and_(
        col(AppUser.role) == Role.owner.value,
        sa.exists().where(col(OwnerOrg.created_by) == col(AppUser.id), col(OwnerOrg.hall).in_(codes)),
    )
    clauses = [staff, owners]
    if halls_rules.kind_of(scope) != "park":  # a park holds no registered region
        clauses.append(
            sa.and_(
                col(AppUser.role) == Role.agency.value,
                sa.exists().where(
                    col(Agency.owner_id) == col(AppUser.id),
                    col(Agency.region).startswith(regions.scope_prefix(scope[:6]), autoescape=True),
                ),
            )
        )
    return sa.or_(*clauses)
