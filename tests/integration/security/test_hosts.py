"""Absolute URLs come from MARKET_PUBLIC_URL, never from the request (Host, X-Forwarded-Host,
Forwarded), and a request naming a host this site is not configured for gets a 400 before
any handler runs, on every path: pages, API, static files, unknown paths."""

from __future__ import annotations

import http.client
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database
from tests.conftest import make_settings
from tests.integration.notices.test_api import owner_user, published
from tests.live import running_server

PUBLIC = "https://zjcs.example.gov.cn"
FORGED = {
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "Forwarded": "host=evil.example;proto=http",
    "X-Host": "evil.example",
}
PATHS = [
    "/",
    "/notices",
    "/api/v1/notices",
    "/log/verify",
    "/api/v1/ocds/releases",
    "/static/css/market.css",
    "/no-such-page",
    "/healthz",
]
FOREIGN = [
    "evil.example",
    "EVIL.example:443",
    "testserver.local.evil.example",
    "evil.example#testserver.local",
    "testserver.local@evil.example",
    "testserver.local:80@evil.example",
    "testserver.local:x",
    "x';$(reboot);'",
    "[::2]:80",
    "",
]
OURS = [
    "testserver.local",
    "TESTSERVER.LOCAL",
    "testserver.local:8443",
    "localhost",
    "localhost:9",
    "127.0.0.1:5000",
    "[::1]:80",
    "[::1]",
]


async def test_a_request_for_a_foreign_host_gets_400_on_every_path(client: AsyncClient) -> None:
    for host in FOREIGN:
        for path in PATHS:
            response = await client.get(path, headers={"Host": host})
            assert response.status_code == 400, (host, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json", (host, path)
            assert response.json()["status"] == 400
            assert "evil" not in response.text and "reboot" not in response.text
    posted = await client.post(
        "/api/v1/auth/token",
        data={"username": "a@example.cn", "password": "x"},
        headers={"Host": "evil.example"},
    )
    assert posted.status_code == 400


async def test_the_hosts_this_site_serves_are_answered_with_any_port_and_case(client: AsyncClient) -> None:
    for host in OURS:
        response = await client.get("/healthz", headers={"Host": host})
        assert response.status_code == 200, (host, response.status_code)


async def test_two_host_headers_or_none_are_refused(app: Litestar) -> None:
    for headers in ([(b"host", b"testserver.local"), (b"host", b"evil.example")], []):
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/healthz",
            "raw_path": b"/healthz",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver.local", 80),
        }
        await app(scope, receive, send)
        assert sent[0]["status"] == 400, headers


@pytest.fixture
async def public(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """An app whose public URL is https://zjcs.example.gov.cn, asked at http://localhost:8000
    (a name a test server also answers to): every absolute URL must be the public one."""
    app = create_app(make_settings(database_url, tmp_path, public_url=PUBLIC), database=db)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


async def test_absolute_urls_come_from_the_public_url_never_from_the_request(public: AsyncClient) -> None:
    owner = await owner_user(public)
    notice = await published(public, owner)
    where = {
        "/log/verify": f"python3 ops/verify_log.py --url {PUBLIC}",
        "/log/witness": f"market log witness --url {PUBLIC}",
        f"/api/v1/notices/{notice['id']}/selection": f"--url {PUBLIC} --notice {notice['id']}",
        "/api/v1/ocds/releases": f"{PUBLIC}/ocds/extension.json",
        f"/notices/{notice['id']}/draw": f"--url {PUBLIC} --notice {notice['id']}",
    }
    for path, expected in where.items():
        for headers in ({}, FORGED):
            response = await public.get(path, headers={**headers, "Accept-Language": "en"})
            assert response.status_code == 200, (path, response.status_code)
            body = response.text.replace("&#39;", "'").replace("&amp;", "&")
            assert expected in body, (path, headers)
            assert "evil.example" not in body and "localhost:8000" not in body, (path, headers)
    releases = (await public.get("/api/v1/ocds/releases", params={"limit": 1}, headers=FORGED)).json()
    urls = [releases["uri"], releases.get("links", {}).get("next", PUBLIC + "/"), *releases["extensions"]]
    assert all(u.startswith(PUBLIC + "/") for u in urls), urls


def raw_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """One request with exactly the headers given (urllib would set Host itself)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_the_served_app_refuses_foreign_hosts_and_links_to_its_public_url(
    committed_database_url: str, tmp_path: Path
) -> None:
    """Through uvicorn (`market serve`), as deployed: the same as in process."""
    with running_server(committed_database_url, tmp_path / "data", MARKET_PUBLIC_URL=PUBLIC) as server:
        port = server.port
        status, body = raw_get(port, "/log/verify", {"Host": "evil.example"})
        assert status == 400 and json.loads(body)["status"] == 400
        status, body = raw_get(port, "/log/verify", {"Host": f"127.0.0.1:{port}", **FORGED})
        assert status == 200 and f"--url {PUBLIC}" in body and "evil.example" not in body
        status, body = raw_get(port, "/log/verify", {"Host": urlsplit(PUBLIC).netloc})
        assert status == 200
