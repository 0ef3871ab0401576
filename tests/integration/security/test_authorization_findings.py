"""Regression tests for what the authorization matrix found (docs/reliability.md, "Authorization matrix").

1. Another owner acting on a draft through the API (edit, delete, publish, amend, cancel)
   was told 403 "This is another owner's notice.", so it learnt that the draft exists,
   while reading it, the pages and bidding all answer 404: a draft is private, and
   indistinguishable from no notice. Now every one of these answers 404, and the draft is
   untouched.
"""

from __future__ import annotations

from httpx import AsyncClient

from tests.integration.notices.test_api import draft, notice_body, owner_user, published


async def test_another_owners_draft_is_not_found_whatever_they_try(client: AsyncClient) -> None:
    owner, other = await owner_user(client), await owner_user(client)
    notice = await draft(client, owner)
    base = f"/api/v1/notices/{notice['id']}"
    attempts = {
        "read": await client.get(base, headers=other),
        "edit": await client.put(base, json=notice_body(title="别人的草稿"), headers=other),
        "delete": await client.delete(base, headers=other),
        "publish": await client.post(f"{base}/publish", headers=other),
        "amend": await client.post(f"{base}/amend", json={"title": "别人的草稿"}, headers=other),
        "cancel": await client.post(f"{base}/cancel", json={"reason": "别人的草稿"}, headers=other),
    }
    assert {what: r.status_code for what, r in attempts.items()} == dict.fromkeys(attempts, 404)
    unknown = await client.put("/api/v1/notices/N-999999", json=notice_body(), headers=other)
    assert attempts["edit"].json()["detail"] == unknown.json()["detail"]  # the same words as for no notice
    mine = await client.get(base, headers=owner)
    assert (
        mine.status_code == 200
        and mine.json()["status"] == "draft"
        and mine.json()["title"] == notice["title"]
    )


async def test_another_owners_published_notice_is_still_forbidden(client: AsyncClient) -> None:
    """A published notice is public: refusing to amend or cancel it hides nothing, so 403."""
    owner, other = await owner_user(client), await owner_user(client)
    notice = await published(client, owner)
    base = f"/api/v1/notices/{notice['id']}"
    assert (
        await client.post(f"{base}/amend", json={"title": "别人的公告"}, headers=other)
    ).status_code == 403
    assert (
        await client.post(f"{base}/cancel", json={"reason": "别人的公告"}, headers=other)
    ).status_code == 403
    assert (await client.get(base)).json()["status"] == "open"
