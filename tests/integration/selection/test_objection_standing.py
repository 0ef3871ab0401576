"""Objections with standing (issue 19, item 5): only the notice's bidders (after the close)
and its owner may object; one pending objection per party and notice; the objector is
shown to supervisors and never to the public; everyone else gets a clear refusal, in the
API and on the draw page, which does not offer them the form."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient

from market import protocol
from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import bearer, create_staff, register, token_for
from tests.integration.agencies.test_api import admin, agency_user
from tests.integration.notices.test_api import approved_agency, owner_user
from tests.integration.selection.helpers import Round, close, entries_of, open_round
from tests.integration.selection.test_pages import EN, browsers, drawn_round, email_of, post_form  # noqa: F401 - browsers is a fixture

REASONS = "中选机构的资质证书已被吊销，不符合报名条件"


async def supervisor(client: AsyncClient, db: Database) -> dict[str, str]:
    return bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))


def headers_of(r: Round, agency_id: str) -> dict[str, str]:
    return next(h for h, a in r.bidders if a["id"] == agency_id)


def losers(r: Round, record: dict[str, Any]) -> list[str]:
    return [a["id"] for _, a in r.bidders if a["id"] not in record["winners"]]


async def test_an_account_with_no_stake_in_the_notice_cannot_object(
    client: AsyncClient, db: Database
) -> None:
    """The finding: any account filed objections on a notice it had no part in."""
    staff = await admin(client, db)
    chief = await supervisor(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    base = f"/api/v1/notices/{r.notice_id}/objections"
    body = {"reasons": REASONS, "agency_id": record["winners"][0]}

    outsiders = {
        "an agency that did not bid": (await approved_agency(client, staff))[0],
        "an agency without a profile": await agency_user(client),
        "another owner": await owner_user(client),
        "a supervisor": chief,
        "an administrator": staff,
    }
    for who, headers in outsiders.items():
        refused = await client.post(base, json=body, headers=headers)
        assert refused.status_code == 403, (who, refused.text)
        problem = refused.json()
        assert (
            problem["status"] == 403
            and "Only the agencies that bid on this notice and its owner may object" in problem["detail"]
        ), (who, problem)
    assert await entries_of(client, r.notice_id, "objection.filed") == []
    assert (await client.get(base)).json() == []

    # A bidder that was not drawn, and the owner, may.
    loser = losers(r, record)[0]
    assert (await client.post(base, json=body, headers=headers_of(r, loser))).status_code == 201
    assert (await client.post(base, json=body, headers=r.owner)).status_code == 201
    assert len(await entries_of(client, r.notice_id, "objection.filed")) == 2


async def test_one_pending_objection_per_party_and_notice(client: AsyncClient, db: Database) -> None:
    """The finding: one account filed three objections, each holding the award back."""
    staff = await admin(client, db)
    chief = await supervisor(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    base = f"/api/v1/notices/{r.notice_id}/objections"
    loser = losers(r, record)[0]
    first = await client.post(base, json={"reasons": REASONS}, headers=headers_of(r, loser))
    assert first.status_code == 201, first.text
    for reasons in ("中选机构的业绩材料存在疑点，请予核查", "抽取过程不公开，要求复核"):
        again = await client.post(base, json={"reasons": reasons}, headers=headers_of(r, loser))
        assert again.status_code == 409, again.text
        assert (
            first.json()["id"] in again.json()["detail"]
            and "already have an objection pending on this notice" in again.json()["detail"]
        )
    assert len(await entries_of(client, r.notice_id, "objection.filed")) == 1

    # The owner is a party of its own; so is each bidder.
    assert (await client.post(base, json={"reasons": REASONS}, headers=r.owner)).status_code == 201
    assert (await client.post(base, json={"reasons": REASONS}, headers=r.owner)).status_code == 409

    # Once decided, the party may object again (to a new holder, say).
    decided = await client.post(
        f"{base}/{first.json()['id']}/decision",
        json={"decision": "rejected", "reason": "理由不成立"},
        headers=chief,
    )
    assert decided.status_code == 200, decided.text
    assert (
        await client.post(
            base, json={"reasons": "中选机构的业绩材料存在疑点，请予核查"}, headers=headers_of(r, loser)
        )
    ).status_code == 201
    statuses = sorted(o["status"] for o in (await client.get(base)).json())
    assert statuses == ["filed", "filed", "rejected"]


async def test_the_database_holds_one_pending_objection_per_party(client: AsyncClient, db: Database) -> None:
    """Two requests can race: the partial unique index refuses the second pending row."""
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, due_in=2.5, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    loser = losers(r, record)[0]
    filed = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections", json={"reasons": REASONS}, headers=headers_of(r, loser)
    )
    assert filed.status_code == 201, filed.text
    copy = (
        "INSERT INTO objection (public_id, notice_id, filed_by, agency_public_id, reasons, status, filed_seq, filed_at, party, party_salt) "
        "SELECT 'OB-COPY', notice_id, filed_by, agency_public_id, reasons, 'filed', filed_seq, filed_at, party, party_salt FROM objection WHERE public_id = :id"
    )
    async with db.transaction() as session:
        with pytest.raises(sa.exc.IntegrityError, match="uq_objection_pending_party"):
            async with session.begin_nested():
                await session.execute(sa.text(copy), {"id": filed.json()["id"]})
        # A decided objection does not count: the same party may have many of those.
        await session.execute(
            sa.text("UPDATE objection SET status = 'rejected' WHERE public_id = :id"),
            {"id": filed.json()["id"]},
        )
        await session.execute(sa.text(copy), {"id": filed.json()["id"]})
        await session.execute(
            sa.text(copy.replace("'OB-COPY'", "'OB-COPY2'").replace("'filed'", "'rejected'")),
            {"id": "OB-COPY"},
        )


async def test_excluded_bidders_have_standing_and_withdrawn_ones_do_not(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=5, due_in=2.5, method="lottery", winners=1, min_candidates=3)
    (gone_h, _gone), (_, suspended) = r.bidders[0], r.bidders[1]
    assert (
        await client.delete(f"/api/v1/notices/{r.notice_id}/bids/{r.bids[0]['bid_id']}", headers=gone_h)
    ).status_code == 200
    assert (
        await client.post(
            f"/api/v1/agencies/{suspended['id']}/suspend",
            json={"reason": "出具虚假报告，暂停执业"},
            headers=staff,
        )
    ).status_code == 200
    record = await close(client, r)
    assert record["status"] == "selected" and record["excluded"] == [
        {"agency_id": suspended["id"], "reason": "suspended"}
    ]
    base = f"/api/v1/notices/{r.notice_id}/objections"

    withdrawn = await client.post(base, json={"reasons": REASONS}, headers=gone_h)
    assert withdrawn.status_code == 403, withdrawn.text
    excluded = await client.post(
        base, json={"reasons": "我方被排除的理由与事实不符，请复核"}, headers=headers_of(r, suspended["id"])
    )
    assert excluded.status_code == 201, excluded.text


async def test_a_holder_objects_only_to_another_holder(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=4, method="lottery", winners=2, min_candidates=3)
    record = await close(client, r)
    first, second = record["winners"]
    base = f"/api/v1/notices/{r.notice_id}/objections"
    for target in (first, None):
        mine = await client.post(
            base, json={"reasons": REASONS, "agency_id": target}, headers=headers_of(r, first)
        )
        assert mine.status_code == 422 and mine.json()["errors"][0]["field"] == "agency_id", mine.text
    other = await client.post(
        base, json={"reasons": REASONS, "agency_id": second}, headers=headers_of(r, first)
    )
    assert other.status_code == 201, other.text


async def test_the_objector_is_shown_to_supervisors_and_not_to_the_public(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, owner_email = await drawn_round(client, db, bidders=3)
    loser = losers(r, record)[0]
    loser_name = next(a["name"] for _, a in r.bidders if a["id"] == loser)
    base = f"/api/v1/notices/{r.notice_id}/objections"
    filed = await client.post(
        base, json={"reasons": REASONS, "agency_id": record["winners"][0]}, headers=headers_of(r, loser)
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["id"]
    # The filer gets its own receipt: the party and the salt that open the log's commitment.
    receipt = filed.json()["objector"]
    assert receipt["party"] == loser

    # The public: neither the API, the log nor the pages say who filed it.
    public = (await client.get(base)).json()
    assert "objector" not in public[0] and loser not in str(public)
    [entry] = await entries_of(client, r.notice_id, "objection.filed")
    assert loser not in str(entry) and receipt["salt"] not in str(entry)
    opened = protocol.canonical_json(
        {"notice_id": r.notice_id, "objection_id": objection_id, "party": loser, "salt": receipt["salt"]}
    )
    assert entry["objector_sha256"] == protocol.sha256_hex(opened)
    draw = f"/notices/{r.notice_id}/draw"
    for page in ((await client.get(draw)).text, (await (await browsers(owner_email, **EN)).get(draw)).text):
        assert "Filed by" not in page and "提出人" not in page

    # Supervisors: the API, the draw page, the queue and the console name the party.
    chief = await supervisor(client, db)
    staff_view = (await client.get(base, headers=chief)).json()
    assert (
        staff_view[0]["objector"]["party"] == loser and staff_view[0]["objector"]["salt"] == receipt["salt"]
    )
    eye = await browsers(await create_staff(db, role=Role.supervisor), **EN)
    for path in (draw, "/supervision/objections", f"/supervision/notices/{r.notice_id}"):
        page = html.unescape((await eye.get(path)).text)
        assert "Filed by" in page and loser in page and loser_name in page, path

    # The owner's own objection says so, to supervisors only.
    by_owner = await client.post(
        base, json={"reasons": "经复查，中选机构提交的业绩证明存在伪造"}, headers=r.owner
    )
    assert by_owner.status_code == 201, by_owner.text
    page = html.unescape((await eye.get(f"/supervision/notices/{r.notice_id}")).text)
    assert "Filed by: the notice's owner" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


# -- the page ------------------------------------------------------------------------------------------


async def test_the_draw_page_offers_the_form_only_to_parties_and_says_why_to_others(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    r, record, owner_email = await drawn_round(client, db, bidders=3)
    draw = f"/notices/{r.notice_id}/draw"
    action = f'action="/notices/{r.notice_id}/objections"'

    outsider = await browsers((await register(client, role="agency"))["email"], **EN)
    page = (await outsider.get(draw)).text
    assert action not in page and "Only the agencies that bid on this notice and its owner may object" in page
    crafted = await post_form(
        outsider, draw, f"/notices/{r.notice_id}/objections", {"reasons": REASONS, "agency_id": ""}
    )
    assert crafted.status_code == 403 and 'role="alert"' in crafted.text
    assert "Only the agencies that bid on this notice and its owner may object" in crafted.text
    assert (await client.get(f"/api/v1/notices/{r.notice_id}/objections")).json() == []

    loser = losers(r, record)[0]
    bidder = await browsers(email_of(r, loser), **EN)
    assert action in (await bidder.get(draw)).text
    filed = await post_form(
        bidder, draw, f"/notices/{r.notice_id}/objections", {"reasons": REASONS, "agency_id": ""}
    )
    assert filed.status_code == 303, filed.text
    page = (await bidder.get(draw)).text
    objection_id = (await client.get(f"/api/v1/notices/{r.notice_id}/objections")).json()[0]["id"]
    assert action not in page and f"already have an objection pending on this notice ({objection_id})" in page
    twice = await post_form(
        bidder,
        draw,
        f"/notices/{r.notice_id}/objections",
        {"reasons": "抽取过程不公开，要求复核", "agency_id": ""},
    )
    assert twice.status_code == 409 and 'role="alert"' in twice.text and objection_id in twice.text

    owner = await browsers(owner_email, **EN)
    assert action in (await owner.get(draw)).text


async def test_the_owner_reports_a_winner_and_does_not_answer_its_own_report(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    """Issue 22: the owner keeps its standing (issue 19), but its page calls it a report to
    the supervisors, and neither the page nor the API lets it answer what it filed itself."""
    r, record, owner_email = await drawn_round(client, db, bidders=3)
    draw = f"/notices/{r.notice_id}/draw"
    owner = await browsers(owner_email, **EN)
    page = (await owner.get(draw)).text
    assert "Report a winner to the supervisors" in page and "File an objection (异议)" not in page
    loser = losers(r, record)[0]
    bidder_page = (await (await browsers(email_of(r, loser), **EN)).get(draw)).text
    assert "File an objection (异议)" in bidder_page and "Report a winner" not in bidder_page

    base = f"/api/v1/notices/{r.notice_id}/objections"
    own = await client.post(base, json={"reasons": REASONS}, headers=r.owner)
    assert own.status_code == 201, own.text
    others = await client.post(
        base, json={"reasons": REASONS, "agency_id": record["winners"][0]}, headers=headers_of(r, loser)
    )
    assert others.status_code == 201, others.text
    # The page offers an answer to the bidder's objection only.
    page = (await owner.get(draw)).text
    assert f"answer-{others.json()['id']}" in page and f"answer-{own.json()['id']}" not in page
    refused = await client.post(
        f"{base}/{own.json()['id']}/answer", json={"answer": "同意本单位提出的异议"}, headers=r.owner
    )
    assert refused.status_code == 409 and "takes no answer" in refused.json()["detail"]
    answered = await client.post(
        f"{base}/{others.json()['id']}/answer", json={"answer": "经核查，资质证书有效"}, headers=r.owner
    )
    assert answered.status_code == 200, answered.text
