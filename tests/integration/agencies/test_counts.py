"""Issue 24: the admins' review page at any size. Its counts (agencies by status, agencies
waiting, qualification changes waiting) come from the counts the triggers keep (migration
0014, AgencyCount), held here equal to the plain counts they replace after each decision
the API makes; and the page runs the same number of statements however long its queues
are (profiles, documents and replaced qualifications loaded for all rows at once)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from market.accounts.models import Role
from market.agencies import queries
from market.agencies.models import Agency, AgencyStatus, Qualification, ReviewStatus
from market.core.db import Database
from tests.helpers import create_staff
from tests.integration.agencies.test_api import FUTURE, PDF, admin, agency_user, create
from tests.integration.agencies.test_pages import login

EN = {"Accept-Language": "en"}
LABELS = {
    "pending": "Pending review",
    "approved": "Approved",
    "rejected": "Rejected",
    "suspended": "Suspended",
    "blacklisted": "Blacklisted",
}


async def plain_counts(session: AsyncSession) -> tuple[dict[str, int], int, int]:
    """The counts this issue replaced, read from every agency and qualification: by
    status, agencies waiting, qualification changes waiting."""
    rows = (
        await session.execute(sa.select(col(Agency.status), sa.func.count()).group_by(Agency.status))
    ).all()
    by_status = {s.value: 0 for s in AgencyStatus}
    by_status.update({str(status): int(n) for status, n in rows})
    waiting = col(Agency.status) == AgencyStatus.pending.value
    pending = (
        await session.execute(sa.select(sa.func.count()).select_from(Agency).where(waiting))
    ).scalar_one()
    changes = (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(Qualification)
            .join(Agency, col(Qualification.agency_id) == Agency.id)
            .where(
                col(Qualification.status) == ReviewStatus.pending.value,
                col(Agency.status) != AgencyStatus.pending.value,
            )
        )
    ).scalar_one()
    return by_status, int(pending), int(changes)


async def assert_kept(db: Database) -> queries.ReviewQueue:
    async with db.sessionmaker() as session:
        queue = await queries.review_queue(session)
        by_status, pending, changes = await plain_counts(session)
        assert (queue.counts, queue.pending_total, queue.changes_total) == (by_status, pending, changes)
        assert await queries.counts(session) == by_status
        return queue


def shown(page: str) -> tuple[dict[str, int], int, int]:
    """The counts the review page shows (in English)."""
    by_status = {s: int(n) for s, label in LABELS.items() for n in re.findall(rf"{label}: (\d+)", page)[:1]}
    pending = int(re.search(r"Agencies waiting for review \((\d+)\)", page).group(1))  # type: ignore[union-attr]
    changes = int(re.search(r"Qualification changes waiting for review \((\d+)\)", page).group(1))  # type: ignore[union-attr]
    return by_status, pending, changes


async def change(
    client: AsyncClient, headers: dict[str, str], certificate: str, replaces: int | None = None
) -> int:
    body = {"category": "EIA", "level": None, "certificate_no": certificate, "valid_until": FUTURE}
    path = "/api/v1/agencies/mine/qualifications" + (f"?replaces={replaces}" if replaces else "")
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_the_kept_counts_follow_every_decision(client: AsyncClient, db: Database) -> None:
    staff = await admin(client, db)
    before = await assert_kept(db)
    agencies: list[tuple[dict[str, str], str]] = []
    for _ in range(6):
        headers = await agency_user(client)
        agencies.append((headers, (await create(client, headers))["id"]))
    queue = await assert_kept(db)
    assert queue.pending_total == before.pending_total + 6

    def decide(agency: str, action: str, **body: Any) -> Any:
        path = f"/api/v1/agencies/{agency}/{action}"
        return client.post(path, json=body, headers=staff)

    for _, agency in agencies[:5]:  # approving settles the agency's pending qualification
        assert (await decide(agency, "review", decision="approve")).status_code == 200
    assert (await decide(agencies[5][1], "review", decision="reject", reason="资料不全")).status_code == 200
    await assert_kept(db)
    assert (await decide(agencies[1][1], "suspend", reason="违规", until=FUTURE)).status_code == 200
    assert (await decide(agencies[2][1], "blacklist", reason="严重违规")).status_code == 200
    base = await assert_kept(db)  # the rejected agency's qualification still waits, as before

    # Qualification changes: pending on approved, suspended and blacklisted agencies alike,
    # then decided; and a suspended agency reinstated with its change still waiting.
    old = (await client.get("/api/v1/agencies/mine", headers=agencies[0][0])).json()["qualifications"][0][
        "id"
    ]
    first = await change(client, agencies[0][0], "HP-2027-001", replaces=old)
    second = await change(client, agencies[0][0], "HP-2027-002")
    await change(client, agencies[1][0], "HP-2027-003")
    queue = await assert_kept(db)
    assert queue.changes_total == base.changes_total + 3
    assert queue.replaced[old].certificate_no == "HP-2026-001"
    for qualification, decision in ((first, "approve"), (second, "reject")):
        response = await client.post(
            f"/api/v1/agencies/{agencies[0][1]}/qualifications/{qualification}/review",
            json={"decision": decision, "reason": "核验结果"},
            headers=staff,
        )
        assert response.status_code == 200, response.text
    assert (await decide(agencies[1][1], "reinstate", reason="整改完成")).status_code == 200
    queue = await assert_kept(db)
    assert queue.changes_total == base.changes_total + 1

    # The page shows what is kept.
    await login(client, await create_staff(db, role=Role.supervisor))
    page = await client.get("/admin/agencies", headers=EN)
    assert page.status_code == 200, page.text
    assert shown(page.text) == (queue.counts, queue.pending_total, queue.changes_total)


class Statements:
    """The statements the test's connection runs (every session of the app joins it)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.seen: list[str] = []
        self.target = connection.sync_connection

    def __enter__(self) -> Statements:
        sa.event.listen(self.target, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.target, "before_cursor_execute", self._record)

    def _record(self, *args: Any) -> None:
        self.seen.append(str(args[2]))


