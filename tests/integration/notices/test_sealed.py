"""Sealed bids: before the deadline nobody but the bidder learns a price, a salt, a bid's
commitment or id, or how many have bid, through any answer of the API, whoever asks; and
the public log holds only commitments that name nobody (MSP/2, docs/protocol/msp.md)."""

from __future__ import annotations

import json
from typing import Any

from httpx import AsyncClient

from market import protocol
from market.accounts.models import Role
from market.core.db import Database
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin, credit_code, log_entries
from tests.integration.notices.test_api import approved_agency, owner_user, published

PRICES = {"A": 8_765_431, "B": 9_123_457}  # distinctive, so that a leak is found by its digits


async def answers(
    client: AsyncClient, notice_id: str, agency_ids: list[str], viewer: dict[str, str], role: str
) -> dict[str, str]:
    """Every read this viewer may make that could carry something about the notice or its
    bidders: path -> the answer's text (a refused read is an answer too)."""
    paths = [
        "/api/v1/notices",
        "/api/v1/notices?status=open",
        "/api/v1/notices?q=密封",
        "/api/v1/notices?method=lowest_price&limit=1",
        f"/api/v1/notices/{notice_id}",
        f"/api/v1/notices/{notice_id}/terms",
        f"/api/v1/notices/{notice_id}/selection",
        "/api/v1/agencies",
        *(f"/api/v1/agencies/{a}" for a in agency_ids),
        "/api/v1/me",
    ]
    if role == "owner":
        paths += ["/api/v1/notices/mine", "/api/v1/notices/mine?status=open", "/api/v1/owners/org"]
    if role in ("A", "B"):
        paths += ["/api/v1/agencies/mine", f"/api/v1/notices/{notice_id}/bids/mine"]
    out = {}
    for path in paths:
        response = await client.get(path, headers=viewer)
        assert response.status_code < 500, (role, path, response.text)
        out[path] = response.text
    return out


async def test_nothing_about_the_bids_is_visible_before_the_deadline_to_any_role(
    client: AsyncClient, db: Database
) -> None:
    staff = await admin(client, db)
    supervisor = bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))
    owner = await owner_user(client, org=None)
    org = await client.post(
        "/api/v1/owners/org",
        json={"name": "昆明市生态环境局", "credit_code": credit_code(), "region": "530100"},
        headers=owner,
    )
    assert org.status_code == 201, org.text
    agency_h = {}
    agency_id = {}
    for name in ("A", "B"):
        agency_h[name], agency = await approved_agency(client, staff)
        agency_id[name] = agency["id"]
    notice = await published(
        client, owner, title="密封报价测试项目", method="lowest_price", budget_fen=10_000_000
    )
    nid = notice["id"]
    viewers = {
        "anonymous": {},
        "owner": owner,
        "admin": staff,
        "supervisor": supervisor,
        "A": agency_h["A"],
        "B": agency_h["B"],
    }
    agencies = list(agency_id.values())

    before = {role: await answers(client, nid, agencies, headers, role) for role, headers in viewers.items()}

    bids: dict[str, dict[str, Any]] = {}
    for name in ("A", "B"):
        response = await client.post(
            f"/api/v1/notices/{nid}/bids", json={"price_fen": PRICES[name]}, headers=agency_h[name]
        )
        assert response.status_code == 201, response.text
        bids[name] = response.json()

    after = {role: await answers(client, nid, agencies, headers, role) for role, headers in viewers.items()}

    def secrets_of(name: str) -> list[str]:
        b = bids[name]
        return [str(PRICES[name]), b["salt"], b["commitment"], b["bid_id"], b["receipt"], b["leaf_hash"]]

    for role, texts in after.items():
        hidden = [s for name in ("A", "B") if name != role for s in secrets_of(name)]
        for path, text in texts.items():
            for secret in hidden:
                assert secret not in text, (role, path, secret)
            if not (role in ("A", "B") and path.endswith("/mine")):
                assert '"price_fen"' not in text and '"salt"' not in text and '"commitment"' not in text, (
                    role,
                    path,
                )
                assert '"bid_document"' not in text and '"receipt"' not in text, (role, path)
        # Nothing that anyone but the bidder sees changes when bids arrive: not even how many.
        for path, text in texts.items():
            if role in ("A", "B") and path.endswith("/mine"):
                continue
            assert text == before[role][path], (role, path)

    # Each bidder sees its own bid, whole, and only it.
    for name in ("A", "B"):
        mine = json.loads(after[name][f"/api/v1/notices/{nid}/bids/mine"])
        assert [b["bid_id"] for b in mine] == [bids[name]["bid_id"]]
        assert mine[0]["price_fen"] == PRICES[name] and mine[0]["salt"] == bids[name]["salt"]
        assert (
            mine[0]["commitment"] == bids[name]["commitment"]
            and mine[0]["bid_document"] == bids[name]["bid_document"]
        )
        assert mine[0]["receipt"] == bids[name]["receipt"]
        assert json.loads(before[name][f"/api/v1/notices/{nid}/bids/mine"]) == []

    # The other agency's attempts to touch a bid learn nothing beyond "not yours".
    theirs = await client.delete(f"/api/v1/notices/{nid}/bids/{bids['A']['bid_id']}", headers=agency_h["B"])
    missing = await client.delete(f"/api/v1/notices/{nid}/bids/B-999999", headers=agency_h["B"])
    assert theirs.status_code == missing.status_code == 404
    assert {**theirs.json(), "instance": None} == {**missing.json(), "instance": None}
    for role in ("anonymous", "owner", "admin", "supervisor"):
        response = await client.delete(
            f"/api/v1/notices/{nid}/bids/{bids['A']['bid_id']}", headers=viewers[role]
        )
        assert response.status_code in (401, 403), (role, response.text)
        text = json.dumps({**response.json(), "instance": None})  # the instance echoes the path we sent
        for secret in secrets_of("A"):
            assert secret not in text, (role, secret)
    second = await client.post(f"/api/v1/notices/{nid}/bids", json={"price_fen": 1}, headers=agency_h["B"])
    assert second.status_code == 409
    for secret in secrets_of("A"):
        assert secret not in second.text


