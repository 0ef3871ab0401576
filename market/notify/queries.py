"""The hand-written SQL of notifications: the one statement that finds a new notice's
subscribers and leaves each a message (and an e-mail), and the sender's claim on due rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

# A published notice's subscribers, in one statement whatever their number: approved
# agencies whose user subscribes to the notice's category and to a region containing the
# notice's (or to none: anywhere), less those the owner excluded (回避). Each gets an
# inbox message; those whose choice (or the default) is e-mail get a queued e-mail too.
# rules.matches says the same in Python; tests/unit/notify holds them equal.
SUBSCRIBERS = sa.text(
    """
WITH matched AS (
    SELECT u.id AS user_id, u.email AS email, COALESCE(p.email, :email_default) AS wants_email
    FROM subscription_category sc
    JOIN app_user u ON u.id = sc.user_id AND u.is_active
    JOIN agency a ON a.owner_id = u.id AND a.status = 'approved'
    LEFT JOIN mail_preference p ON p.user_id = u.id AND p.kind = :kind
    WHERE sc.category = :category
      AND (
        NOT EXISTS (SELECT 1 FROM subscription_region r WHERE r.user_id = u.id)
        OR EXISTS (
            SELECT 1 FROM subscription_region r WHERE r.user_id = u.id AND :region LIKE r.prefix || '%'
        )
      )
      AND NOT EXISTS (
        SELECT 1 FROM notice_avoid v WHERE v.notice_id = :notice_id AND v.agency_id = a.public_id
      )
), inboxed AS (
    INSERT INTO inbox_message (user_id, notice_id, kind, params, created_at)
    SELECT user_id, :notice_id, :kind, CAST(:params AS json), now() FROM matched
    RETURNING 1
), mailed AS (
    INSERT INTO mail_outbox
        (user_id, to_addr, kind, subject, body, status, attempts, next_attempt_at, last_error, created_at)
    SELECT user_id, email, :kind, :subject, :body, 'pending', 0, now(), '', now()
    FROM matched WHERE wants_email AND :mail
    RETURNING 1
)
SELECT (SELECT count(*) FROM inboxed) AS messages, (SELECT count(*) FROM mailed) AS mails
"""
)


async def tell_subscribers(
    session: AsyncSession,
    *,
    notice_id: int,
    category: str,
    region: str,
    kind: str,
    params: str,
    email_default: bool,
    mail: bool,
    subject: str,
    body: str,
) -> tuple[int, int]:
    """(messages left, e-mails queued)."""
    row = (
        await session.execute(
            SUBSCRIBERS,
            {
                "notice_id": notice_id,
                "category": category,
                "region": region,
                "kind": kind,
                "params": params,
                "email_default": email_default,
                "mail": mail,
                "subject": subject,
                "body": body,
            },
        )
    ).one()
    return int(row.messages), int(row.mails)


# Due rows, oldest first, that no other sender holds (by the statement's clock, not the
# transaction's: a row written earlier in a long transaction is due at once), taken on a
# lease: each is pushed ``lease`` seconds into the future and its attempt counted, and the
# claiming transaction commits at once. The sender then talks to SMTP holding no
# transaction, lock or connection; a second process skips the rows (SKIP LOCKED while the
# claim runs, the lease after), and a sender that dies mid-send leaves them to be tried
# again once the lease runs out (at least once, docs/notifications.md). The address is the
# user's as it is now (a changed e-mail takes effect on the next try), and an account
# deactivated since the row was queued is reported, for the sender to drop the row.
CLAIM = sa.text(
    """
