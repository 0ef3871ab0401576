"""An agency's dashboard and lists (issue 22, item 4): which notices it already bid on (no
second offer to bid), what became of each bid (won, not chosen, waiting) and what next; the
owner's contract to record comes first on its own dashboard."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar

from market.core.db import Database
from tests.integration.agencies.test_api import admin
from tests.integration.contracts.test_api import finalize_due
from tests.integration.contracts.test_pages import browsers, quick  # noqa: F401 - fixtures
from tests.integration.dashboards.test_dashboards import group, next_task
from tests.integration.notices.test_api import published
from tests.integration.selection.helpers import close, open_round, selection_of
from tests.integration.selection.test_pages import EN, agency_accounts, owner_account


async def awarded_round(quick: Litestar, db: Database, browsers: Any) -> dict[str, Any]:
    """contracts.test_pages.awarded_round with a wider bid window: three bids on a shared,
    busy machine do not always fit in a second and a half."""
    api = await browsers()
    staff = await admin(api, db)
    owner_headers, owner_email = await owner_account(api)
    bidders = await agency_accounts(api, staff, 3)
    r = await open_round(
        api,
        staff,
        bidders=bidders,
        owner=owner_headers,
        method="lottery",
        winners=1,
        min_candidates=3,
        due_in=6,
    )
    await close(api, r)
    assert r.notice_id in await finalize_due(quick, db)
    record = await selection_of(api, r.notice_id)
    emails = {a["id"]: a["email"] for _, a in bidders}
    return {
        "api": api,
        "r": r,
        "owner_email": owner_email,
        "winner_email": emails[record["winners"][0]],
        "loser_email": emails[record["alternates"][0]],
    }


async def test_agency_sees_won_and_lost_bids_and_no_second_bid_offer(
    quick: Litestar,
    db: Database,
    browsers: Any,
) -> None:
    w = await awarded_round(quick, db, browsers)
    r, api = w["r"], w["api"]
    winner = await browsers(w["winner_email"], **EN)
    loser = await browsers(w["loser_email"], **EN)
    owner = await browsers(w["owner_email"], **EN)

    # The owner: record the contract with the winner, by the signing day.
    top = next_task((await owner.get("/dashboard")).text)
    assert "Record the contract signed with" in top and f'href="/notices/{r.notice_id}/contract"' in top
    # The winner: the award is final; the owner records the contract, then it confirms.
    top = next_task((await winner.get("/dashboard")).text)
    assert r.notice_id in top and "The award is final" in top

    # My bids says who won and who did not, and what next.
    won = (await winner.get("/agency/bids")).text
    assert "Outcome: Won</strong>" in won
    lost = (await loser.get("/agency/bids")).text
    assert "Outcome: Not chosen</strong>" in lost and "look for new notices open to you" in lost
    assert "Not chosen" in group((await loser.get("/dashboard")).text, "bids")

    # A new notice: the winner bids; its "open to me" says so instead of offering to bid again.
    second = await published(api, r.owner, title="第二个环评公告")
    winner_headers = next(h for h, a in r.bidders if a["email"] == w["winner_email"])
    placed = await api.post(f"/api/v1/notices/{second['id']}/bids", json={}, headers=winner_headers)
    assert placed.status_code == 201, placed.text
    mine = (await winner.get("/agency/notices")).text
    row = re.search(rf"<tr>(?:(?!</tr>).)*{second['id']}(?:(?!</tr>).)*</tr>", mine, re.S)
    assert row is not None
    assert "Bid submitted" in row.group(0) and f'href="/notices/{second["id"]}#bid"' not in row.group(0)
    assert f'href="/notices/{second["id"]}#my-bid"' in row.group(0)
    theirs = (await loser.get("/agency/notices")).text
    assert f'href="/notices/{second["id"]}#bid"' in theirs
    # The loser's dashboard offers it (first: its deadline is the only one), the winner's not.
    assert f'href="/notices/{second["id"]}#bid"' in next_task((await loser.get("/dashboard")).text)
    assert f'href="/notices/{second["id"]}#bid"' not in (await winner.get("/dashboard")).text
    waiting = (await winner.get("/agency/bids")).text
    assert "Outcome: Submitted: waiting for the deadline</strong>" in waiting


async def test_a_direct_selection_is_offered_to_the_agency_it_names_only(
    quick: Litestar,
    db: Database,
    browsers: Any,
) -> None:
    """Another agency's direct selection is no notice to bid on: its dashboard, its "open
    to me" list and the bid itself agree (eligibility's not_named), the named agency's offer
    it."""
    api = await browsers()
    staff = await admin(api, db)
    owner_headers, _ = await owner_account(api)
    (named_headers, named), (other_headers, other) = await agency_accounts(api, staff, 2)
    notice = await published(
        api,
        owner_headers,
        title="某涉密项目环境影响评价",
        method="direct",
        min_candidates=1,
        direct_agency_id=named["id"],
        direct_justification="涉密项目，经主管部门批准直接选取。",
    )
    offer = f'href="/notices/{notice["id"]}#bid"'

    named_page = await browsers(named["email"], **EN)
    assert offer in group((await named_page.get("/dashboard")).text, "open_to_me")
    assert offer in (await named_page.get("/agency/notices")).text

    other_page = await browsers(other["email"], **EN)
    assert offer not in (await other_page.get("/dashboard")).text
    listed = (await other_page.get("/agency/notices")).text
    row = re.search(rf"<tr>(?:(?!</tr>).)*{notice['id']}(?:(?!</tr>).)*</tr>", listed, re.S)
    assert row is not None and offer not in row.group(0)
    assert "Not eligible" in row.group(0) and "direct selection of another agency" in row.group(0)
    # The notice page says the same, and the bid is refused for the same reason.
    assert "direct selection of another agency" in (await other_page.get(f"/notices/{notice['id']}")).text
    refused = await api.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=other_headers)
    assert refused.status_code == 403, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["not_named"]
    placed = await api.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=named_headers)
    assert placed.status_code == 201, placed.text
