"""Contracts follow the award (issue 19 item 1; docs/contracts.md, "Contracts follow the
award"): every way an owner could record terms that do not follow the award is refused, and
the winner's way out of terms that slip through (a decline because the terms do not follow
the award) keeps the award, counts toward nothing and goes to a supervisor, whose decision
is logged. A normal decline still counts.

The apps here suspend after ONE decline (``declines_to_suspend=1``), so a decline that
counts shows at once as a suspended agency, and one that does not, as an approved one."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from market.accounts.models import Role
from market.app import create_app
from market.core.clock import today_in_china
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.contracts.test_api import (
    assert_fields,
    contract_body,
    contract_entries,
    fields_of,
    finalize_due,
    headers_of,
)
from tests.integration.contracts.test_pages import browsers, post_form, quick, record_form  # noqa: F401 - fixtures
from tests.integration.selection.helpers import (
    HEAD,
    Round,
    assert_story_verifies,
    close,
    entries_of,
    messages_of,
    open_round,
    selection_of,
)
from tests.integration.selection.test_pages import agency_accounts, owner_account

TODAY = today_in_china()
EN = {"Accept-Language": "en"}
BUDGET = 30_000_000  # the test notices' budget (tests/integration/notices/test_api.notice_body)
PRICES = [27_000_000, 26_000_000, 28_000_000]  # lowest price wins: 26 M fen
WINNING = min(PRICES)
SERVICE_DAYS = 90
NEW_FIELDS = {
    "contract.disputed": {"notice_id", "contract_id", "agency_id", "reason_sha256"},
    "contract.dispute_decided": {"notice_id", "contract_id", "agency_id", "decision", "reason_sha256"},
}
DUE_IN = 5.0  # seconds to the deadline: room for the bids on a busy machine
MISMATCH = "合同金额仅1分，服务期2天，与中选结果和公告服务期不符"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
async def strict(
    db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, AsyncClient]]:
    """Publicity lasts no time, and one decline suspends."""
    app = create_app(
        make_settings(database_url, tmp_path, publicity_days=0, declines_to_suspend=1), database=db
    )
    async with serve_in_process(app) as c:
        yield app, c


async def awarded(
    app: Litestar, c: AsyncClient, db: Database, method: str, **notice: Any
) -> tuple[Round, dict[str, Any]]:
    staff = await admin(c, db)
    if method == "lowest_price":
        r = await open_round(
            c,
            staff,
            bidders=3,
            prices=PRICES,
            method=method,
            winners=1,
            min_candidates=3,
            due_in=DUE_IN,
            **notice,
        )
    else:
        r = await open_round(
            c, staff, bidders=3, method=method, winners=1, min_candidates=3, due_in=DUE_IN, **notice
        )
    await close(c, r)
    assert r.notice_id in await finalize_due(app, db)
    record = await selection_of(c, r.notice_id)
    assert record["status"] == "awarded", record["status"]
    return r, record


def following(agency_id: str, **overrides: Any) -> dict[str, Any]:
    """Terms that follow a lowest-price award at WINNING with a 90-day service period."""
    body = contract_body(
        agency_id,
        amount_fen=WINNING,
        start_on=day(1),
        due_on=day(1 + SERVICE_DAYS),
        milestones=[
            {"title": "成果初稿", "due_on": day(45)},
            {"title": "成果终稿", "due_on": day(1 + SERVICE_DAYS)},
        ],
    )
    return {**body, **overrides}


async def agency_status(c: AsyncClient, agency_id: str) -> str:
    response = await c.get(f"/api/v1/agencies/{agency_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def supervisor(c: AsyncClient, db: Database) -> dict[str, str]:
    return bearer(await token_for(c, await create_staff(db, role=Role.supervisor)))


def assert_new_fields(entry: dict[str, Any]) -> None:
    assert set(entry) == HEAD | NEW_FIELDS[entry["type"]], (entry["type"], sorted(entry))


# -- refused at creation ----------------------------------------------------------------------------


async def test_the_issue_one_fen_due_in_two_days_is_refused(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """The finding as filed: amount 1 fen, due two days later, for the current winner -> was 201."""
    app, c = strict
    r, rec = await awarded(app, c, db, "lowest_price", service_days=SERVICE_DAYS)
    winner = rec["winners"][0]
    body = contract_body(
        winner,
        amount_fen=1,
        signed_on=day(0),
        start_on=day(0),
        due_on=day(2),
        milestones=[{"title": "成果", "due_on": day(2)}],
    )
    response = await c.post(f"/api/v1/notices/{r.notice_id}/contracts", json=body, headers=r.owner)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"amount_fen", "due_on"} <= set(fields_of(response)), response.json()
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "¥260,000.00" in messages["amount_fen"] and day(SERVICE_DAYS) in messages["due_on"]
    assert await contract_entries(c, r.notice_id) == []
    assert (await selection_of(c, r.notice_id))["holders"] == [winner]
    assert await agency_status(c, winner) == "approved"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_fen": 1}, "amount_fen"),  # 1 fen
        ({"amount_fen": BUDGET + 1}, "amount_fen"),  # above the budget
        ({"amount_fen": WINNING + 100}, "amount_fen"),  # within the budget, not the winning price
        ({"amount_fen": WINNING - 100}, "amount_fen"),  # below it, likewise
        ({"amount_fen": 27_000_000}, "amount_fen"),  # another bidder's price
        ({"due_on": day(SERVICE_DAYS)}, "due_on"),  # one day shorter than the published period
        ({"signed_on": day(-1), "start_on": day(1)}, "signed_on"),  # signed before the award was final
        ({"signed_on": day(-2), "start_on": day(-1)}, "start_on"),  # a service that started in the past
        (
            {"milestones": [{"title": "成果", "due_on": day(2 + SERVICE_DAYS)}]},
            "milestones[0].due_on",
        ),  # past the due date
    ],
)
async def test_terms_that_do_not_follow_a_lowest_price_award_are_422(
    strict: tuple[Litestar, AsyncClient], db: Database, overrides: dict[str, Any], field: str
) -> None:
    app, c = strict
    r, rec = await awarded(app, c, db, "lowest_price", service_days=SERVICE_DAYS)
    response = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=following(rec["winners"][0], **overrides),
        headers=r.owner,
    )
    assert response.status_code == 422, response.text
    assert field in fields_of(response), response.json()
    assert await contract_entries(c, r.notice_id) == []


async def test_terms_that_follow_a_lowest_price_award_are_recorded(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = strict
    r, rec = await awarded(app, c, db, "lowest_price", service_days=SERVICE_DAYS)
    winner = rec["winners"][0]
    response = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount_fen"] == WINNING and response.json()["agency_id"] == winner
    entry = (await entries_of(c, r.notice_id, "contract.recorded"))[0]
    assert_fields(entry)
    assert entry["amount_fen"] == WINNING


async def test_a_lottery_contract_is_within_the_budget(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """Lottery bids carry no price: the budget is the only published figure, and the cap."""
    app, c = strict
    r, rec = await awarded(app, c, db, "lottery")
    winner = rec["winners"][0]
    above = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(winner, amount_fen=BUDGET + 1),
        headers=r.owner,
    )
    assert above.status_code == 422 and fields_of(above) == ["amount_fen"], above.text
    assert "¥300,000.00" in above.json()["errors"][0]["message"]
    at_budget = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(winner, amount_fen=BUDGET),
        headers=r.owner,
    )
    assert at_budget.status_code == 201, at_budget.text


async def test_wrong_agency_early_unawarded_and_second_contracts_are_refused(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = strict
    staff = await admin(c, db)
    # Before the award is final (publicity running): 409. This app's publicity is zero
    # days, but the draw leaves the notice "selected" until the scheduler makes it final.
    r = await open_round(
        c, staff, bidders=3, prices=PRICES, method="lowest_price", winners=1, min_candidates=3, due_in=DUE_IN
    )
    selected = await close(c, r)
    assert selected["status"] == "selected"
    winner, alternate = selected["winners"][0], selected["alternates"][0]
    early = await c.post(f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner)
    assert early.status_code == 409, early.text
    # A notice that was never awarded: too few bidders, the selection failed.
    failed = await open_round(
        c, staff, bidders=1, method="lottery", winners=1, min_candidates=3, due_in=DUE_IN
    )
    assert (await close(c, failed))["status"] == "failed"
    not_awarded = await c.post(
        f"/api/v1/notices/{failed.notice_id}/contracts",
        json=contract_body(failed.bidders[0][1]["id"]),
        headers=failed.owner,
    )
    assert not_awarded.status_code == 409, not_awarded.text

    assert r.notice_id in await finalize_due(app, db)
    # An agency that bid but does not hold the award, at its own price: 422 on agency_id.
    wrong = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=following(alternate, amount_fen=27_000_000),
        headers=r.owner,
    )
    assert wrong.status_code == 422 and "agency_id" in fields_of(wrong), wrong.text
    first = await c.post(f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner)
    assert first.status_code == 201, first.text
    second = await c.post(f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner)
    assert second.status_code == 409, second.text
    assert len(await entries_of(c, r.notice_id, "contract.recorded")) == 1
    assert await entries_of(c, failed.notice_id, "contract.recorded") == []


# -- declining terms that do not follow the award ----------------------------------------------------


async def test_a_decline_for_terms_that_do_not_follow_the_award_keeps_the_award_and_counts_for_nothing(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """A lottery award may be contracted at any amount within the budget, so 1 fen passes
    the checks: the winner's way out must cost it nothing, and a supervisor decides."""
    app, c = strict
    chief = await supervisor(c, db)
    r, rec = await awarded(app, c, db, "lottery")
    winner, alternate = rec["winners"][0], rec["alternates"][0]
    winner_headers = headers_of(r, winner)
    low = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(winner, amount_fen=1), headers=r.owner
    )
    assert low.status_code == 201, low.text
    cid = low.json()["id"]

    short = await c.post(
        f"/api/v1/contracts/{cid}/decline",
        json={"reason": "不符", "terms_mismatch": True},
        headers=winner_headers,
    )
    assert short.status_code == 422 and "reason" in fields_of(short)
    disputed = await c.post(
        f"/api/v1/contracts/{cid}/decline",
        json={"reason": MISMATCH, "terms_mismatch": True},
        headers=winner_headers,
    )
    assert disputed.status_code == 200, disputed.text
    body = disputed.json()
    assert (
        body["status"] == "disputed"
        and body["dispute"]["reason"] == MISMATCH
        and body["dispute"]["decision"] is None
    )
    # Logged; no award.declined; the award is kept; nothing counted.
    entry = (await entries_of(c, r.notice_id, "contract.disputed"))[0]
    assert_new_fields(entry)
    assert (
        entry["agency_id"] == winner
        and entry["contract_id"] == cid
        and entry["seq"] == body["seqs"]["disputed"]
    )
    assert await entries_of(c, r.notice_id, "award.declined") == []
    after = await selection_of(c, r.notice_id)
    assert after["holders"] == [winner] and after["status"] == "awarded"
    assert await agency_status(c, winner) == "approved"
    # Supervisors and the owner are told; the owner cannot record other terms meanwhile.
    assert "contract_disputed" in [m["kind"] for m in await messages_of(c, chief)]
    assert "contract_disputed" in [m["kind"] for m in await messages_of(c, r.owner)]
    meanwhile = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=contract_body(winner), headers=r.owner
    )
    assert meanwhile.status_code == 409, meanwhile.text

    # Only a supervisor decides, with a decision and a reason.
    decision = {"decision": "terms_wrong", "reason": "金额远低于预算且服务期明显不合理，不符合中选结果"}
    assert (
        await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=decision, headers=r.owner)
    ).status_code == 403
    assert (
        await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=decision, headers=winner_headers)
    ).status_code == 403
    assert (
        await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=decision, headers=await admin(c, db))
    ).status_code == 403
    unknown = await c.post(
        f"/api/v1/contracts/{cid}/dispute/decision", json={**decision, "decision": "maybe"}, headers=chief
    )
    assert unknown.status_code == 422
    wrong = await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=decision, headers=chief)
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["status"] == "set_aside" and wrong.json()["dispute"]["decision"] == "terms_wrong"
    decided = (await entries_of(c, r.notice_id, "contract.dispute_decided"))[0]
    assert_new_fields(decided)
    assert decided["decision"] == "terms_wrong" and decided["contract_id"] == cid
    again = await c.post(f"/api/v1/contracts/{cid}/dispute/decision", json=decision, headers=chief)
    assert again.status_code == 409
    # The award stands, nothing counted; the owner offers matching terms and the winner signs.
    assert (await selection_of(c, r.notice_id))["holders"] == [winner]
    assert await agency_status(c, winner) == "approved"
    assert "contract_dispute_decided" in [m["kind"] for m in await messages_of(c, winner_headers)]
    fair = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=contract_body(winner, amount_fen=BUDGET),
        headers=r.owner,
    )
    assert fair.status_code == 201, fair.text
    signed = await c.post(f"/api/v1/contracts/{fair.json()['id']}/confirm", headers=winner_headers)
    assert signed.status_code == 200 and signed.json()["status"] == "in_service"
    assert alternate not in (await selection_of(c, r.notice_id))["holders"]
    await assert_story_verifies(c, r.notice_id, "awarded")


