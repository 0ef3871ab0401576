"""Only the hosts this site is configured for are answered (docs/security.md, "Uploads and hosts").

Absolute URLs are built from MARKET_PUBLIC_URL (``Settings.base_url``), never from the
request, so a forged Host cannot end up in a page, a JSON answer or a shell command shown
to a reader. This check is the second half: a request naming another host, or none, gets a
400 before any handler runs, so a cache or proxy in front cannot be handed a page keyed by
a host that is not ours, and a mistake in a future handler cannot echo one. X-Forwarded-Host
is never read.

Litestar's AllowedHostsMiddleware compares the whole header, port included, and case
sensitively (``Example.cn`` or ``127.0.0.1:8000`` would need their own entries), and answers
with a body of its own; this one compares the host name only, as Django's ALLOWED_HOSTS does,
and answers with problem details like every other refusal.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable

from litestar.types import ASGIApp, Receive, Scope, Send

PROBLEM = json.dumps(
    {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "The Host header names a host this site does not serve.",
    }
).encode()


def host_name(header: str) -> str | None:
    """The host name of a Host header value, in the spelling the settings use (lower case,
    IPv6 without brackets), or None when it is not a well-formed ``host[:port]``."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
        try:
            name = str(ipaddress.IPv6Address(name))
        except ValueError:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    # Nothing but an optional ":port" may follow the name.
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6):
        return None
    return name or None


def allowed_hosts_middleware_factory(allowed: Iterable[str]) -> Callable[[ASGIApp], ASGIApp]:
    hosts = frozenset(allowed)

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            values = [v for k, v in scope["headers"] if k == b"host"]
            name = host_name(values[0].decode("latin-1")) if len(values) == 1 else None
            if name in hosts:
                await app(scope, receive, send)
                return
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": ""})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(PROBLEM)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": PROBLEM, "more_body": False})

        return middleware

    return factory
