"""A person changes their password in one browser; the session they left open in another
browser ends at once, and the new password opens the account there (issue 19, item 8)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import PASSWORD, unique_email

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    """Another browser (its own cookies): the laptop left logged in at the office."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page: Page, server: str, email: str, password: str) -> None:
    page.goto(server + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_changing_the_password_ends_the_other_browsers_session(
    page: Page, second_page: Page, server: str
) -> None:
    email = unique_email("browser-password")
    page.goto(server + "/lang/en?next=/register")
    page.get_by_label("I am").select_option("owner")
    page.get_by_label("Name").fill("昆明市自然资源和规划局")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.goto(server + "/account")

    log_in(second_page, server, email, PASSWORD)
    second_page.goto(server + "/account")
    expect(second_page.locator("main")).to_contain_text(email)

    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#e-current_password")).to_contain_text("The current password is not right.")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed.")
    expect(page.locator("main")).to_contain_text(email)  # this browser stays logged in

    # The other browser's session has ended: its next page asks it to log in.
    second_page.goto(server + "/account")
    expect(second_page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    log_in(second_page, server, email, PASSWORD)
    expect(second_page.get_by_role("alert")).to_contain_text("Wrong e-mail address or password.")
    log_in(second_page, server, email, NEW_PASSWORD)
    expect(second_page.get_by_role("status")).to_contain_text("You are logged in.")
