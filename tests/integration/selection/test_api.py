"""Public selection through the JSON API (docs/selection.md, MSP/1 steps 3 to 7): closing,
the draw and its record, lowest price with a tie, direct selection, too few candidates,
exclusion at closing, declines, objections, publicity and the final award, and every
refusal on the way. Each test makes its own notice, due a second and a half after it is
published, inside the rolled-back transaction of the ``client`` fixture (no scheduler runs
there: closing is by POST /close, or by calling the scheduler's step directly)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from litestar import Litestar

from market import protocol
from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database
from market.selection import service
from market.selection.api import context
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, cancel_notice, create_staff, token_for
from tests.integration.agencies.test_api import admin, log_entries
from tests.integration.notices.test_api import (
    approved_agency,
    draft,
    fields_of,
    notice_body,
    owner_user,
    published,
)
from tests.integration.selection.helpers import (
    ENTRY_FIELDS,
    HEAD,
    Round,
    assert_opened,
    assert_story_verifies,
    close,
    entries_of,
    messages_of,
    open_round,
    recompute,
    sealed_entries,
    selection_of,
    standing_of,
    wait_until,
)

JUSTIFICATION = "全省唯一具备该项甲级资质的机构，且须在汛期前完成评估"


async def supervisor(client: AsyncClient, db: Database) -> dict[str, str]:
    email = await create_staff(db, role=Role.supervisor)
    return bearer(await token_for(client, email))


def headers_of(r: Round, agency_id: str) -> dict[str, str]:
    return next(h for h, a in r.bidders if a["id"] == agency_id)


def assert_fields(entry: dict[str, Any]) -> None:
    """Exactly the fields of an MSP/2 notice's entry of this type (every notice here is MSP/2)."""
    assert entry["v"] == 2, entry
    assert set(entry) == HEAD | ENTRY_FIELDS[entry["type"]], (entry["type"], sorted(entry))


