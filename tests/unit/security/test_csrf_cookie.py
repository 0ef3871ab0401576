"""The session-bound CSRF middleware without a server: the visitor cookie it writes itself
(byte for byte what Litestar's Cookie would set, HttpOnly, ``__Host-`` on https), and which
token passes with which session."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.datastructures import Cookie
from litestar.exceptions import PermissionDeniedException
from litestar.utils.scope.state import ScopeState

from market.security.auth import Principal
from market.security.csrf import CSRF_COOKIE, csrf_key, csrf_middleware_factory, token_for

SECRET = "s" * 32
ALICE = Principal(public_id="U-000001", role="owner", via="cookie", version=0, session_id="alice-session")
ALICE_ELSEWHERE = Principal(
    public_id="U-000001", role="owner", via="cookie", version=0, session_id="alice-laptop"
)
MALLORY = Principal(public_id="U-000002", role="owner", via="cookie", version=0, session_id="mallory-session")


def scope_for(
    path: str,
    method: str = "GET",
    cookie: str | None = None,
    user: Principal | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    if token is not None:
        headers.append((b"x-csrftoken", token.encode()))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
        "user": user,
    }


async def answer(secure: bool, scope: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], str | None]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["token"] = ScopeState.from_scope(scope).csrf_token
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    middleware = csrf_middleware_factory(SECRET, secure=secure)(app)
    await middleware(scope, receive, send)
    return list(sent[0]["headers"]), seen["token"]


@pytest.mark.parametrize("secure", [False, True])
async def test_a_page_without_the_cookie_gets_an_httponly_visitor_cookie(secure: bool) -> None:
    headers, token = await answer(secure, scope_for("/notices"))
    cookies = [v.decode() for k, v in headers if k == b"set-cookie"]
    assert token and len(cookies) == 1
    name = ("__Host-" if secure else "") + CSRF_COOKIE
    value = cookies[0].split(";")[0].split("=", 1)[1]
    expected = Cookie(
        key=name, value=value, path="/", secure=secure, httponly=True, samesite="lax"
    ).to_header(header="")
    assert cookies[0] == expected
    # The page's token is derived from the cookie, never the cookie itself.
    assert token != value and token == token_for(csrf_key(SECRET), principal=None, visitor=value)
    assert (b"content-type", b"text/html") in headers


async def test_a_browser_that_has_the_cookie_keeps_it_and_gets_no_new_one() -> None:
    headers, token = await answer(
        False, scope_for("/notices", cookie=f"{CSRF_COOKIE}=abc123; market_lang=en")
    )
    assert token == token_for(csrf_key(SECRET), principal=None, visitor="abc123")
    assert not [v for k, v in headers if k == b"set-cookie"]


async def test_on_https_the_unprefixed_cookie_is_not_read() -> None:
    """A plain ``market_csrf`` can be planted from http:// or a subdomain; the site on https
    reads only ``__Host-market_csrf``, which neither can set."""
    headers, _ = await answer(True, scope_for("/notices", cookie=f"{CSRF_COOKIE}=planted"))
    assert [v for k, v in headers if k == b"set-cookie"]  # treated as a browser without the cookie


async def test_each_cookie_less_visitor_gets_a_fresh_token() -> None:
    (_, first), (_, second) = (
        await answer(False, scope_for("/agencies")),
        await answer(False, scope_for("/agencies")),
    )
    assert first != second


async def test_a_logged_in_page_gets_the_token_of_its_session() -> None:
    _, token = await answer(False, scope_for("/account", cookie=f"{CSRF_COOKIE}=abc123", user=ALICE))
    key = csrf_key(SECRET)
    assert token == token_for(key, principal=ALICE, visitor=None)
    assert token not in {
        token_for(key, principal=ALICE_ELSEWHERE, visitor=None),
        token_for(key, principal=None, visitor="abc123"),
    }


async def test_a_token_passes_only_with_the_session_it_was_issued_for() -> None:
    key = csrf_key(SECRET)
    mine = token_for(key, principal=ALICE, visitor=None)
    _, seen = await answer(
        False, scope_for("/logout", "POST", cookie=f"{CSRF_COOKIE}=abc", user=ALICE, token=mine)
    )
    assert seen == mine
    refused = {
        "another session of the same account": (ALICE_ELSEWHERE, mine),
        "the attacker's own session's token": (ALICE, token_for(key, principal=MALLORY, visitor=None)),
        "a planted visitor cookie with its token": (ALICE, token_for(key, principal=None, visitor="abc")),
        "the visitor cookie itself": (ALICE, "abc"),
    }
    for case, (principal, token) in refused.items():
        with pytest.raises(PermissionDeniedException):
            await answer(
                False, scope_for("/logout", "POST", cookie=f"{CSRF_COOKIE}=abc", user=principal, token=token)
            )
        assert case


async def test_a_visitor_form_needs_the_token_of_its_own_cookie() -> None:
    key = csrf_key(SECRET)
    _, seen = await answer(
        False,
        scope_for(
            "/login", "POST", cookie=f"{CSRF_COOKIE}=abc", token=token_for(key, principal=None, visitor="abc")
        ),
    )
    assert seen
    with pytest.raises(PermissionDeniedException):
        await answer(
            False,
            scope_for(
                "/login",
                "POST",
                cookie=f"{CSRF_COOKIE}=abc",
                token=token_for(key, principal=None, visitor="xyz"),
            ),
        )
    with pytest.raises(PermissionDeniedException):  # no cookie: no token can be right
        await answer(False, scope_for("/login", "POST", token=token_for(key, principal=None, visitor="abc")))
