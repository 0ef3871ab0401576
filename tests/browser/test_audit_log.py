"""Anyone opens the audit log, filters it in place, and checks one entry's proof."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from market.core.db import Database
from market.log import store
from tests.conftest import run_blocking
from tests.helpers import PASSWORD, unique_email


async def _append_notice(database_url: str) -> None:
    """A second entry type, which no page can create yet (notices come later)."""
    db = Database.from_url(database_url)
    try:
        async with db.sessionmaker() as session:
            await store.append(
                session, type="notice.published", fields={"notice_id": "N-000001", "scheme": "none"}
            )
            await session.commit()
    finally:
        await db.dispose()


def test_audit_log_filters_in_place_and_shows_a_verified_entry(
    page: Page, server: str, committed_database_url: str
) -> None:
    for role in ("owner", "agency"):
        body = {"email": unique_email("log"), "password": PASSWORD, "name": f"Test {role}", "role": role}
        assert httpx.post(server + "/api/v1/auth/register", json=body, timeout=10).status_code == 201
    run_blocking(_append_notice(committed_database_url))

    page.goto(server + "/")
    page.get_by_role("link", name="审计日志", exact=True).click()
    expect(page.locator("h1")).to_have_text("审计日志")
    rows = page.locator("#log-results tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#checkpoint-note")).to_contain_text("market.localhost/log\n3\n")

    page.get_by_label("类型").select_option("account.created")
    expect(page).to_have_url(re.compile(r"/log\?type=account\.created"))
    expect(rows).to_have_count(2)
    expect(page.locator("#log-results")).not_to_contain_text("notice.published")
    expect(page.locator("h1")).to_have_text("审计日志")  # updated in place, the page stayed

    page.get_by_role("link", name="条目 1", exact=True).click()
    expect(page.locator("h1")).to_have_text("日志条目 1")
    expect(page.locator(".verified")).to_contain_text("已验证")
    expect(page.locator("#exact-bytes")).to_contain_text('"seq":1,"ts":"')