@asynccontextmanager
async def app_with(
    db: Database, database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    """A second app on the test's rolled-back transaction, with other settings (the same
    data dir, so the same sealer key opens the secrets either app sealed)."""
    app = create_app(make_settings(database_url, tmp_path, **overrides), database=db)
    async with serve_in_process(app) as client:
        yield app, client


# -- the draw and its record --------------------------------------------------------------------


async def test_lottery_with_five_candidates_publishes_a_record_anyone_can_recompute(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=5, method="lottery", winners=1, min_candidates=3)

    before = await selection_of(client, r.notice_id)
    assert before["status"] == "open"
    for key in (
        "secret",
        "bids",
        "openings",
        "sealed",
        "candidates",
        "excluded",
        "eligible",
        "seed",
        "order",
        "ranking",
        "winners",
        "alternates",
        "publicity_ends",
    ):
        assert before[key] is None, key
    assert before["seqs"]["bids_accepted"] is None and before["seqs"]["bids_withdrawn"] is None
    assert (before["protocol"], before["sealing"]) == (2, "server")
    assert before["seqs"]["closed"] is None and before["seqs"]["outcome"] is None
    assert before["holders"] == []
    published_entry = (await entries_of(client, r.notice_id, "notice.published"))[0]
    assert before["seqs"]["published"] == published_entry["seq"]
    assert before["commit"] == published_entry["commit"] and before["scheme"] == "none"

    record = await close(client, r)
    assert record["status"] == "selected" and record["method"] == "lottery" and record["k"] == 1
    assert record["fairness"] == "operator" and record["scheme"] == "none" and record["beacon"] is None
    assert record["attempt"] == 1 and record["direct"] is None and record["failed_reason"] is None
    assert record["waiting_reason"] is None and record["publicity_ends"] is not None
    expected = recompute(record)
    assert expected["commit"] == record["commit"] == published_entry["commit"]
    for key in ("eligible", "seed", "order", "ranking", "winners", "alternates"):
        assert record[key] == expected[key], key
    ids = sorted(a["id"] for _, a in r.bidders)
    assert record["candidates"] == [[a, 1] for a in sorted(ids, key=lambda a: a.encode())]
    assert record["excluded"] == []
    assert sorted(record["order"]) == ids
    assert record["ranking"] == record["order"]
    assert record["winners"] + record["alternates"] == record["ranking"]
    assert len(record["winners"]) == 1 and len(record["alternates"]) == 4
    assert record["holders"] == record["winners"]
    # The openings are exactly the bids whose commitments were logged when they came in,
    # each opened with the salt and document its bidder holds, and tied to its bidder.
    assert (record["protocol"], record["sealing"]) == (2, "server")
    assert [o["bid"]["bid_id"] for o in record["openings"]] == sorted(
        (b["bid_id"] for b in r.bids), key=lambda i: i.encode()
    )
    by_id = {b["bid_id"]: b for b in r.bids}
    agency_of = {b["bid_id"]: a["id"] for b, (_, a) in zip(r.bids, r.bidders, strict=True)}
    for opening in record["openings"]:
        document, bid = opening["bid"], by_id[opening["bid"]["bid_id"]]
        assert (
            document["price_fen"] is None
            and document["notice_id"] == r.notice_id
            and document["agency_id"] == agency_of[document["bid_id"]]
        )
        assert protocol.canonical_json(document) == bid["bid_document"].encode()
        assert (opening["salt"], opening["seq"], opening["withdrawn"]) == (bid["salt"], bid["seq"], None)
        assert (
            protocol.bid_commitment(bytes.fromhex(opening["salt"]), protocol.canonical_json(document)).hex()
            == bid["commitment"]
        )
    assert record["bids"] == standing_of(record["openings"]) == [o["bid"] for o in record["openings"]]

    sealed = await sealed_entries(client)  # this test's log: the five bids' and nothing else
    closed = await entries_of(client, r.notice_id, "bidding.closed")
    drawn = await entries_of(client, r.notice_id, "selection.drawn")
    assert len(closed) == 1 and len(drawn) == 1
    closed_entry, drawn_entry = closed[0], drawn[0]
    assert_fields(closed_entry)
    assert_fields(drawn_entry)
    assert record["seqs"]["bids_accepted"] is None and record["seqs"]["bids_withdrawn"] is None
    assert record["sealed"] == [e["seq"] for e in sealed] == sorted(b["seq"] for b in r.bids)
    assert record["seqs"]["closed"] == closed_entry["seq"] and record["seqs"]["outcome"] == drawn_entry["seq"]
    assert closed_entry["seq"] < drawn_entry["seq"]
    assert protocol.parse_ts(closed_entry["ts"]) >= r.deadline
    assert closed_entry["v"] == drawn_entry["v"] == 2
    for key in ("secret", "openings", "candidates", "excluded", "eligible"):
        assert closed_entry[key] == record[key], key
    for key in ("attempt", "scheme", "beacon", "seed", "order", "ranking", "winners", "alternates"):
        assert drawn_entry[key] == record[key], key
    assert assert_opened(await log_entries(client), closed_entry) == record["sealed"]
    assert {e["commitment"] for e in sealed} == {b["commitment"] for b in r.bids}

    winner_headers = headers_of(r, record["winners"][0])
    assert "won" in [
        m["kind"] for m in await messages_of(client, winner_headers) if m["notice_id"] == r.notice_id
    ]
    loser_headers = headers_of(r, record["alternates"][0])
    assert "won" not in [
        m["kind"] for m in await messages_of(client, loser_headers) if m["notice_id"] == r.notice_id
    ]
    await assert_story_verifies(client, r.notice_id, "selected")


async def test_lowest_price_tie_is_broken_by_the_draw_and_prices_stay_sealed_until_closing(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    prices = [987_654, 912_345, 954_321, 912_345]  # the second and the fourth tie for lowest
    r = await open_round(
        client, staff, bidders=4, prices=prices, method="lowest_price", winners=1, min_candidates=3
    )

    # Before the deadline: nothing anyone (the owner included) can read shows a price.
    seen = [
        await client.get(f"/api/v1/notices/{r.notice_id}"),
        await client.get(f"/api/v1/notices/{r.notice_id}", headers=r.owner),
        await client.get(f"/api/v1/notices/{r.notice_id}/selection"),
        await client.get(f"/api/v1/notices/{r.notice_id}/selection", headers=r.owner),
        await client.get("/api/v1/notices"),
        await client.get("/api/v1/notices?method=lowest_price"),
        await client.get("/api/v1/notices/mine", headers=r.owner),
        await client.get(f"/api/v1/notices/{r.notice_id}/terms"),
        await client.get(f"/api/v1/notices/{r.notice_id}/objections"),
    ]
    log_before = json.dumps(await log_entries(client))  # the whole log: the sealed entries name no notice
    assert all(s.status_code == 200 for s in seen), [(s.status_code, s.text) for s in seen]
    for response in seen:
        for price in set(prices):
            assert str(price) not in response.text, response.request.url
        assert (
            "price_fen" not in response.text
            and '"salt"' not in response.text
            and '"commitment"' not in response.text
        ), response.request.url
        for bid in r.bids:
            assert bid["salt"] not in response.text and bid["commitment"] not in response.text, (
                response.request.url
            )
    for bid in r.bids:
        assert bid["salt"] not in log_before and bid["bid_id"] not in log_before
    assert all(str(p) not in log_before for p in prices)
    listed = [n for n in (await client.get("/api/v1/notices")).json()["items"] if n["id"] == r.notice_id]
    assert listed and listed[0]["status"] == "open"
    assert (await client.get(f"/api/v1/notices/{r.notice_id}/selection")).json()["secret"] is None

    record = await close(client, r)
    # ...and after closing nothing read before it held the revealed secret either.
    for response in seen:
        assert record["secret"] not in response.text
    assert record["secret"] not in log_before
    assert record["status"] == "selected"
    price_of = {r.bidders[i][1]["id"]: p for i, p in enumerate(prices)}
    assert {b["agency_id"]: b["price_fen"] for b in record["bids"]} == price_of
    assert {o["bid"]["bid_id"]: o["bid"]["price_fen"] for o in record["openings"]} == {
        b["bid_id"]: p for b, p in zip(r.bids, prices, strict=True)
    }
    expected = recompute(record)
    for key in ("eligible", "seed", "order", "ranking", "winners", "alternates"):
        assert record[key] == expected[key], key
    order = record["order"]
    assert record["ranking"] == sorted(order, key=lambda a: (price_of[a], order.index(a)))
    tied = [r.bidders[1][1]["id"], r.bidders[3][1]["id"]]
    first_drawn = min(tied, key=order.index)
    assert record["ranking"][:2] == [first_drawn, next(a for a in tied if a != first_drawn)]
    assert record["ranking"][2:] == [r.bidders[2][1]["id"], r.bidders[0][1]["id"]]
    assert record["winners"] == [first_drawn] and record["holders"] == [first_drawn]
    drawn = (await entries_of(client, r.notice_id, "selection.drawn"))[0]
    assert drawn["ranking"] == record["ranking"] and drawn["winners"] == [first_drawn]
    await assert_story_verifies(client, r.notice_id, "selected")


async def test_direct_selection_names_its_agency_which_alone_may_respond(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    named_h, named = await approved_agency(client, staff)
    other_h, other = await approved_agency(client, staff)

    missing = await client.post(
        "/api/v1/notices",
        json=notice_body(method="direct", min_candidates=1, direct_justification=JUSTIFICATION),
        headers=owner,
    )
    assert missing.status_code == 422 and "direct_agency_id" in fields_of(missing), missing.text
    lottery = await client.post(
        "/api/v1/notices", json=notice_body(method="lottery", direct_agency_id=named["id"]), headers=owner
    )
    assert lottery.status_code == 422 and "direct_agency_id" in fields_of(lottery), lottery.text

    deadline = datetime.now(UTC) + timedelta(seconds=1.5)
    body = await draft(
        client,
        owner,
        method="direct",
        winners=1,
        min_candidates=1,
        direct_agency_id=named["id"],
        direct_justification=JUSTIFICATION,
        bid_deadline=deadline.isoformat(),
    )
    publish = await client.post(f"/api/v1/notices/{body['id']}/publish", headers=owner)
    assert publish.status_code == 200, publish.text
    refused = await client.post(f"/api/v1/notices/{body['id']}/bids", json={}, headers=other_h)
    assert refused.status_code == 403, refused.text
    accepted = await client.post(f"/api/v1/notices/{body['id']}/bids", json={}, headers=named_h)
    assert accepted.status_code == 201, accepted.text
    before = await selection_of(client, body["id"])
    assert before["direct"] == {"agency_id": named["id"], "justification": JUSTIFICATION}

    await wait_until(datetime.fromisoformat(publish.json()["bid_deadline"]))
    response = await client.post(f"/api/v1/notices/{body['id']}/close", headers=owner)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "selected" and record["method"] == "direct"
    assert record["direct"] == {"agency_id": named["id"], "justification": JUSTIFICATION}
    assert (
        record["winners"] == [named["id"]]
        and record["holders"] == [named["id"]]
        and record["alternates"] == []
    )
    assert record["candidates"] == [[named["id"], 1]] and record["excluded"] == []
    assert record["seed"] is None and record["order"] is None
    entries = await entries_of(client, body["id"])
    assert [e["type"] for e in entries] == ["notice.published", "bidding.closed", "selection.direct"]
    # One sealed entry in the log, the named agency's bid, and the close opens it (the refused
    # bid logged nothing).
    assert [e["seq"] for e in await sealed_entries(client)] == [accepted.json()["seq"]]
    [opening] = entries[1]["openings"]
    assert (
        opening["bid"]["agency_id"] == named["id"]
        and opening["bid"]["bid_id"] == accepted.json()["bid_id"]
        and opening["withdrawn"] is None
    )
    assert record["sealed"] == [accepted.json()["seq"]]
    direct = entries[-1]
    assert_fields(direct)
    assert direct["agency_id"] == named["id"] and direct["justification"] == JUSTIFICATION
    assert record["seqs"]["outcome"] == direct["seq"]
    assert other["id"] not in json.dumps(entries)
    assert "won" in [m["kind"] for m in await messages_of(client, named_h) if m["notice_id"] == body["id"]]
    await assert_story_verifies(client, body["id"], "selected")


async def test_too_few_candidates_fails_without_a_draw(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=2, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    assert record["status"] == "failed" and record["failed_reason"] == "too_few_candidates"
    assert len(record["candidates"]) == 2 and record["winners"] is None and record["holders"] == []
    assert record["seed"] is None and record["publicity_ends"] is None
    entries = await entries_of(client, r.notice_id)
    types = [e["type"] for e in entries]
    assert types.count("bidding.closed") == 1 and types.count("selection.failed") == 1
    assert "selection.drawn" not in types
    failed = next(e for e in entries if e["type"] == "selection.failed")
    assert_fields(failed)
    assert failed["reason"] == "too_few_candidates" and record["seqs"]["outcome"] == failed["seq"]
    assert (await client.get(f"/api/v1/notices/{r.notice_id}")).json()["status"] == "failed"
    assert "failed" in [
        m["kind"] for m in await messages_of(client, r.owner) if m["notice_id"] == r.notice_id
    ]
    await assert_story_verifies(client, r.notice_id, "failed")


async def test_an_agency_suspended_after_bidding_is_excluded_at_closing(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=5, method="lottery", winners=1, min_candidates=3)
    suspended, blacklisted = r.bidders[2][1]["id"], r.bidders[4][1]["id"]
    response = await client.post(
        f"/api/v1/agencies/{suspended}/suspend", json={"reason": "出具虚假报告，暂停执业"}, headers=staff
    )
    assert response.status_code == 200 and response.json()["status"] == "suspended", response.text
    response = await client.post(
        f"/api/v1/agencies/{blacklisted}/blacklist", json={"reason": "围标串标"}, headers=staff
    )
    assert response.status_code == 200 and response.json()["status"] == "blacklisted", response.text

    record = await close(client, r)
    assert record["status"] == "selected"
    excluded = sorted(
        [
            {"agency_id": suspended, "reason": "suspended"},
            {"agency_id": blacklisted, "reason": "blacklisted"},
        ],
        key=lambda e: e["agency_id"],
    )
    assert record["excluded"] == excluded
    left = sorted(a["id"] for _, a in r.bidders if a["id"] not in (suspended, blacklisted))
    assert [a for a, _ in record["candidates"]] == left
    assert {suspended, blacklisted} <= {
        b["agency_id"] for b in record["bids"]
    }  # their bids are published all the same
    assert {o["bid"]["agency_id"] for o in record["openings"] if o["withdrawn"] is None} == {
        a["id"] for _, a in r.bidders
    }
    assert sorted(record["order"]) == left and suspended not in record["ranking"]
    expected = recompute(record)
    assert record["eligible"] == expected["eligible"] and record["order"] == expected["order"]
    closed = (await entries_of(client, r.notice_id, "bidding.closed"))[0]
    assert closed["excluded"] == excluded
    await assert_story_verifies(client, r.notice_id, "selected")


# -- refusals -------------------------------------------------------------------------------------


async def test_closing_is_refused_to_the_wrong_people_at_the_wrong_time(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    path = f"/api/v1/notices/{r.notice_id}/close"

    early = await client.post(path, headers=r.owner)
    assert early.status_code == 409, early.text
    assert early.headers["content-type"].startswith("application/problem+json")
    await wait_until(r.deadline)
    assert (await client.post(path)).status_code == 401
    assert (await client.post(path, headers=await owner_user(client))).status_code == 403
    assert (await client.post(path, headers=r.bidders[0][0])).status_code == 403
    assert (await client.post("/api/v1/notices/N-999999/close", headers=r.owner)).status_code == 404
    assert (await selection_of(client, r.notice_id))["status"] == "open"  # none of that closed it
    assert (await client.get("/api/v1/notices/N-999999/selection")).status_code == 404

    first = await client.post(path, headers=staff)  # an administrator may close too
    assert first.status_code == 200, first.text
    again = await client.post(path, headers=r.owner)
    assert again.status_code == 200 and again.json() == first.json()
    assert await selection_of(client, r.notice_id) == first.json()
    types = [e["type"] for e in await entries_of(client, r.notice_id)]
    assert types.count("bidding.closed") == 1 and types.count("selection.drawn") == 1

    cancelled = await published(client, r.owner)
    assert (
        await cancel_notice(client, db, cancelled["id"], r.owner, "项目暂停，另行采购")
    ).status_code == 200
    refused = await client.post(f"/api/v1/notices/{cancelled['id']}/close", headers=r.owner)
    assert refused.status_code == 409, refused.text
    gone = await selection_of(client, cancelled["id"])
    assert gone["status"] == "cancelled" and gone["seqs"]["cancelled"] is not None and gone["secret"] is None
    [cancel_entry] = await entries_of(client, cancelled["id"], "notice.cancelled")
    assert_fields(cancel_entry)
    assert cancel_entry["openings"] == []  # no bid to open: the cancellation says so
    drafted = await draft(client, r.owner)
    assert (await client.post(f"/api/v1/notices/{drafted['id']}/close", headers=r.owner)).status_code == 404


async def test_declines_pass_the_award_down_the_alternates_until_none_is_left(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    winner, (first_alt, second_alt) = record["winners"][0], record["alternates"]
    path = f"/api/v1/notices/{r.notice_id}/decline"

    assert (
        await client.post(path, json={"reason": "人手不足"}, headers=headers_of(r, first_alt))
    ).status_code == 403
    assert (await client.post(path, json={"reason": "人手不足"}, headers=r.owner)).status_code == 403
    assert (await client.post(path, json={"reason": "人手不足"})).status_code == 401
    assert (await client.post(path, json={"reason": ""}, headers=headers_of(r, winner))).status_code == 422

    response = await client.post(
        path, json={"reason": "人手不足，无法按期完成"}, headers=headers_of(r, winner)
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["holders"] == [first_alt] and after["status"] == "selected"
    assert after["winners"] == [winner]  # the draw's result itself never changes
    declined = await entries_of(client, r.notice_id, "award.declined")
    assert len(declined) == 1
    assert_fields(declined[0])
    assert declined[0]["agency_id"] == winner and declined[0]["replacement"] == first_alt
    assert declined[0]["reason"] == "人手不足，无法按期完成"
    assert after["seqs"]["awards"] == [declined[0]["seq"]]
    kinds = [
        m["kind"]
        for m in await messages_of(client, headers_of(r, first_alt))
        if m["notice_id"] == r.notice_id
    ]
    assert "won_as_replacement" in kinds
    assert "won" in [
        m["kind"] for m in await messages_of(client, headers_of(r, winner)) if m["notice_id"] == r.notice_id
    ]
    # The one who declined holds nothing any more.
    assert (
        await client.post(path, json={"reason": "再次放弃"}, headers=headers_of(r, winner))
    ).status_code == 403

    response = await client.post(path, json={"reason": "资质即将到期"}, headers=headers_of(r, first_alt))
    assert response.status_code == 200 and response.json()["holders"] == [second_alt]
    response = await client.post(path, json={"reason": "另有项目冲突"}, headers=headers_of(r, second_alt))
    assert response.status_code == 200, response.text
    last = response.json()
    assert last["status"] == "failed" and last["holders"] == [] and last["failed_reason"] == "no_alternates"
    declined = await entries_of(client, r.notice_id, "award.declined")
    assert [(e["agency_id"], e["replacement"]) for e in declined] == [
        (winner, first_alt),
        (first_alt, second_alt),
        (second_alt, None),
    ]
    assert (await client.get(f"/api/v1/notices/{r.notice_id}")).json()["status"] == "failed"
    assert len(await entries_of(client, r.notice_id, "selection.drawn")) == 1  # no re-draw, ever
    await assert_story_verifies(client, r.notice_id, "failed")


async def test_objections_only_during_publicity(
    client: AsyncClient, db: Database, database_url: str, tmp_path: Path
) -> None:
    staff = await admin(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    # Parties with standing once the result is out: a bidder, and the owner.
    early = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections",
        json={"reasons": "抽取过程不公开，要求复核"},
        headers=r.bidders[0][0],
    )
    assert early.status_code == 409, early.text
    early = await client.post(
        f"/api/v1/notices/{r.notice_id}/objections",
        json={"reasons": "抽取过程不公开，要求复核"},
        headers=r.owner,
    )
    assert early.status_code == 409, early.text

    async with app_with(db, database_url, tmp_path, publicity_days=0) as (_, quick):
        bidders = [(h, a) for h, a in r.bidders]
        r2 = await open_round(quick, staff, bidders=bidders, method="lottery", winners=1, min_candidates=3)
        record = await close(quick, r2)
        assert record["status"] == "selected"
        assert datetime.fromisoformat(record["publicity_ends"]) <= datetime.now(UTC)
        for party in (r2.bidders[0][0], r2.owner):
            late = await quick.post(
                f"/api/v1/notices/{r2.notice_id}/objections",
                json={"reasons": "抽取过程不公开，要求复核"},
                headers=party,
            )
            assert late.status_code == 409, late.text
    assert await entries_of(client, r2.notice_id, "objection.filed") == []
    assert await entries_of(client, r.notice_id, "objection.filed") == []


async def test_objection_flow_upheld_disqualifies_rejected_keeps(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    chief = await supervisor(client, db)
    r = await open_round(client, staff, bidders=4, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    winner, first_alt = record["winners"][0], record["alternates"][0]
    base = f"/api/v1/notices/{r.notice_id}/objections"
    citizen = headers_of(r, record["alternates"][-1])  # a bidder never drawn: it has standing

    short = await client.post(base, json={"reasons": "不公平"}, headers=citizen)
    assert short.status_code == 422 and "reasons" in fields_of(short), short.text
    assert (await client.post(base, json={"reasons": "中标机构存在围标嫌疑，请核查"})).status_code == 401
    not_holder = await client.post(
        base, json={"reasons": "中标机构存在围标嫌疑，请核查", "agency_id": first_alt}, headers=citizen
    )
    assert not_holder.status_code == 422, not_holder.text

    filed = await client.post(
        base, json={"reasons": "中标机构存在围标嫌疑，请核查", "agency_id": winner}, headers=citizen
    )
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert objection["status"] == "filed" and objection["agency_id"] == winner
    entry = (await entries_of(client, r.notice_id, "objection.filed"))[0]
    assert entry["objection_id"] == objection["id"] and entry["agency_id"] == winner
    assert entry["reasons_sha256"] == protocol.sha256_hex("中标机构存在围标嫌疑，请核查".encode())
    assert "objection_filed" in [m["kind"] for m in await messages_of(client, r.owner)]

    answer_path = f"{base}/{objection['id']}/answer"
    decide_path = f"{base}/{objection['id']}/decision"
    assert (
        await client.post(answer_path, json={"answer": "已核查"}, headers=await owner_user(client))
    ).status_code == 403
    assert (await client.post(answer_path, json={"answer": "已核查"}, headers=citizen)).status_code == 403
    assert (
        await client.post(decide_path, json={"decision": "upheld", "reason": "查实"}, headers=r.owner)
    ).status_code == 403
    assert (
        await client.post(decide_path, json={"decision": "upheld", "reason": "查实"}, headers=staff)
    ).status_code == 403
    answered = await client.post(answer_path, json={"answer": "已移交监管部门核查"}, headers=r.owner)
    assert answered.status_code == 200 and answered.json()["status"] == "answered", answered.text
    assert (await client.post(answer_path, json={"answer": "再答"}, headers=r.owner)).status_code == 409

    upheld = await client.post(
        decide_path, json={"decision": "upheld", "reason": "经查围标属实"}, headers=chief
    )
    assert upheld.status_code == 200 and upheld.json()["status"] == "upheld", upheld.text
    assert (
        await client.post(decide_path, json={"decision": "rejected", "reason": "改判"}, headers=chief)
    ).status_code == 409
    disqualified = await entries_of(client, r.notice_id, "award.disqualified")
    assert len(disqualified) == 1
    assert_fields(disqualified[0])
    assert disqualified[0]["agency_id"] == winner and disqualified[0]["replacement"] == first_alt
    assert disqualified[0]["objection_id"] == objection["id"]
    after = await selection_of(client, r.notice_id)
    assert after["holders"] == [first_alt] and after["status"] == "selected"
    assert "won_as_replacement" in [m["kind"] for m in await messages_of(client, headers_of(r, first_alt))]
    assert after["seqs"]["awards"] == [disqualified[0]["seq"]]
    decided = await entries_of(client, r.notice_id, "objection.decided")
    assert decided[0]["decision"] == "upheld" and decided[0]["objection_id"] == objection["id"]

    # A second objection, against the new holder, is rejected: the holders stay.
    second = await client.post(
        base, json={"reasons": "替补机构业绩造假，请复核", "agency_id": first_alt}, headers=citizen
    )
    assert second.status_code == 201, second.text
    second_id = second.json()["id"]
    assert (
        await client.post(f"{base}/{second_id}/answer", json={"answer": "业绩经核实无误"}, headers=r.owner)
    ).status_code == 200
    rejected = await client.post(
        f"{base}/{second_id}/decision", json={"decision": "rejected", "reason": "举报内容不实"}, headers=chief
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    assert (await selection_of(client, r.notice_id))["holders"] == [first_alt]
    assert len(await entries_of(client, r.notice_id, "award.disqualified")) == 1
    listed = (await client.get(base)).json()
    assert [(o["id"], o["status"]) for o in listed] == [(objection["id"], "upheld"), (second_id, "rejected")]
    assert all("filed_by" not in o and "objector" not in o for o in listed)
    await assert_story_verifies(client, r.notice_id, "selected")


# -- publicity and the final award --------------------------------------------------------------


async def test_the_scheduler_makes_the_award_final_after_publicity(
    client: AsyncClient, db: Database, database_url: str, tmp_path: Path
) -> None:
    staff = await admin(client, db)
    async with app_with(db, database_url, tmp_path, publicity_days=0) as (app, quick):
        r = await open_round(quick, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
        record = await close(quick, r)
        assert record["status"] == "selected" and record["seqs"]["final"] is None
        async with db.transaction() as session:
            worked = await service.run_due(session, context(app.state))
        assert worked == r.notice_id
        async with db.transaction() as session:
            assert await service.run_due(session, context(app.state)) is None  # nothing left to do
        final = await selection_of(quick, r.notice_id)
        assert final["status"] == "awarded" and final["holders"] == record["winners"]
        entries = await entries_of(quick, r.notice_id, "award.final")
        assert len(entries) == 1
        assert_fields(entries[0])
        assert entries[0]["winners"] == record["winners"] and final["seqs"]["final"] == entries[0]["seq"]
        assert "final" in [m["kind"] for m in await messages_of(quick, headers_of(r, record["winners"][0]))]
        assert (await quick.get(f"/api/v1/notices/{r.notice_id}")).json()["status"] == "awarded"
        await assert_story_verifies(quick, r.notice_id, "awarded")

        # A winner may still decline before signing: its replacement gets a publicity of
        # its own (none here), after which the award is final again, for the replacement.
        winner, replacement = record["winners"][0], record["alternates"][0]
        declined = await quick.post(
            f"/api/v1/notices/{r.notice_id}/decline",
            json={"reason": "无法签订合同"},
            headers=headers_of(r, winner),
        )
        assert declined.status_code == 200, declined.text
        assert declined.json()["status"] == "selected" and declined.json()["holders"] == [replacement]
        await assert_story_verifies(quick, r.notice_id, "selected")
        async with db.transaction() as session:
            assert await service.run_due(session, context(app.state)) == r.notice_id
        again = await selection_of(quick, r.notice_id)
        assert again["status"] == "awarded" and again["holders"] == [replacement]
        finals = await entries_of(quick, r.notice_id, "award.final")
        assert [e["winners"] for e in finals] == [[winner], [replacement]] and again["seqs"][
            "final"
        ] == finals[-1]["seq"]
        await assert_story_verifies(quick, r.notice_id, "awarded")


async def test_a_pending_objection_holds_the_award_back(
    client: AsyncClient, app: Litestar, db: Database
) -> None:
    staff = await admin(client, db)
    chief = await supervisor(client, db)
    r = await open_round(client, staff, bidders=3, method="lottery", winners=1, min_candidates=3)
    record = await close(client, r)
    base = f"/api/v1/notices/{r.notice_id}/objections"
    filed = await client.post(base, json={"reasons": "抽取结果公示不完整，请说明"}, headers=r.owner)
    assert filed.status_code == 201, filed.text
    # Publicity ends (three days, made to have passed), but an objection is still pending.
    async with db.transaction() as session:
        await session.execute(
            sa.text(
                "UPDATE selection SET publicity_ends = clock_timestamp() - interval '1 second' WHERE notice_id = (SELECT id FROM notice WHERE public_id = :n)"
            ),
            {"n": r.notice_id},
        )
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) is None
    held = await selection_of(client, r.notice_id)
    assert held["status"] == "selected" and held["seqs"]["final"] is None
    assert await entries_of(client, r.notice_id, "award.final") == []

    objection_id = filed.json()["id"]
    assert (
        await client.post(
            f"{base}/{objection_id}/decision",
            json={"decision": "rejected", "reason": "理由不成立"},
            headers=chief,
        )
    ).status_code == 200
    async with db.transaction() as session:
        assert await service.run_due(session, context(app.state)) == r.notice_id
    final = await selection_of(client, r.notice_id)
    assert final["status"] == "awarded" and final["holders"] == record["winners"]
    assert len(await entries_of(client, r.notice_id, "award.final")) == 1
    await assert_story_verifies(client, r.notice_id, "awarded")


async def test_two_winners_an_objection_to_the_whole_result_replaces_both_in_ranking_order(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    chief = await supervisor(client, db)
    r = await open_round(client, staff, bidders=5, method="lottery", winners=2, min_candidates=3)
    record = await close(client, r)
    assert len(record["winners"]) == 2 and len(record["alternates"]) == 3
    assert record["holders"] == record["winners"]
    expected = recompute(record)
    assert (record["winners"], record["alternates"]) == (expected["winners"], expected["alternates"])
    first, second = record["winners"]
    a0, a1, a2 = record["alternates"]

    # The second winner declines: the first alternate takes its place (slot order is kept).
    declined = await client.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "无法按期进场"},
        headers=headers_of(r, second),
    )
    assert declined.status_code == 200 and declined.json()["holders"] == [first, a0], declined.text

    base = f"/api/v1/notices/{r.notice_id}/objections"
    filed = await client.post(
        base, json={"reasons": "整个抽取过程未按规定公开，要求全部重抽"}, headers=headers_of(r, a2)
    )  # a bidder not holding it
    assert filed.status_code == 201 and filed.json()["agency_id"] is None, filed.text
    objection_id = filed.json()["id"]
    assert (
        await client.post(f"{base}/{objection_id}/answer", json={"answer": "已提交监管部门"}, headers=r.owner)
    ).status_code == 200
    upheld = await client.post(
        f"{base}/{objection_id}/decision",
        json={"decision": "upheld", "reason": "程序违规属实"},
        headers=chief,
    )
    assert upheld.status_code == 200, upheld.text

    disqualified = await entries_of(client, r.notice_id, "award.disqualified")
    assert [(e["agency_id"], e["replacement"]) for e in disqualified] == [(first, a1), (a0, a2)]
    after = await selection_of(client, r.notice_id)
    assert after["holders"] == [a1, a2] and after["status"] == "selected"
    assert len(await entries_of(client, r.notice_id, "selection.drawn")) == 1
    await assert_story_verifies(client, r.notice_id, "selected")


async def test_withdrawn_bids_are_left_out_and_a_changed_price_counts_as_the_new_bid(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    r = await open_round(
        client,
        staff,
        bidders=4,
        prices=[700_000, 800_000, 900_000, 950_000],
        due_in=2.5,
        method="lowest_price",
        winners=1,
        min_candidates=3,
    )
    (gone_h, gone), (changed_h, changed) = r.bidders[0], r.bidders[1]
    path = f"/api/v1/notices/{r.notice_id}/bids"
    assert (await client.delete(f"{path}/{r.bids[0]['bid_id']}", headers=gone_h)).status_code == 200
    assert (await client.delete(f"{path}/{r.bids[1]['bid_id']}", headers=changed_h)).status_code == 200
    rebid = await client.post(path, json={"price_fen": 600_000}, headers=changed_h)
    assert rebid.status_code == 201, rebid.text
    assert datetime.now(UTC) < r.deadline, "setup took longer than the bid window"

    withdrawal_seqs = {}
    for h, bid in ((gone_h, r.bids[0]), (changed_h, r.bids[1])):
        [mine] = [
            b for b in (await client.get(f"{path}/mine", headers=h)).json() if b["bid_id"] == bid["bid_id"]
        ]
        assert mine["status"] == "withdrawn" and mine["withdrawal_seq"] is not None
        withdrawal_seqs[bid["bid_id"]] = mine["withdrawal_seq"]

    record = await close(client, r)
    assert [b["bid_id"] for b in record["bids"]] == sorted(
        [rebid.json()["bid_id"], r.bids[2]["bid_id"], r.bids[3]["bid_id"]]
    )
    assert gone["id"] not in [b["agency_id"] for b in record["bids"]]
    assert {b["agency_id"]: b["price_fen"] for b in record["bids"]}[changed["id"]] == 600_000
    assert [a for a, _ in record["candidates"]] == sorted(a["id"] for _, a in r.bidders[1:])
    assert record["excluded"] == []
    assert record["winners"] == [changed["id"]] and record["ranking"][0] == changed["id"]
    # Every bid ever placed is opened, the two withdrawn ones with their withdrawals; the
    # seven sealed entries of this log (five bids, two withdrawals) are all claimed.
    by_id = {o["bid"]["bid_id"]: o for o in record["openings"]}
    assert sorted(by_id) == sorted([*(b["bid_id"] for b in r.bids), rebid.json()["bid_id"]])
    assert {bid_id: o["withdrawn"]["seq"] for bid_id, o in by_id.items() if o["withdrawn"]} == withdrawal_seqs
    assert (
        by_id[r.bids[0]["bid_id"]]["bid"]["agency_id"] == gone["id"]
        and by_id[r.bids[1]["bid_id"]]["bid"]["price_fen"] == 800_000
    )
    assert record["seqs"]["bids_withdrawn"] is None and record["seqs"]["bids_accepted"] is None
    assert record["sealed"] == [e["seq"] for e in await sealed_entries(client)] and len(record["sealed"]) == 7
    await assert_story_verifies(client, r.notice_id, "selected")
