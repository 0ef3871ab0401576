"""The dashboards' reads: hand-written, each bounded (``LIMIT`` per group) and served by an
index, because the dashboard is the page every log-in lands on.

Indexes each statement relies on (migrations 0002..0010): ``ix_notice_owner_id`` (the
owner's notices), ``ix_bid_agency_id``, ``ix_award_agency_id``, ``ix_contract_owner_id``,
``ix_contract_agency_id``, ``ix_milestone_contract_id``, ``ix_notice_open_deadline`` (open
notices by deadline), ``ix_agency_status_id`` (the review queue), ``ix_contract_disputed``,
``ix_inbox_message_user_id``. ``tests/integration/dashboards`` holds each one to its plan.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.sql import region_scope_column
from market.dashboards.rules import GROUP_LIMIT

# One more than a group shows: the extra row says "there are more" (the group links to the
# full list then).
LIMIT = GROUP_LIMIT + 1

# The owner's notices still moving (drafts, open, closed, in publicity, failed), each with
# its publicity end and the objections waiting for its answer. Ended ones (awarded,
# cancelled) are the contract's business, below. Failed ones only for 30 days: after that
# nothing more is expected.
OWNER_NOTICES = """
SELECT n.public_id, n.title, n.status, n.bid_deadline, s.publicity_ends, s.failed_reason,
       (SELECT count(*) FROM objection o WHERE o.notice_id = n.id AND o.status = 'filed') AS objections_filed
FROM notice n
LEFT JOIN selection s ON s.notice_id = n.id
WHERE n.owner_id = :owner
  AND (n.status IN ('draft', 'open', 'closed', 'selected')
       OR (n.status = 'failed' AND n.updated_at > now() - interval '30 days'))
ORDER BY n.id DESC
LIMIT :limit
"""

# Deliverables handed in that the owner has not accepted or returned.
OWNER_TO_ACCEPT = """
SELECT c.public_id AS contract_public_id, n.title, m.position, m.title AS milestone_title, m.due_on
FROM contract c
JOIN milestone m ON m.contract_id = c.id
JOIN notice n ON n.id = c.notice_id
WHERE c.owner_id = :owner AND c.status = 'in_service' AND m.status = 'submitted'
ORDER BY m.due_on, m.id
LIMIT :limit
"""

# Completed contracts the owner has not rated.
OWNER_TO_RATE = """
SELECT c.public_id AS contract_public_id, n.title, a.name AS agency_name
FROM contract c
JOIN notice n ON n.id = c.notice_id
JOIN agency a ON a.id = c.agency_id
WHERE c.owner_id = :owner AND c.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM rating r WHERE r.contract_id = c.id)
ORDER BY c.completed_at DESC NULLS LAST, c.id DESC
LIMIT :limit
"""

# Open notices before their deadline the agency has no standing bid on (the eligibility rule,
# pure, runs over them in Python: it needs the agency's profile, loaded once). More than a
# group is asked for, as some will not be eligible. Another agency's direct selections are
# left out here already (the rule refuses them too: not_named), so that they do not take
# the places of notices the agency may bid on.
OPEN_NOT_BID = """
SELECT n.id, n.public_id, n.title, n.bid_deadline
FROM notice n
WHERE n.status = 'open' AND n.bid_deadline > clock_timestamp()
  AND (n.direct_agency_id IS NULL OR n.direct_agency_id = :agency_public_id)
  AND NOT EXISTS (SELECT 1 FROM bid b WHERE b.notice_id = n.id AND b.agency_id = :agency AND b.status = 'standing')
ORDER BY n.bid_deadline, n.id
LIMIT :limit
"""

# The agency's latest bids with what became of them: the notice's state, the selection's
# outcome (and why it failed) and the agency's latest award on it, if any (and who took it
# over).
AGENCY_BIDS = """
SELECT n.public_id AS notice_public_id, n.title, n.status AS notice_status, n.bid_deadline,
       b.status AS bid_status, s.outcome AS selection_outcome, s.failed_reason,
       w.status AS award_status, w.replaced_by
FROM bid b
JOIN notice n ON n.id = b.notice_id
LEFT JOIN selection s ON s.notice_id = n.id
LEFT JOIN LATERAL (SELECT w.status, w.replaced_by FROM award w WHERE w.notice_id = n.id AND w.agency_id = :agency
                   ORDER BY w.id DESC LIMIT 1) w ON true
