"""A person registers, logs in, switches language and back, and logs out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD, unique_email


def test_owner_registers_logs_in_switches_language_and_logs_out(page: Page, server: str) -> None:
    email = unique_email("browser-owner")
    page.goto(server + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    page.get_by_role("link", name="注册", exact=True).first.click()

    page.get_by_label("我是").select_option("owner")
    page.get_by_label("名称").fill("昆明市自然资源和规划局")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill("short")
    page.get_by_role("button", name="创建账户").click()
    expect(page.locator("#e-password")).to_contain_text("至少为 10 个字符")

    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="创建账户").click()
    # A new account lands on its work page, whose first task is the organisation (issue 22).
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("status")).to_contain_text("账户已创建")
    expect(page.locator("#next-task")).to_be_in_viewport()
    page.goto(server + "/account")
    expect(page.locator("main")).to_contain_text(email)

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("status")).to_contain_text("您已退出")

    page.get_by_role("link", name="登录", exact=True).first.click()
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill("wrong password here")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("电子邮箱或密码错误")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("您已登录")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.get_by_role("link", name="My account").click()
    expect(page.locator("h1")).to_have_text("My account")

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("h1")).to_have_text("我的账户")

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("link", name="登录", exact=True).first).to_be_visible()
    page.goto(server + "/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
