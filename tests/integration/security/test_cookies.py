"""Every cookie the app sets: HttpOnly, SameSite=Lax, Path=/, and Secure whenever the
request came over https or MARKET_COOKIE_SECURE=1 (then the session and CSRF cookies also
carry the ``__Host-`` prefix)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings
from tests.helpers import PASSWORD, csrf_from, register

# None: the CSRF cookie is no longer the token (the page carries a token bound to the
# session, which the Swagger UI reads from its page), so no script needs to read it.
SCRIPT_READABLE: set[str] = set()


def attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    name_value, *attrs = [part.strip() for part in set_cookie.split(";")]
    parsed = {}
    for attr in attrs:
        key, _, value = attr.partition("=")
        parsed[key.lower()] = value.lower()
    return name_value.split("=", 1)[0], parsed


async def every_set_cookie(
    base_url: str, database_url: str, tmp_path: Path, db: Database, **settings: object
) -> list[str]:
    """The Set-Cookie headers of a whole visit: log-in form, log-in, account, language, log-out."""
    app = create_app(make_settings(database_url, tmp_path, **settings), database=db)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    seen: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        user = await register(client)
        client.cookies.clear()
        steps = [
            ("GET", "/login", None),
            ("POST", "/login", {"email": user["email"], "password": PASSWORD, "next": "/account"}),
            ("GET", "/account", None),
            ("GET", "/lang/en?next=/", None),
            ("POST", "/logout", {}),
        ]
        token = ""
        # Kept by hand: httpx would not send Secure cookies back over http, which is what
        # happens behind a TLS proxy (the browser spoke https to the proxy).
        jar: dict[str, str] = {}
        for method, path, form in steps:
            if form is not None:
                form["_csrf_token"] = token
            cookie_header = "; ".join(f"{k}={v}" for k, v in jar.items())
            response = await client.request(
                method, path, data=form, headers={"cookie": cookie_header} if jar else {}
            )
            client.cookies.clear()
            for cookie in response.headers.get_list("set-cookie"):
                name, value = cookie.split(";", 1)[0].split("=", 1)
                if value and "max-age=0" not in cookie.lower():
                    jar[name] = value
                else:
                    jar.pop(name, None)
            assert response.status_code in (200, 303), (path, response.status_code)
            if "text/html" in response.headers.get("content-type", "") and "_csrf_token" in response.text:
                token = csrf_from(response.text)
            seen += response.headers.get_list("set-cookie")
    names = {attributes(c)[0] for c in seen}
    prefix = "__Host-" if settings.get("cookie_secure") else ""
    assert {f"{prefix}market_session", f"{prefix}market_csrf", "market_flash", "market_lang"} <= names, names
    return seen


async def test_cookies_are_httponly_samesite_and_not_secure_on_plain_http(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    for cookie in await every_set_cookie("http://testserver.local", database_url, tmp_path, db):
        name, attrs = attributes(cookie)
        assert attrs.get("samesite") in ("lax", "strict"), cookie
        assert attrs.get("path") == "/", cookie
        assert ("httponly" in attrs) == (name not in SCRIPT_READABLE), cookie
        assert "secure" not in attrs, cookie  # a developer's http://127.0.0.1 must keep working


@pytest.mark.parametrize(
    ("base_url", "secure_setting"),
    [("http://testserver.local", True), ("https://testserver.local", False)],
    ids=["MARKET_COOKIE_SECURE=1", "request over https"],
)
async def test_cookies_are_secure_behind_https(
    database_url: str, tmp_path: Path, db: Database, base_url: str, secure_setting: bool
) -> None:
    cookies = await every_set_cookie(base_url, database_url, tmp_path, db, cookie_secure=secure_setting)
    for cookie in cookies:
        name, attrs = attributes(cookie)
        assert "secure" in attrs, cookie
        assert attrs.get("samesite") in ("lax", "strict"), cookie
        assert ("httponly" in attrs) == (name not in SCRIPT_READABLE), cookie
    assert all(cookie.lower().count("secure") == 1 for cookie in cookies)  # never twice
