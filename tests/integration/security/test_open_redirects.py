"""Every redirect whose target comes from the request goes only to a local path: the
log-in (the form's hidden field and the redirect after it), the language switch, and the
log-in redirect of a protected page. Log-out and every other redirect use fixed paths,
and none reads the Referer header."""

from __future__ import annotations

from urllib.parse import quote

from httpx import AsyncClient

from tests.helpers import PASSWORD, csrf_from, register
from tests.unit.security.test_redirects import EVIL

# What httpx can put in a URL or a form (NUL and raw CR/LF go in encoded).
TARGETS = [t for t in EVIL if len(t) < 100]


def location_is_local(location: str) -> bool:
    return (
        location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
        and "\n" not in location
    )


async def test_language_switch_never_leaves_the_site(client: AsyncClient) -> None:
    for target in TARGETS:
        response = await client.get(f"/lang/en?next={quote(target, safe='')}")
        assert response.status_code == 303, target
        assert response.headers["location"] == "/", target
    # The control: a local path, Chinese and all, is kept (encoded once).
    response = await client.get(f"/lang/en?next={quote('/agencies?q=环评', safe='')}")
    assert response.headers["location"] == "/agencies?q=%E7%8E%AF%E8%AF%84"


async def test_the_login_form_does_not_carry_a_foreign_next(client: AsyncClient) -> None:
    for target in TARGETS:
        response = await client.get(f"/login?next={quote(target, safe='')}")
        assert response.status_code == 200, target
        assert 'name="next" value="/dashboard"' in response.text, target


async def test_login_redirects_only_to_local_paths(client: AsyncClient) -> None:
    user = await register(client)
    client.cookies.clear()
    # Each log-in costs an argon2 verification, so a sample here; the whole table goes
    # through the same safe_next in the language switch above and in the unit test.
    sample = [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "/%2F/evil.example",
        "/\r\nSet-Cookie: a=b",
    ]
    for target in [*sample, "/account"]:
        form = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "_csrf_token": csrf_from(form.text),
                "email": user["email"],
                "password": PASSWORD,
                "next": target,
            },
        )
        assert response.status_code == 303, target
        assert response.headers["location"] == ("/account" if target == "/account" else "/dashboard"), target
        client.cookies.delete("market_session")


async def test_a_protected_page_sends_to_login_with_a_local_next(client: AsyncClient) -> None:
    response = await client.get("//evil.example/account", headers={"Accept": "text/html"})
    location = response.headers.get("location", "/")
    assert location_is_local(location)
    response = await client.get("/account?x=//evil.example", headers={"Accept": "text/html"})
    assert (
        response.status_code == 303
        and response.headers["location"] == "/login?next=%2Faccount%3Fx%3D%2F%2Fevil.example"
    )


async def test_a_referer_does_not_steer_any_redirect(client: AsyncClient) -> None:
    evil = {"Referer": "https://evil.example/", "Accept": "text/html"}
    assert (await client.get("/lang/en", headers=evil)).headers["location"] == "/"
    form = await client.get("/login")
    response = await client.post("/logout", data={"_csrf_token": csrf_from(form.text)}, headers=evil)
    assert response.status_code == 303 and response.headers["location"] == "/"
