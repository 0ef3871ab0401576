"""Security headers on every response: pages, API, static files and errors.

The Content-Security-Policy allows scripts, styles, fonts and connections only from this
origin, and no inline script or style at all: the templates carry none (htmx's indicator
style is turned off by a meta tag and lives in market.css; the draw page's code is
static/js/draw.js; the Swagger UI is started by static/js/swagger-init.js, see
market/security/swagger.py). ``'unsafe-eval'`` is not needed: no template uses htmx's
evaluated attributes (``hx-on``, ``js:`` values, trigger filters), and htmx is told so
(``allowEval: false``). ``img-src`` admits ``data:`` for the icons Swagger UI's stylesheet
embeds; nothing else is loaded from elsewhere.

A response that sets its own policy keeps it (served uploads set a stricter one), and any
header a handler set is left alone; the rest are added here. Answers to an authenticated
caller get ``Cache-Control: no-store`` unless the handler chose a caching policy itself.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# What a served upload gets instead: it is shown on its own (a PDF or an image), never runs
# anything, and cannot be framed or reach out.
# (The inline style is the browser's own image viewer page; sandbox: no script, no forms,
# an origin of its own.)
UPLOAD_CONTENT_SECURITY_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    # For browsers that predate frame-ancestors.
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Our URLs name notices, agencies and supervision pages; no other site needs to see them.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

# Sent only where the browser reached us over HTTPS (or MARKET_COOKIE_SECURE says we are
# behind it): over plain http the header is ignored anyway, and on a developer's loopback
# it would pin localhost to https.
HSTS = "max-age=31536000"


def upload_headers() -> dict[str, str]:
    """Headers for a served upload (an agency document or a deliverable)."""
    return {
        "Content-Security-Policy": UPLOAD_CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar's ``before_send`` hook: it sees every response the app sends, including the
    404 and 405 answers of the router, which route middleware never wraps."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    # An answer to a logged-in caller may hold what only it may read (its bids with their
    # prices and salts, its messages, its account): no browser or proxy keeps a copy, unless
    # the handler said the answer is public (the receipt key, static files).
    if scope.get("user") is not None and "cache-control" not in headers:
        headers["cache-control"] = "no-store"
    app = scope.get("litestar_app")
    https = scope.get("scheme") == "https" or (app is not None and app.state.settings.cookie_secure)
    if https:
        if "strict-transport-security" not in headers:
            headers["strict-transport-security"] = HSTS
        message["headers"] = [
            (name, secure_cookie(value) if name.lower() == b"set-cookie" else value)
            for name, value in message["headers"]
        ]


def secure_cookie(set_cookie: bytes) -> bytes:
    """Mark a Set-Cookie Secure. Done here, for every cookie the app sets (session, CSRF,
    language, flash notes), so none can be forgotten: a request that came over https, or
    any request when MARKET_COOKIE_SECURE=1 says a TLS proxy stands in front."""
    attributes = {part.strip().split(b"=", 1)[0].lower() for part in set_cookie.split(b";")[1:]}
    return set_cookie if b"secure" in attributes else set_cookie + b"; Secure"
