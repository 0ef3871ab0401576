"""Shared steps for selection tests: a published notice with bids, due within seconds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from tests.integration.notices.test_api import approved_agency, draft, owner_user

DUE_IN = 1.5  # seconds from publishing to the deadline: enough to place a few bids


@dataclass
class Round:
    notice_id: str
    deadline: datetime
    owner: dict[str, str]
    bidders: list[tuple[dict[str, str], dict[str, Any]]]  # (headers, agency)
    bids: list[dict[str, Any]]


async def wait_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05)


async def agencies(client: AsyncClient, staff: dict[str, str], n: int, **overrides: Any) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [await approved_agency(client, staff, **overrides) for _ in range(n)]


async def open_round(
    client: AsyncClient,
    staff: dict[str, str],
    *,
    bidders: int | list[tuple[dict[str, str], dict[str, Any]]],
    prices: list[int] | None = None,
    due_in: float = DUE_IN,
    owner: dict[str, str] | None = None,
    **notice: Any,
) -> Round:
    """Publish a notice due in ``due_in`` seconds and have each bidder bid (with ``prices``
    for lowest price). Agencies are made before the notice, so the bids fit in the window."""
    owner = owner or await owner_user(client)
    who = await agencies(client, staff, bidders) if isinstance(bidders, int) else bidders
    body = await draft(client, owner, bid_deadline=(datetime.now(UTC) + timedelta(seconds=due_in)).isoformat(), **notice)
    response = await client.post(f"/api/v1/notices/{body['id']}/publish", headers=owner)
    assert response.status_code == 200, response.text
    bids = []
    for i, (headers, _) in enumerate(who):
        payload = {"price_fen": prices[i]} if prices is not None else {}
        placed = await client.post(f"/api/v1/notices/{body['id']}/bids", json=payload, headers=headers)
        assert placed.status_code == 201, placed.text
        bids.append(placed.json())
    deadline = datetime.fromisoformat(response.json()["bid_deadline"])
    assert datetime.now(UTC) < deadline, "setup took longer than the bid window"
    return Round(notice_id=body["id"], deadline=deadline, owner=owner, bidders=who, bids=bids)


async def close(client: AsyncClient, r: Round, headers: dict[str, str] | None = None) -> dict[str, Any]:
    await wait_until(r.deadline)
    response = await client.post(f"/api/v1/notices/{r.notice_id}/close", headers=headers or r.owner)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
