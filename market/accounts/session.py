"""Turning a user into a token or cookie, and a token back into the user row."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import AppUser
from market.core.errors import Unauthorized
from market.core.i18n import N_
from market.security.auth import SESSION_COOKIE, Principal, cookie_name, current_principal
from market.security.tokens import issue_token


def issue_for(request: Request[Any, Any, Any], user: AppUser) -> tuple[str, int]:
    settings = request.app.state.settings
    # A new session id each time: the CSRF token of the new session differs from the old's.
    token = issue_token(
        secret=settings.secret_key,
        subject=user.public_id,
        role=user.role,
        ttl=settings.token_ttl,
        version=user.session_version,
    )
    return token, settings.token_ttl


def session_cookie(request: Request[Any, Any, Any], user: AppUser) -> Cookie:
    token, ttl = issue_for(request, user)
    secure = request.app.state.settings.cookie_secure
    return Cookie(
        key=cookie_name(SESSION_COOKIE, secure=secure),
        value=token,
        max_age=ttl,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def cleared_session_cookie(request: Request[Any, Any, Any]) -> Cookie:
    secure = request.app.state.settings.cookie_secure
    return Cookie(
        key=cookie_name(SESSION_COOKIE, secure=secure),
        value="",
        max_age=0,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def _still_current(user: AppUser | None, principal: Principal) -> bool:
    """The auth middleware checked this a moment ago; checked again on the row the handler
    acts on, inside its transaction, so a revocation in between is not missed."""
    return (
        user is not None
        and user.is_active
        and user.role == principal.role
        and user.session_version == principal.version
    )


async def load_viewer(request: Request[Any, Any, Any], session: AsyncSession) -> AppUser:
    """The logged-in user's row; a token for a removed or deactivated user, or one issued
    before the account's sessions were ended, is refused."""
    principal = current_principal(request)
    if principal is None:
        raise Unauthorized()
    user = await service.get_by_public_id(session, principal.public_id)
    if not _still_current(user, principal):
        raise Unauthorized(N_("This account no longer exists or has changed; log in again"))
    assert user is not None
    return user


async def optional_viewer(request: Request[Any, Any, Any], session: AsyncSession) -> AppUser | None:
    """The logged-in user, or None: a stale cookie on a public page is just a visitor."""
    principal = current_principal(request)
    if principal is None:
        return None
    user = await service.get_by_public_id(session, principal.public_id)
    return user if _still_current(user, principal) else None
