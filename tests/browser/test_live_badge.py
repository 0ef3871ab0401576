"""A county supervisor has the console open in Chromium; a red flag is raised in their county
(one agency comes to hold half of the county's awards) and the flag alert task runs: the
header's alert badge changes without a reload, and it leads to the alert. The county's view
was computed once before, with no flag: its first computation is a baseline, which alerts
no flag one by one (test_flags_first_computation)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy.engine import make_url

from market.core.clock import today_in_china
from market.core.db import Database
from market.supervision.flags.alerting import alert_new_flags
from tests.browser.test_agencies import ROOT, create_admin, log_in
from tests.browser.test_notices import approved_agency, token
from tests.conftest import make_settings, run_blocking
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_pages import credit_code
from tests.integration.supervision.test_flags_jurisdiction import COUNTY, SIBLING, copy_notice


def create_county_supervisor(database_url: str, data_dir: Path) -> str:
    email = unique_email("browser-county-supervisor")
    env = {**os.environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir), "MARKET_ENV": "test"}
    args = ["users", "create", "--email", email, "--password", PASSWORD, "--role", "supervisor"]
    result = subprocess.run(
        [sys.executable, "-m", "market.cli", *args, "--jurisdiction", COUNTY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return email


def published_in_county(api: httpx.Client) -> str:
    email = unique_email("browser-county-owner")
    registered = api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "五华区水务局", "role": "owner"},
    )
    assert registered.status_code == 201, registered.text
    owner = token(api, email)
    org = api.post(
        "/api/v1/owners/org",
        json={"name": "五华区水务局", "credit_code": credit_code(), "region": COUNTY},
        headers=owner,
    )
    assert org.status_code == 201, org.text
    body = {
        "title": "五华区河道整治环境影响评价",
        "description": "编制环境影响报告表",
        "category": "EIA",
        "region": COUNTY,
        "budget_fen": 10_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 2,
        "bid_deadline": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    notice = api.post("/api/v1/notices", json=body, headers=owner)
    assert notice.status_code == 201, notice.text
    notice_id = str(notice.json()["id"])
    assert api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner).status_code == 200
    return notice_id


async def raise_the_flag(database_url: str, tmp_path: Path, source: str, agencies: list[str]) -> int:
    """The county's baseline (nothing flagged yet); then 五华区: A, A, B, C; 盘龙区: B, C, and
    the flag alert task's look at the county, in this process (the copies append no log
    entry, which is what would have the task look at the county again on its own)."""
    url = make_url(database_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    db = Database.from_url(url)
    settings = make_settings(url, tmp_path)
    try:
        async with db.transaction() as session:
            assert await alert_new_flags(session, settings, today_in_china(), hall=COUNTY) == 0
        a, b, c = agencies
        for hall, agency in [(COUNTY, a), (COUNTY, a), (COUNTY, b), (COUNTY, c), (SIBLING, b), (SIBLING, c)]:
            await copy_notice(db, source, hall=hall, agency=agency)
        async with db.transaction() as session:
            return await alert_new_flags(session, settings, today_in_china(), hall=COUNTY)
    finally:
        await db.dispose()


def test_the_badge_counts_a_new_county_flag_without_a_reload(
    page: Page, server: str, committed_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    supervisor = create_county_supervisor(committed_database_url, data_dir)
    with httpx.Client(base_url=server, timeout=30) as api:
        admin = token(api, create_admin(committed_database_url, data_dir))
        agencies = [
            approved_agency(api, admin, name)["id"]
            for name in ("云南绿源环境科技有限公司", "昆明滇池环保咨询有限公司", "大理苍山工程咨询有限公司")
        ]
        source = published_in_county(api)

    log_in(page, server, supervisor)
    page.goto(server + "/supervision")
    badge = page.locator("#alert-badge")
    expect(badge).to_have_attribute("data-count", "0")  # connected, nothing unread
    expect(badge).to_be_hidden()
    page.evaluate("window.__stillTheSamePage = true")

    assert run_blocking(raise_the_flag(committed_database_url, tmp_path, source, agencies)) >= 1

    expect(badge).to_be_visible(timeout=20_000)
    expect(badge).not_to_have_attribute("data-count", "0")
    assert page.evaluate("window.__stillTheSamePage === true")  # no reload

    page.locator("a.alerts").click()
    expect(page.locator("li.kind-alert_red_flag").first).to_contain_text("五华区")
