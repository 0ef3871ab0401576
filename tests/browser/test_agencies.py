"""An agency registers and submits with its licence, an administrator approves it from the
queue, and the public directory shows it and finds it by category."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from market.core.clock import today_in_china
from tests.helpers import PASSWORD, unique_email
from tests.live import ROOT
from tests.uploads import PDF


def create_admin(database_url: str, data_dir: Path) -> str:
    """An administrator in the live server's database, made the way operators make one."""
    email = unique_email("browser-admin")
    env = {**os.environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir), "MARKET_ENV": "test"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "market.cli",
            "users",
            "create",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            "admin",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return email


def log_in(page: Page, server: str, email: str) -> None:
    page.goto(server + "/login")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("您已登录")


def test_agency_registers_admin_approves_and_the_directory_finds_it(
    page: Page, server: str, committed_database_url: str, tmp_path: Path
) -> None:
    admin = create_admin(committed_database_url, tmp_path / "data")
    licence = tmp_path / "营业执照.pdf"
    licence.write_bytes(PDF)
    name = "昆明春城地质工程有限公司"
    valid_until = (today_in_china() + timedelta(days=730)).isoformat()

    # An agency creates its account and registers the agency.
    page.goto(server + "/register?role=agency")
    page.get_by_label("我是").select_option("agency")
    page.get_by_label("名称").fill("春城地质")
    page.get_by_label("电子邮箱").fill(unique_email("browser-agency"))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="创建账户").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的中介机构").click()
    expect(page.locator("h1")).to_have_text("登记中介机构")

    page.get_by_label("机构名称").fill(name)
    code = page.get_by_label("统一社会信用代码")
    code.press_sequentially("91350100M000100Y44")
    expect(page.locator("#credit-code-check")).to_contain_text("校验码")  # the last character is wrong
    code.press("Backspace")
    code.press_sequentially("3")
    expect(page.locator("#credit-code-check")).to_contain_text("通过")
    page.get_by_label("地区").select_option("530102")
    page.get_by_label("法定代表人").fill("李四")
    page.get_by_label("联系电话").fill("0871-66668888")
    page.get_by_label("地址", exact=True).fill("昆明市五华区翠湖南路 2 号")
    page.get_by_label("地质灾害危险性评估").check()
    page.locator("#f-q0_category").select_option("GEOHAZARD")
    expect(page.locator("#f-q0_level option")).to_have_count(3)  # swapped in: 甲级 and 乙级 only
    page.locator("#f-q0_level").select_option("A")
    page.locator("#f-q0_certificate_no").fill("DZ-2026-0001")
    page.locator("#f-q0_valid_until").fill(valid_until)
    page.get_by_label("营业执照扫描件（可选）").set_input_files(licence)
    page.get_by_role("button", name="提交审核").click()
    expect(page).to_have_url(re.compile(r"/agency\?done=submitted$"))
    expect(page.locator("#status-h")).to_contain_text("待审核")
    expect(page.get_by_role("link", name="营业执照.pdf")).to_be_visible()
    page.get_by_role("button", name="退出").click()

    # Not listed before it is approved.
    page.get_by_role("link", name="中介机构库").click()
    expect(page.locator("#agency-results")).not_to_contain_text(name)

    # An administrator approves it from the queue, with its licence at hand.
    log_in(page, server, admin)
    page.get_by_role("link", name="中介机构审核").click()
    card = page.locator("article", has_text=name)
    expect(card).to_contain_text("0871-66668888")
    expect(card.get_by_role("link", name="营业执照.pdf")).to_be_visible()
    card.get_by_role("button", name=f"批准 {name}").click()
    expect(page.get_by_role("status")).to_contain_text("已批准")
    expect(page.locator("article", has_text=name)).to_have_count(0)
    page.get_by_role("button", name="退出").click()

    # The public directory shows it, and the category filter finds it in place.
    page.get_by_role("link", name="中介机构库").click()
    results = page.locator("#agency-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(name)
    expect(results).not_to_contain_text("0871-66668888")

    page.get_by_label("服务类别").select_option("SURVEYING")
    expect(page).to_have_url(re.compile(r"/agencies\?.*category=SURVEYING"))
    expect(results).to_contain_text("没有符合筛选条件的中介机构")

    page.get_by_label("服务类别").select_option("GEOHAZARD")
    expect(page).to_have_url(re.compile(r"/agencies\?.*category=GEOHAZARD"))
    expect(results).to_contain_text(name)
    expect(page.locator("#f-level option")).to_have_count(3)  # the level filter follows the category
    page.locator("#f-level").select_option("A")
    expect(page).to_have_url(re.compile(r"level=A"))
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("中介机构名录")  # updated in place

    results.get_by_role("link", name=name).click()
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator("main")).to_contain_text("暂无中标记录")
    expect(page.locator("main")).not_to_contain_text("李四")
