"""Turning a user into a token or cookie, and a token back into the user row."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service
from market.accounts.models import AppUser
from market.errors import Unauthorized
from market.i18n import N_
from market.security.auth import SESSION_COOKIE, current_principal
from market.security.tokens import issue_token


def issue_for(request: Request[Any, Any, Any], user: AppUser) -> tuple[str, int]:
    settings = request.app.state.settings
    token = issue_token(secret=settings.secret_key, subject=user.public_id, role=user.role, ttl=settings.token_ttl)
    return token, settings.token_ttl


def session_cookie(request: Request[Any, Any, Any], user: AppUser) -> Cookie:
    token, ttl = issue_for(request, user)
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=ttl,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
    )


def cleared_session_cookie() -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax")


async def load_viewer(request: Request[Any, Any, Any], session: AsyncSession) -> AppUser:
    """The logged-in user's row; a token for a removed or deactivated user is refused."""
    principal = current_principal(request)
    if principal is None:
        raise Unauthorized()
    user = await service.get_by_public_id(session, principal.public_id)
    if user is None or not user.is_active or user.role != principal.role:
        raise Unauthorized(N_("This account no longer exists or has changed; log in again"))
    return user


async def optional_viewer(request: Request[Any, Any, Any], session: AsyncSession) -> AppUser | None:
    """The logged-in user, or None: a stale cookie on a public page is just a visitor."""
    principal = current_principal(request)
    if principal is None:
        return None
    user = await service.get_by_public_id(session, principal.public_id)
    if user is None or not user.is_active or user.role != principal.role:
        return None
    return user
