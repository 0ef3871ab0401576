"""Security headers on every kind of response, and no page that needs more than the
policy allows: no inline script, event handler attribute, inline style or javascript: URL,
and every script from this origin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, register, token_for


def policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_secured(response: Any) -> None:
    headers = response.headers
    csp = policy(headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"], csp  # neither 'unsafe-inline' nor 'unsafe-eval'
    assert "'unsafe-inline'" not in csp["style-src"] and "'unsafe-inline'" not in csp["default-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/login", 200),
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/no/such/thing", 404),
        ("DELETE", "/login", 405),
        ("GET", "/static/css/market.css", 200),
        ("GET", "/static/js/draw.js", 200),
        ("GET", "/static/no-such-file.js", 404),
        ("GET", "/schema", 200),
        ("GET", "/schema/openapi.json", 200),
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/categories", 200),
        ("GET", "/api/v1/me", 401),
        ("GET", "/account", 303),  # logged out: sent to the log-in page
        ("GET", "/lang/en?next=/agencies", 303),
        ("POST", "/api/v1/auth/token", 422),
        ("GET", "/api/v1/notices?limit=abc", 400),
    ],
)
async def test_every_kind_of_response_carries_the_security_headers(
    client: AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(
        method, path, headers={"Accept": "text/html"} if not path.startswith("/api") else {}
    )
    assert response.status_code == status, response.text[:300]
    assert_secured(response)
    assert "strict-transport-security" not in response.headers  # plain http, cookies not Secure


async def test_an_unexpected_error_carries_the_headers_too(client: AsyncClient, monkeypatch: Any) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated")

    monkeypatch.setattr("market.accounts.service.count_by_role", broken)
    response = await client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert_secured(response)


async def test_hsts_is_sent_behind_https(database_url: str, tmp_path: Path, db: Database) -> None:
    app = create_app(make_settings(database_url, tmp_path, cookie_secure=True), database=db)
    async with serve_in_process(app) as client:
        response = await client.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert_secured(response)


class InlineFinder(HTMLParser):
    """Everything in a page that a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:...>")
            if (
                name.startswith("hx-on")
                or name.startswith("data-hx-on")
                or ("js:" in (value or "") and name.startswith(("hx-", "data-hx-")))
            ):
                self.problems.append(f"<{tag} {name}> needs eval")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            src = values.get("src")
            if src is None:
                self._in_script = True
            else:
                self.scripts.append(src)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]}")


async def test_pages_need_nothing_the_policy_refuses(client: AsyncClient) -> None:
    owner = await register(client, role="owner")
    token = await token_for(client, owner["email"])
    notice = await client.post(
        "/api/v1/notices",
        json={
            "title": "CSP",
            "description": "d",
            "category": "EIA",
            "region": "530000",
            "budget_fen": 100_000,
            "method": "lottery",
            "winners": 1,
            "min_candidates": 3,
            "bid_deadline": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
        },
        headers=bearer(token),
    )
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    assert (
        await client.post(f"/api/v1/notices/{notice_id}/publish", headers=bearer(token))
    ).status_code == 200
    client.cookies.clear()
    pages = [
        "/",
        "/login",
        "/register",
        "/notices",
        f"/notices/{notice_id}",
        f"/notices/{notice_id}/draw",
        "/agencies",
        "/log",
        "/log/verify",
        "/stats",
        "/data",
        "/credit",
        "/schema",
        "/no/such/page",
        "/supervision/flags",
    ]
    for path in pages:
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status_code in (200, 303, 404), (path, response.status_code)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        finder = InlineFinder()
        finder.feed(response.text)
        assert finder.problems == [], path
        for src in finder.scripts:
            assert src.startswith("/") and not src.startswith("//"), (path, src)
            assert (await client.get(src)).status_code == 200, src
