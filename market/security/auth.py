"""Who is asking: a Bearer token (API clients) or the HttpOnly session cookie (pages).

The middleware never refuses; guards do, so that public pages still work for visitors with
a stale cookie. It decodes the token and then asks the database whether its user still
exists, is active, has the role the token names and is still at the session version the
token carries: log-out, a password change or reset and deactivation raise the version, so
every token issued before stops working at that moment, cookie and Bearer alike (without
the check a token outlived all of them by up to MARKET_TOKEN_TTL). That is the one
indexed look-up the middleware already made for the active flag and the role, with one
more column. A refused token reads as logged out (pages) or invalid (Bearer: 401).

With MARKET_COOKIE_SECURE (the site is served over https) the session cookie is named
``__Host-market_session``: the browser then accepts it only from this host, over https,
for the whole site, so a neighbouring subdomain or a plain-http page cannot plant one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from market.accounts.queries import session_state
from market.core.errors import Forbidden, Unauthorized
from market.core.i18n import N_
from market.security.tokens import Claims, decode_token

SESSION_COOKIE = "market_session"
# The browser keeps a cookie with this prefix only if it is Secure, has Path=/ and no
# Domain: no other host (a subdomain) and no http:// page can set or overwrite it.
HOST_PREFIX = "__Host-"


def cookie_name(name: str, *, secure: bool) -> str:
    """``name`` as this site sets and reads it: with the ``__Host-`` prefix on https."""
    return HOST_PREFIX + name if secure else name


@dataclass(frozen=True)
class Principal:
    """The caller as the token names them; the user row is loaded only when needed."""

    public_id: str
    role: str
    via: str  # "bearer" or "cookie"
    version: int  # the account's session version the token was issued at
    session_id: str  # this session's random id (the CSRF token is bound to it)


def bearer_token(headers: dict[str, str] | Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def auth_middleware_factory(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            conn: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            settings = scope["litestar_app"].state.settings
            secret = settings.secret_key
            principal: Principal | None = None
            bad_bearer = False
            if token := bearer_token(conn.headers):
                claims = decode_token(token, secret=secret)
                if claims is None or not await _user_is_current(scope, claims):
                    bad_bearer = True
                else:
                    principal = _principal(claims, "bearer")
            elif cookie := conn.cookies.get(cookie_name(SESSION_COOKIE, secure=settings.cookie_secure)):
                claims = decode_token(cookie, secret=secret)
                if claims is not None and await _user_is_current(scope, claims):
                    principal = _principal(claims, "cookie")
            scope["user"] = principal
            scope["auth"] = "invalid-bearer" if bad_bearer else (principal.via if principal else None)
        await app(scope, receive, send)

    return middleware


async def _user_is_current(scope: Scope, claims: Claims) -> bool:
    """One indexed look-up per authenticated request, sent as a single statement on a
    pooled connection (Database.single_statement). The session version rides on the same
    row, so revocation costs no extra query."""
    async with scope["litestar_app"].state.db.single_statement() as driver:
        state = await session_state(driver, claims.sub)
    return (
        state is not None
        and state.is_active
        and state.role == claims.role
        and state.session_version == claims.ver
    )


def _principal(claims: Claims, via: str) -> Principal:
    return Principal(
        public_id=claims.sub, role=claims.role, via=via, version=claims.ver, session_id=claims.sid
    )


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    principal: Principal | None = connection.scope.get("user")
    return principal


# Guards are coroutines although they never wait: Litestar runs a plain function guard in
# a worker thread, a hop per guarded request that showed in the bid path's profile.


def _check_login(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    if connection.scope.get("auth") == "invalid-bearer":
        raise Unauthorized(N_("The bearer token is invalid or expired"))
    if current_principal(connection) is None:
        raise Unauthorized()


async def requires_login(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _check_login(connection)


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def requires_role(*roles: str) -> Guard:
    """A guard admitting only the given roles (401 when logged out, 403 otherwise)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        _check_login(connection)
        principal = current_principal(connection)
        assert principal is not None
        if principal.role not in roles:
            raise Forbidden(N_("Your account's role may not open this page or do this."))

    guard.__name__ = "requires_" + "_or_".join(roles)
    return guard
