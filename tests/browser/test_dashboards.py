"""Issue 22's "done when" for the dashboards: an owner, an agency, a supervisor and an
administrator each log in and see their next task at the top, without scrolling, at
1280 px and at 390 px, in Chinese and in English. One live server; the world is made
through its API and the operator's command, then each person logs in through the form."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_agencies import ROOT, create_admin
from tests.browser.test_notices import approved_agency, token
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_api import agency_body
from tests.integration.agencies.test_pages import credit_code
from tests.live import live_server

WIDTHS = ((1280, 800), (390, 844))
LANGUAGES = ("zh-CN", "en")


@pytest.fixture
def server(committed_database_url: str, tmp_path: Path) -> Iterator[str]:
    # Sixteen log-ins from one address: the log-in rate limit is not what this test is about.
    with live_server(committed_database_url, tmp_path / "data", MARKET_AUTH_RATE_LIMIT="100000") as base:
        yield base


def create_supervisor(database_url: str, data_dir: Path) -> str:
    email = unique_email("browser-supervisor")
    env = {**os.environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir), "MARKET_ENV": "test"}
    args = ["users", "create", "--email", email, "--password", PASSWORD, "--role", "supervisor"]
    result = subprocess.run(
        [sys.executable, "-m", "market.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return email


def notice(api: httpx.Client, owner: dict[str, str], title: str, *, publish: bool) -> str:
    body = {
        "title": title,
        "description": "编制环境影响报告书",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 30_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    }
    made = api.post("/api/v1/notices", json=body, headers=owner)
    assert made.status_code == 201, made.text
    notice_id = str(made.json()["id"])
    if publish:
        done = api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner)
        assert done.status_code == 200, done.text
    return notice_id


def test_each_role_sees_its_next_task_at_the_top_on_wide_and_narrow_screens_in_both_languages(
    browser: Browser, server: str, committed_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    admin_email = create_admin(committed_database_url, data_dir)
    supervisor_email = create_supervisor(committed_database_url, data_dir)
    with httpx.Client(base_url=server, timeout=30) as api:
        admin = token(api, admin_email)
        # An owner with a draft to publish (its own work, first) and a notice open for bids.
        owner_email = unique_email("browser-owner")
        assert api.post(
            "/api/v1/auth/register",
            json={"email": owner_email, "password": PASSWORD, "name": "昆明市生态环境局", "role": "owner"},
        ).is_success
        owner = token(api, owner_email)
        org = api.post(
            "/api/v1/owners/org",
            json={"name": "昆明市生态环境局", "credit_code": credit_code(), "region": "530102"},
            headers=owner,
        )
        assert org.status_code == 201, org.text
        draft_id = notice(api, owner, "滇池东岸湿地公园环境影响评价", publish=False)
        # An approved agency, for which the open notice is the next task.
        bidder = approved_agency(api, admin, "云南绿源环境科技有限公司")
        open_id = notice(api, owner, "五华区河道整治环境影响评价", publish=True)
        # An agency waiting for review: the administrator's next task.
        waiting_email = unique_email("browser-waiting")
        assert api.post(
            "/api/v1/auth/register",
            json={"email": waiting_email, "password": PASSWORD, "name": "待审机构", "role": "agency"},
        ).is_success
        pending = api.post(
            "/api/v1/agencies",
            json=agency_body(name="云南苍洱工程咨询有限公司"),
            headers=token(api, waiting_email),
        )
        assert pending.status_code == 201, pending.text
        pending_id = pending.json()["id"]

    people = [
        (owner_email, f"/owner/notices/{draft_id}/publish"),
        (bidder["email"], f"/notices/{open_id}#bid"),
        (supervisor_email, f"/notices/{open_id}/draw"),
        (admin_email, f"/admin/agencies?q={pending_id}"),
    ]
    for width, height in WIDTHS:
        for language in LANGUAGES:
            for email, href in people:
                context = browser.new_context(locale=language, viewport={"width": width, "height": height})
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(server + "/login")
                page.locator("input[name=email]").fill(email)
                page.locator("input[name=password]").fill(PASSWORD)
                page.locator("form[action='/login'] button[type=submit]").click()
                where = f"{email} at {width}px in {language}"
                page.wait_for_load_state()
                assert page.url == server + "/dashboard", (
                    where,
                    page.url,
                    page.locator("main").inner_text()[:300],
                )
                expect(page.locator("html")).to_have_attribute(
                    "lang", "zh-Hans" if language == "zh-CN" else "en"
                )
                top = page.locator("#next-task")
                action = top.locator(f'a[href="{href}"]')
                expect(action, where).to_be_in_viewport()
                expect(top.locator("h2"), where).to_be_in_viewport()
                # No sideways scrolling on the phone.
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), where
                context.close()
