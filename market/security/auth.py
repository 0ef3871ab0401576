"""Who is asking: a Bearer token (API clients) or the HttpOnly session cookie (pages).

The middleware only decodes; it never refuses. Guards refuse, so that public pages still
work for visitors with a stale cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from market.errors import Forbidden, Unauthorized
from market.i18n import N_
from market.security.tokens import Claims, decode_token

SESSION_COOKIE = "market_session"


@dataclass(frozen=True)
class Principal:
    """The caller as the token names them; the user row is loaded only when needed."""

    public_id: str
    role: str
    via: str  # "bearer" or "cookie"


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
            secret = scope["litestar_app"].state.settings.secret_key
            principal: Principal | None = None
            bad_bearer = False
            if token := bearer_token(conn.headers):
                claims = decode_token(token, secret=secret)
                if claims is None:
                    bad_bearer = True
                else:
                    principal = _principal(claims, "bearer")
            elif cookie := conn.cookies.get(SESSION_COOKIE):
                claims = decode_token(cookie, secret=secret)
                principal = _principal(claims, "cookie") if claims else None
            scope["user"] = principal
            scope["auth"] = "invalid-bearer" if bad_bearer else (principal.via if principal else None)
        await app(scope, receive, send)

    return middleware


def _principal(claims: Claims, via: str) -> Principal:
    return Principal(public_id=claims.sub, role=claims.role, via=via)


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    return connection.scope.get("user")  # type: ignore[return-value]


def requires_login(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("auth") == "invalid-bearer":
        raise Unauthorized(N_("The bearer token is invalid or expired"))
    if current_principal(connection) is None:
        raise Unauthorized()


def requires_role(*roles: str):  # type: ignore[no-untyped-def]
    """A guard admitting only the given roles (401 when logged out, 403 otherwise)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        requires_login(connection, handler)
        principal = current_principal(connection)
        assert principal is not None
        if principal.role not in roles:
            raise Forbidden(N_("Your account's role may not open this page or do this."))

    guard.__name__ = "requires_" + "_or_".join(roles)
    return guard
