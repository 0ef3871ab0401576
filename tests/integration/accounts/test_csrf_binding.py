"""Issue 19 item 13: the CSRF token is bound to the session it was issued for, and on https
the cookies carry the ``__Host-`` prefix. Before, the token was a double-submit cookie: a
cookie planted in the victim's browser (from a subdomain or a plain-http page), with the
token that went with it, passed for any session."""

from __future__ import annotations

from pathlib import Path

import httpx
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database
from market.security.auth import SESSION_COOKIE
from market.security.csrf import CSRF_COOKIE
from tests.conftest import make_settings, serve_in_process
from tests.helpers import PASSWORD, bearer, csrf_from, register, token_for


async def logged_in(client: AsyncClient, email: str) -> str:
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"_csrf_token": csrf_from(form.text), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return csrf_from((await client.get("/account")).text)


async def test_a_planted_csrf_cookie_and_its_token_no_longer_pass(app: Litestar, client: AsyncClient) -> None:
    victim = await register(client)
    attacker = await register(client, role="agency")
    client.cookies.clear()
    victims_token = await logged_in(client, victim["email"])
    session = client.cookies[SESSION_COOKIE]

    async with serve_in_process(app) as evil:
        # What an attacker can get for free: a visitor's cookie and its token...
        visit = await evil.get("/login")
        planted_cookie, planted_token = evil.cookies[CSRF_COOKIE], csrf_from(visit.text)
        # ...and, logged in as themself, a token of their own session.
        own_session_token = await logged_in(evil, attacker["email"])

    forged = {
        "planted visitor cookie with its token": (planted_cookie, planted_token),
        "the planted cookie's value as the token": (planted_cookie, planted_cookie),
        "the attacker's own session token": (planted_cookie, own_session_token),
    }
    async with serve_in_process(app) as browser:  # the victim's browser, cookie planted
        for case, (cookie, token) in forged.items():
            headers = {"Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={cookie}"}
            response = await browser.post(
                "/logout", data={"_csrf_token": token}, headers=headers, follow_redirects=False
            )
            assert response.status_code == 403 and "CSRF" in response.text, case
            api = await browser.post("/api/v1/auth/logout", headers={**headers, "X-CSRFToken": token})
            assert api.status_code == 403, case
        # The victim is still logged in: none of it ended the session.
        still = await browser.get("/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
        assert still.status_code == 200 and still.json()["id"] == victim["id"]

    # The control: the victim's own page token passes.
    response = await client.post("/logout", data={"_csrf_token": victims_token}, follow_redirects=False)
    assert response.status_code == 303


async def test_visitor_forms_need_the_token_of_their_own_browser(app: Litestar, client: AsyncClient) -> None:
    user = await register(client)
    client.cookies.clear()
    async with serve_in_process(app) as other:
        someone_elses = csrf_from((await other.get("/login")).text)
    await client.get("/login")
    response = await client.post(
        "/login", data={"_csrf_token": someone_elses, "email": user["email"], "password": PASSWORD}
    )
    assert response.status_code == 403
    mine = csrf_from((await client.get("/login")).text)
    response = await client.post(
        "/login",
        data={"_csrf_token": mine, "email": user["email"], "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303


async def test_htmx_requests_send_the_session_token_in_the_header(client: AsyncClient) -> None:
    user = await register(client, role="owner")
    client.cookies.clear()
    token = await logged_in(client, user["email"])
    page = (await client.get("/")).text
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    response = await client.post("/api/v1/auth/logout", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 204


async def test_a_new_session_gets_a_new_token(client: AsyncClient) -> None:
    user = await register(client)
    client.cookies.clear()
    first = await logged_in(client, user["email"])
    client.cookies.delete(SESSION_COOKIE)
    second = await logged_in(client, user["email"])
    assert first != second
    # The first session's token does not work in the second.
    response = await client.post("/logout", data={"_csrf_token": first}, follow_redirects=False)
    assert response.status_code == 403


async def test_on_https_the_cookies_carry_the_host_prefix(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    app = create_app(make_settings(database_url, tmp_path, cookie_secure=True), database=db)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as client:
        user = await register(client)
        plain_token = await token_for(client, user["email"])
        form = await client.get("/login")
        csrf_cookie = form.headers["set-cookie"]
        assert csrf_cookie.startswith(f"__Host-{CSRF_COOKIE}=")
        attrs = {a.strip().split("=")[0].lower() for a in csrf_cookie.split(";")[1:]}
        assert {"path", "secure", "httponly", "samesite"} <= attrs and "domain" not in attrs
        response = await client.post(
            "/login",
            data={"_csrf_token": csrf_from(form.text), "email": user["email"], "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
        session_cookie = next(c for c in response.headers.get_list("set-cookie") if "session" in c)
        assert (
            session_cookie.startswith(f"__Host-{SESSION_COOKIE}=")
            and "Secure" in session_cookie
            and "Path=/" in session_cookie
        )
        assert (await client.get("/account", follow_redirects=False)).status_code == 200

        # An unprefixed cookie, which a subdomain or an http:// page could set, is not read.
        client.cookies.clear()
        response = await client.get(
            "/account", headers={"Cookie": f"{SESSION_COOKIE}={plain_token}"}, follow_redirects=False
        )
        assert response.status_code == 303
        visit = await client.get("/login")
        token = csrf_from(visit.text)
        planted = await client.post(
            "/login",
            data={"_csrf_token": token, "email": user["email"], "password": PASSWORD},
            headers={"Cookie": f"{CSRF_COOKIE}={client.cookies[f'__Host-{CSRF_COOKIE}']}"},
        )
        assert planted.status_code == 403
        # Bearer calls are unaffected by any of it.
        assert (await client.get("/api/v1/me", headers=bearer(plain_token))).status_code == 200


async def test_the_swagger_ui_gets_the_token_of_the_session(client: AsyncClient) -> None:
    """Its "Try it out" sends the token with a cookie session (static/js/swagger-init.js):
    it used to read the CSRF cookie, which is no longer the token nor readable by scripts."""
    user = await register(client)
    client.cookies.clear()
    token = await logged_in(client, user["email"])
    ui = await client.get("/schema")
    assert f'data-csrf-token="{token}"' in ui.text and "data-csrf-cookie" not in ui.text
    assert (await client.post("/api/v1/auth/logout", headers={"X-CSRFToken": token})).status_code == 204
