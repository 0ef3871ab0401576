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

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select
from sqlmodel import col

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
    """One indexed look-up (app_user.public_id is unique) per authenticated request, sent
    as a single statement on a pooled connection: no transaction around it, so it costs
    one round trip rather than a session's BEGIN, SELECT and ROLLBACK (ops/load). The
    session version rides on the same row, so revocation costs no extra query."""
    database = scope["litestar_app"].state.db
    if database.engine is None:  # tests: sessions bound to one rolled-back connection
        from market.accounts.models import AppUser  # the accounts package imports this module

        async with database.sessionmaker() as session:
            stmt = select(col(AppUser.is_active), AppUser.role, AppUser.session_version).where(
                AppUser.public_id == claims.sub
            )
            row = (await session.execute(stmt)).one_or_none()
    else:
        async with database.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            try:
                row = await driver.fetchrow(
                    "SELECT is_active, role, session_version FROM app_user WHERE public_id = $1", claims.sub
                )
            except BaseException:
                # SQLAlchemy never sees the driver's own errors, so it would pool the
                # connection again even when the error left it mid-operation (PostgreSQL
                # shutting down under the query): the next request then got a 500.
                await connection.invalidate()
                raise
    return row is not None and bool(row[0]) and str(row[1]) == claims.role and int(row[2]) == claims.ver


def _principal(claims: Claims, via: str) -> Principal:
    return Principal(
        public_id=claims.sub, role=claims.role, via=via, version=claims.ver, session_id=claims.sid
    )


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    return connection.scope.get("user")  # type: ignore[return-value]


# Guards are coroutines although they never wait: Litestar runs a plain function guard in
# a worker thread, a hop per guarded request that showed in the bid path's profile.


def _check_login(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    if connection.scope.get("auth") == "invalid-bearer":
        raise Unauthorized(N_("The bearer token is invalid or expired"))
    if current_principal(connection) is None:
        raise Unauthorized()


async def requires_login(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _check_login(connection)


def requires_role(*roles: str):  # type: ignore[no-untyped-def]
    """A guard admitting only the given roles (401 when logged out, 403 otherwise)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        _check_login(connection)
        principal = current_principal(connection)
        assert principal is not None
        if principal.role not in roles:
            raise Forbidden(N_("Your account's role may not open this page or do this."))

    guard.__name__ = "requires_" + "_or_".join(roles)
    return guard
