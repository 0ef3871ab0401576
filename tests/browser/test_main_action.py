"""Main action first (issue 22), in Chromium at 1280 and 390 px, with one live server: an
agency sees the sealed-bid button of an open notice without scrolling; a bidder that did
not win reaches the objection form from the top of the draw page, and a too-short
objection comes back with its error summarised on top, linked to the field; a fresh
new-notice form shows no empty error bar."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_agencies import create_admin, log_in
from tests.browser.test_notices import approved_agency, token
from tests.browser.test_selection import publish_lottery
from tests.helpers import PASSWORD, register_org_sync, unique_email
from tests.live import live_server

SIZES = ((1280, 800), (390, 844))


def in_first_viewport(page: Page, locator: Locator) -> bool:
    page.evaluate("window.scrollTo(0, 0)")
    box = locator.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def new_owner(api: httpx.Client) -> tuple[str, dict[str, str]]:
    email = unique_email("browser-owner")
    response = api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "昆明市水务局", "role": "owner"},
    )
    assert response.status_code == 201, response.text
    owner = token(api, email)
    register_org_sync(api, owner)
    return email, owner


def test_the_main_action_is_in_the_first_viewport(
    page: Page, committed_database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    admin_email = create_admin(committed_database_url, data)
    with live_server(
        committed_database_url, data, MARKET_AUTH_RATE_LIMIT="100000", MARKET_SCHEDULER_INTERVAL="0.5"
    ) as server:
        with httpx.Client(base_url=server, timeout=30) as api:
            admin = token(api, admin_email)
            bidders: list[dict[str, Any]] = [
                approved_agency(api, admin, name)
                for name in (
                    "云南绿源环境科技有限公司",
                    "昆明滇池环保咨询有限公司",
                    "大理苍山工程咨询有限公司",
                )
            ]
            drawn, deadline = publish_lottery(api)
            for bidder in bidders:
                placed = api.post(
                    f"/api/v1/notices/{drawn}/bids", json={}, headers=token(api, bidder["email"])
                )
                assert placed.status_code == 201, placed.text
            owner_email, owner = new_owner(api)
            body = {
                "title": "曲靖市某水厂扩建工程环境影响评价",
                "category": "EIA",
                "region": "530000",
                "budget_fen": 20_000_000,
                "method": "lottery",
                "winners": 1,
                "min_candidates": 3,
                "bid_deadline": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            }
            open_id = api.post("/api/v1/notices", json=body, headers=owner).json()["id"]
            assert api.post(f"/api/v1/notices/{open_id}/publish", headers=owner).status_code == 200

        # The owner's fresh form: no red bar, nothing announced as an alert.
        log_in(page, server, owner_email)
        page.goto(f"{server}/owner/notices/new")
        expect(page.locator("#notice-form .error:visible, #notice-form [role=alert]:visible")).to_have_count(
            0
        )
        page.context.clear_cookies()

        # An agency on an open notice: the sealed-bid button first, the live view second.
        log_in(page, server, bidders[0]["email"])
        page.goto(f"{server}/lang/en?next=/")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{server}/notices/{open_id}")
            button = page.get_by_role("button", name="Place a sealed bid")
            expect(button).to_be_visible()
            assert in_first_viewport(page, button), (width, button.bounding_box())
        page.context.clear_cookies()

        # The draw: wait for the scheduler, then a bidder that did not win.
        with httpx.Client(base_url=server, timeout=30) as api:
            record: dict[str, Any] = {}
            until = time.monotonic() + 60
            while time.monotonic() < until:
                record = api.get(f"/api/v1/notices/{drawn}/selection").json()
                if record.get("status") == "selected":
                    break
                time.sleep(0.5)
            assert record.get("status") == "selected", record
        assert datetime.now(UTC) >= deadline
        loser = next(b for b in bidders if b["id"] not in record["winners"])
        log_in(page, server, loser["email"])
        page.goto(f"{server}/lang/en?next=/")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{server}/notices/{drawn}/draw")
            to_form = page.get_by_role("link", name="File an objection (异议)…")
            expect(to_form).to_be_visible()
            assert in_first_viewport(page, to_form), (width, to_form.bounding_box())
            expect(page.locator("details.proofs")).not_to_have_attribute("open", "")

        # Too short: the summary is on top, in view, and its link leads to the field.
        to_form.click()
        page.locator("#f-objection-reasons").fill("太短了")
        page.get_by_role("button", name="File the objection").click()
        summary = page.locator(".error-summary")
        expect(summary).to_be_visible()
        assert in_first_viewport(page, summary)
        summary.get_by_role("link").first.click()
        expect(page.locator("#f-objection-reasons")).to_be_in_viewport()
        expect(page.locator("#e-objection-reasons")).not_to_be_empty()
