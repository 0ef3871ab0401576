"""Notices and sealed bids through the JSON API (api-v1.md, MSP/1 steps 1 and 2): the
life cycle of a notice, owner organisations and projects, the public list, bids with their
receipts and log entries, eligibility, and every bad input the issue names."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from jose import jws

from market import protocol
from market.app import create_app
from market.bids.receipts import verify_receipt
from market.core.clock import today_in_china
from market.core.db import Database
from tests.conftest import make_settings, serve_in_process
from tests.helpers import ORG_REGION, bearer, cancel_notice, register, token_for
from tests.integration.agencies.test_api import (
    FUTURE,
    admin,
    agency_user,
    create,
    credit_code,
    log_entries,
)

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ENTRY_HEAD = {"v", "seq", "type", "ts"}
_project_serials = itertools.count(1)


# -- steps many tests take ----------------------------------------------------------------------


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def notice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "昆明市某道路工程环境影响评价",
        "description": "编制环境影响报告书",
        "category": "EIA",
        "region": "530000",
        "budget_fen": 30_000_000,
        "method": "lottery",
        "winners": 1,
        "min_candidates": 3,
        "bid_deadline": in_hours(2),
        "required_level": None,
    }
    body.update(overrides)
    return body


async def owner_user(client: AsyncClient, *, org: str | None = ORG_REGION) -> dict[str, str]:
    """An owner's bearer headers; its organisation is registered in region ``org``
    (``None``: none yet, for a test that registers its own)."""
    user = await register(client, role="owner", org=org)
    return bearer(await token_for(client, user["email"]))


async def draft(client: AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/notices", json=notice_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def published(client: AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    notice = await draft(client, headers, **overrides)
    response = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def approved_agency(
    client: AsyncClient, staff: dict[str, str], **overrides: Any
) -> tuple[dict[str, str], dict[str, Any]]:
    headers = await agency_user(client)
    agency = await create(client, headers, **overrides)
    review = await client.post(
        f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff
    )
    assert review.status_code == 200, review.text
    return headers, agency


def geohazard(level: str) -> dict[str, Any]:
    """Overrides for an agency registered for geological hazard assessment at ``level``."""
    return {
        "categories": ["GEOHAZARD"],
        "qualifications": [
            {
                "category": "GEOHAZARD",
                "level": level,
                "certificate_no": f"DZ-{level}-001",
                "valid_until": FUTURE,
            }
        ],
    }


def fields_of(response: Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


def is_problem(response: Response) -> bool:
    return response.headers["content-type"].startswith("application/problem+json")


async def entry_at(client: AsyncClient, seq: int) -> bytes:
    return (await client.get(f"/api/v1/log/entries?start={seq}&end={seq + 1}")).content.rstrip(b"\n")


async def entries_of(client: AsyncClient, notice_id: str, type: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in await log_entries(client)
        if e.get("notice_id") == notice_id and (type is None or e["type"] == type)
    ]


async def sealed_entries(client: AsyncClient) -> list[dict[str, Any]]:
    """Every MSP/2 sealed entry of the log (each test has its own log): they name no
    notice, so "nothing was logged for this bid" is "no sealed entry at all"."""
    return [e for e in await log_entries(client) if e["type"] == "bid.sealed"]


def project_code(year: int | None = None) -> str:
    return f"{year or today_in_china().year}-530102-48-01-{next(_project_serials):06d}"


# -- drafts -------------------------------------------------------------------------------------


async def test_create_draft_is_201_private_and_uncommitted(client: AsyncClient) -> None:
    owner = await owner_user(client)
    before = len(await log_entries(client))
    response = await client.post("/api/v1/notices", json=notice_body(), headers=owner)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("N-") and body["status"] == "draft"
    assert body["commit"] is None and body["scheme"] is None and body["terms_sha256"] is None
    assert body["budget_fen"] == 30_000_000 and body["method"] == "lottery" and body["min_candidates"] == 3
    assert len(await log_entries(client)) == before  # a draft is not logged
    assert (await client.get(f"/api/v1/notices/{body['id']}/terms")).status_code == 404


async def test_min_candidates_defaults_by_method(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    body = notice_body(method="lowest_price")
    del body["min_candidates"], body["winners"]
    lowest = (await client.post("/api/v1/notices", json=body, headers=owner)).json()
    assert (lowest["winners"], lowest["min_candidates"]) == (1, 3)
    _, named = await approved_agency(client, await admin(client, db))
    body = notice_body(
        method="direct",
        direct_agency_id=named["id"],
        direct_justification="涉密项目，经主管部门批准直接选取。",
    )
    del body["min_candidates"]
    direct = await client.post("/api/v1/notices", json=body, headers=owner)
    assert direct.status_code == 201, direct.text
    assert direct.json()["min_candidates"] == 1


async def test_drafts_are_invisible_to_the_public_and_other_owners(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await draft(client, owner, title="草稿不公开的项目")
    path = f"/api/v1/notices/{notice['id']}"
    assert (await client.get(path)).status_code == 404
    other = await owner_user(client)
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.get(path, headers=await agency_user(client))).status_code == 404
    own = await client.get(path, headers=owner)
    assert own.status_code == 200 and own.json()["status"] == "draft"
    assert notice["id"] not in [n["id"] for n in (await client.get("/api/v1/notices")).json()["items"]]
    assert notice["id"] not in [
        n["id"] for n in (await client.get("/api/v1/notices?q=草稿不公开")).json()["items"]
    ]
    assert notice["id"] not in [
        n["id"] for n in (await client.get("/api/v1/notices/mine", headers=other)).json()["items"]
    ]
    mine = (await client.get("/api/v1/notices/mine?status=draft", headers=owner)).json()["items"]
    assert [n["id"] for n in mine] == [notice["id"]]
    assert (await client.get("/api/v1/notices?status=draft")).status_code == 422


async def test_owner_edits_a_draft(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await draft(client, owner)
    deadline = in_hours(48)
    response = await client.put(
        f"/api/v1/notices/{notice['id']}",
        json=notice_body(
            title="修改后的标题",
            budget_fen=12_345_600,
            method="lowest_price",
            winners=1,
            min_candidates=2,
            bid_deadline=deadline,
        ),
        headers=owner,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "draft" and body["title"] == "修改后的标题" and body["budget_fen"] == 12_345_600
    assert body["method"] == "lowest_price" and body["min_candidates"] == 2
    assert datetime.fromisoformat(body["bid_deadline"]) == datetime.fromisoformat(deadline)
    assert (await client.get(f"/api/v1/notices/{notice['id']}", headers=owner)).json()[
        "title"
    ] == "修改后的标题"
    other = await owner_user(client)
    assert (
        await client.put(f"/api/v1/notices/{notice['id']}", json=notice_body(), headers=other)
    ).status_code == 404  # drafts are private


async def test_editing_after_publishing_is_409(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    response = await client.put(
        f"/api/v1/notices/{notice['id']}", json=notice_body(title="发布后改标题"), headers=owner
    )
    assert response.status_code == 409 and is_problem(response)
    assert (await client.get(f"/api/v1/notices/{notice['id']}")).json()["title"] == notice["title"]
    assert (await client.delete(f"/api/v1/notices/{notice['id']}", headers=owner)).status_code == 409


async def test_owner_deletes_a_draft(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await draft(client, owner, avoid=[{"agency_id": "AG-000001", "reason": "与业主存在关联关系"}])
    other = await owner_user(client)
    assert (await client.delete(f"/api/v1/notices/{notice['id']}", headers=other)).status_code == 404
    response = await client.delete(f"/api/v1/notices/{notice['id']}", headers=owner)
    assert response.status_code == 204, response.text
    assert (await client.get(f"/api/v1/notices/{notice['id']}", headers=owner)).status_code == 404
    assert (await client.get("/api/v1/notices/mine", headers=owner)).json()["items"] == []


# -- publishing ---------------------------------------------------------------------------------


async def test_publish_commits_freezes_terms_and_logs_exactly_the_spec_fields(client: AsyncClient) -> None:
    owner = await owner_user(client)
    deadline = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    notice = await draft(
        client, owner, method="lowest_price", winners=1, min_candidates=3, bid_deadline=deadline.isoformat()
    )
    spelled = protocol.format_ts(deadline)
    response = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == notice["id"] and body["status"] == "open"
    assert HEX64.match(body["commit"]) and body["scheme"] == "none" and HEX64.match(body["terms_sha256"])
    terms = await client.get(f"/api/v1/notices/{notice['id']}/terms")
    assert terms.status_code == 200 and terms.headers["content-type"].startswith("application/json")
    assert hashlib.sha256(terms.content).hexdigest() == body["terms_sha256"]
    assert protocol.canonical_json(json.loads(terms.content)) == terms.content
    assert json.loads(terms.content)["bid_deadline"] == spelled

    [entry] = await entries_of(client, notice["id"], "notice.published")
    assert set(entry) == ENTRY_HEAD | {
        "notice_id",
        "method",
        "winners",
        "min_candidates",
        "bid_deadline",
        "terms_sha256",
        "commit",
        "scheme",
        "sealing",
    }
    assert entry["v"] == 2 and TS.match(entry["ts"]) and entry["sealing"] == "server"
    assert entry["method"] == "lowest_price" and entry["winners"] == 1 and entry["min_candidates"] == 3
    assert entry["bid_deadline"] == spelled and TS.match(entry["bid_deadline"])
    assert (entry["terms_sha256"], entry["commit"], entry["scheme"]) == (
        body["terms_sha256"],
        body["commit"],
        "none",
    )
    raw = await entry_at(client, entry["seq"])
    assert protocol.canonical_json(json.loads(raw)) == raw
    # the public detail shows the same commitment
    public = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
    assert (public["status"], public["commit"], public["terms_sha256"]) == (
        "open",
        body["commit"],
        body["terms_sha256"],
    )


async def test_publishing_twice_is_409(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    again = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert again.status_code == 409 and is_problem(again)
    assert len(await entries_of(client, notice["id"], "notice.published")) == 1


async def test_someone_elses_notice_is_403(client: AsyncClient) -> None:
    owner = await owner_user(client)
    other = await owner_user(client)
    notice = await draft(client, owner)
    assert (
        await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=other)
    ).status_code == 404  # a draft: not even there
    notice = await published(client, owner)
    base = f"/api/v1/notices/{notice['id']}"
    assert (
        await client.post(f"{base}/amend", json={"title": "别人的公告"}, headers=other)
    ).status_code == 403
    assert (
        await client.post(f"{base}/cancel", json={"reason": "别人的公告"}, headers=other)
    ).status_code == 403
    assert (await client.get(base)).json()["status"] == "open"


async def test_unknown_notice_is_404(client: AsyncClient) -> None:
    owner = await owner_user(client)
    for response in (
        await client.get("/api/v1/notices/N-999999"),
        await client.get("/api/v1/notices/N-999999/terms"),
        await client.post("/api/v1/notices/N-999999/publish", headers=owner),
    ):
        assert response.status_code == 404 and is_problem(response)


async def test_only_owners_create_notices(client: AsyncClient) -> None:
    assert (await client.post("/api/v1/notices", json=notice_body())).status_code == 401
    assert (
        await client.post("/api/v1/notices", json=notice_body(), headers=await agency_user(client))
    ).status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"bid_deadline": "2020-01-01T09:00:00+08:00"}, "bid_deadline"),
        ({"bid_deadline": "2099-01-01T09:00:00"}, "bid_deadline"),
        ({"budget_fen": 0}, "budget_fen"),
        ({"budget_fen": -100}, "budget_fen"),
        ({"winners": 0}, "winners"),
        ({"winners": 3, "min_candidates": 3}, "winners"),
        ({"winners": 4, "min_candidates": 3}, "winners"),
        ({"method": "direct", "winners": 2, "min_candidates": 1}, "winners"),
        ({"category": "NOPE"}, "category"),
        ({"category": "GEOHAZARD", "required_level": "Z"}, "required_level"),
        ({"region": "999999"}, "region"),
        ({"method": "auction"}, "method"),
    ],
    ids=[
        "deadline-past",
        "deadline-naive",
        "budget-zero",
        "budget-negative",
        "k-zero",
        "k-equals-min-lottery",
        "k-above-min-lottery",
        "direct-two-winners",
        "unknown-category",
        "unknown-level",
        "unknown-region",
        "unknown-method",
    ],
)
async def test_bad_notice_input_is_422_and_nothing_is_created(
    client: AsyncClient, overrides: dict[str, Any], field: str
) -> None:
    owner = await owner_user(client)
    response = await client.post("/api/v1/notices", json=notice_body(**overrides), headers=owner)
    assert response.status_code == 422, response.text
    assert is_problem(response) and field in fields_of(response)
    assert (await client.get("/api/v1/notices/mine", headers=owner)).json()["items"] == []


@pytest.mark.parametrize(
    "budget", [1.5, "30000000", 30_000_000.0, True, None], ids=["fraction", "string", "float", "bool", "null"]
)
async def test_budget_that_is_not_an_integer_is_refused(client: AsyncClient, budget: Any) -> None:
    owner = await owner_user(client)
    response = await client.post("/api/v1/notices", json=notice_body(budget_fen=budget), headers=owner)
    assert response.status_code in (400, 422), response.text
    assert (await client.get("/api/v1/notices/mine", headers=owner)).json()["items"] == []


async def test_deadline_inside_min_bid_window_is_refused_at_publish(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    app = create_app(make_settings(database_url, tmp_path, min_bid_window=3600), database=db)
    async with serve_in_process(app) as client:
        owner = await owner_user(client)
        too_soon = await draft(client, owner, bid_deadline=in_hours(0.5))
        response = await client.post(f"/api/v1/notices/{too_soon['id']}/publish", headers=owner)
        assert response.status_code == 422, response.text
        assert fields_of(response) == ["bid_deadline"]
        assert (await client.get(f"/api/v1/notices/{too_soon['id']}", headers=owner)).json()[
            "status"
        ] == "draft"
        assert await entries_of(client, too_soon["id"]) == []
        enough = await draft(client, owner, bid_deadline=in_hours(1.05))
        assert (
            await client.post(f"/api/v1/notices/{enough['id']}/publish", headers=owner)
        ).status_code == 200


def quicknet_round(deadline: datetime) -> int:
    """MSP/1 step 1, written out again: the first quicknet round at least an hour after D."""
    d = int(deadline.timestamp()) + (1 if deadline.microsecond else 0)
    return -(-(d + 3600 - 1692803367) // 3) + 1


async def test_drand_scheme_is_committed_at_publish_and_recomputed_when_amended(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    app = create_app(make_settings(database_url, tmp_path, beacon="drand"), database=db)
    async with serve_in_process(app) as client:
        owner = await owner_user(client)
        deadline = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        notice = await published(client, owner, bid_deadline=deadline.isoformat())
        assert notice["scheme"] == f"drand/quicknet/{quicknet_round(deadline)}"
        [entry] = await entries_of(client, notice["id"], "notice.published")
        assert entry["scheme"] == notice["scheme"]
        later = deadline + timedelta(hours=1, microseconds=1)
        amended = await client.post(
            f"/api/v1/notices/{notice['id']}/amend", json={"bid_deadline": later.isoformat()}, headers=owner
        )
        assert amended.status_code == 200, amended.text
        assert amended.json()["scheme"] == f"drand/quicknet/{quicknet_round(later)}" != notice["scheme"]
        [entry] = await entries_of(client, notice["id"], "notice.amended")
        assert entry["scheme"] == amended.json()["scheme"] and entry["bid_deadline"] == protocol.format_ts(
            later
        )


# -- amend and cancel ---------------------------------------------------------------------------


async def test_amend_logs_new_terms_and_moves_the_deadline_later(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    later = (datetime.fromisoformat(notice["bid_deadline"]) + timedelta(days=1)).isoformat()
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/amend",
        json={"bid_deadline": later, "title": "延期后的标题", "reason": "补充踏勘"},
        headers=owner,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "open" and body["title"] == "延期后的标题"
    assert body["terms_sha256"] != notice["terms_sha256"] and body["commit"] == notice["commit"]
    assert set(body["changes"]) == {"title", "bid_deadline"}  # bidders see what changed
    assert body["changes"]["title"] == [notice["title"], "延期后的标题"]
    terms = (await client.get(f"/api/v1/notices/{notice['id']}/terms")).content
    assert hashlib.sha256(terms).hexdigest() == body["terms_sha256"]
    [entry] = await entries_of(client, notice["id"], "notice.amended")
    assert {"notice_id", "terms_sha256", "bid_deadline", "scheme"} <= set(entry)
    assert not {"method", "winners", "min_candidates", "commit"} & set(entry)  # these never change
    assert entry["terms_sha256"] == body["terms_sha256"] and entry["scheme"] == "none"
    assert entry["bid_deadline"] == protocol.format_ts(datetime.fromisoformat(later)) and TS.match(
        entry["bid_deadline"]
    )


async def test_amend_can_clear_an_optional_term_with_null_and_keeps_it_when_omitted(
    client: AsyncClient,
) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner, service_days=30)
    # (a longer period is a loosening; a shorter one would be refused: tests/integration/notices/test_fair_play.py)
    set_days = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"service_days": 45}, headers=owner
    )
    assert set_days.status_code == 200 and set_days.json()["service_days"] == 45
    kept = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"title": "只改标题"}, headers=owner
    )
    assert kept.json()["service_days"] == 45
    cleared = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"service_days": None}, headers=owner
    )
    assert cleared.status_code == 200 and cleared.json()["service_days"] is None
    assert cleared.json()["changes"] == {"service_days": [45, None]}
    terms = json.loads((await client.get(f"/api/v1/notices/{notice['id']}/terms")).content)
    assert terms["service_days"] is None


async def test_amending_the_deadline_earlier_is_422(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner, bid_deadline=in_hours(5))
    earlier = in_hours(3)
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"bid_deadline": earlier}, headers=owner
    )
    assert response.status_code == 422 and "bid_deadline" in fields_of(response)
    assert (await client.get(f"/api/v1/notices/{notice['id']}")).json()["bid_deadline"] == notice[
        "bid_deadline"
    ]
    assert await entries_of(client, notice["id"], "notice.amended") == []


async def test_amend_with_nothing_to_change_is_422(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    for body in ({}, {"title": notice["title"]}, {"budget_fen": notice["budget_fen"]}):
        response = await client.post(f"/api/v1/notices/{notice['id']}/amend", json=body, headers=owner)
        assert response.status_code == 422, (body, response.text)
    assert await entries_of(client, notice["id"], "notice.amended") == []


async def test_amend_with_bad_budget_is_422(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"budget_fen": 0}, headers=owner
    )
    assert response.status_code == 422 and "budget_fen" in fields_of(response)


async def test_amending_a_draft_or_cancelled_notice_is_409(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    notice = await draft(client, owner)
    assert (
        await client.post(
            f"/api/v1/notices/{notice['id']}/amend", json={"title": "草稿不能修正"}, headers=owner
        )
    ).status_code == 409
    notice = await published(client, owner)
    assert (await cancel_notice(client, db, notice["id"], owner, "项目取消")).status_code == 200
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/amend", json={"title": "取消后修正"}, headers=owner
    )
    assert response.status_code == 409 and is_problem(response)


async def test_cancel_needs_a_reason(client: AsyncClient) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    path = f"/api/v1/notices/{notice['id']}/cancel"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = await client.post(path, json=body, headers=owner)
        assert response.status_code in (400, 422), (body, response.text)
    assert (await client.get(f"/api/v1/notices/{notice['id']}")).json()["status"] == "open"
    assert await entries_of(client, notice["id"], "notice.cancelled") == []


async def test_cancel_is_logged_and_releases_standing_bids(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner)
    agency_h, _ = await approved_agency(client, staff)
    bid = (await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)).json()
    response = await cancel_notice(client, db, notice["id"], owner, "项目资金未落实")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled" and response.json()["cancel_reason"] == "项目资金未落实"
    [entry] = await entries_of(client, notice["id"], "notice.cancelled")
    assert (
        set(entry) == ENTRY_HEAD | {"notice_id", "reason", "openings"} and entry["reason"] == "项目资金未落实"
    )
    # Ending the bidding opens every bid (MSP/2): the released bid, with what opens its commitment.
    [opening] = entry["openings"]
    assert (
        opening["bid"]["bid_id"] == bid["bid_id"]
        and opening["seq"] == bid["seq"]
        and opening["withdrawn"] is None
    )
    assert (
        protocol.bid_commitment(bytes.fromhex(opening["salt"]), protocol.canonical_json(opening["bid"])).hex()
        == bid["commitment"]
    )
    mine = (await client.get(f"/api/v1/notices/{notice['id']}/bids/mine", headers=agency_h)).json()
    assert [(b["bid_id"], b["status"]) for b in mine] == [(bid["bid_id"], "withdrawn")]
    again = await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    assert again.status_code == 409 and is_problem(again)
    assert (
        await client.post(
            f"/api/v1/notices/{notice['id']}/cancel", json={"reason": "再次取消"}, headers=owner
        )
    ).status_code == 409
    cancelled = (await client.get("/api/v1/notices?status=cancelled")).json()["items"]
    assert notice["id"] in [n["id"] for n in cancelled]


# -- owner organisations and projects -----------------------------------------------------------


async def test_owner_registers_organisation_and_projects(client: AsyncClient) -> None:
    owner = await owner_user(client, org=None)
    assert (await client.get("/api/v1/owners/org", headers=owner)).status_code == 404
    code = credit_code()
    response = await client.post(
        "/api/v1/owners/org",
        json={"name": "昆明市交通运输局", "credit_code": code, "region": "530100"},
        headers=owner,
    )
    assert response.status_code == 201, response.text
    org = response.json()
    assert org["id"].startswith("OW-") and org["credit_code"] == code
    assert (await client.get("/api/v1/owners/org", headers=owner)).json() == org
    pcode = project_code()
    project = await client.post(
        "/api/v1/owners/projects", json={"name": "某道路改扩建工程", "code": pcode}, headers=owner
    )
    assert project.status_code == 201, project.text
    assert project.json()["code"] == pcode
    assert [p["code"] for p in (await client.get("/api/v1/owners/projects", headers=owner)).json()] == [pcode]
    # a notice for the project carries the owner and the project in its frozen terms
    notice = await published(client, owner, project_id=project.json()["id"])
    terms = json.loads((await client.get(f"/api/v1/notices/{notice['id']}/terms")).content)
    assert terms["owner"] == {"id": org["id"], "name": "昆明市交通运输局"}
    assert terms["project"] == {"id": project.json()["id"], "name": "某道路改扩建工程", "code": pcode}


async def test_publishing_without_an_organisation_is_a_conflict_that_says_what_to_do(
    client: AsyncClient,
) -> None:
    owner = await owner_user(client, org=None)
    notice = await draft(client, owner)
    refused = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert refused.status_code == 409 and is_problem(refused)
    assert "Register your organisation first" in refused.json()["detail"]
    # still a draft; once the organisation is registered, the same draft is published in its hall
    assert (await client.get(f"/api/v1/notices/{notice['id']}")).status_code == 404
    response = await client.post(
        "/api/v1/owners/org",
        json={"name": "昆明市盘龙区水务局", "credit_code": credit_code(), "region": "530103"},
        headers=owner,
    )
    assert response.status_code == 201, response.text
    assert response.json()["hall"] == "530103"
    done = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner)
    assert done.status_code == 200, done.text
    assert done.json()["owner"] == {"id": response.json()["id"], "name": "昆明市盘龙区水务局"}


async def test_organisation_bad_credit_code_and_duplicates(client: AsyncClient) -> None:
    owner = await owner_user(client, org=None)
    bad = await client.post(
        "/api/v1/owners/org",
        json={"name": "某单位", "credit_code": "91350100M000100Y44", "region": "530100"},
        headers=owner,
    )
    assert bad.status_code == 422 and "credit_code" in fields_of(bad)
    unknown_region = await client.post(
        "/api/v1/owners/org",
        json={"name": "某单位", "credit_code": credit_code(), "region": "999999"},
        headers=owner,
    )
    assert unknown_region.status_code == 422 and "region" in fields_of(unknown_region)
    code = credit_code()
    assert (
        await client.post(
            "/api/v1/owners/org",
            json={"name": "某单位", "credit_code": code, "region": "530100"},
            headers=owner,
        )
    ).status_code == 201
    # one organisation per account, and one account per credit code
    assert (
        await client.post(
            "/api/v1/owners/org",
            json={"name": "另一单位", "credit_code": credit_code(), "region": "530100"},
            headers=owner,
        )
    ).status_code == 409
    other = await owner_user(client, org=None)
    duplicate = await client.post(
        "/api/v1/owners/org",
        json={"name": "同码单位", "credit_code": code, "region": "530100"},
        headers=other,
    )
    assert duplicate.status_code == 409 and is_problem(duplicate)
    assert (
        await client.post(
            "/api/v1/owners/org",
            json={"name": "某单位", "credit_code": credit_code(), "region": "530100"},
            headers=await agency_user(client),
        )
    ).status_code == 403


async def test_project_code_format_and_duplicates(client: AsyncClient) -> None:
    owner = await owner_user(client, org=None)
    no_org = await client.post(
        "/api/v1/owners/projects", json={"name": "某项目", "code": project_code()}, headers=owner
    )
    assert no_org.status_code == 409
    await client.post(
        "/api/v1/owners/org",
        json={"name": "某单位", "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    year = today_in_china().year
    for code in (
        "2026-530102-48-01",
        "2026530102480101234",
        "20a6-530102-48-01-012345",
        f"{year + 2}-530102-48-01-012345",
        "2013-530102-48-01-012345",
    ):
        response = await client.post(
            "/api/v1/owners/projects", json={"name": "某项目", "code": code}, headers=owner
        )
        assert response.status_code == 422 and fields_of(response) == ["code"], code
    code = project_code()
    assert (
        await client.post("/api/v1/owners/projects", json={"name": "某项目", "code": code}, headers=owner)
    ).status_code == 201
    duplicate = await client.post(
        "/api/v1/owners/projects", json={"name": "同码项目", "code": code}, headers=owner
    )
    assert duplicate.status_code == 409
    # another owner's project cannot be attached to a notice
    other = await owner_user(client)
    project_id = (await client.get("/api/v1/owners/projects", headers=owner)).json()[0]["id"]
    response = await client.post("/api/v1/notices", json=notice_body(project_id=project_id), headers=other)
    assert response.status_code == 422 and "project_id" in fields_of(response)


# -- the public list ----------------------------------------------------------------------------


async def test_list_filters(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    eia = await published(client, owner, title="滇池片区环评甲", budget_fen=1_000_000)
    soil = await published(
        client, owner, title="水保方案乙", category="SOIL_WATER", method="lowest_price", budget_fen=5_000_000
    )
    cancelled = await published(client, owner, title="取消的丙", budget_fen=9_000_000)
    await cancel_notice(client, db, cancelled["id"], owner)
    await draft(client, owner, title="草稿丁", budget_fen=5_000_000)

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/notices?{query}")
        assert response.status_code == 200, (query, response.text)
        return [n["id"] for n in response.json()["items"]]

    assert await ids("") == [cancelled["id"], soil["id"], eia["id"]]  # newest first, drafts left out
    assert await ids("category=SOIL_WATER") == [soil["id"]]
    assert await ids("method=lowest_price") == [soil["id"]]
    assert await ids("method=lottery") == [cancelled["id"], eia["id"]]
    assert await ids("status=open") == [soil["id"], eia["id"]]
    assert await ids("status=cancelled") == [cancelled["id"]]
    assert await ids("budget_min=2000000&budget_max=6000000") == [soil["id"]]
    assert await ids("budget_min=5000000") == [cancelled["id"], soil["id"]]
    assert await ids("budget_max=1000000") == [eia["id"]]
    assert await ids("q=滇池") == [eia["id"]]
    assert await ids(f"q={soil['id']}") == [soil["id"]]
    assert await ids("q=%25") == []  # a LIKE wildcard is searched for literally
    for bad in ("method=auction", "status=nope", "category=NOPE", "region=999999"):
        assert (await client.get(f"/api/v1/notices?{bad}")).status_code == 422, bad


async def test_list_pages_with_a_cursor(client: AsyncClient) -> None:
    owner = await owner_user(client)
    made = [(await published(client, owner, title=f"分页测试{i}"))["id"] for i in range(5)]
    page = (await client.get("/api/v1/notices?limit=2")).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen = [n["id"] for n in page["items"]]
    while page["next_cursor"]:
        response = await client.get(f"/api/v1/notices?limit=2&cursor={page['next_cursor']}")
        assert response.status_code == 200
        page = response.json()
        seen += [n["id"] for n in page["items"]]
    assert seen == list(reversed(made))
    mine = (await client.get("/api/v1/notices/mine?limit=3", headers=owner)).json()
    assert len(mine["items"]) == 3 and mine["next_cursor"]


@pytest.mark.parametrize(
    "query", ["cursor=nope", "cursor=eyJhZnRlciI6ICJ4In0", "limit=101", "limit=0", "limit=1000"]
)
async def test_bad_cursor_or_limit_is_422(client: AsyncClient, query: str) -> None:
    response = await client.get(f"/api/v1/notices?{query}")
    assert response.status_code == 422 and is_problem(response)


# -- bids ---------------------------------------------------------------------------------------


async def test_lottery_bid_gets_a_receipt_and_exactly_the_spec_entry(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner)
    agency_h, agency = await approved_agency(client, staff)
    response = await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    assert response.status_code == 201, response.text
    bid = response.json()
    assert bid["bid_id"].startswith("B-") and bid["price_fen"] is None and bid["protocol"] == 2
    document = bid["bid_document"].encode("utf-8")
    assert document == protocol.bid_document_v2(notice["id"], bid["bid_id"], agency["id"], None)
    salt = bytes.fromhex(bid["salt"])
    assert len(salt) == 32 and protocol.bid_commitment(salt, document).hex() == bid["commitment"]

    jwk = (await client.get("/api/v1/log/receipt-key")).json()
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    claims = verify_receipt(bid["receipt"], jwk)
    assert claims is not None
    assert claims == {
        "v": 2,
        "notice_id": notice["id"],
        "bid_id": bid["bid_id"],
        "agency_id": agency["id"],
        "commitment": bid["commitment"],
        "salt": bid["salt"],
        "seq": bid["seq"],
        "leaf_hash": bid["leaf_hash"],
    }
    header, payload, signature = bid["receipt"].split(".")
    assert verify_receipt(f"{header}.{payload}.{signature[::-1]}", jwk) is None
    forged = jws.sign(json.dumps(claims).encode(), json.dumps(jwk), algorithm="HS256")  # alg confusion
    assert verify_receipt(forged, jwk) is None

    # The entry names nothing but the commitment: not the notice, the agency or the bid.
    raw = await entry_at(client, claims["seq"])
    entry = json.loads(raw)
    assert set(entry) == ENTRY_HEAD | {"commitment"} and entry["v"] == 2
    assert (
        entry["type"] == "bid.sealed"
        and entry["seq"] == claims["seq"]
        and entry["commitment"] == bid["commitment"]
    )
    for word in (notice["id"], bid["bid_id"], agency["id"]):
        assert word.encode() not in raw
    assert protocol.leaf_hash(raw).hex() == claims["leaf_hash"]
    assert await entries_of(client, notice["id"], "bid.accepted") == []


async def test_lowest_price_bid_seals_its_price_in_the_document(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner, method="lowest_price", budget_fen=1_000_000)
    agency_h, agency = await approved_agency(client, staff)
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/bids", json={"price_fen": 1_000_000}, headers=agency_h
    )
    assert response.status_code == 201, response.text
    bid = response.json()
    assert json.loads(bid["bid_document"]) == {
        "agency_id": agency["id"],
        "bid_id": bid["bid_id"],
        "notice_id": notice["id"],
        "price_fen": 1_000_000,
    }
    assert (
        protocol.bid_commitment(bytes.fromhex(bid["salt"]), bid["bid_document"].encode()).hex()
        == bid["commitment"]
    )
    [entry] = await sealed_entries(client)
    assert set(entry) == ENTRY_HEAD | {"commitment"} and "1000000" not in json.dumps(entry)
    # The bidder alone reads it back, price included.
    [mine] = (await client.get(f"/api/v1/notices/{notice['id']}/bids/mine", headers=agency_h)).json()
    assert (mine["price_fen"], mine["salt"], mine["receipt"], mine["opened_in"]) == (
        1_000_000,
        bid["salt"],
        bid["receipt"],
        None,
    )


@pytest.mark.parametrize(
    ("price", "statuses"),
    [
        (12.5, (400, 422)),
        ("12", (400, 422)),
        (True, (400, 422)),
        (12.0, (400, 422)),
        (0, (422,)),
        (-5, (422,)),
        (None, (422,)),
        (1_000_001, (422,)),
    ],
    ids=["fraction", "string", "bool", "float", "zero", "negative", "missing", "above-budget"],
)
async def test_bad_price_is_refused_and_nothing_is_logged(
    client: AsyncClient, db: Database, price: Any, statuses: tuple[int, ...]
) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner, method="lowest_price", budget_fen=1_000_000)
    agency_h, _ = await approved_agency(client, staff)
    body = {} if price is None else {"price_fen": price}
    response = await client.post(f"/api/v1/notices/{notice['id']}/bids", json=body, headers=agency_h)
    assert response.status_code in statuses, response.text
    assert is_problem(response)
    assert await sealed_entries(client) == []
    assert (await client.get(f"/api/v1/notices/{notice['id']}/bids/mine", headers=agency_h)).json() == []


async def test_price_on_a_lottery_is_422(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    notice = await published(client, await owner_user(client))
    agency_h, _ = await approved_agency(client, staff)
    response = await client.post(
        f"/api/v1/notices/{notice['id']}/bids", json={"price_fen": 100}, headers=agency_h
    )
    assert response.status_code == 422 and "price_fen" in fields_of(response)
    assert await sealed_entries(client) == []


async def test_second_standing_bid_is_409_and_withdraw_then_bid_again(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner, method="lowest_price", budget_fen=1_000_000)
    agency_h, agency = await approved_agency(client, staff)
    path = f"/api/v1/notices/{notice['id']}/bids"
    first = (await client.post(path, json={"price_fen": 900_000}, headers=agency_h)).json()
    second = await client.post(path, json={"price_fen": 800_000}, headers=agency_h)
    assert second.status_code == 409 and is_problem(second)
    withdrawn = await client.delete(f"{path}/{first['bid_id']}", headers=agency_h)
    assert withdrawn.status_code == 200 and withdrawn.json() == {
        "bid_id": first["bid_id"],
        "status": "withdrawn",
    }
    assert (await client.delete(f"{path}/{first['bid_id']}", headers=agency_h)).status_code == 409
    again = await client.post(path, json={"price_fen": 800_000}, headers=agency_h)
    assert again.status_code == 201, again.text
    assert (
        again.json()["bid_id"] != first["bid_id"]
        and json.loads(again.json()["bid_document"])["price_fen"] == 800_000
    )
    # Three sealed entries, a bid, a withdrawal and a bid, alike to anyone reading the log.
    sealed = await sealed_entries(client)
    assert [e["seq"] for e in sealed] == [first["seq"], sealed[1]["seq"], again.json()["seq"]]
    assert all(set(e) == ENTRY_HEAD | {"commitment"} for e in sealed)
    mine = (await client.get(f"{path}/mine", headers=agency_h)).json()
    assert sorted((b["bid_id"], b["status"]) for b in mine) == sorted(
        [(first["bid_id"], "withdrawn"), (again.json()["bid_id"], "standing")]
    )
    assert [b["withdrawal_seq"] for b in mine if b["bid_id"] == first["bid_id"]] == [sealed[1]["seq"]]
    # Ending the bidding opens both, the first as withdrawn by the middle entry.
    assert (await cancel_notice(client, db, notice["id"], owner)).status_code == 200
    [cancelled] = await entries_of(client, notice["id"], "notice.cancelled")
    by_id = {o["bid"]["bid_id"]: o for o in cancelled["openings"]}
    withdrawn = by_id[first["bid_id"]]["withdrawn"]
    assert withdrawn["seq"] == sealed[1]["seq"] and by_id[again.json()["bid_id"]]["withdrawn"] is None
    assert (
        protocol.withdrawal_commitment(
            bytes.fromhex(withdrawn["salt"]), bytes.fromhex(first["commitment"])
        ).hex()
        == sealed[1]["commitment"]
    )
    assert agency["id"] in json.dumps(cancelled)


async def test_withdrawing_someone_elses_bid_is_404_like_a_missing_one(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    notice = await published(client, await owner_user(client))
    bidder_h, _ = await approved_agency(client, staff)
    other_h, _ = await approved_agency(client, staff)
    bid = (await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=bidder_h)).json()
    theirs = await client.delete(f"/api/v1/notices/{notice['id']}/bids/{bid['bid_id']}", headers=other_h)
    missing = await client.delete(f"/api/v1/notices/{notice['id']}/bids/B-999999", headers=other_h)
    assert theirs.status_code == missing.status_code == 404
    # the answer does not tell that the bid exists (only the echoed path differs)
    assert {**theirs.json(), "instance": None} == {**missing.json(), "instance": None}
    assert [
        b["status"]
        for b in (await client.get(f"/api/v1/notices/{notice['id']}/bids/mine", headers=bidder_h)).json()
    ] == ["standing"]
    assert [e["seq"] for e in await sealed_entries(client)] == [bid["seq"]]


async def test_ineligible_agencies_are_403_with_every_reason(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    owner = await owner_user(client)
    pending_h = await agency_user(client)
    await create(client, pending_h, **geohazard("A"))
    suspended_h, suspended = await approved_agency(client, staff, **geohazard("A"))
    assert (
        await client.post(
            f"/api/v1/agencies/{suspended['id']}/suspend", json={"reason": "出具虚假报告"}, headers=staff
        )
    ).status_code == 200
    other_category_h, _ = await approved_agency(client, staff)  # EIA only
    avoided_h, avoided = await approved_agency(client, staff, **geohazard("A"))
    low_h, _ = await approved_agency(client, staff, **geohazard("B"))
    everything_h, everything = await approved_agency(
        client, staff, **geohazard("B")
    )  # suspended, grade B, and avoided
    assert (
        await client.post(
            f"/api/v1/agencies/{everything['id']}/suspend", json={"reason": "围标串标"}, headers=staff
        )
    ).status_code == 200
    eligible_h, _ = await approved_agency(client, staff, **geohazard("A"))
    notice = await published(
        client,
        owner,
        category="GEOHAZARD",
        required_level="A",
        avoid=[
            {"agency_id": avoided["id"], "reason": "与业主存在关联关系"},
            {"agency_id": everything["id"], "reason": "参与过前期咨询"},
        ],
    )
    path = f"/api/v1/notices/{notice['id']}/bids"
    expected = {
        "pending": (pending_h, ["not_approved", "qualification_under_review"]),
        "suspended": (suspended_h, ["suspended"]),
        "other category": (other_category_h, ["category", "no_qualification"]),
        "avoided": (avoided_h, ["avoided"]),
        "level too low": (low_h, ["level_too_low"]),
        "everything": (everything_h, ["suspended", "level_too_low", "avoided"]),
    }
    for case, (headers, codes) in expected.items():
        response = await client.post(path, json={}, headers=headers)
        assert response.status_code == 403, (case, response.text)
        assert is_problem(response) and fields_of(response) == codes, case
        assert all(e["message"] for e in response.json()["errors"]), case
    assert (await client.post(path, json={}, headers=eligible_h)).status_code == 201
    assert len(await sealed_entries(client)) == 1


async def test_only_agencies_bid(client: AsyncClient, db: Database) -> None:
    owner = await owner_user(client)
    notice = await published(client, owner)
    path = f"/api/v1/notices/{notice['id']}/bids"
    assert (await client.post(path, json={})).status_code == 401
    assert (await client.post(path, json={}, headers=owner)).status_code == 403
    assert (await client.post(path, json={}, headers=await admin(client, db))).status_code == 403
    # an agency account without a registered agency
    assert (await client.post(path, json={}, headers=await agency_user(client))).status_code == 403
    assert (await client.get(f"{path}/mine")).status_code == 401
    assert await sealed_entries(client) == []


async def test_bidding_on_an_unknown_notice_is_404(client: AsyncClient, db: Database) -> None:
    agency_h, _ = await approved_agency(client, await admin(client, db))
    response = await client.post("/api/v1/notices/N-999999/bids", json={}, headers=agency_h)
    assert response.status_code == 404 and is_problem(response)


async def test_a_draft_is_indistinguishable_from_an_unknown_notice(client: AsyncClient, db: Database) -> None:
    """Drafts are private: nobody but the owner learns anything of one, not even that it exists."""
    agency_h, _ = await approved_agency(client, await admin(client, db))
    notice = await draft(client, await owner_user(client))

    def shape(response: Response) -> tuple[int, Any]:
        body = response.json()
        return response.status_code, {**body, "instance": None} if isinstance(body, dict) else body

    for method, suffix, headers in (
        ("GET", "", {}),
        ("GET", "/terms", {}),
        ("POST", "/bids", agency_h),
        ("GET", "/bids/mine", agency_h),
    ):
        kwargs: dict[str, Any] = {"headers": headers} | ({"json": {}} if method == "POST" else {})
        of_draft = await client.request(method, f"/api/v1/notices/{notice['id']}{suffix}", **kwargs)
        of_nothing = await client.request(method, f"/api/v1/notices/N-999999{suffix}", **kwargs)
        assert of_nothing.status_code == 404, (suffix, of_nothing.text)
        assert shape(of_draft) == shape(of_nothing), (method, suffix)