async def test_terms_found_fine_make_the_dispute_an_ordinary_decline_that_counts(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = strict
    chief = await supervisor(c, db)
    r, rec = await awarded(app, c, db, "lowest_price", service_days=SERVICE_DAYS)
    winner, alternate = rec["winners"][0], rec["alternates"][0]
    contract = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner
    )
    assert contract.status_code == 201, contract.text
    cid = contract.json()["id"]
    reason = "我方认为服务期过短，与中选结果不符"
    disputed = await c.post(
        f"/api/v1/contracts/{cid}/decline",
        json={"reason": reason, "terms_mismatch": True},
        headers=headers_of(r, winner),
    )
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed"
    assert await agency_status(c, winner) == "approved"

    fine = await c.post(
        f"/api/v1/contracts/{cid}/dispute/decision",
        json={"decision": "terms_fine", "reason": "金额为中选价格，服务期与公告一致"},
        headers=chief,
    )
    assert fine.status_code == 200, fine.text
    assert fine.json()["status"] == "declined" and fine.json()["dispute"]["decision"] == "terms_fine"
    declined = (await entries_of(c, r.notice_id, "award.declined"))[0]
    assert (
        declined["agency_id"] == winner
        and declined["replacement"] == alternate
        and declined["reason"] == reason
    )
    decided = (await entries_of(c, r.notice_id, "contract.dispute_decided"))[0]
    assert decided["seq"] < declined["seq"]
    assert (await selection_of(c, r.notice_id))["holders"] == [alternate]
    assert await agency_status(c, winner) == "suspended"  # one decline suspends in this app
    await assert_story_verifies(c, r.notice_id, "selected")
    # The replacement's contract follows its own price.
    assert r.notice_id in await finalize_due(app, db)
    own = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts",
        json=following(alternate, amount_fen=27_000_000),
        headers=r.owner,
    )
    assert own.status_code == 201, own.text


