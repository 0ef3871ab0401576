"""A hall's red flags before and at their first computation (issue 24, found at scale 10).

No request computes a view: the province's took about 100 s at ten times the seeded data,
so the first page to ask for it answered 504. A view not computed yet is said to be so, on
the page (with when the background task computes it and the command that does it now), on
the page of one kind, in the list htmx swaps, and in the API (200, ``computed`` false).

The first computation of a view is a baseline: on a bulk-loaded database every existing
flag is new to the task, and alerting each was about 95,000 inbox messages at the seeded
size. Each supervisor who would have been alerted gets one message saying how many flags
were found; a flag found after it is alerted on its own, as before."""

from __future__ import annotations

import html
from pathlib import Path

import sqlalchemy as sa
from httpx import AsyncClient
from sqlmodel import col

from market.app import create_app
from market.core.clock import today_in_china
from market.core.config import Settings
from market.core.db import Database
from market.supervision import alerts
from market.supervision.flags import alerting
from market.supervision.models import FlagView
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, token_for
from tests.integration.supervision.test_alerts import alerts_of, staff
from tests.integration.supervision.test_flags_jurisdiction import (
    COUNTY,
    SIBLING,
    compute_flags,
    copy_notice,
    county_concentration,
    flags_of,
    staff_at,
    win_share_of,
)

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
NOT_YET = "The red flags of this jurisdiction have not been computed yet, so there is no list to show."
NOT_YET_ZH = "本辖区的风险预警还没有计算过，暂时没有可显示的清单。"


async def kept_views(db: Database, hall: str) -> int:
    async with db.transaction() as session:
        stmt = sa.select(sa.func.count()).select_from(FlagView).where(col(FlagView.hall) == hall)
        return int((await session.execute(stmt)).scalar_one())


async def test_a_view_never_computed_is_said_so_and_not_computed_by_the_request(
    client: AsyncClient, db: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    world = await county_concentration(client, db)
    county = await staff_at(client, db, COUNTY)

    api = await flags_of(client, county)
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["computed"] is False and body["jurisdiction"] == COUNTY
    assert body["as_of"] is None and body["total"] is None and body["by_kind"] is None
    assert body["flags"] == [] and body["next_cursor"] is None
    assert body["refresh_interval_seconds"] == 300 and body["thresholds"]["win_share"]

    page = await client.get("/supervision/flags", headers={**county, **EN})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert NOT_YET in text and 'id="flag-not-computed"' in text
    assert "every 5 minutes" in text and "<code>market flags refresh --hall 530102</code>" in text
    assert 'id="flag-results"' not in text and "flag-as-of" not in text and 'id="count-win_share"' not in text
    zh = html.unescape((await client.get("/supervision/flags", headers={**county, **ZH})).text)
    assert NOT_YET_ZH in zh and "market flags refresh --hall 530102" in zh
    partial = await client.get(
        "/supervision/flags", params={"kind": "win_share"}, headers={**county, **EN, "HX-Request": "true"}
    )
    assert (
        partial.status_code == 200 and "<html" not in partial.text and NOT_YET in html.unescape(partial.text)
    )
    kind = await client.get("/supervision/flags/win_share", headers={**county, **EN})
    assert kind.status_code == 200 and NOT_YET in html.unescape(kind.text)
    assert "Flags of this kind now" not in kind.text
    assert await kept_views(db, COUNTY) == 0  # none of those requests computed it
    schema = (await client.get("/schema/openapi.json")).json()
    described = schema["paths"]["/api/v1/supervision/flags"]["get"]["description"]
    assert "`computed` false" in described and "`refresh_interval_seconds`" in described

    # A server whose background tasks are off says that only the command computes it.
    off = create_app(make_settings(database_url, tmp_path, scheduler_interval=0), database=db)
    async with serve_in_process(off) as quiet:
        text = html.unescape((await quiet.get("/supervision/flags", headers={**county, **EN})).text)
        assert "background tasks are off" in text and "market flags refresh --hall 530102" in text
        assert (await flags_of(quiet, county)).json()["refresh_interval_seconds"] == 0

    # Once computed in the background it is listed, as of then.
    await compute_flags(db, settings, COUNTY)
    body = (await flags_of(client, county)).json()
    assert body["computed"] is True and body["as_of"] and win_share_of(body, world["a"])
    text = html.unescape((await client.get("/supervision/flags", headers={**county, **EN})).text)
    assert NOT_YET not in text and f'data-subject="{world["a"]}"' in text

    # Computed under other thresholds is not this view: said so, not computed by the request.
    other = create_app(make_settings(database_url, tmp_path, flag_min_awards=3), database=db)
    async with serve_in_process(other) as stricter:
        assert (await flags_of(stricter, county)).json()["computed"] is False
    assert (await flags_of(client, county)).json()["computed"] is True


async def test_the_first_computation_sends_one_message_per_supervisor_then_each_new_flag(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    world = await county_concentration(client, db)
    first, second, sibling = await staff(db, COUNTY), await staff(db, COUNTY), await staff(db, SIBLING)
    async with db.transaction() as session:
        alerted = await alerting.alert_new_flags(session, settings, today_in_china(), hall=COUNTY)
    assert alerted == 0  # none one by one

    found = (await flags_of(client, bearer(await token_for(client, first)))).json()
    assert found["computed"] is True and win_share_of(found, world["a"])  # listed
    count = found["total"]
    assert count >= 2  # A's share of the county's awards, as a whole and in the category
    for supervisor in (first, second):
        assert await alerts_of(db, supervisor, alerts.RED_FLAG) == []
        summary = await alerts_of(db, supervisor, alerts.RED_FLAGS_FOUND)
        assert [(m.params["hall"], m.params["found"]) for m in summary] == [(COUNTY, count)]
    assert await alerts_of(db, sibling) == []
    messages = await client.get("/messages", headers={**bearer(await token_for(client, first)), **EN})
    text = html.unescape(messages.text)
    assert f"were computed for the first time and {count} were found" in text
    assert "/supervision/flags?jurisdiction=530102" in text

    # A later computation alerts what is new, one message per flag, and no summary again:
    # B comes to hold 3 of the county's 6 awards. (The copies append no log entry, which
    # would have the task look at the county again: its function is called instead.)
    for _ in range(2):
        await copy_notice(db, world["source"], hall=COUNTY, agency=world["b"])
    async with db.transaction() as session:
        alerted = await alerting.alert_new_flags(session, settings, today_in_china(), hall=COUNTY)
    assert alerted >= 1
    for supervisor in (first, second):
        new = await alerts_of(db, supervisor, alerts.RED_FLAG)
        assert world["b"] in {m.params["subject"] for m in new}
        assert world["a"] not in {m.params["subject"] for m in new}  # baselined, not alerted
        assert len(await alerts_of(db, supervisor, alerts.RED_FLAGS_FOUND)) == 1
