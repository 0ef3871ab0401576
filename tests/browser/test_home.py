"""The portal home (issue 22, item 11) in Chromium, in Chinese, at 1280 and 390 px with one
live server: the search box is in the first viewport and its search lands on the notice
list filtered; the tabs switch between the latest notices and the latest results; a phone
does not scroll sideways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_main_action import SIZES, in_first_viewport, new_owner
from tests.live import live_server

WANTED = "滇池流域水环境综合治理环境影响评价"
OTHER = "曲靖市某道路工程地质灾害危险性评估"


def publish(api: httpx.Client, owner: dict[str, str], title: str) -> str:
    body = {
        "title": title,
        "category": "EIA",
        "region": "530100",
        "budget_fen": 20_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    }
    created = api.post("/api/v1/notices", json=body, headers=owner)
    assert created.status_code == 201, created.text
    notice_id: str = created.json()["id"]
    published = api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner)
    assert published.status_code == 200, published.text
    return notice_id


def test_home_search_and_tabs_at_desktop_and_phone_widths(
    page: Page, committed_database_url: str, tmp_path: Path
) -> None:
    with live_server(committed_database_url, tmp_path / "data", MARKET_AUTH_RATE_LIMIT="100000") as server:
        with httpx.Client(base_url=server, timeout=30) as api:
            _, owner = new_owner(api)
            wanted, other = publish(api, owner, WANTED), publish(api, owner, OTHER)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(server + "/")
            search = page.locator("#portal-q")
            assert in_first_viewport(page, search), width
            # no horizontal scroll on a phone (nor on a desktop)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (width, overflow)
            # the tabs: the latest notices first, the results one click away, and back
            notices, results = page.locator("#panel-notices"), page.locator("#panel-results")
            expect(notices).to_be_visible()
            expect(results).to_be_hidden()
            expect(notices.get_by_role("link", name=WANTED)).to_be_visible()
            page.locator("label[for=tab-results]").click()
            expect(results).to_be_visible()
            expect(notices).to_be_hidden()
            page.locator("label[for=tab-notices]").click()
            expect(notices).to_be_visible()
            # the search: type, submit, the notice list filtered by it
            search.fill("滇池流域")
            search.press("Enter")
            page.wait_for_url("**/notices?**")
            assert parse_qs(urlsplit(page.url).query)["q"] == ["滇池流域"]
            expect(page.locator(f'a[href="/notices/{wanted}"]')).to_be_visible()
            expect(page.locator(f'a[href="/notices/{other}"]')).to_have_count(0)
