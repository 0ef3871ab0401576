"""The path from a draft to a sealed bid, end to end through the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from market import protocol
from market.accounts.models import Role
from market.bids.receipts import verify_receipt
from market.core.db import Database
from tests.helpers import bearer, create_staff, register, token_for
from tests.integration.agencies.test_api import agency_user, create


async def test_publish_then_bid_with_receipt(client: AsyncClient, db: Database) -> None:
    owner = await register(client, role="owner")
    owner_h = bearer(await token_for(client, owner["email"]))
    deadline = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    draft = await client.post(
        "/api/v1/notices",
        json={
            "title": "昆明市某道路工程环境影响评价",
            "description": "编制环境影响报告书",
            "category": "EIA",
            "region": "530100",
            "budget_fen": 30_000_000,
            "method": "lottery",
            "winners": 1,
            "min_candidates": 3,
            "bid_deadline": deadline,
            "required_level": None,
        },
        headers=owner_h,
    )
    assert draft.status_code == 201, draft.text
    notice = draft.json()
    assert notice["status"] == "draft" and notice["commit"] is None
    published = await client.post(f"/api/v1/notices/{notice['id']}/publish", headers=owner_h)
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "open" and len(body["commit"]) == 64 and body["scheme"] == "none"
    terms = (await client.get(f"/api/v1/notices/{notice['id']}/terms")).content
    assert protocol.sha256_hex(terms) == body["terms_sha256"]

    staff = bearer(await token_for(client, await create_staff(db, role=Role.admin)))
    agency_h = await agency_user(client)
    agency = await create(client, agency_h)
    await client.post(f"/api/v1/agencies/{agency['id']}/review", json={"decision": "approve"}, headers=staff)
    bid = await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    assert bid.status_code == 201, bid.text
    b = bid.json()
    document = b["bid_document"].encode()
    assert b["protocol"] == 2 and "nonce" not in b and "bid_sha256" not in b
    assert json.loads(document) == {
        "agency_id": agency["id"],
        "bid_id": b["bid_id"],
        "notice_id": notice["id"],
        "price_fen": None,
    }
    assert protocol.bid_commitment(bytes.fromhex(b["salt"]), document).hex() == b["commitment"]
    jwk = (await client.get("/api/v1/log/receipt-key")).json()
    claims = verify_receipt(b["receipt"], jwk)
    assert (
        claims is not None
        and claims["seq"] == b["seq"]
        and claims["commitment"] == b["commitment"]
        and claims["salt"] == b["salt"]
    )
    entry = (await client.get(f"/api/v1/log/entries?start={b['seq']}&end={b['seq'] + 1}")).content.strip()
    assert protocol.leaf_hash(entry).hex() == b["leaf_hash"] == claims["leaf_hash"]
    assert json.loads(entry)["type"] == "bid.sealed" and json.loads(entry)["commitment"] == b["commitment"]
    # second bid: 409; withdraw; bid again
    assert (
        await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    ).status_code == 409
    assert (
        await client.delete(f"/api/v1/notices/{notice['id']}/bids/{b['bid_id']}", headers=agency_h)
    ).status_code == 200
    again = await client.post(f"/api/v1/notices/{notice['id']}/bids", json={}, headers=agency_h)
    assert again.status_code == 201 and again.json()["bid_id"] != b["bid_id"]
    # nothing about bids in the public notice
    public: dict[str, Any] = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
    text = json.dumps(public)
    assert (
        b["bid_id"] not in text
        and agency["id"] not in text
        and b["salt"] not in text
        and b["commitment"] not in text
    )
