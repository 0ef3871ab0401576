"""After the award, in Chromium: the owner records a contract, the agency confirms it,
hands in the deliverable, the owner accepts it (the contract completes) and rates the
agency; the agency's profile then shows the new credit score and the statistics page's
counts have moved."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from market.core.clock import today_in_china
from tests.browser.test_agencies import create_admin, log_in
from tests.browser.test_notices import approved_agency, token
from tests.helpers import PASSWORD, register_org_sync, unique_email
from tests.live import live_server
from tests.uploads import PDF

DUE_IN = 4  # seconds from publishing to the deadline


def awarded_lottery(api: httpx.Client, bidders: list[dict[str, Any]]) -> tuple[str, str, dict[str, str]]:
    """A lottery closed, drawn and (publicity 0 days) final; returns notice, winner, owner."""
    email = unique_email("browser-owner")
    assert (
        api.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": "昆明市生态环境局", "role": "owner"},
        ).status_code
        == 201
    )
    owner = token(api, email)
    register_org_sync(api, owner)  # its notices are published in its hall
    deadline = datetime.now(UTC) + timedelta(seconds=DUE_IN)
    body = {
        "title": "滇池东岸湿地修复工程环境影响评价",
        "description": "编制环境影响报告书",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 20_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": deadline.isoformat(),
    }
    notice_id = api.post("/api/v1/notices", json=body, headers=owner).json()["id"]
    assert api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner).status_code == 200
    for bidder in bidders:
        assert (
            api.post(
                f"/api/v1/notices/{notice_id}/bids", json={}, headers=token(api, bidder["email"])
            ).status_code
            == 201
        )
    limit = time.monotonic() + 30
    while time.monotonic() < limit:
        record = api.get(f"/api/v1/notices/{notice_id}/selection").json()
        if record["status"] == "awarded":
            return notice_id, record["holders"][0], {"email": email}
        time.sleep(0.3)
    raise AssertionError(f"the notice was not awarded in time: {record['status']}")


def completed_count(page: Page, server: str) -> int:
    page.goto(f"{server}/stats")
    return int(page.locator("dl.stats-headline > div:nth-child(5) dd").inner_text())


def test_contract_delivered_accepted_rated_and_the_score_and_dashboard_move(
    page: Page, committed_database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    admin_email = create_admin(committed_database_url, data)
    with live_server(
        committed_database_url,
        data,
        MARKET_AUTH_RATE_LIMIT="100000",
        MARKET_SCHEDULER_INTERVAL="0.3",
        MARKET_STATS_INTERVAL="1",
        MARKET_PUBLICITY_DAYS="0",
    ) as server:
        with httpx.Client(base_url=server, timeout=30) as api:
            admin = token(api, admin_email)
            bidders = [
                approved_agency(api, admin, name)
                for name in (
                    "云南绿源环境科技有限公司",
                    "昆明滇池环保咨询有限公司",
                    "大理苍山工程咨询有限公司",
                )
            ]
            notice_id, winner_id, owner = awarded_lottery(api, bidders)
            winner = next(b for b in bidders if b["id"] == winner_id)
            score_before = api.get(f"/api/v1/agencies/{winner_id}/credit").json()["score"]
        completed_before = completed_count(page, server)

        # The owner records the contract on its page.
        log_in(page, server, owner["email"])
        page.goto(f"{server}/notices/{notice_id}/contract")
        today = today_in_china()  # the award became final on this China date: signed on or after it
        page.locator("#f-amount").fill("176000")
        page.locator("#f-signed_on").fill(today.isoformat())
        page.locator("#f-start_on").fill(today.isoformat())
        page.locator("#f-due_on").fill((today + timedelta(days=60)).isoformat())
        page.locator("#f-m1_title").fill("环境影响报告书（送审稿）")
        page.locator("#f-m1_due_on").fill((today + timedelta(days=30)).isoformat())
        page.locator("form button[type=submit]").last.click()
        expect(page.locator("h1")).to_contain_text("C-", timeout=10_000)
        contract_url = page.url.split("?")[0]
        expect(page.locator("main")).to_contain_text("¥176,000.00")
        page.context.clear_cookies()

        # The agency confirms and hands in the deliverable.
        log_in(page, server, winner["email"])
        page.goto(contract_url)
        page.locator("#confirm button[type=submit]").click()
        expect(page.locator("main")).to_contain_text("服务中")
        deliverable = tmp_path / "报告书.pdf"
        deliverable.write_bytes(PDF)
        page.locator("#submit-1 input[type=file]").set_input_files(str(deliverable))
        page.locator("#submit-1 textarea").fill("报告书送审稿已完成，请审阅。")
        page.locator("#submit-1 button[type=submit]").click()
        expect(page.locator("main")).to_contain_text("报告书.pdf")
        page.context.clear_cookies()

        # The owner accepts it: the only milestone, so the contract is completed; then rates.
        log_in(page, server, owner["email"])
        page.goto(contract_url)
        page.locator('form[action$="/milestones/1/accept"] button[type=submit]').click()
        expect(page.locator("main")).to_contain_text("服务完成")
        page.goto(contract_url + "/rating")
        for dimension in ("quality", "timeliness", "attitude", "fees", "compliance"):
            page.locator(f'input[name="{dimension}"][value="5"]').check()
        page.locator("#f-comment").fill("报告质量高，按期完成。")
        page.locator("form button[type=submit]").last.click()
        expect(page.locator("main")).to_contain_text("报告质量高，按期完成。")

        # The agency's public profile shows the new score; the dashboard's count moved.
        page.goto(f"{server}/agencies/{winner_id}")
        score_text = page.locator(".credit-score strong").inner_text()
        assert float(score_text) > float(score_before), (score_text, score_before)
        expect(page.locator("main")).to_contain_text("报告质量高，按期完成。")
        # (the statistics' summary is refreshed every second here: the count moves after the next)
        limit = time.monotonic() + 15
        while completed_count(page, server) != completed_before + 1 and time.monotonic() < limit:
            time.sleep(0.5)
        assert completed_count(page, server) == completed_before + 1