WHERE b.agency_id = :agency
ORDER BY b.id DESC
LIMIT :limit
"""

# The agency's holding awards still in publicity (those final and unsigned come from
# contracts.queries.unsigned_awards, which knows the signing day).
AGENCY_AWARDS_IN_PUBLICITY = """
SELECT n.public_id AS notice_public_id, n.title, n.status AS notice_status, s.publicity_ends
FROM award w
JOIN notice n ON n.id = w.notice_id
LEFT JOIN selection s ON s.notice_id = n.id
WHERE w.agency_id = :agency AND w.status = 'holding' AND n.status = 'selected'
ORDER BY s.publicity_ends NULLS LAST, w.id
LIMIT :limit
"""

# Milestones the agency owes on contracts in service, earliest due first.
AGENCY_MILESTONES = """
SELECT c.public_id AS contract_public_id, n.title, m.position, m.title AS milestone_title,
       m.due_on, m.status
FROM contract c
JOIN milestone m ON m.contract_id = c.id
JOIN notice n ON n.id = c.notice_id
WHERE c.agency_id = :agency AND c.status = 'in_service' AND m.status IN ('pending', 'returned')
ORDER BY m.due_on, m.id
LIMIT :limit
"""

# Objections waiting for a decision in the halls in scope (the partial unique index on
# pending objections, and objections are few).
PENDING_OBJECTIONS = """
SELECT o.public_id, o.status, o.hall, o.filed_at, o.escalated_at, n.public_id AS notice_public_id, n.title
FROM objection o
JOIN notice n ON n.id = o.notice_id
WHERE o.status IN ('filed', 'answered') {scope}
ORDER BY o.id
LIMIT :limit
"""

DISPUTES = """
SELECT c.public_id AS contract_public_id, n.title, a.name AS agency_name
FROM contract c
JOIN notice n ON n.id = c.notice_id
JOIN agency a ON a.id = c.agency_id
WHERE c.status = 'disputed' {scope}
ORDER BY c.disputed_at, c.id
LIMIT :limit
"""

# Flagged milestones of contracts in service (the scheduler flags them: overdue_on), in
# the halls in scope.
OVERDUE_MILESTONES = """
SELECT c.public_id AS contract_public_id, n.title, m.position, m.title AS milestone_title, m.due_on
FROM milestone m
JOIN contract c ON c.id = m.contract_id
JOIN notice n ON n.id = c.notice_id
WHERE m.overdue_on IS NOT NULL AND m.status IN ('pending', 'returned') AND c.status = 'in_service' {scope}
ORDER BY m.due_on, m.id
LIMIT :limit
"""

# The halls' notices whose bidding closes next: the draws coming up, for staff to watch
# (ix_notice_open_deadline, in deadline order, stopping at the limit).
COMING_DRAWS = """
SELECT n.public_id, n.title, n.bid_deadline
FROM notice n
WHERE n.status = 'open' AND n.bid_deadline > clock_timestamp() {scope}
ORDER BY n.bid_deadline, n.id
LIMIT :limit
"""

UNREAD_ALERTS = """
SELECT count(*) FROM inbox_message
WHERE user_id = :user AND read_at IS NULL AND kind LIKE 'alert\\_%'
"""

# Agencies waiting for review in the admin's reach (by registered region: the prefix of
# its jurisdiction's area, rules.agency_reach), oldest first: ix_agency_status_id in id
# order, stopping at the limit.
PENDING_AGENCIES = """
SELECT a.public_id, a.name, a.region, a.created_at
FROM agency a
WHERE a.status = 'pending' {scope}
ORDER BY a.id
LIMIT :limit
"""


def _scope(column: str, codes: list[str] | None) -> str:
    """The statement's hall filter: none for the province, ``= ANY(:codes)`` below it."""
    return "" if codes is None else f"AND {column} = ANY(:codes)"


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    result = await session.execute(sa.text(sql), params)
    return [dict(r) for r in result.mappings().all()]


async def owner_notices(session: AsyncSession, owner_id: int, *, limit: int) -> list[dict[str, Any]]:
    return await _rows(session, OWNER_NOTICES, owner=owner_id, limit=limit)


async def owner_to_accept(session: AsyncSession, owner_id: int) -> list[dict[str, Any]]:
    return await _rows(session, OWNER_TO_ACCEPT, owner=owner_id, limit=LIMIT)


async def owner_to_rate(session: AsyncSession, owner_id: int) -> list[dict[str, Any]]:
    return await _rows(session, OWNER_TO_RATE, owner=owner_id, limit=LIMIT)


