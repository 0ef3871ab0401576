"""Pure rules of staff powers over accounts (no I/O): which accounts an administrator's
jurisdiction reaches, where it may grant which staff role, and which staff it may move or
revoke. The tree itself is market/halls/rules.py; the power map is issue 21's.

- An account's place: a staff account's is its jurisdiction; an owner's is its
  organisation's hall; an agency account's is its agency's registered region; an account
  with neither (an owner before registering an organisation) is the province's.
- Staff accounts are reached only from strictly above, or by the province (never oneself).
- Grants: ``supervisor`` at any hall the administrator reaches; ``admin`` only strictly
  below its own jurisdiction (province administrators come from ``market users create``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from market.core.i18n import N_
from market.halls import rules as halls

OUTSIDE: Final = N_("This is outside your jurisdiction.")
STAFF: Final = ("admin", "supervisor")


@dataclass(frozen=True)
class Place:
    """Where an account sits in the tree, as the rules need it."""

    role: str
    jurisdiction: str | None = None  # staff
    org_hall: str | None = None  # an owner's organisation's hall
    agency_region: str | None = None  # an agency account's agency's region

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def code(self) -> str:
        """The hall or region code whose reach decides who may act on the account."""
        if self.is_staff:
            return self.jurisdiction or halls.PROVINCE
        return self.org_hall or self.agency_region or halls.PROVINCE


def manages_staff(scope: str | None, jurisdiction: str | None) -> bool:
    """Whether powers held at ``scope`` reach a staff account held at ``jurisdiction``:
    from strictly above it, or from the province (which reaches its own level too)."""
    if scope is None:
        return False
    target = jurisdiction or halls.PROVINCE
    return scope == halls.PROVINCE or halls.strictly_above(scope, target)


def reaches_account(scope: str | None, place: Place) -> bool:
    """Whether powers held at ``scope`` reach the account at ``place`` (the actor's own
    account is excluded by the callers, who know the ids)."""
    if place.is_staff:
        return manages_staff(scope, place.jurisdiction)
    return halls.reaches(scope, place.code)


def may_grant(scope: str | None, role: str, at: str) -> bool:
    """Whether an administrator holding ``scope`` may grant ``role`` at hall ``at``."""
    if scope is None or role not in STAFF:
        return False
    if role == "supervisor":
        return halls.reaches(scope, at)
    return halls.strictly_above(scope, at)


def grantable(scope: str | None, role: str, halls_: list[str]) -> list[str]:
    """The halls among ``halls_`` where ``role`` may be granted from ``scope``, in code order."""
    return sorted(h for h in halls_ if may_grant(scope, role, h))


def may_move(scope: str | None, role: str, from_: str | None, to: str) -> bool:
    """A move takes a staff account its administrator manages to a hall where it could
    grant that role."""
    return manages_staff(scope, from_) and may_grant(scope, role, to)
