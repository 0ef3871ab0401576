"""Issue 19 item 8: sessions that end when they should. Log-out, a password change, a reset
link and a deactivation each end every token of the account at once (cookie and Bearer),
through the API and the pages; what is logged says who and why, never a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from market.accounts.models import Role
from market.core.db import Database
from market.security.auth import SESSION_COOKIE
from tests.conftest import serve_in_process
from tests.helpers import PASSWORD, bearer, create_staff, csrf_from, register, token_for

NEW_PASSWORD = "a brand new passphrase"
EN = {"Accept-Language": "en"}  # the new texts' Chinese is merged into the catalogue later
REASON = {"reason": "本人书面申请注销账户"}


async def log_entries(client: AsyncClient, kind: str) -> list[dict[str, Any]]:
    raw = (await client.get("/api/v1/log/entries", params={"start": 0, "end": 1000})).text
    return [entry for entry in map(json.loads, raw.splitlines()) if entry["type"] == kind]


async def page_login(client: AsyncClient, email: str, password: str = PASSWORD) -> Any:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"_csrf_token": csrf_from(form.text), "email": email, "password": password, "next": "/account"},
        follow_redirects=False,
    )


async def admin_token(client: AsyncClient, db: Database) -> tuple[str, str]:
    email = await create_staff(db, role=Role.admin)
    token = await token_for(client, email)
    me = (await client.get("/api/v1/me", headers=bearer(token))).json()
    return token, me["id"]


async def is_logged_in(client: AsyncClient, cookie: str) -> bool:
    response = await client.get(
        "/account", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, follow_redirects=False
    )
    return response.status_code == 200


# -- log-out -------------------------------------------------------------------------------------


async def test_logging_out_ends_the_cookie_and_every_bearer_token_of_the_account(
    app: Litestar, client: AsyncClient
) -> None:
    user = await register(client)
    api_token = await token_for(client, user["email"])
    assert (await page_login(client, user["email"])).status_code == 303
    cookie = client.cookies[SESSION_COOKIE]
    account = await client.get("/account")
    assert account.status_code == 200

    response = await client.post(
        "/logout", data={"_csrf_token": csrf_from(account.text)}, follow_redirects=False
    )
    assert response.status_code == 303

    # The report: the old cookie still opened the account for 8 hours, also as a Bearer.
    async with serve_in_process(app) as other:
        assert not await is_logged_in(other, cookie)
        assert (await other.get("/api/v1/me", headers=bearer(cookie))).status_code == 401
        assert (await other.get("/api/v1/me", headers=bearer(api_token))).status_code == 401
        # Logging in again works, with a token of the new session version.
        assert (
            await other.get("/api/v1/me", headers=bearer(await token_for(other, user["email"])))
        ).status_code == 200


async def test_an_api_client_can_end_its_sessions_too(client: AsyncClient) -> None:
    user = await register(client)
    first, second = await token_for(client, user["email"]), await token_for(client, user["email"])
    assert (await client.post("/api/v1/auth/logout", headers=bearer(first))).status_code == 204
    for token in (first, second):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert (await client.post("/api/v1/auth/logout")).status_code == 401


# -- password change -----------------------------------------------------------------------------


async def test_changing_the_password_through_the_api(client: AsyncClient) -> None:
    user = await register(client)
    token, elsewhere = await token_for(client, user["email"]), await token_for(client, user["email"])
    cases = {
        "wrong current password": (
            {"current_password": "not my password", "new_password": NEW_PASSWORD},
            "current_password",
        ),
        "too short": ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
        "the same again": ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password"),
    }
    for case, (body, field) in cases.items():
        response = await client.post("/api/v1/me/password", json=body, headers=bearer(token))
        assert response.status_code == 422, case
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == [field], case
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200  # nothing changed yet

    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert response.status_code == 200
    fresh = response.json()["access_token"]
    assert (await client.get("/api/v1/me", headers=bearer(fresh))).status_code == 200
    for old in (token, elsewhere):
        assert (await client.get("/api/v1/me", headers=bearer(old))).status_code == 401
    assert (
        await client.post("/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
    ).status_code == 401
    assert await token_for(client, user["email"], NEW_PASSWORD)

    entries = await log_entries(client, "account.password_changed")
    assert [set(e) - {"v", "seq", "type", "ts"} for e in entries] == [{"user_id"}]
    assert entries[0]["user_id"] == user["id"]


@pytest.mark.committing
async def test_wrong_current_passwords_count_as_failed_log_ins(
    committed_database_url: str, tmp_path: Path
) -> None:
    """Otherwise a stolen session could guess the password without the log-in backoff.
    Where commits are real: the count outlives the 422's rolled-back transaction."""
    from tests.integration.security.shared_app import app_on

    async with app_on(committed_database_url, tmp_path) as app, serve_in_process(app) as client:
        user = await register(client)
        token = await token_for(client, user["email"])
        statuses = []
        for _ in range(6):
            response = await client.post(
                "/api/v1/me/password",
                json={"current_password": "guess guess guess", "new_password": NEW_PASSWORD},
                headers=bearer(token),
            )
            statuses.append(response.status_code)
        assert statuses == [422] * 5 + [429]
        assert (
            await client.post("/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
        ).status_code == 429


async def test_changing_the_password_on_the_page_keeps_this_browser_and_ends_the_others(
    app: Litestar, client: AsyncClient
) -> None:
    client.headers.update(EN)
    user = await register(client)
    api_token = await token_for(client, user["email"])
    await page_login(client, user["email"])
    old_cookie = client.cookies[SESSION_COOKIE]
    account = await client.get("/account")
    assert 'href="/account/password"' in account.text
    form = await client.get("/account/password")
    assert form.status_code == 200

    wrong = await client.post(
        "/account/password",
        data={
            "_csrf_token": csrf_from(form.text),
            "current_password": "nope nope nope",
            "new_password": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422
    assert 'id="e-current_password"' in wrong.text and "The current password is not right." in wrong.text
    short = await client.post(
        "/account/password",
        data={"_csrf_token": csrf_from(wrong.text), "current_password": PASSWORD, "new_password": "short"},
    )
    assert short.status_code == 422 and 'id="e-new_password"' in short.text

    done = await client.post(
        "/account/password",
        data={
            "_csrf_token": csrf_from(short.text),
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert client.cookies[SESSION_COOKIE] != old_cookie
    page = await client.get("/account")
    assert page.status_code == 200 and "Your password has been changed." in page.text
    async with serve_in_process(app) as other:
        assert not await is_logged_in(other, old_cookie)
        assert (await other.get("/api/v1/me", headers=bearer(api_token))).status_code == 401


# -- deactivation --------------------------------------------------------------------------------


async def test_an_administrator_deactivates_and_reactivates_an_account(
    client: AsyncClient, db: Database
) -> None:
    admin, admin_id = await admin_token(client, db)
    user = await register(client, role="agency")
    token = await token_for(client, user["email"])

    response = await client.post(f"/api/v1/users/{user['id']}/deactivate", json=REASON, headers=bearer(admin))
    assert response.status_code == 200
    assert response.json() == {
        "id": user["id"],
        "email": user["email"],
        "name": "Test agency",
        "role": "agency",
        "active": False,
    }
    # Its tokens stop at once.
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    # The right password says why it cannot log in; a wrong one learns nothing new.
    refused = await client.post("/api/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
    assert refused.status_code == 403 and "deactivated" in refused.json()["detail"]
    wrong = await client.post(
        "/api/v1/auth/token", json={"email": user["email"], "password": "wrong password!"}
    )
    assert wrong.status_code == 401 and "deactivated" not in wrong.text
    again = await client.post(f"/api/v1/users/{user['id']}/deactivate", json=REASON, headers=bearer(admin))
    assert again.status_code == 409

    back = await client.post(
        f"/api/v1/users/{user['id']}/reactivate",
        json={"reason": "经核实为误操作，予以恢复"},
        headers=bearer(admin),
    )
    assert back.status_code == 200 and back.json()["active"] is True
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401  # old tokens stay dead
    assert await token_for(client, user["email"])

    entries = await log_entries(client, "account.deactivated") + await log_entries(
        client, "account.reactivated"
    )
    assert [(e["type"], e["user_id"], e["by"]) for e in entries] == [
        ("account.deactivated", user["id"], admin_id),
        ("account.reactivated", user["id"], admin_id),
    ]
    assert entries[0]["reason"] == REASON["reason"]
    assert user["email"] not in json.dumps(entries)


async def test_deactivation_refusals(client: AsyncClient, db: Database) -> None:
    admin, admin_id = await admin_token(client, db)
    supervisor = await token_for(client, await create_staff(db, role=Role.supervisor))
    user = await register(client)
    path = f"/api/v1/users/{user['id']}/deactivate"

    myself = await client.post(f"/api/v1/users/{admin_id}/deactivate", json=REASON, headers=bearer(admin))
    assert myself.status_code == 409 and "own account" in myself.json()["detail"]
    assert (await client.post(path, json=REASON, headers=bearer(supervisor))).status_code == 403
    assert (
        await client.post(path, json=REASON, headers=bearer(await token_for(client, user["email"])))
    ).status_code == 403
    assert (await client.post(path, json=REASON)).status_code == 401
    assert (
        await client.post("/api/v1/users/U-999999/deactivate", json=REASON, headers=bearer(admin))
    ).status_code == 404
    for reason, why in (
        ("", "empty"),
        ("   ", "blank"),
        ("联系 someone@example.cn 处理", "an e-mail address"),
    ):
        response = await client.post(path, json={"reason": reason}, headers=bearer(admin))
        assert response.status_code == 422, why
        assert [e["field"] for e in response.json()["errors"]] == ["reason"], why
    assert (
        await client.get("/api/v1/me", headers=bearer(await token_for(client, user["email"])))
    ).status_code == 200


async def test_deactivating_on_the_admin_page(app: Litestar, client: AsyncClient, db: Database) -> None:
    client.headers.update(EN)
    email = await create_staff(db, role=Role.admin)
    user = await register(client, role="owner")
    await page_login(client, user["email"])
    victim_cookie = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    await page_login(client, email)

    listing = await client.get("/admin/users")
    assert f'href="/admin/users/{user["id"]}"' in listing.text
    page = await client.get(f"/admin/users/{user['id']}")
    assert page.status_code == 200 and user["email"] in page.text

    empty = await client.post(
        f"/admin/users/{user['id']}/deactivate", data={"_csrf_token": csrf_from(page.text), "reason": ""}
    )
    assert empty.status_code == 422
    assert (
        'id="e-deactivate-reason"' in empty.text
        and "Give a reason; it is published in the log." in empty.text
    )

    done = await client.post(
        f"/admin/users/{user['id']}/deactivate",
        data={"_csrf_token": csrf_from(empty.text), **REASON},
        follow_redirects=False,
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/admin/users/{user['id']}?done=deactivated"
    )
    after = await client.get(done.headers["location"])
    assert (
        "The account is deactivated; its sessions have ended." in after.text
        and f'action="/admin/users/{user["id"]}/reactivate"' in after.text
    )
    assert "Deactivated" in (await client.get("/admin/users")).text
    async with serve_in_process(app) as other:
        other.headers.update(EN)
        assert not await is_logged_in(other, victim_cookie)
        login = await page_login(other, user["email"])
        assert login.status_code == 403 and "This account has been deactivated." in login.text

    own = await client.get("/api/v1/me")
    mine = await client.get(f"/admin/users/{own.json()['id']}")
    assert "You cannot deactivate your own account." in mine.text and "/deactivate" not in mine.text


# -- reset links ---------------------------------------------------------------------------------


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    client: AsyncClient, db: Database
) -> None:
    admin, admin_id = await admin_token(client, db)
    user = await register(client)
    token = await token_for(client, user["email"])

    issued = await client.post(
        f"/api/v1/users/{user['id']}/reset-link", json={"reason": "本人来电，忘记密码"}, headers=bearer(admin)
    )
    assert issued.status_code == 201
    link = issued.json()
    assert link["path"] == f"/password-reset?token={link['token']}" and link["user_id"] == user["id"]
    assert link["url"].endswith(link["path"]) and link["url"].startswith(("http://", "https://"))
    assert (
        await client.get("/api/v1/me", headers=bearer(token))
    ).status_code == 200  # issuing alone ends nothing

    short = await client.post(
        "/api/v1/auth/password-reset", json={"token": link["token"], "new_password": "short"}
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "new_password"
    used = await client.post(
        "/api/v1/auth/password-reset", json={"token": link["token"], "new_password": NEW_PASSWORD}
    )
    assert used.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert await token_for(client, user["email"], NEW_PASSWORD)

    twice = await client.post(
        "/api/v1/auth/password-reset", json={"token": link["token"], "new_password": "yet another passphrase"}
    )
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "token"
    assert (await client.get(link["path"])).status_code == 404

    issued_entries = await log_entries(client, "account.password_reset_issued")
    assert [(e["user_id"], e["by"], e["reason"]) for e in issued_entries] == [
        (user["id"], admin_id, "本人来电，忘记密码")
    ]
    assert [e["user_id"] for e in await log_entries(client, "account.password_reset")] == [user["id"]]
    raw_log = (await client.get("/api/v1/log/entries", params={"start": 0, "end": 1000})).text
    assert link["token"] not in raw_log and user["email"] not in raw_log


async def test_a_reset_link_is_superseded_expires_and_dies_with_deactivation(
    client: AsyncClient, db: Database, connection: AsyncConnection
) -> None:
    admin, _ = await admin_token(client, db)
    user = await register(client)

    async def issue() -> str:
        response = await client.post(
            f"/api/v1/users/{user['id']}/reset-link",
            json={"reason": "本人申请重置密码"},
            headers=bearer(admin),
        )
        assert response.status_code == 201
        return str(response.json()["token"])

    async def usable(token: str) -> bool:
        return (await client.get("/password-reset", params={"token": token})).status_code == 200

    older, newer = await issue(), await issue()
    assert not await usable(older) and await usable(newer)
    refused = await client.post(
        "/api/v1/auth/password-reset", json={"token": older, "new_password": NEW_PASSWORD}
    )
    assert refused.status_code == 422

    await connection.execute(text("UPDATE password_reset SET expires_at = now() - interval '1 second'"))
    assert not await usable(newer)
    assert (
        await client.post("/api/v1/auth/password-reset", json={"token": newer, "new_password": NEW_PASSWORD})
    ).status_code == 422

    fresh = await issue()
    assert (
        await client.post(f"/api/v1/users/{user['id']}/deactivate", json=REASON, headers=bearer(admin))
    ).status_code == 200
    assert not await usable(fresh)
    assert (
        await client.post(f"/api/v1/users/{user['id']}/reset-link", json=REASON, headers=bearer(admin))
    ).status_code == 409
    # Only the hash is stored.
    stored = (await connection.execute(text("SELECT token_sha256 FROM password_reset"))).scalars().all()
    assert len(stored) == 3 and not {older, newer, fresh} & set(stored)


async def test_the_reset_link_page(app: Litestar, client: AsyncClient, db: Database) -> None:
    client.headers.update(EN)
    email = await create_staff(db, role=Role.admin)
    user = await register(client)
    await page_login(client, email)
    page = await client.get(f"/admin/users/{user['id']}")
    issued = await client.post(
        f"/admin/users/{user['id']}/reset-link",
        data={"_csrf_token": csrf_from(page.text), "reason": "本人来电，忘记密码"},
    )
    assert issued.status_code == 200
    link = issued.text.split('id="reset-link" type="text" readonly value="')[1].split('"')[0]
    # Built from the configured address (MARKET_PUBLIC_URL), not from the request's Host.
    assert link.startswith(app.state.settings.base_url + "/password-reset?token=")
    path = link.removeprefix(app.state.settings.base_url)

    async with serve_in_process(app) as person:  # the person, in a browser of their own
        person.headers.update(EN)
        form = await person.get(path)
        assert form.status_code == 200 and 'name="new_password"' in form.text
        short = await person.post(
            "/password-reset",
            data={
                "_csrf_token": csrf_from(form.text),
                "token": path.split("=", 1)[1],
                "new_password": "short",
            },
        )
        assert short.status_code == 422 and 'id="e-new_password"' in short.text
        done = await person.post(
            "/password-reset",
            data={
                "_csrf_token": csrf_from(short.text),
                "token": path.split("=", 1)[1],
                "new_password": NEW_PASSWORD,
            },
        )
        assert done.status_code == 200 and "Your new password is set" in done.text
        assert (await person.get(path)).status_code == 404
        assert (await page_login(person, user["email"], NEW_PASSWORD)).status_code == 303
    bogus = await client.get("/password-reset", params={"token": "made-up"})
    assert bogus.status_code == 404 and "This link is not valid" in bogus.text