async def test_the_public_log_carries_only_commitments_naming_no_bidder(
    client: AsyncClient, db: Database
) -> None:
    # MSP/2 section 2 step 2: a bid's `bid.sealed` entry is public and carries its
    # commitment alone: no notice id, agency id, bid id, price or salt. So the log says
    # neither who bid nor on which notice before the deadline; and without the salt nobody
    # can test guessed prices against the commitment.
    staff = await admin(client, db)
    owner = await owner_user(client)
    notice = await published(client, owner, method="lowest_price", budget_fen=10_000_000)
    bids = []
    for name in ("A", "B"):
        headers, agency = await approved_agency(client, staff)
        response = await client.post(
            f"/api/v1/notices/{notice['id']}/bids", json={"price_fen": PRICES[name]}, headers=headers
        )
        assert response.status_code == 201, response.text
        bids.append((name, agency, response.json()))
    raw = (await client.get("/api/v1/log/entries?start=0&end=1000")).text
    for name, _, bid in bids:
        assert (
            str(PRICES[name]) not in raw
            and bid["salt"] not in raw
            and bid["bid_document"] not in raw
            and bid["bid_id"] not in raw
        )
    entries = await log_entries(client)
    assert [e["type"] for e in entries if e.get("notice_id") == notice["id"]] == ["notice.published"]
    sealed = [e for e in entries if e["type"] == "bid.sealed"]  # this test's log: only these two bids'
    assert [(e["seq"], e["commitment"]) for e in sealed] == [(b["seq"], b["commitment"]) for _, _, b in bids]
    for entry in sealed:
        assert set(entry) == {"v", "seq", "type", "ts", "commitment"} and entry["v"] == 2
        line = next(line for line in raw.splitlines() if json.loads(line)["seq"] == entry["seq"])
        for _, agency, bid in bids:
            assert agency["id"] not in line and notice["id"] not in line and bid["bid_id"] not in line
    # What the bidder alone holds opens its commitment.
    for name, agency, bid in bids:
        document = protocol.bid_document_v2(notice["id"], bid["bid_id"], agency["id"], PRICES[name])
        assert bid["bid_document"].encode() == document
        assert protocol.bid_commitment(bytes.fromhex(bid["salt"]), document).hex() == bid["commitment"]
