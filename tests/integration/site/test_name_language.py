"""Issue 22, item 12: Chinese names inside English pages say they are Chinese.

An agency's, an organisation's or a notice's name in Chinese on an English page was read
by a screen reader with the English voice (WCAG 3.1.2, Language of Parts). Every name people
type is shown through the ``bdi`` filter (templating.bdi), which now adds ``lang="zh-Hans"``
when the name has Han characters and the page is not Chinese: checked on the directory, an
agency's profile, the notice list and a notice; a Latin name, and any name on a Chinese
page, stays without it."""

from __future__ import annotations

import re

from httpx import AsyncClient

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import approved_agency
from tests.integration.notices.test_pages import open_notice

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
CHINESE = "云南绿源环境科技有限公司"
LATIN = "Green Source Consulting Ltd"


def _marked(page: str, name: str) -> list[str]:
    """The attributes of every <bdi> holding ``name``."""
    return re.findall(rf"<bdi([^>]*)>{re.escape(name)}</bdi>", page)


async def test_chinese_names_on_english_pages_carry_lang(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    _, chinese = await approved_agency(client, staff, name=CHINESE)
    _, latin = await approved_agency(client, staff, name=LATIN)
    notice, _ = await open_notice(client, title="昆明市某道路工程环境影响评价")

    pages = {
        "directory": "/agencies",
        "profile": f"/agencies/{chinese['id']}",
        "notices": "/notices",
        "notice": f"/notices/{notice['id']}",
    }
    for what, path in pages.items():
        english = (await client.get(path, headers=EN)).text
        assert '<html lang="en">' in english
        name = notice["title"] if what.startswith("notice") else CHINESE
        marks = _marked(english, name)
        assert marks and all(m == ' lang="zh-Hans"' for m in marks), (what, marks)
        chinese_page = (await client.get(path, headers=ZH)).text
        assert _marked(chinese_page, name) and all(m == "" for m in _marked(chinese_page, name)), what

    latin_page = (await client.get(f"/agencies/{latin['id']}", headers=EN)).text
    assert _marked(latin_page, LATIN) and all(m == "" for m in _marked(latin_page, LATIN))
