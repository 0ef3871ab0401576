"""CSRF protection for every cookie-authenticated unsafe request.

Litestar's double-submit middleware does the checking; this wrapper only decides when it
applies. An API call that carries a Bearer token, or no session cookie at all, cannot be
forged by another site (the browser adds neither by itself), so it is let through;
everything else, htmx included, must send the token (form field or X-CSRFToken header).
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from market.security.auth import SESSION_COOKIE, bearer_token

CSRF_COOKIE = "market_csrf"
CSRF_HEADER = "x-csrftoken"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def csrf_middleware_factory(secret: str, *, secure: bool) -> type:
    config = CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_samesite="lax",
        cookie_secure=secure,
        cookie_httponly=False,
    )

    # The cookie's attributes as Litestar's Cookie writes them (tests/unit/security/test_csrf_cookie.py).
    attributes = "; Path=/; SameSite=lax" + ("; Secure" if secure else "")

    class ConditionalCSRF:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app
            self.checked = CSRFMiddleware(app=app, config=config)

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and _exempt(scope):
                await self.app(scope, receive, send)
                return
            if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
                await self.hand_out(scope, receive, send)
                return
            await self.checked(scope, receive, send)

        async def hand_out(self, scope: Scope, receive: Receive, send: Send) -> None:
            """What Litestar's middleware does for a safe request (nothing to check; the
            page gets a token, and the browser the cookie when it has none), without
            building a Request and an http.cookies cookie per answer: on the public pages,
            which visitors and crawlers fetch cookie-less, those were a tenth of the time."""
            cookie = ASGIConnection(scope).cookies.get(CSRF_COOKIE)
            token = ScopeState.from_scope(scope).csrf_token = cookie or generate_csrf_token(secret=secret)
            if cookie:
                await self.app(scope, receive, send)
                return
            header = (b"set-cookie", f"{CSRF_COOKIE}={token}{attributes}".encode("latin-1"))

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_cookie)

    return ConditionalCSRF


def _exempt(scope: Scope) -> bool:
    """Headers and cookies are read exactly as the auth middleware reads them (Litestar's
    parsers), so the two cannot disagree: a request split over several Cookie headers, or
    with odd spacing, is never "cookie-less" here and logged in there."""
    if not scope["path"].startswith("/api/"):
        return False
    if scope["method"] in SAFE_METHODS:
        # Nothing to check, and no form to carry a token: an API answer needs no CSRF
        # cookie (pages hand it out), and setting one cost every public read its signing.
        return True
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    if bearer_token(connection.headers):
        # The session cookie is then ignored altogether (auth.py), so nothing rides on it.
        return True
    return SESSION_COOKIE not in connection.cookies