async def queue_of(client: AsyncClient, db: Database, n: int) -> None:
    """``n`` more agencies waiting, each with a document, and ``n`` more approved agencies
    each with a change replacing an approved qualification."""
    staff = await admin(client, db)
    for i in range(n):
        waiting = await agency_user(client)
        await create(client, waiting, name=f"等待审核的机构{i}")
        upload = await client.post(
            "/api/v1/agencies/mine/documents",
            files={"file": ("licence.pdf", PDF, "application/pdf")},
            data={"kind": "licence"},
            headers=waiting,
        )
        assert upload.status_code == 201, upload.text
        approved = await agency_user(client)
        agency = (await create(client, approved))["id"]
        response = await client.post(
            f"/api/v1/agencies/{agency}/review", json={"decision": "approve"}, headers=staff
        )
        assert response.status_code == 200
        old = (await client.get("/api/v1/agencies/mine", headers=approved)).json()["qualifications"][0]["id"]
        await change(client, approved, f"HP-2028-{i:03d}", replaces=old)


async def test_the_review_page_runs_the_same_statements_however_long_its_queues(
    client: AsyncClient, db: Database, connection: AsyncConnection
) -> None:
    supervisor = await create_staff(db, role=Role.supervisor)
    counted: list[int] = []
    for more in (1, 4):
        client.cookies.clear()  # the API calls below carry bearer tokens, not the page's session
        await queue_of(client, db, more)
        await login(client, supervisor)
        for path in (
            "/admin/agencies",
            "/admin/agencies?q=%E6%9C%BA%E6%9E%84",
        ):  # 机构: a search finding them
            with Statements(connection) as statements:
                page = await client.get(path, headers=EN)
            assert page.status_code == 200, page.text
            counted.append(len(statements.seen))
        assert page.text.count("licence.pdf") >= more  # each waiting agency's document is shown
        assert "HP-2026-001" in page.text  # the qualification a change replaces
    queue = await assert_kept(db)
    assert queue.pending_total >= 5 and queue.changes_total >= 5
    assert counted[0] == counted[2] and counted[1] == counted[3], counted