WITH due AS (
    SELECT id FROM mail_outbox
    WHERE status = 'pending' AND next_attempt_at <= statement_timestamp()
    ORDER BY next_attempt_at, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox o
SET attempts = o.attempts + 1,
    next_attempt_at = statement_timestamp() + make_interval(secs => :lease),
    to_addr = CASE WHEN u.is_active THEN u.email ELSE o.to_addr END
FROM due, app_user u
WHERE o.id = due.id AND u.id = o.user_id
RETURNING o.id, o.to_addr, o.subject, o.body, o.attempts, o.created_at, u.is_active AS active
"""
)

# An outcome is recorded only while the row is still this sender's claim (same attempt,
# still pending): a sender that overran its lease does not overwrite a later one's record.
MARK_SENT = sa.text(
    """
UPDATE mail_outbox SET status = 'sent', sent_at = now(), last_error = ''
WHERE id = :id AND attempts = :attempts AND status = 'pending'
"""
)

MARK_FAILED = sa.text(
    """
UPDATE mail_outbox
SET status = :status, last_error = :error,
    next_attempt_at = statement_timestamp() + make_interval(secs => :wait)
WHERE id = :id AND attempts = :attempts AND status = 'pending'
"""
)


async def claim(session: AsyncSession, batch: int, lease: float) -> list[Any]:
    rows = await session.execute(CLAIM, {"batch": batch, "lease": lease})
    return sorted(rows.all(), key=lambda r: r.id)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(sa.text("SELECT status, count(*) FROM mail_outbox GROUP BY status"))
    counts = {"pending": 0, "sent": 0, "failed": 0}
    counts.update({str(s): int(n) for s, n in rows.all()})
    return counts


# Served by ix_mail_outbox_failed: the queue's sent rows are never read.
FAILED_ROWS = """
SELECT o.id, o.to_addr, o.kind, o.subject, o.attempts, o.last_error, o.created_at, o.next_attempt_at,
       u.public_id AS user_public_id
FROM mail_outbox o JOIN app_user u ON u.id = o.user_id
WHERE o.status = 'failed'
ORDER BY o.id DESC
LIMIT :limit
"""


async def failed_rows(session: AsyncSession, limit: int) -> list[Any]:
    return list((await session.execute(sa.text(FAILED_ROWS), {"limit": limit})).all())


# -- the Atom feed -------------------------------------------------------------------------


def _feed_where(
    category: str | None, region_prefix: str | None, halls: list[str] | None
) -> tuple[str, dict[str, Any]]:
    """Published notices (every status but draft) of the filters given."""
    where = ["n.status <> 'draft'", "n.published_at IS NOT NULL"]
    params: dict[str, Any] = {}
    if category:
        where.append("n.category = :category")
        params["category"] = category
    if region_prefix:
        where.append("n.region LIKE :region_like")
        params["region_like"] = region_prefix + "%"
    if halls is not None:
        where.append("n.hall = ANY(:halls)")
        params["halls"] = halls
    return " AND ".join(where), params


async def feed_version(
    session: AsyncSession,
    *,
    category: str | None,
    region_prefix: str | None,
    halls: list[str] | None,
    limit: int,
) -> tuple[Any, str]:
    """(latest change, digest) of the entries the feed shows: its newest ``limit``
    published notices of the filters, read from ix_notice_feed_published alone (an
    index-only scan of ``limit`` entries and the ones outside the filters passed on the way),
    so that a reader polling an unchanged feed costs the same at any size of the market.

    Published notices never leave a filter (category, region and hall are not amendable and
    a published notice is never a draft again), so the window changes only when a notice
    is published at its top or one of its entries changes: both move the latest change, and
    the digest of (id, updated_at) names the window exactly."""
    where, params = _feed_where(category, region_prefix, halls)
    row = (
        await session.execute(
            sa.text(
                "SELECT max(w.updated_at), md5(coalesce(string_agg("
                "w.id::text || ':' || (extract(epoch FROM w.updated_at) * 1000000)::bigint::text, ','"
                " ORDER BY w.published_at DESC, w.id DESC), ''))"
                f" FROM (SELECT n.id, n.published_at, n.updated_at FROM notice n WHERE {where}"
                " ORDER BY n.published_at DESC, n.id DESC LIMIT :limit) w"
            ),
            {**params, "limit": limit},
        )
    ).one()
    return row[0], str(row[1])


async def feed_entries(
    session: AsyncSession,
    *,
    category: str | None,
    region_prefix: str | None,
    halls: list[str] | None,
    limit: int,
) -> list[Any]:
    """The newest published notices of the filters, with the names an entry shows."""
    where, params = _feed_where(category, region_prefix, halls)
    stmt = sa.text(
        f"""
SELECT n.public_id, n.title, n.description, n.status, n.method, n.category, n.region, n.hall,
       n.budget_fen, n.bid_deadline, n.published_at, n.updated_at,
       c.name_zh AS category_zh, c.name_en AS category_en,
       r.name_zh AS region_zh, r.name_en AS region_en,
       j.name_zh AS hall_zh, j.name_en AS hall_en,
       o.name AS org_name
FROM notice n
JOIN service_category c ON c.code = n.category
JOIN region r ON r.code = n.region
LEFT JOIN jurisdiction j ON j.code = n.hall
LEFT JOIN owner_org o ON o.id = n.org_id
WHERE {where}
ORDER BY n.published_at DESC, n.id DESC
LIMIT :limit
"""
    )
    return list((await session.execute(stmt, {**params, "limit": limit})).all())
