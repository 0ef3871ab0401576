"""Hand-written SQL of the accounts' hot paths (the auth middleware's look-up, on every
authenticated request). Imports nothing from the rest of ``market``: the security package
uses it, and the accounts package imports the security package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SESSION_STATE = "SELECT is_active, role, session_version FROM app_user WHERE public_id = $1"


@dataclass(frozen=True)
class SessionState:
    """What a token is checked against: the account is active, has the role the token
    names and is still at the session version the token carries."""

    is_active: bool
    role: str
    session_version: int


async def session_state(driver: Any, public_id: str) -> SessionState | None:
    """One indexed look-up (app_user.public_id is unique) on a bare asyncpg connection."""
    row = await driver.fetchrow(SESSION_STATE, public_id)
    if row is None:
        return None
    return SessionState(is_active=bool(row[0]), role=str(row[1]), session_version=int(row[2]))
