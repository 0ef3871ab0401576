"""Every demo account the demo prints logs in and lands on its dashboard with something on
it (issue 22, item 5): the printed agency@ account has an approved agency that may bid."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from httpx import AsyncClient
from litestar import Litestar

from market.app import create_app
from market.core.db import Database
from market.demo import DEMO_PASSWORD, load_demo
from tests.conftest import make_settings, serve_in_process
from tests.helpers import csrf_from
from tests.integration.dashboards.test_dashboards import next_task


async def test_every_printed_demo_account_lands_on_a_dashboard_with_work(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    out = io.StringIO()
    async with db.transaction() as session:
        await load_demo(session, settings=settings, out=out)
    printed = out.getvalue()
    emails = sorted(set(re.findall(r"(?<![.\w])([a-z0-9]+(?:\.[a-z0-9]+)*@demo\.market\.cn)", printed)))
    # The four accounts of the roles, the halls' staff and owners (agency01..60 are printed
    # as a range; one of them is checked below).
    assert "agency@demo.market.cn" in emails and len(emails) >= 4 + 8 + 3, emails
    emails.append("agency01@demo.market.cn")
    app: Litestar = create_app(settings, database=db)
    empty: list[str] = []
    for email in emails:
        async with serve_in_process(app) as c:
            c.headers["Accept-Language"] = "en"
            where = await _log_in(c, email)
            assert where == "/dashboard", email
            page = (await c.get("/dashboard")).text
            top = next_task(page)
            if 'class="next-task card empty"' in top:
                empty.append(email)
            if email == "agency@demo.market.cn":
                assert "Your agency may bid" in page and "/notices/" in top
            if email.startswith("admin"):
                assert "Agencies waiting for review" in page or "Unread alerts" in page

    # Something to do or to watch, not the empty state, for every printed account.
    assert empty == [], empty


async def _log_in(c: AsyncClient, email: str) -> Any:
    form = (await c.get("/login")).text
    response = await c.post(
        "/login",
        data={
            "_csrf_token": csrf_from(form),
            "email": email,
            "password": DEMO_PASSWORD,
            "next": "/dashboard",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, (email, response.text[:500])
    return response.headers["location"]
