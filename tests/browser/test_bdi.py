"""Issue 19, item 10 (the page half), as Chromium lays it out: a right-to-left name keeps
its direction to itself. Without isolation, an Arabic project name followed by " · " and
its code (which starts with digits) pulls the code to its left, so the page reads as if the
code came first; inside <bdi> the name is one isolated unit and the code stays after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_notices import token
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_pages import credit_code
from tests.integration.notices.test_api import project_code

ORG = "مكتب البيئة 7"
PROJECT = "طريق المطار 5"
TITLE = "تقييم الأثر البيئي 2026"

# The boxes of ``text`` (a Range over it, wherever it sits in the element's text) and of
# the element's <code>, and the isolating element's computed style, if any.
MEASURE = """(element, text) => {
  const code = element.querySelector("code").getBoundingClientRect();
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + text.length);
    const box = range.getBoundingClientRect();
    const bdi = node.parentElement.closest("bdi");
    const style = bdi ? getComputedStyle(bdi) : null;
    return {left: box.left, right: box.right, codeLeft: code.left, codeRight: code.right,
            unicodeBidi: style && style.unicodeBidi, direction: style && style.direction};
  }
  return null;
}"""


def publish(api: httpx.Client) -> tuple[str, str]:
    """An owner with an Arabic organisation and project publishes an Arabic-titled notice."""
    email = unique_email("bdi-owner")
    assert (
        api.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": "Owner", "role": "owner"},
        ).status_code
        == 201
    )
    owner = token(api, email)
    org = api.post(
        "/api/v1/owners/org",
        json={"name": ORG, "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    assert org.status_code == 201, org.text
    code = project_code()
    project = api.post("/api/v1/owners/projects", json={"name": PROJECT, "code": code}, headers=owner)
    assert project.status_code == 201, project.text
    body = {
        "title": TITLE,
        "description": "وصف",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 1_000_000,
        "project_id": project.json()["id"],
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    notice = api.post("/api/v1/notices", json=body, headers=owner)
    assert notice.status_code == 201, notice.text
    notice_id: str = notice.json()["id"]
    assert api.post(f"/api/v1/notices/{notice_id}/publish", headers=owner).status_code == 200
    return notice_id, code


def test_a_right_to_left_name_does_not_pull_the_code_beside_it_out_of_order(page: Page, server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as api:
        notice_id, code = publish(api)
    page.goto(f"{server}/notices/{notice_id}")
    expect(page.locator("h1")).to_have_text(TITLE)

    # The project row: "طريق المطار 5 · 2026-530102-…": the code is to the right of the whole name.
    row = page.locator("dd").filter(has=page.locator("code", has_text=code))
    expect(row).to_have_count(1)
    seen = row.evaluate(MEASURE, PROJECT)
    assert seen is not None, "the project name is shown"
    assert seen["right"] <= seen["codeLeft"] + 0.5, f"the code is laid out before the name: {seen}"
    assert seen["unicodeBidi"] == "isolate" and seen["direction"] == "rtl", (
        seen
    )  # <bdi>: isolated, its own direction found from its letters

    # The heading's title is isolated the same way, and so is the owner's name beside its id.
    heading = page.evaluate(
        "() => { const b = document.querySelector('h1 bdi'); const s = b && getComputedStyle(b); return s && [b.textContent, s.unicodeBidi, s.direction]; }"
    )
    assert heading == [TITLE, "isolate", "rtl"]
    owner_row = page.locator("dd").filter(has_text=ORG)
    seen = owner_row.evaluate(MEASURE, ORG)
    assert (
        seen is not None and seen["unicodeBidi"] == "isolate" and seen["right"] <= seen["codeLeft"] + 0.5
    ), seen