async def test_a_normal_decline_still_counts_toward_suspension(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    app, c = strict
    r, rec = await awarded(app, c, db, "lowest_price", service_days=SERVICE_DAYS)
    winner, alternate = rec["winners"][0], rec["alternates"][0]
    contract = await c.post(
        f"/api/v1/notices/{r.notice_id}/contracts", json=following(winner), headers=r.owner
    )
    assert contract.status_code == 201, contract.text
    declined = await c.post(
        f"/api/v1/contracts/{contract.json()['id']}/decline",
        json={"reason": "项目负责人离职，无法履约"},
        headers=headers_of(r, winner),
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined", declined.text
    assert declined.json()["dispute"] is None
    assert (await entries_of(c, r.notice_id, "award.declined"))[0]["replacement"] == alternate
    assert await entries_of(c, r.notice_id, "contract.disputed") == []
    assert await agency_status(c, winner) == "suspended"


async def test_giving_up_a_disputed_award_is_an_ordinary_decline(
    strict: tuple[Litestar, AsyncClient], db: Database
) -> None:
    """The agency need not wait for the supervisor: declining the award itself counts, and
    takes the disputed contract with it (nothing is left for a supervisor to decide)."""
    app, c = strict
    chief = await supervisor(c, db)
    r, rec = await awarded(app, c, db, "lottery")
    winner = rec["winners"][0]
    cid = (
        await c.post(
            f"/api/v1/notices/{r.notice_id}/contracts",
            json=contract_body(winner, amount_fen=1),
            headers=r.owner,
        )
    ).json()["id"]
    assert (
        await c.post(
            f"/api/v1/contracts/{cid}/decline",
            json={"reason": MISMATCH, "terms_mismatch": True},
            headers=headers_of(r, winner),
        )
    ).status_code == 200
    gave_up = await c.post(
        f"/api/v1/notices/{r.notice_id}/decline",
        json={"reason": "不再等待，放弃中选"},
        headers=headers_of(r, winner),
    )
    assert gave_up.status_code == 200, gave_up.text
    assert (await c.get(f"/api/v1/contracts/{cid}")).json()["status"] == "declined"
    assert await agency_status(c, winner) == "suspended"
    late = await c.post(
        f"/api/v1/contracts/{cid}/dispute/decision",
        json={"decision": "terms_wrong", "reason": "条款不符"},
        headers=chief,
    )
    assert late.status_code == 409


# -- the pages ----------------------------------------------------------------------------------------


async def lowest_price_round_for_pages(quick: Litestar, db: Database, browsers: Any) -> dict[str, Any]:
    api = await browsers()
    staff = await admin(api, db)
    owner_headers, owner_email = await owner_account(api)
    bidders = await agency_accounts(api, staff, 3)
    r = await open_round(
        api,
        staff,
        bidders=bidders,
        prices=PRICES,
        owner=owner_headers,
        method="lowest_price",
        winners=1,
        min_candidates=3,
        service_days=SERVICE_DAYS,
        due_in=DUE_IN,
    )
    await close(api, r)
    assert r.notice_id in await finalize_due(quick, db)
    record = await selection_of(api, r.notice_id)
    emails = {a["id"]: a["email"] for _, a in bidders}
    return {
        "r": r,
        "owner_email": owner_email,
        "winner": record["winners"][0],
        "winner_email": emails[record["winners"][0]],
    }


async def test_pages_refuse_terms_beside_the_field_and_carry_the_dispute_to_a_supervisor(
    quick: Litestar, db: Database, browsers: Any
) -> None:
    w = await lowest_price_round_for_pages(quick, db, browsers)
    notice_id, winner = w["r"].notice_id, w["winner"]
    owner = await browsers(w["owner_email"], **EN)
    page = f"/notices/{notice_id}/contract"
    form = (await owner.get(page)).text
    assert (
        "The contract follows the award" in form and "¥260,000.00" in form and f"{SERVICE_DAYS} days" in form
    )

    terms = {
        "start_on": day(1),
        "due_on": day(1 + SERVICE_DAYS),
        "m1_due_on": day(30),
        "m2_due_on": day(1 + SERVICE_DAYS),
    }
    cheap = await post_form(owner, page, page, record_form(winner, amount="0.01", **terms))
    assert cheap.status_code == 422, cheap.text
    assert "winning price" in error_beside(cheap.text, "amount") and "¥260,000.00" in error_beside(
        cheap.text, "amount"
    )
    rushed = await post_form(
        owner,
        page,
        page,
        record_form(winner, amount="260000", due_on=day(2), m1_due_on=day(2), m2_due_on=day(2)),
    )
    assert rushed.status_code == 422 and "service period" in error_beside(rushed.text, "due_on")
    done = await post_form(owner, page, page, record_form(winner, amount="260000", **terms))
    assert done.status_code == 303, done.text
    cid = done.headers["location"].split("/")[2].split("?")[0]
    url = f"/contracts/{cid}"

    # The winner declines because the terms do not follow the award (a checkbox).
    agency = await browsers(w["winner_email"], **EN)
    mine = (await agency.get(url)).text
    assert 'name="terms_mismatch"' in mine
    disputed = await post_form(
        agency, url, f"{url}/decline", {"reason": "服务期安排与中选结果不符", "terms_mismatch": "yes"}
    )
    assert disputed.status_code == 303 and disputed.headers["location"] == f"{url}?done=disputed", (
        disputed.text
    )
    shown = (await agency.get(f"{url}?done=disputed")).text
    assert (
        "does not count toward suspension" in shown
        and "服务期安排与中选结果不符" in shown
        and "Disputed" in shown
    )

    # The supervisors' list shows it with a decision form; a missing decision comes back beside the field.
    chief = await browsers(await create_staff(db, role=Role.supervisor), **EN)
    home = (await chief.get("/supervision")).text
    assert re.search(
        r'href="/supervision/contracts#disputes-h">[^<]*</a> <span class="count">1</span>', home
    ), home
    listing = (await chief.get("/supervision/contracts")).text
    assert (
        f'id="dispute-{cid}"' in listing
        and f'action="/supervision/contracts/{cid}/dispute"' in listing
        and "服务期安排与中选结果不符" in listing
    )
    assert (
        await post_form(
            owner,
            url,
            f"/supervision/contracts/{cid}/dispute",
            {"decision": "terms_wrong", "reason": "条款不符"},
        )
    ).status_code == 403
    blank = await post_form(
        chief,
        "/supervision/contracts",
        f"/supervision/contracts/{cid}/dispute",
        {"reason": "条款与中选结果不符"},
    )
    assert blank.status_code == 422 and error_beside(blank.text, f"dispute-{cid}-decision")
    assert "条款与中选结果不符" in blank.text  # what was typed comes back
    decided = await post_form(
        chief,
        "/supervision/contracts",
        f"/supervision/contracts/{cid}/dispute",
        {"decision": "terms_fine", "reason": "服务期与公告一致"},
    )
    assert decided.status_code == 303, decided.text
    assert f'id="dispute-{cid}"' not in (await chief.get("/supervision/contracts")).text
    public = (await (await browsers(**EN)).get(url)).text
    assert (
        "Declined by the agency" in public
        and "The terms follow the award: the decline counts" in public
        and "服务期与公告一致" in public
    )
    timeline = (await chief.get(f"/supervision/notices/{notice_id}")).text
    assert (
        "because its terms do not follow the award" in timeline
        and f"decided disputed contract {cid}" in timeline
    )


def error_beside(page: str, key: str) -> str:
    match = re.search(rf'<small id="e-{re.escape(key)}" class="error"[^>]*>([^<]*)</small>', page)
    assert match, f"no error slot for {key}"
    return html.unescape(match.group(1)).strip()
