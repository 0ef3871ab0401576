"""Issue 19: an owner asks to cancel a published notice through the pages; a supervisor
refuses without a reason (the error stands beside the field), then consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_agencies import log_in
from tests.browser.test_notices import token
from tests.browser.test_supervision import create_supervisor
from tests.helpers import PASSWORD, register_org_sync, unique_email
from tests.integration.notices.test_api import notice_body


def test_owner_asks_to_cancel_and_a_supervisor_consents(
    page: Page, server: str, committed_database_url: str, tmp_path: Path
) -> None:
    title = "某县城区供水管网改造工程勘察"
    owner_email = unique_email("browser-owner")
    with httpx.Client(base_url=server, timeout=30) as api:
        registered = api.post(
            "/api/v1/auth/register",
            json={"email": owner_email, "password": PASSWORD, "name": "业主", "role": "owner"},
        )
        assert registered.status_code == 201, registered.text
        owner = token(api, owner_email)
        register_org_sync(api, owner)  # its notices are published in its hall
        deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        notice = api.post(
            "/api/v1/notices", json=notice_body(title=title, bid_deadline=deadline), headers=owner
        ).json()
        assert api.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner).status_code == 200
    nid = notice["id"]

    log_in(page, server, owner_email)
    page.goto(f"{server}/lang/en?next=/notices/{nid}")
    page.get_by_role("link", name="Cancel…").click()
    expect(page.get_by_text("only with a supervisor's consent")).to_be_visible()
    page.get_by_label("Reason (published)").fill("项目资金未落实")
    page.get_by_role("button", name="Ask to cancel the notice").click()
    expect(page.get_by_role("status")).to_contain_text("Your request to cancel is published")
    expect(page.get_by_role("note").filter(has_text="Cancellation requested")).to_contain_text(
        "项目资金未落实"
    )
    expect(page.get_by_role("link", name="Cancel…")).to_have_count(0)  # one request at a time

    page.context.clear_cookies()
    log_in(page, server, create_supervisor(committed_database_url, tmp_path / "data"))
    page.goto(f"{server}/lang/en?next=/notices/{nid}")
    page.get_by_role("link", name="Decide the cancellation…").click()
    page.get_by_role("button", name="Refuse: keep it open").click()
    expect(page.locator("#e-reason")).to_contain_text("Say why the cancellation is refused")
    page.get_by_role("button", name="Consent: cancel the notice").click()
    expect(page.get_by_role("note").filter(has_text="Cancelled")).to_contain_text("项目资金未落实")
