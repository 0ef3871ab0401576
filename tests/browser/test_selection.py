"""A whole lottery watched in Chromium: the draw page is opened before the deadline and,
without reloading, shows the secret, the order and the winner once the scheduler closes
and draws (pushed over Server-Sent Events); the winning agency then reads "won" in its
messages."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_agencies import create_admin, log_in
from tests.browser.test_notices import approved_agency, token
from tests.helpers import PASSWORD, register_org_sync, unique_email
from tests.live import live_server

DUE_IN = 9  # seconds from publishing to the deadline: the page is open well before it
LIVE = 30_000  # ms to wait for what the scheduler does after the deadline (within ~1 s normally)
TITLE = "昆明市某道路工程环境影响评价（抽签）"


def publish_lottery(api: httpx.Client) -> tuple[str, datetime]:
    email = unique_email("browser-owner")
    response = api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "昆明市交通运输局", "role": "owner"},
    )
    assert response.status_code == 201, response.text
    owner = token(api, email)
    register_org_sync(api, owner)  # its notices are published in its hall
    deadline = datetime.now(UTC) + timedelta(seconds=DUE_IN)
    body = {
        "title": TITLE,
        "description": "编制环境影响报告书",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 30_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": deadline.isoformat(),
    }
    response = api.post("/api/v1/notices", json=body, headers=owner)
    assert response.status_code == 201, response.text
    notice_id = response.json()["id"]
    response = api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner)
    assert response.status_code == 200, response.text
    return notice_id, datetime.fromisoformat(response.json()["bid_deadline"])


def test_a_lottery_is_watched_live_and_the_winner_reads_it_won(
    page: Page, committed_database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    admin_email = create_admin(committed_database_url, data)
    with live_server(
        committed_database_url, data, MARKET_AUTH_RATE_LIMIT="100000", MARKET_SCHEDULER_INTERVAL="0.5"
    ) as server:
        try:
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
                notice_id, deadline = publish_lottery(api)
                for bidder in bidders:
                    response = api.post(
                        f"/api/v1/notices/{notice_id}/bids", json={}, headers=token(api, bidder["email"])
                    )
                    assert response.status_code == 201, response.text
            assert datetime.now(UTC) < deadline - timedelta(seconds=2), (
                "setup took longer than the bid window"
            )

            # Before the deadline: the countdown ticks, the commitment is shown, no secret.
            page.goto(f"{server}/notices/{notice_id}/draw")
            panel = page.locator("#draw-panel")
            expect(panel.locator(".countdown-left")).to_be_visible()
            seconds = panel.locator('[data-part="seconds"]')
            before = seconds.inner_text()
            expect(seconds).not_to_have_text(before, timeout=5_000)  # draw.js ticks it
            expect(panel).to_contain_text("承诺值")
            expect(panel).to_contain_text("本次抽取的公正性取决于运营方")  # scheme none (MSP/1 section 7)
            expect(panel.locator(".secret")).to_have_count(0)
            page.evaluate("window.__same_page = true")  # gone if the page were reloaded

            # After the deadline the scheduler closes and draws; the page hears it over SSE.
            expect(panel.locator(".secret")).to_have_count(1, timeout=LIVE)
            expect(panel.locator("ol.winners li")).to_have_count(1, timeout=LIVE)
            assert page.evaluate("window.__same_page === true"), "the page was reloaded instead of updated"
            assert datetime.now(UTC) >= deadline

            with httpx.Client(base_url=server, timeout=30) as api:
                record = api.get(f"/api/v1/notices/{notice_id}/selection").json()
            assert record["status"] == "selected", record
            expect(panel.locator(".secret")).to_have_text(record["secret"])
            expect(panel.locator("ol.draw-order li")).to_have_count(3)
            for position, agency_id in enumerate(record["order"]):
                expect(panel.locator("ol.draw-order li").nth(position)).to_contain_text(agency_id)
            winner_id = record["winners"][0]
            expect(panel.locator("ol.winners")).to_contain_text(winner_id)
            expect(panel).to_contain_text(record["seed"])
            expect(panel).to_contain_text(f"--notice {notice_id}")
            # The timeline (issue 23): the notice's log entries, the closing's and the draw's
            # among them, each once and in seq order, brought by the stream without a reload.
            expect(panel.locator('#draw-timeline li[data-type="selection.drawn"]')).to_have_count(1)
            expect(panel.locator('#draw-timeline li[data-type="bidding.closed"]')).to_have_count(1)
            seqs = panel.locator("#draw-timeline li").evaluate_all(
                "els => els.map(e => Number(e.dataset.seq))"
            )
            assert seqs == sorted(set(seqs)) and len(seqs) >= 3, seqs

            # The winning agency is told in its messages.
            winner = next(b for b in bidders if b["id"] == winner_id)
            log_in(page, server, winner["email"])
            page.get_by_role("link", name="消息").first.click()
            expect(page.locator("h1")).to_have_text("消息")
            message = page.locator("li.message.kind-won")
            expect(message).to_contain_text("贵机构已中选")
            expect(message).to_contain_text(TITLE)
            message.get_by_role("link", name="查看抽取").click()
            expect(page.locator("#draw-panel ol.winners")).to_contain_text(winner_id)
            expect(page.get_by_role("button", name="放弃中选")).to_be_visible()  # the winner may decline
            assert re.search(rf"/notices/{notice_id}/draw$", page.url)
        finally:
            page.goto("about:blank")  # close the events stream before the server stops
            time.sleep(0.2)
