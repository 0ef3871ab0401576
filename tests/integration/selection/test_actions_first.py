"""The draw page puts the viewer's action first (issue 22): a way to the objection form
near the top, a refused objection summarised on top and linked to its field, the proofs
folded below; a holder is never offered an objection against itself; after a replacement
the result says one status and strikes out the winner that declined; /messages says a
draw's fairness caveat beside that draw's message, not over the inbox."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market.core.db import Database
from market.selection import service
from market.selection.api import context
from tests.integration.agencies.test_api import admin
from tests.integration.selection.helpers import close, open_round
from tests.integration.selection.test_pages import (
    EN,
    agency_accounts,
    browsers,  # noqa: F401  (a fixture)
    drawn_round,
    email_of,
    error_beside,
    post_form,
)

TOO_SHORT = "太短了"


def headers_of(r: Any, agency_id: str) -> dict[str, str]:
    return next(h for h, a in r.bidders if a["id"] == agency_id)


async def test_objection_is_reached_from_the_top_and_a_too_short_one_is_summarised_on_top(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    draw = f"/notices/{r.notice_id}/draw"
    loser = await browsers(email_of(r, record["alternates"][0]), **EN)
    page = (await loser.get(draw)).text
    panel_at = page.index('id="draw-panel"')
    # The way to the form comes before the panel; the form itself follows the result.
    assert 0 <= page.index('href="#object"') < panel_at
    assert page.index('id="result-h"') < page.index('id="object"')
    # Hashes, the opened bids and the verification are folded below the result.
    proofs = page[page.index('<details class="proofs"') :]
    for folded in ('id="committed-h"', 'id="revealed-h"', 'id="verify-h"', 'class="seed"'):
        assert folded in proofs and folded not in page[: page.index('<details class="proofs"')]

    refused = await post_form(loser, draw, f"/notices/{r.notice_id}/objections", {"reasons": TOO_SHORT})
    assert refused.status_code == 422
    text = refused.text
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', text, re.S)
    assert summary, "no error summary"
    assert summary.start() < text.index('id="draw-panel"')
    assert 'href="#f-objection-reasons"' in summary.group(1)
    assert "at least 10 characters" in summary.group(1)
    assert "at least 10 characters" in error_beside(text, "objection-reasons")
    assert re.search(r'<textarea id="f-objection-reasons"[^>]*aria-invalid="true"', text)
    assert TOO_SHORT in text  # what was typed comes back


async def test_a_sole_holder_is_offered_no_objection_against_itself_and_the_api_refuses_it(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    winner = record["winners"][0]
    page = (await (await browsers(email_of(r, winner), **EN)).get(f"/notices/{r.notice_id}/draw")).text
    assert f'action="/notices/{r.notice_id}/objections"' not in page
    assert "no other winner is left to object to" in page
    for body in (
        {"reasons": "中选结果存在问题，请复核"},
        {"reasons": "中选结果存在问题，请复核", "agency_id": winner},
    ):
        refused = await client.post(
            f"/api/v1/notices/{r.notice_id}/objections", json=body, headers=headers_of(r, winner)
        )
        assert refused.status_code == 422, refused.text
    # A bidder that holds nothing keeps the whole result and the winner to choose from.
    loser_page = (
        await (await browsers(email_of(r, record["alternates"][0]), **EN)).get(f"/notices/{r.notice_id}/draw")
    ).text
    assert '<option value="">the whole result</option>' in loser_page
    assert f'<option value="{winner}"' in loser_page


async def test_two_holders_each_may_name_only_the_other(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    staff = await admin(client, db)
    who = await agency_accounts(client, staff, 3)
    r = await open_round(client, staff, bidders=who, method="lottery", winners=2, min_candidates=3)
    record = await close(client, r)
    first, second = record["winners"]
    page = (await (await browsers(email_of(r, first), **EN)).get(f"/notices/{r.notice_id}/draw")).text
    form = page[page.index('id="object"') :]
    assert f'<option value="{second}"' in form and f'<option value="{first}"' not in form
    assert '<option value="">the whole result</option>' not in form


async def test_after_a_replacement_the_result_has_one_status_and_strikes_out_the_decliner(
    client: AsyncClient, app: Litestar, db: Database
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    winner, replacement = record["winners"][0], record["alternates"][0]
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE selection SET publicity_ends = clock_timestamp() - interval '1 second'"
                " WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)"
            ),
            {"n": r.notice_id},
        )
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) == r.notice_id
    declined = await client.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "无法签订合同"},
        headers=headers_of(r, winner),
    )
    assert declined.status_code == 200 and declined.json()["status"] == "selected", declined.text

    page = (await client.get(f"/notices/{r.notice_id}/draw", headers=EN)).text
    assert "The award is final." not in page  # it is in publicity again, for the replacement
    assert "Publicity (公示) ends" in page
    winners = re.search(r'<ol class="winners">(.*?)</ol>', page, re.S).group(1)  # type: ignore[union-attr]
    struck = re.search(r'<li class="ended">(.*?)</li>', winners, re.S)
    assert struck and winner in struck.group(1) and "Declined" in struck.group(1)
    assert replacement in struck.group(1)  # "replaced by" the one holding it now
    holders = re.search(r'<ul class="holders">(.*?)</ul>', page, re.S).group(1)  # type: ignore[union-attr]
    assert replacement in holders and winner not in holders


async def test_the_winner_is_told_what_comes_next_on_the_notice_and_the_draw_page(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    winner = await browsers(email_of(r, record["winners"][0]), **EN)
    notice = (await winner.get(f"/notices/{r.notice_id}")).text
    steps = notice[notice.index('id="next"') :]
    assert notice.index('id="next"') < notice.index('id="terms-h"')
    assert "The result is in publicity (公示) until" in steps and "records the contract" in steps
    assert f'href="/notices/{r.notice_id}/draw#decline"' in steps
    draw = (await winner.get(f"/notices/{r.notice_id}/draw")).text
    assert draw.index('href="#decline"') < draw.index('id="draw-panel"')
    assert "the owner then records the contract" in draw
    # A bidder that did not win is not told it holds anything.
    loser = await browsers(email_of(r, record["alternates"][0]), **EN)
    assert 'id="next"' not in (await loser.get(f"/notices/{r.notice_id}")).text


async def test_messages_say_the_fairness_caveat_beside_the_draw_not_over_the_inbox(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, _ = await drawn_round(client, db, bidders=3)
    inbox = (await (await browsers(email_of(r, record["winners"][0]), **EN)).get("/messages")).text
    content = inbox[inbox.index("<h1>") :]
    assert "The fairness of this draw rests on the operator." not in content
    note_at = content.index('class="fairness-note"')
    won_at = content.index("kind-won")
    assert won_at < note_at < content.index("</li>", won_at)
