"""The supervisors' contracts page a page at a time: the overdue unsigned awards come in
pages with a link to the next (what the page reads stays about what it shows, however
many there are), every one exactly once; a link that is not ours is bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from market.accounts.models import Role
from market.app import create_app
from market.contracts import queries
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import create_staff
from tests.integration.agencies.test_api import admin
from tests.integration.agencies.test_pages import login
from tests.integration.contracts.test_api import finalize_due
from tests.integration.selection.helpers import close, open_round
from tests.integration.selection.test_pages import agency_accounts, owner_account

EN = {"Accept-Language": "en"}


async def test_overdue_unsigned_awards_come_a_page_at_a_time(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(make_settings(database_url, tmp_path, publicity_days=0, contract_days=-1), database=db)
    notices = []
    async with serve_in_process(app) as api:
        staff = await admin(api, db)
        owner_headers, _ = await owner_account(api)
        bidders = await agency_accounts(api, staff, 3)
        for _ in range(2):
            r = await open_round(
                api,
                staff,
                bidders=bidders,
                owner=owner_headers,
                method="lottery",
                winners=2,
                min_candidates=3,
                due_in=6.0,  # room for six bids on a loaded machine
            )
            await close(api, r)
            notices.append(r.notice_id)
        await finalize_due(app, db)
        chief_email = await create_staff(db, role=Role.supervisor)

    # Everything on one page as it comes: four holders, two per notice.
    async with serve_in_process(app) as chief:
        chief.headers.update(EN)
        await login(chief, chief_email)
        whole = (await chief.get("/supervision/contracts")).text
        rows = re.findall(r'<a href="/notices/(\w[\w-]*)/draw">', whole)
        assert sorted(set(rows)) == sorted(notices) and len(rows) == 4, rows
        assert 'id="unsigned-more"' not in whole

        # One a page, read one row at a time: four pages, each holder once, in order.
        monkeypatch.setattr(queries, "SUPERVISION_PAGE", 1)
        monkeypatch.setattr(queries, "UNSIGNED_BATCH", 1)
        seen, url = [], "/supervision/contracts"
        while url:
            page = await chief.get(url)
            assert page.status_code == 200, page.text
            seen += re.findall(r'<a href="/notices/(\w[\w-]*)/draw">', page.text)
            more = re.search(r'<a href="([^"]+)" rel="next" id="unsigned-more">', page.text)
            url = more.group(1).replace("&amp;", "&") if more else ""
        assert seen == rows

        bad = await chief.get("/supervision/contracts", params={"unsigned_after": "x"})
        assert bad.status_code == 422
        bad = await chief.get("/supervision/contracts", params={"milestones_after": "2026-13-40.1"})
        assert bad.status_code == 422
