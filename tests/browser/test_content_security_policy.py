"""The Content-Security-Policy (no inline script or style, no eval) does not break the
pages: Chromium reports no violation while the Swagger UI renders the API, htmx loads, a
form posts, and the draw page's countdown ticks and opens its event stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_notices import token
from tests.helpers import PASSWORD, register_org_sync, unique_email

# Collected by the page itself: Playwright's init scripts are not subject to the page's CSP.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def watch(page: Page) -> list[str]:
    """Console messages about the policy, with the violation events read at the end."""
    seen: list[str] = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def violations(page: Page, console: list[str]) -> list[str]:
    return list(page.evaluate("window.__csp || []")) + console


def publish_notice(api: httpx.Client) -> str:
    email = unique_email("csp-owner")
    response = api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "昆明市生态环境局", "role": "owner"},
    )
    assert response.status_code == 201, response.text
    owner = token(api, email)
    register_org_sync(api, owner)  # its notices are published in its hall
    body = {
        "title": "CSP 检查用公告",
        "description": "环评",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 1_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    response = api.post("/api/v1/notices", json=body, headers=owner)
    assert response.status_code == 201, response.text
    notice_id: str = response.json()["id"]
    assert api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner).status_code == 200
    return notice_id


def test_swagger_ui_htmx_pages_and_the_draw_page_run_under_the_policy(page: Page, server: str) -> None:
    console = watch(page)
    with httpx.Client(base_url=server, timeout=30) as api:
        notice_id = publish_notice(api)

    # Swagger UI: started by static/js/swagger-init.js, it fetches and lists the API.
    response: Any = page.goto(f"{server}/schema")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible(timeout=20_000)
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/auth/token")
    assert violations(page, console) == []

    # A page with htmx, and a form post under form-action 'self' (a failed log-in).
    page.goto(f"{server}/login")
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    page.fill("input[name=email]", "nobody@example.cn")
    page.fill("input[name=password]", "wrong password 123")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("密码")
    assert violations(page, console) == []

    # The draw page: draw.js ticks the countdown and opens the event stream.
    page.goto(f"{server}/notices/{notice_id}/draw")
    seconds = page.locator("#draw-panel [data-part=seconds]")
    before = seconds.text_content()
    expect(seconds).not_to_have_text(before or "", timeout=5_000)
    assert violations(page, console) == []
    # Close the event stream before the server stops, or its graceful shutdown waits for it.
    page.goto("about:blank")
