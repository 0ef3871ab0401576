"""Account pages: forms, cookies, CSRF, role guards."""

from __future__ import annotations

from httpx import AsyncClient

from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import PASSWORD, create_staff, csrf_from, register, unique_email


async def _form(client: AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200
    return csrf_from(response.text)


async def test_register_page_creates_the_account_and_logs_in(client: AsyncClient) -> None:
    token = await _form(client, "/register")
    email = unique_email()
    response = await client.post(
        "/register",
        data={
            "_csrf_token": token,
            "role": "agency",
            "name": "云南测绘院",
            "email": email,
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    # A new account lands where its first task is (issue 22): for an agency, registering it.
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    assert "market_session" in response.cookies
    landing = await client.get("/dashboard")
    assert landing.status_code == 200 and 'id="next-task"' in landing.text and "/agency" in landing.text
    page = await client.get("/account")
    assert page.status_code == 200 and email in page.text and "云南测绘院" in page.text


async def test_register_page_shows_errors_beside_fields_and_keeps_values(client: AsyncClient) -> None:
    token = await _form(client, "/register")
    response = await client.post(
        "/register",
        data={"_csrf_token": token, "role": "owner", "name": "业主", "email": "bad", "password": "short"},
    )
    assert response.status_code == 422
    assert 'id="e-email"' in response.text and 'id="e-password"' in response.text
    assert 'value="业主"' in response.text
    assert "short" not in response.text.split('id="f-password"')[1].split(">")[0]  # password is not echoed
    assert "密码长度至少为 10 个字符" in response.text  # zh-Hans by default


async def test_form_post_without_csrf_token_is_403(client: AsyncClient) -> None:
    await client.get("/register")  # gets the CSRF cookie, but the form field is left out
    response = await client.post(
        "/register", data={"role": "owner", "name": "X", "email": unique_email(), "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "CSRF" in response.text


async def test_login_wrong_password_shows_the_message(client: AsyncClient) -> None:
    user = await register(client)
    token = await _form(client, "/login")
    response = await client.post(
        "/login", data={"_csrf_token": token, "email": user["email"], "password": "nope nope nope"}
    )
    assert response.status_code == 401
    assert "电子邮箱或密码错误" in response.text


async def test_login_and_logout(client: AsyncClient) -> None:
    user = await register(client)
    token = await _form(client, "/login")
    response = await client.post(
        "/login",
        data={"_csrf_token": token, "email": user["email"], "password": PASSWORD, "next": "/account"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account"
    account = await client.get("/account")
    assert user["email"] in account.text
    response = await client.post(
        "/logout", data={"_csrf_token": csrf_from(account.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert (await client.get("/account", follow_redirects=False)).status_code == 303


async def test_login_never_redirects_off_site(client: AsyncClient) -> None:
    user = await register(client)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        # A fresh form each time: once logged in, the token is the session's, not the visitor's.
        token = await _form(client, "/login")
        response = await client.post(
            "/login",
            data={"_csrf_token": token, "email": user["email"], "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/dashboard"  # the landing page (issue 22)


async def test_logged_out_visitor_is_sent_to_login(client: AsyncClient) -> None:
    response = await client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"


async def test_owner_reaching_the_admin_page_gets_403(client: AsyncClient) -> None:
    user = await register(client, role="owner")
    token = await _form(client, "/login")
    await client.post("/login", data={"_csrf_token": token, "email": user["email"], "password": PASSWORD})
    response = await client.get("/admin/users")
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "无权" in response.text


async def test_admin_sees_the_user_list(client: AsyncClient, db: Database) -> None:
    email = await create_staff(db, role=Role.admin)
    other = await register(client, role="agency")
    token = await _form(client, "/login")
    await client.post("/login", data={"_csrf_token": token, "email": email, "password": PASSWORD})
    page = await client.get("/admin/users?role=agency")
    assert page.status_code == 200
    assert other["email"] in page.text and email not in page.text.split("<tbody>")[1]


async def test_bad_cursor_on_a_page_is_a_clear_error(client: AsyncClient, db: Database) -> None:
    email = await create_staff(db, role=Role.admin)
    token = await _form(client, "/login")
    await client.post("/login", data={"_csrf_token": token, "email": email, "password": PASSWORD})
    response = await client.get("/admin/users?cursor=garbage!!")
    assert response.status_code == 422
    assert "cursor" in response.text
