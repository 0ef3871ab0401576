"""Home page, health, language switch, error pages and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from market.site import cache as site_cache
from market.site.web import HOME_TTL
from tests.helpers import register


async def test_healthz(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_home_is_chinese_by_default_and_counts_accounts(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]  # the home page's data is cached (market/site/cache.py): move its clock on
    monkeypatch.setattr(site_cache, "monotonic", lambda: clock[0])
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="zh-Hans">' in response.text
    assert "中介服务网上超市" in response.text
    assert "还没有人注册" in response.text  # the empty state says what to do
    await register(client, role="owner")
    clock[0] += HOME_TTL
    response = await client.get("/")
    assert "还没有人注册" not in response.text
    assert "<dd>1</dd>" in response.text  # one project owner


async def test_accept_language_english_then_cookie_wins(client: AsyncClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in response.text and "Intermediary services supermarket" in response.text
    switched = await client.get(
        "/lang/zh_Hans?next=/", follow_redirects=False, headers={"Accept-Language": "en"}
    )
    assert switched.status_code == 303
    client.cookies.set("market_lang", "zh_Hans")
    response = await client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in response.text


async def test_unknown_language_is_404(client: AsyncClient) -> None:
    assert (await client.get("/lang/xx")).status_code == 404


async def test_unknown_page_is_a_friendly_404(client: AsyncClient) -> None:
    response = await client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "返回首页" in response.text


async def test_unknown_api_path_is_404_problem(client: AsyncClient) -> None:
    response = await client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_openapi_schema_documents_the_api(client: AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/me", "/healthz"):
        assert path in schema["paths"], path
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in ui.text


async def test_vendored_htmx_is_2x(client: AsyncClient) -> None:
    response = await client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200 and 'version:"2.0.' in response.text


async def test_unexpected_error_is_a_friendly_500_page_and_a_problem(
    client: AsyncClient, monkeypatch: Any
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated fault")

    monkeypatch.setattr("market.accounts.service.count_by_role", broken)
    page = await client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    assert "simulated fault" not in page.text and "返回首页" in page.text
    monkeypatch.setattr("market.agencies.queries.directory", broken)
    api = await client.get("/api/v1/agencies")
    assert api.status_code == 500 and api.headers["content-type"].startswith("application/problem+json")
    assert "simulated" not in api.text
