"""CSRF protection for every cookie-authenticated unsafe request, bound to the session.

The token a page carries (form field ``_csrf_token``, or the ``X-CSRFToken`` header that
htmx sends from ``hx-headers``) is an HMAC of the server's secret over what the request
is made in the name of:

- a logged-in session: the account's public id and the session's random id (the token's
  ``sid`` claim, new at every log-in and password change), so a token is good only with
  the session it was issued for;
- a visitor (log-in, registration, a reset link): a random value in the CSRF cookie, set
  on the first page, HttpOnly, and ``__Host-`` prefixed on https.

Litestar's double-submit check compared the form token with a cookie, and any pair the
server had ever signed passed: a cookie planted from a neighbouring subdomain or a plain
http page, with the token that went with it, opened every session (issue 19, item 13).
Now another session's token, or a visitor's, fails against this session, and the prefix
keeps others from planting the visitor's cookie where it matters (https).

An API call that carries a Bearer token, or no session cookie at all, cannot be forged by
another site (the browser adds neither by itself), so it is let through.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from market.security.auth import SESSION_COOKIE, Principal, bearer_token, cookie_name

CSRF_COOKIE = "market_csrf"
CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
REFUSED = "CSRF token verification failed"


def csrf_key(secret: str) -> bytes:
    """A key of its own, derived from the server secret (which also signs the tokens)."""
    return hmac.new(secret.encode(), b"market csrf/1", hashlib.sha256).digest()


def token_for(key: bytes, *, principal: Principal | None, visitor: str | None) -> str | None:
    """The token valid for this request's session (or visitor), or None when there is
    neither: a visitor without the cookie has no token yet (pure)."""
    if principal is not None:
        binding = f"session\x00{principal.public_id}\x00{principal.session_id}"
    elif visitor:
        binding = f"visitor\x00{visitor}"
    else:
        return None
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def csrf_cookie_header(value: str, *, secure: bool) -> bytes:
    """The visitor cookie's Set-Cookie value, as Litestar's Cookie writes it."""
    name = cookie_name(CSRF_COOKIE, secure=secure)
    cookie = Cookie(key=name, value=value, path="/", secure=secure, httponly=True, samesite="lax")
    return cookie.to_header(header="").encode("latin-1")


def csrf_middleware_factory(secret: str, *, secure: bool) -> type:
    key = csrf_key(secret)
    visitor_cookie = cookie_name(CSRF_COOKIE, secure=secure)
    session_cookie = cookie_name(SESSION_COOKIE, secure=secure)

    class SessionBoundCSRF:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or _exempt(scope, session_cookie):
                await self.app(scope, receive, send)
                return
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            principal: Principal | None = scope.get("user")  # set by the auth middleware, which runs first
            visitor = connection.cookies.get(visitor_cookie)
            if scope["method"] in SAFE_METHODS:
                await self.hand_out(scope, receive, send, principal, visitor)
                return
            expected = token_for(key, principal=principal, visitor=visitor)
            given = await _submitted(scope, receive, connection)
            if (
                expected is None
                or given is None
                or not hmac.compare_digest(given.encode(), expected.encode())
            ):
                raise PermissionDeniedException(REFUSED)
            ScopeState.from_scope(scope).csrf_token = expected
            await self.app(scope, receive, send)

        async def hand_out(
            self, scope: Scope, receive: Receive, send: Send, principal: Principal | None, visitor: str | None
        ) -> None:
            """A safe request: nothing to check; the page gets its token, and a browser
            without the visitor cookie gets one (written here rather than through a
            Response: public pages are fetched cookie-less by visitors and crawlers, and
            building cookies per answer was a tenth of their time)."""
            fresh = None if visitor else secrets.token_urlsafe(32)
            # Never None here: a browser without the visitor cookie gets a fresh one.
            ScopeState.from_scope(scope).csrf_token = (
                token_for(key, principal=principal, visitor=visitor or fresh) or ""
            )
            if fresh is None:
                await self.app(scope, receive, send)
                return
            header = (b"set-cookie", csrf_cookie_header(fresh, secure=secure))

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_cookie)

    return SessionBoundCSRF


async def _submitted(
    scope: Scope, receive: Receive, connection: ASGIConnection[Any, Any, Any, Any]
) -> str | None:
    """The token the request carries: the header (htmx, API clients), else the form field.
    The form is parsed by Litestar's Request, which keeps it for the handler to read again."""
    if header := connection.headers.get(CSRF_HEADER):
        return header
    request = scope["litestar_app"].request_class(scope=scope, receive=receive)
    content_type, _ = request.content_type
    if content_type not in {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}:
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) and value else None


def _exempt(scope: HTTPScope, session_cookie: str) -> bool:
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
    return session_cookie not in connection.cookies
