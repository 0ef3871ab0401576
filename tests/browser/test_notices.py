"""An owner publishes a notice through the pages; two approved agencies each bid through
the pages, and each sees only its own bid and receipt."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from market.core.clock import CHINA
from tests.browser.test_agencies import create_admin, log_in
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_api import agency_body
from tests.integration.agencies.test_pages import credit_code


def token(api: httpx.Client, email: str) -> dict[str, str]:
    response = api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def approved_agency(api: httpx.Client, admin: dict[str, str], name: str) -> dict[str, Any]:
    """Registered and approved through the live server's API."""
    email = unique_email("browser-bidder")
    response = api.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name, "role": "agency"}
    )
    assert response.status_code == 201, response.text
    response = api.post("/api/v1/agencies", json=agency_body(name=name), headers=token(api, email))
    assert response.status_code == 201, response.text
    agency_id = response.json()["id"]
    response = api.post(f"/api/v1/agencies/{agency_id}/review", json={"decision": "approve"}, headers=admin)
    assert response.status_code == 200, response.text
    return {"email": email, "id": agency_id}


def bid_through_pages(page: Page, server: str, email: str, title: str) -> str:
    log_in(page, server, email)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="可报名公告").click()
    row = page.locator("tr", has_text=title)
    expect(row).to_contain_text("可以报名")
    row.get_by_role("link", name="报名").click()
    page.get_by_role("button", name="提交密封报名").click()
    expect(page.get_by_role("status")).to_contain_text("您的报名已被接受")
    mine = page.locator("#my-bid")
    expect(mine.locator("pre.receipt")).to_have_count(1)
    bid_id = re.search(r"B-[0-9A-Za-z-]+", mine.locator("dd code").first.inner_text())
    assert bid_id
    return bid_id.group(0)


def test_owner_publishes_two_agencies_bid_and_each_sees_only_its_own(
    page: Page, server: str, committed_database_url: str, tmp_path: Path
) -> None:
    admin_email = create_admin(committed_database_url, tmp_path / "data")
    title = "昆明市某道路工程环境影响评价"
    with httpx.Client(base_url=server, timeout=30) as api:
        admin = token(api, admin_email)
        first = approved_agency(api, admin, "云南绿源环境科技有限公司")
        second = approved_agency(api, admin, "昆明滇池环保咨询有限公司")

    # The owner registers, registers the organisation, drafts and publishes.
    page.goto(server + "/register?role=owner")
    page.get_by_label("我是").select_option("owner")
    page.get_by_label("名称").fill("昆明市交通运输局")
    page.get_by_label("电子邮箱").fill(unique_email("browser-owner"))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="创建账户").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的公告").click()
    page.get_by_label("单位名称").fill("昆明市交通运输局")
    page.get_by_label("统一社会信用代码").fill(credit_code())
    page.get_by_label("地区").select_option("530100")
    page.get_by_role("button", name="登记单位").click()
    expect(page.get_by_role("status")).to_contain_text("单位已登记")

    page.get_by_role("link", name="新建公告").click()
    page.get_by_label("标题", exact=True).fill(title)
    page.get_by_label("说明").fill("编制环境影响报告书")
    page.get_by_label("服务类别").select_option("EIA")
    page.get_by_label("最高限价（元）").fill("300000")
    deadline = (datetime.now(UTC) + timedelta(hours=2)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("报名截止时间（北京时间）").fill(deadline)
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_role("status")).to_contain_text("草稿已保存")
    notice_url = page.url.split("?")[0]
    page.get_by_role("link", name="发布…").click()
    expect(page.locator("h1")).to_have_text("发布公告")
    page.get_by_role("button", name="立即发布").click()
    expect(page.get_by_role("status")).to_contain_text("公告已发布")
    expect(page.locator("main")).to_contain_text("¥300,000.00")
    page.get_by_role("button", name="退出").click()

    # Each agency bids through the pages.
    first_bid = bid_through_pages(page, server, first["email"], title)
    page.get_by_role("button", name="退出").click()
    second_bid = bid_through_pages(page, server, second["email"], title)
    main = page.locator("main")
    expect(main).not_to_contain_text(first_bid)
    expect(main).not_to_contain_text(first["id"])
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的报名").click()
    expect(main).to_contain_text(second_bid)
    expect(main).not_to_contain_text(first_bid)
    page.get_by_role("button", name="退出").click()

    # The first agency sees its own bid and receipt, and nothing of the second's.
    log_in(page, server, first["email"])
    page.goto(notice_url)
    mine = page.locator("#my-bid")
    expect(mine).to_contain_text(first_bid)
    expect(main).not_to_contain_text(second_bid)
    expect(main).not_to_contain_text(second["id"])
    # MSP/2: its commitment, not yet opened, and which mode seals the prices.
    expect(mine).to_contain_text("日志中的承诺值")
    expect(mine).to_contain_text("尚未开启")
    expect(main).to_contain_text("以平台密钥密封")
    # Its receipt file, and the inclusion proof of its entry, verified by the page.
    mine.locator("summary", has_text="回执").click()
    expect(mine.get_by_role("link", name="下载回执文件")).to_have_attribute(
        "href", re.compile(rf"/bids/{first_bid}/receipt\.json$")
    )
    mine.get_by_role("link", name="包含证明").first.click()
    expect(page.locator("#proof")).to_be_visible()
    expect(page.locator("main")).to_contain_text("已验证")
    page.get_by_role("button", name="退出").click()

    # The public sees neither.
    page.goto(notice_url)
    for secret in (first_bid, second_bid, first["id"], second["id"]):
        expect(main).not_to_contain_text(secret)
