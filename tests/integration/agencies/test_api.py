"""The agency registry through the JSON API: onboarding, review workflow, bad input,
qualifications, documents, directory, and what reaches the public log."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from market.accounts.models import Role
from market.agencies.creditcode import complete_credit_code
from market.core.clock import today_in_china
from market.core.db import Database
from tests.helpers import bearer, create_staff, register, token_for
from tests.uploads import PDF

_codes = itertools.count(1)
FUTURE = (today_in_china() + timedelta(days=400)).isoformat()


def credit_code() -> str:
    return complete_credit_code("9", "1", "530100", f"MA{next(_codes):06d}")


def agency_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "云南绿源环境科技有限公司",
        "credit_code": credit_code(),
        "region": "530100",
        "categories": ["EIA"],
        "qualifications": [
            {"category": "EIA", "level": None, "certificate_no": "HP-2026-001", "valid_until": FUTURE}
        ],
        "legal_representative": "张三",
        "contact_phone": "0871-12345678",
        "address": "昆明市五华区人民中路 1 号",
    }
    body.update(overrides)
    return body


async def agency_user(client: AsyncClient) -> dict[str, str]:
    user = await register(client, role="agency")
    return bearer(await token_for(client, user["email"]))


async def admin(client: AsyncClient, db: Database) -> dict[str, str]:
    email = await create_staff(db, role=Role.admin)
    return bearer(await token_for(client, email))


async def create(client: AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/agencies", json=agency_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def log_entries(client: AsyncClient) -> list[dict[str, Any]]:
    size = int((await client.get("/api/v1/log/checkpoint")).text.split("\n")[1])
    raw = (await client.get(f"/api/v1/log/entries?start=0&end={size}")).content
    return [json.loads(line) for line in raw.splitlines()]


async def test_categories_and_regions(client: AsyncClient) -> None:
    categories = (await client.get("/api/v1/categories")).json()
    assert len(categories) >= 16
    eia = next(c for c in categories if c.get("name_zh") == "环境影响评价")
    assert set(eia) >= {"code", "name_zh", "name_en", "levels"}
    provinces = (await client.get("/api/v1/regions")).json()
    assert any(r["code"] == "530000" and r["name_zh"] == "云南省" for r in provinces)
    prefectures = (await client.get("/api/v1/regions?parent=530000")).json()
    assert len(prefectures) == 16 and all(r["level"] == "prefecture" for r in prefectures)
    assert (await client.get("/api/v1/regions?parent=999999")).status_code == 422


async def test_agency_registers_and_waits_for_review(client: AsyncClient) -> None:
    headers = await agency_user(client)
    body = await create(client, headers)
    assert body["status"] == "pending" and body["id"].startswith("AG-")
    mine = (await client.get("/api/v1/agencies/mine", headers=headers)).json()
    assert mine["contact_phone"] == "0871-12345678"
    # Not public while pending.
    assert (await client.get(f"/api/v1/agencies/{body['id']}")).status_code == 404
    listed = (await client.get("/api/v1/agencies")).json()
    assert body["id"] not in [a["id"] for a in listed["items"]]
    entry = (await log_entries(client))[-1]
    assert entry["type"] == "agency.submitted" and entry["agency_id"] == body["id"]
    assert entry["credit_code"] == body["credit_code"] and entry["categories"] == ["EIA"]
    raw = json.dumps(entry, ensure_ascii=False)
    assert "张三" not in raw and "0871" not in raw and "人民中路" not in raw


async def test_approve_makes_it_public_without_private_details(client: AsyncClient, db: Database) -> None:
    headers = await agency_user(client)
    body = await create(client, headers)
    staff = await admin(client, db)
    response = await client.post(
        f"/api/v1/agencies/{body['id']}/review", json={"decision": "approve", "reason": ""}, headers=staff
    )
    assert response.status_code == 200 and response.json() == {"id": body["id"], "status": "approved"}
    public = (await client.get(f"/api/v1/agencies/{body['id']}")).json()
    assert public["status"] == "approved" and public["qualifications"][0]["status"] == "approved"
    assert "contact_phone" not in public and "legal_representative" not in public
    assert public["rating"]["count"] == 0 and public["rating"]["average"] is None
    assert public["credit"]["score"] == 100  # the formula's base: no events yet
    as_admin = (await client.get(f"/api/v1/agencies/{body['id']}", headers=staff)).json()
    assert as_admin["contact_phone"] == "0871-12345678"
    listed = (await client.get("/api/v1/agencies?category=EIA")).json()
    assert body["id"] in [a["id"] for a in listed["items"]]
    entry = (await log_entries(client))[-1]
    assert entry["type"] == "agency.approved" and entry["agency_id"] == body["id"]


async def test_approving_twice_is_409(client: AsyncClient, db: Database) -> None:
    body = await create(client, await agency_user(client))
    staff = await admin(client, db)
    path = f"/api/v1/agencies/{body['id']}/review"
    assert (await client.post(path, json={"decision": "approve"}, headers=staff)).status_code == 200
    again = await client.post(path, json={"decision": "approve"}, headers=staff)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")


async def test_reject_needs_a_reason_and_is_logged(client: AsyncClient, db: Database) -> None:
    body = await create(client, await agency_user(client))
    staff = await admin(client, db)
    path = f"/api/v1/agencies/{body['id']}/review"
    assert (await client.post(path, json={"decision": "reject"}, headers=staff)).status_code == 422
    assert (await client.post(path, json={"decision": "maybe"}, headers=staff)).status_code == 422
    response = await client.post(path, json={"decision": "reject", "reason": "营业执照不清晰"}, headers=staff)
    assert response.json()["status"] == "rejected"
    entry = (await log_entries(client))[-1]
    assert entry["type"] == "agency.rejected" and entry["reason"] == "营业执照不清晰"


async def test_suspend_reinstate_blacklist(client: AsyncClient, db: Database) -> None:
    body = await create(client, await agency_user(client))
    staff = await admin(client, db)
    base = f"/api/v1/agencies/{body['id']}"
    # suspending a pending agency is a state conflict
    assert (await client.post(f"{base}/suspend", json={"reason": "x"}, headers=staff)).status_code == 409
    await client.post(f"{base}/review", json={"decision": "approve"}, headers=staff)
    until = (today_in_china() + timedelta(days=30)).isoformat()
    suspended = await client.post(
        f"{base}/suspend", json={"reason": "出具虚假报告", "until": until}, headers=staff
    )
    assert suspended.json() == {"id": body["id"], "status": "suspended", "until": until}
    assert (await client.post(f"{base}/suspend", json={"reason": "again"}, headers=staff)).status_code == 409
    past = (today_in_china() - timedelta(days=1)).isoformat()
    assert (
        await client.post(f"{base}/blacklist", json={"reason": "x", "until": past}, headers=staff)
    ).status_code == 422
    assert (await client.post(f"{base}/reinstate", json={"reason": "整改完成"}, headers=staff)).json()[
        "status"
    ] == "approved"
    assert (await client.post(f"{base}/blacklist", json={"reason": "围标串标"}, headers=staff)).json()[
        "status"
    ] == "blacklisted"
    blacklisted = (await client.get("/api/v1/agencies?status=blacklisted")).json()
    assert body["id"] in [a["id"] for a in blacklisted["items"]]
    types = [e["type"] for e in await log_entries(client)]
    assert types[-4:] == ["agency.approved", "agency.suspended", "agency.reinstated", "agency.blacklisted"]


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"credit_code": "91350100M000100Y44"}, 422, "credit_code"),
        ({"credit_code": "9135"}, 422, "credit_code"),
        ({"region": "999999"}, 422, "region"),
        ({"categories": ["NOPE"]}, 422, "categories"),
        ({"categories": []}, 422, "categories"),
        (
            {
                "qualifications": [
                    {"category": "EIA", "level": None, "certificate_no": "C-1", "valid_until": "2020-01-01"}
                ]
            },
            422,
            "qualifications[0].valid_until",
        ),
        (
            {
                "categories": ["GEOHAZARD"],
                "qualifications": [
                    {"category": "GEOHAZARD", "level": "Z", "certificate_no": "C-1", "valid_until": FUTURE}
                ],
            },
            422,
            "qualifications[0].level",
        ),
        (
            {
                "qualifications": [
                    {"category": "EIA", "level": None, "certificate_no": "C-1", "valid_until": "not a date"}
                ]
            },
            422,
            "qualifications.0.valid_until",
        ),
    ],
    ids=[
        "check-char",
        "short-code",
        "unknown-region",
        "unknown-category",
        "no-category",
        "expired",
        "unknown-level",
        "bad-date",
    ],
)
async def test_bad_input_is_refused_and_nothing_is_saved(
    client: AsyncClient, overrides: dict[str, Any], status: int, field: str
) -> None:
    headers = await agency_user(client)
    before = len(await log_entries(client))
    response = await client.post("/api/v1/agencies", json=agency_body(**overrides), headers=headers)
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get("/api/v1/agencies/mine", headers=headers)).status_code == 404
    assert len(await log_entries(client)) == before


async def test_invalid_check_character_message_says_which_check(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/agencies",
        json=agency_body(credit_code="91350100M000100Y44"),
        headers=await agency_user(client),
    )
    assert "last character" in response.json()["errors"][0]["message"]


async def test_duplicate_credit_code_is_409(client: AsyncClient) -> None:
    first = await create(client, await agency_user(client))
    response = await client.post(
        "/api/v1/agencies",
        json=agency_body(credit_code=first["credit_code"]),
        headers=await agency_user(client),
    )
    assert response.status_code == 409


async def test_one_agency_per_account_and_only_agency_accounts(client: AsyncClient) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    assert (await client.post("/api/v1/agencies", json=agency_body(), headers=headers)).status_code == 409
    owner = await register(client, role="owner")
    owner_headers = bearer(await token_for(client, owner["email"]))
    assert (
        await client.post("/api/v1/agencies", json=agency_body(), headers=owner_headers)
    ).status_code == 403
    assert (await client.post("/api/v1/agencies", json=agency_body())).status_code == 401


async def test_only_admins_review(client: AsyncClient, db: Database) -> None:
    body = await create(client, await agency_user(client))
    supervisor = bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))
    response = await client.post(
        f"/api/v1/agencies/{body['id']}/review", json={"decision": "approve"}, headers=supervisor
    )
    assert response.status_code == 403
    assert (
        await client.post(
            "/api/v1/agencies/AG-999999/review", json={"decision": "approve"}, headers=await admin(client, db)
        )
    ).status_code == 404


async def test_changed_qualification_counts_only_after_review(client: AsyncClient, db: Database) -> None:
    headers = await agency_user(client)
    body = await create(client, headers)
    staff = await admin(client, db)
    await client.post(f"/api/v1/agencies/{body['id']}/review", json={"decision": "approve"}, headers=staff)
    old_id = (await client.get("/api/v1/agencies/mine", headers=headers)).json()["qualifications"][0]["id"]
    new = {"category": "EIA", "level": None, "certificate_no": "HP-2027-009", "valid_until": FUTURE}
    response = await client.post(
        f"/api/v1/agencies/mine/qualifications?replaces={old_id}", json=new, headers=headers
    )
    assert response.status_code == 201 and response.json()["status"] == "pending"
    public = (await client.get(f"/api/v1/agencies/{body['id']}")).json()
    assert [q["certificate_no"] for q in public["qualifications"]] == ["HP-2026-001"]
    qid = response.json()["id"]
    reviewed = await client.post(
        f"/api/v1/agencies/{body['id']}/qualifications/{qid}/review",
        json={"decision": "approve"},
        headers=staff,
    )
    assert reviewed.json()["status"] == "approved"
    public = (await client.get(f"/api/v1/agencies/{body['id']}")).json()
    assert [q["certificate_no"] for q in public["qualifications"]] == ["HP-2027-009"]
    again = await client.post(
        f"/api/v1/agencies/{body['id']}/qualifications/{qid}/review",
        json={"decision": "approve"},
        headers=staff,
    )
    assert again.status_code == 409


async def test_documents_are_sniffed_and_private(client: AsyncClient, db: Database) -> None:
    headers = await agency_user(client)
    body = await create(client, headers)
    ok = await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": ("licence.pdf", PDF, "application/pdf")},
        data={"kind": "licence"},
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    doc = ok.json()
    assert doc["content_type"] == "application/pdf" and doc["size"] == len(PDF)
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 100
    bad = await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": ("licence.pdf", elf, "application/pdf")},
        data={"kind": "licence"},
        headers=headers,
    )
    assert bad.status_code == 422
    mislabelled = await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": ("photo.png", PDF, "image/png")},
        data={"kind": "other"},
        headers=headers,
    )
    assert mislabelled.status_code == 422
    path = f"/api/v1/agencies/{body['id']}/documents/{doc['id']}"
    own = await client.get(path, headers=headers)
    assert (
        own.status_code == 200
        and own.content == PDF
        and own.headers["content-type"].startswith("application/pdf")
    )
    other = await agency_user(client)
    assert (await client.get(path, headers=other)).status_code == 403
    assert (await client.get(path, headers=await admin(client, db))).status_code == 200
    assert (await client.get(path)).status_code == 401


async def test_oversize_document_is_refused(client: AsyncClient) -> None:
    headers = await agency_user(client)
    await create(client, headers)
    big = PDF + b"0" * (10 * 1024 * 1024)
    response = await client.post(
        "/api/v1/agencies/mine/documents",
        files={"file": ("big.pdf", big, "application/pdf")},
        data={"kind": "licence"},
        headers=headers,
    )
    assert response.status_code in (413, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_directory_filters_and_pages(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    ids = []
    for i in range(5):
        region = "530100" if i % 2 else "530300"
        body = await create(client, await agency_user(client), name=f"测试机构{i}", region=region)
        await client.post(
            f"/api/v1/agencies/{body['id']}/review", json={"decision": "approve"}, headers=staff
        )
        ids.append(body["id"])
    page = (await client.get("/api/v1/agencies?limit=2")).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen = [a["id"] for a in page["items"]]
    while page["next_cursor"]:
        page = (await client.get(f"/api/v1/agencies?limit=2&cursor={page['next_cursor']}")).json()
        seen += [a["id"] for a in page["items"]]
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    kunming = (await client.get("/api/v1/agencies?region=530100")).json()["items"]
    assert {a["region"] for a in kunming} == {"530100"}
    named = (await client.get("/api/v1/agencies?q=测试机构3")).json()["items"]
    assert [a["name"] for a in named] == ["测试机构3"]
    assert (await client.get("/api/v1/agencies?cursor=nope")).status_code == 422
    assert (await client.get("/api/v1/agencies?limit=1000")).status_code == 422
    assert (await client.get("/api/v1/agencies?status=pending")).status_code == 422


async def test_lift_blacklist(client: AsyncClient, db: Database) -> None:
    body = await create(client, await agency_user(client))
    staff = await admin(client, db)
    base = f"/api/v1/agencies/{body['id']}"
    assert (
        await client.post(f"{base}/lift-blacklist", json={"reason": "x"}, headers=staff)
    ).status_code == 409
    await client.post(f"{base}/blacklist", json={"reason": "围标串标"}, headers=staff)
    lifted = await client.post(f"{base}/lift-blacklist", json={"reason": "期满解除"}, headers=staff)
    assert lifted.json()["status"] == "approved"
    assert (await log_entries(client))[-1]["type"] == "agency.blacklist_lifted"


async def test_nobody_reviews_their_own_agency(client: AsyncClient, db: Database) -> None:
    import sqlalchemy as sa

    from market.accounts import service as accounts
    from market.accounts.models import AppUser
    from market.agencies import service
    from market.core.errors import Forbidden

    user = await register(client, role="agency")
    body = await create(client, bearer(await token_for(client, user["email"])))
    async with db.transaction() as session:
        # An account that owns an agency and also holds the admin role (a data error the
        # rule must still stop).
        await session.execute(
            sa.update(AppUser)
            .where(AppUser.public_id == user["id"])
            .values(role="admin", jurisdiction="530000")
        )
        actor = await accounts.get_by_public_id(session, user["id"])
        assert actor is not None
        with pytest.raises(Forbidden):
            await service.transition(
                session, agency_id=body["id"], actor=actor, action="approve", today=today_in_china()
            )