async def open_not_bid(
    session: AsyncSession, agency_id: int, agency_public_id: str, *, limit: int
) -> list[dict[str, Any]]:
    return await _rows(
        session, OPEN_NOT_BID, agency=agency_id, agency_public_id=agency_public_id, limit=limit
    )


async def agency_bids(session: AsyncSession, agency_id: int) -> list[dict[str, Any]]:
    return await _rows(session, AGENCY_BIDS, agency=agency_id, limit=LIMIT)


async def agency_awards_in_publicity(session: AsyncSession, agency_id: int) -> list[dict[str, Any]]:
    return await _rows(session, AGENCY_AWARDS_IN_PUBLICITY, agency=agency_id, limit=LIMIT)


async def agency_milestones(session: AsyncSession, agency_id: int) -> list[dict[str, Any]]:
    return await _rows(session, AGENCY_MILESTONES, agency=agency_id, limit=LIMIT)


async def _rows_in_halls(
    session: AsyncSession, sql: str, column: str, codes: list[str] | None
) -> list[dict[str, Any]]:
    """A group's rows of a statement with a ``{scope}`` slot, filtered to the halls in scope."""
    params: dict[str, Any] = {} if codes is None else {"codes": codes}
    return await _rows(session, sql.format(scope=_scope(column, codes)), limit=LIMIT, **params)


async def pending_objections(session: AsyncSession, codes: list[str] | None) -> list[dict[str, Any]]:
    return await _rows_in_halls(session, PENDING_OBJECTIONS, "o.hall", codes)


async def disputes(session: AsyncSession, codes: list[str] | None) -> list[dict[str, Any]]:
    return await _rows_in_halls(session, DISPUTES, "n.hall", codes)


async def overdue_milestones(session: AsyncSession, codes: list[str] | None) -> list[dict[str, Any]]:
    return await _rows_in_halls(session, OVERDUE_MILESTONES, "n.hall", codes)


async def coming_draws(session: AsyncSession, codes: list[str] | None) -> list[dict[str, Any]]:
    return await _rows_in_halls(session, COMING_DRAWS, "n.hall", codes)


async def unread_alerts(session: AsyncSession, user_id: int) -> int:
    return int((await session.execute(sa.text(UNREAD_ALERTS), {"user": user_id})).scalar_one())


def _region_scope(prefix: str) -> str:
    """The review queue's region filter: none for the whole province (and beyond), below it
    an equality on the column holding that many region digits (ix_agency_status_*_id
    serve it in id order; a LIKE on the prefix no btree serves under C.UTF-8)."""
    return "" if prefix == "" else f"AND {region_scope_column('a', prefix)} = :prefix"


async def pending_agencies(session: AsyncSession, *, prefix: str | None) -> list[dict[str, Any]]:
    """The agencies waiting for review whose region starts with ``prefix`` ("" for all;
    None reaches none)."""
    if prefix is None:
        return []
    params: dict[str, Any] = {} if prefix == "" else {"prefix": prefix}
    return await _rows(session, PENDING_AGENCIES.format(scope=_region_scope(prefix)), limit=LIMIT, **params)


# The agency's standing bids among some notices (the "open to me" list marks them).
STANDING_BIDS = """
SELECT b.notice_id, b.public_id FROM bid b
WHERE b.agency_id = :agency AND b.status = 'standing' AND b.notice_id = ANY(:notices)
"""

# What became of some notices for one agency: the selection's outcome (and why it failed)
# and its latest award (and who took it over).
FATES = """
SELECT n.id, s.outcome AS selection_outcome, s.failed_reason, w.status AS award_status, w.replaced_by
FROM notice n LEFT JOIN selection s ON s.notice_id = n.id
LEFT JOIN LATERAL (SELECT w.status, w.replaced_by FROM award w WHERE w.notice_id = n.id AND w.agency_id = :agency
                   ORDER BY w.id DESC LIMIT 1) w ON true
WHERE n.id = ANY(:notices)
"""


async def standing_bids(session: AsyncSession, agency_id: int, notice_ids: list[int]) -> dict[int, str]:
    if not notice_ids:
        return {}
    rows = await _rows(session, STANDING_BIDS, agency=agency_id, notices=notice_ids)
    return {int(r["notice_id"]): str(r["public_id"]) for r in rows}


async def fates(session: AsyncSession, agency_id: int, notice_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not notice_ids:
        return {}
    rows = await _rows(session, FATES, agency=agency_id, notices=notice_ids)
    return {int(r["id"]): r for r in rows}
