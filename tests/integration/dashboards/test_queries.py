"""The dashboard is every log-in's landing page: each of its statements is bounded (a
LIMIT per group) and served by an index, never a scan of the big tables (notices, bids,
awards, contracts, messages, agencies). Checked on the plans PostgreSQL makes with
sequential scans priced out: a statement that still scans has no index that serves it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from market.core.db import Database
from market.dashboards import queries
from market.notify import queries as notify_queries

BIG = ("notice", "bid", "award", "contract", "inbox_message", "agency", "objection", "mail_outbox")
CODES = ["530100", "530102"]

# (name, statement, parameters); the scoped ones both for the province (no filter) and a hall.
STATEMENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("owner notices", queries.OWNER_NOTICES, {"owner": 1, "limit": 45}),
    ("owner to accept", queries.OWNER_TO_ACCEPT, {"owner": 1, "limit": 9}),
    ("owner to rate", queries.OWNER_TO_RATE, {"owner": 1, "limit": 9}),
    ("open not bid", queries.OPEN_NOT_BID, {"agency": 1, "agency_public_id": "AG-000001", "limit": 45}),
    ("agency bids", queries.AGENCY_BIDS, {"agency": 1, "limit": 9}),
    ("awards in publicity", queries.AGENCY_AWARDS_IN_PUBLICITY, {"agency": 1, "limit": 9}),
    ("agency milestones", queries.AGENCY_MILESTONES, {"agency": 1, "limit": 9}),
    ("unread alerts", queries.UNREAD_ALERTS, {"user": 1}),
    ("pending agencies", queries.PENDING_AGENCIES.format(scope=queries._region_scope("")), {"limit": 9}),
    (
        "pending agencies in reach",
        queries.PENDING_AGENCIES.format(scope=queries._region_scope("530102")),
        {"limit": 9, "prefix": "530102%"},
    ),
    ("standing bids", queries.STANDING_BIDS, {"agency": 1, "notices": [1, 2]}),
    ("fates", queries.FATES, {"agency": 1, "notices": [1, 2]}),
    ("failed e-mails", notify_queries.FAILED_ROWS, {"limit": 9}),
]
for name, sql, column in (
    ("pending objections", queries.PENDING_OBJECTIONS, "o.hall"),
    ("disputes", queries.DISPUTES, "n.hall"),
    ("coming draws", queries.COMING_DRAWS, "n.hall"),
):
    STATEMENTS.append((name, sql.format(scope=queries._scope(column, None)), {"limit": 9}))
    STATEMENTS.append(
        (name + " in halls", sql.format(scope=queries._scope(column, CODES)), {"limit": 9, "codes": CODES})
    )


@pytest.mark.parametrize(("name", "sql", "params"), STATEMENTS, ids=[s[0] for s in STATEMENTS])
async def test_each_dashboard_statement_is_bounded_and_uses_an_index(
    db: Database, name: str, sql: str, params: dict[str, Any]
) -> None:
    assert "LIMIT" in sql or "count(*)" in sql or "ANY(:notices)" in sql, name
    async with db.transaction() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in (await session.execute(sa.text("EXPLAIN " + sql), params)).all())
    scanned = [t for t in BIG if re.search(rf"Seq Scan on {t}\b", plan)]
    assert scanned == [], f"{name} scans {scanned}:\n{plan}"
    if name == "failed e-mails":  # the primary key would do too, reading every sent row
        assert "ix_mail_outbox_failed" in plan, plan
