"""Red flags computed in the background and kept (flags/store.py): what is kept equals
what the live computation gives for the same data, page after page; the pages and the API
say when it was computed; a view is computed by the task, never by the request asking for
it; a new flag shows after the next refresh, not before; a county's supervisor still sees
only its hall's view."""

from __future__ import annotations

import asyncio
import html
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from market.core.clock import CHINA, today_in_china
from market.core.config import Settings
from market.core.db import Database
from market.supervision.flags import service, store
from market.supervision.flags.alerting import FlagAlertTask
from tests.integration.agencies.test_api import admin
from tests.integration.cli.test_cli import market
from tests.integration.notices.test_api import approved_agency
from tests.integration.supervision.test_flags_jurisdiction import (
    COUNTY,
    PREFECTURE,
    SIBLING,
    compute_flags,
    copy_notice,
    county_concentration,
    flags_of,
    staff_at,
    template_notice,
    win_share_of,
)

EN = {"Accept-Language": "en"}


async def every_page(db: Database, settings: Settings, hall: str, *, limit: int) -> list[object]:
    """The kept flags of ``hall``'s view, read ``limit`` at a time from the first page on."""
    out: list[object] = []
    after = None
    async with db.transaction() as session:
        while True:
            page = await store.read_page(
                session, settings, hall=hall, filters=store.Filters(), after=after, limit=limit
            )
            assert page is not None, hall
            out += page.flags
            assert page.total == len(out) or page.next_after is not None
            if page.next_after is None:
                return out
            after = page.next_after


async def test_kept_flags_equal_the_live_computation(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    await county_concentration(client, db)
    for hall in ("530000", PREFECTURE, COUNTY, SIBLING):
        async with db.transaction() as session:
            live = await service.all_flags(session, settings, today_in_china(), hall=hall)
            kept = await store.refresh(session, settings, today_in_china(), hall=hall)
        assert kept == live
        assert await every_page(db, settings, hall, limit=2) == live, hall
    # The county's own view holds the concentration; the flags round-trip exactly, the
    # order of their numbers included (what the page lists them in).
    async with db.transaction() as session:
        page = await store.read_page(session, settings, hall=COUNTY, filters=store.Filters())
        live = await service.all_flags(session, settings, today_in_china(), hall=COUNTY)
    assert page is not None
    assert any(f.kind == "win_share" for f in page.flags)
    assert [list(f.numbers) for f in page.flags] == [list(f.numbers) for f in live]
    assert page.by_kind["win_share"] == sum(1 for f in live if f.kind == "win_share")


async def test_a_new_flag_shows_after_the_next_refresh(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    county = await staff_at(client, db, COUNTY)
    staff = await admin(client, db)
    a, b, c = [(await approved_agency(client, staff))[1]["id"] for _ in range(3)]
    source = await template_notice(client)
    for agency in (a, b, c):
        await copy_notice(db, source, hall=COUNTY, agency=agency)

    never = (await flags_of(client, county)).json()  # asked for first: not computed by asking
    assert never["computed"] is False and never["as_of"] is None and never["flags"] == []
    await compute_flags(db, settings, COUNTY)  # as `market flags refresh` does: kept, not alerted
    first = (await flags_of(client, county)).json()
    assert first["computed"] is True and not win_share_of(first, a)
    as_of = datetime.fromisoformat(first["as_of"])

    await copy_notice(db, source, hall=COUNTY, agency=a)  # A: 2 of 4 awards, the threshold
    still = (await flags_of(client, county)).json()
    assert not win_share_of(still, a) and still["as_of"] == first["as_of"]  # as of then

    await FlagAlertTask(db, settings).run_once()
    after = (await flags_of(client, county)).json()
    assert win_share_of(after, a)
    assert datetime.fromisoformat(after["as_of"]) > as_of and "log_seq" not in after

    # Another server process running the task finds every view fresh and computes none again.
    await FlagAlertTask(db, settings).run_once()
    assert (await flags_of(client, county)).json()["as_of"] == after["as_of"]


async def test_the_page_says_when_the_flags_were_computed(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    await county_concentration(client, db)
    await compute_flags(db, settings, COUNTY)
    prefecture = await staff_at(client, db, PREFECTURE)
    body = (await flags_of(client, prefecture, jurisdiction=COUNTY)).json()
    page = await client.get(
        "/supervision/flags", params={"jurisdiction": COUNTY}, headers={**prefecture, **EN}
    )
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    shown = datetime.fromisoformat(body["as_of"]).astimezone(CHINA)
    as_of = f'As of <time datetime="{body["as_of"][:19]}Z">{shown:%Y-%m-%d %H:%M}</time>'
    assert as_of in text and 'id="flag-as-of"' in text
    assert "computed in the background, not when you open this page" in text
    kind = await client.get(
        "/supervision/flags/win_share", params={"jurisdiction": COUNTY}, headers={**prefecture, **EN}
    )
    assert as_of in html.unescape(kind.text)


async def test_flags_come_a_page_at_a_time(
    client: AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await county_concentration(client, db)
    await compute_flags(db, settings, COUNTY)
    county = await staff_at(client, db, COUNTY)
    everything = (await flags_of(client, county)).json()
    assert everything["next_cursor"] is None and everything["matching"] == everything["total"]
    assert everything["total"] == len(everything["flags"]) >= 2

    with monkeypatch.context() as patch:
        patch.setattr(store, "PAGE", 1)
        seen, cursor = [], None
        while True:
            params = {"cursor": cursor} if cursor else {}
            body = (await flags_of(client, county, **params)).json()
            assert len(body["flags"]) == 1 and body["total"] == everything["total"]
            seen += [(f["kind"], f["subject"], f["numbers"]) for f in body["flags"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        page = await client.get("/supervision/flags", headers={**county, **EN})
        assert 'rel="next"' in page.text and "cursor=" in page.text
    assert seen == [(f["kind"], f["subject"], f["numbers"]) for f in everything["flags"]]

    only = (await flags_of(client, county, kind="win_share", q=world["a"].lower())).json()
    assert only["matching"] == len(only["flags"]) >= 1 and {f["subject"] for f in only["flags"]} == {
        world["a"]
    }
    bad = await flags_of(client, county, cursor="not-a-cursor")
    assert bad.status_code == 422, bad.text


def test_the_command_keeps_the_flags_of_the_halls_it_is_given(
    committed_database_url: str, tmp_path: Path
) -> None:
    """`market flags refresh` computes and keeps a hall's view now, not alerted (the servers'
    task still alerts what is new); a hall that does not exist is named, and nothing is kept."""
    env = {"DATABASE_URL": committed_database_url, "MARKET_DATA_DIR": str(tmp_path)}
    done = market("flags", "refresh", "--hall", "530000", "--hall", "530100", env=env)
    assert done.returncode == 0, done.stderr
    assert "kept for hall 530000" in done.stdout and "kept for hall 530100" in done.stdout
    kept = asyncio.run(_views(committed_database_url))
    assert kept == {"530000": False, "530100": False}
    refused = market("flags", "refresh", "--hall", "530000", "--hall", "999999", env=env)
    assert refused.returncode == 1 and "no such hall: 999999" in refused.stderr
    everything = market("flags", "refresh", env=env)
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.count("kept for hall") == len(asyncio.run(_views(committed_database_url))) > 2


async def _views(url: str) -> dict[str, bool]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT hall, alerted FROM flag_view ORDER BY hall"))
            return {hall: alerted for hall, alerted in rows.all()}
    finally:
        await engine.dispose()
