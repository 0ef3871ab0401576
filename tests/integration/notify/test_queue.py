"""The e-mail queue under trouble (issue 22, review): a title no header may hold, a row the
email package refuses, a sender that dies mid-send, a recipient deactivated or moved to
another address before the send, and the queue's reach (the province's administrators only)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.pool import NullPool

from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database, to_asyncpg_dsn
from market.inbox import service as inbox
from market.notify.sender import DEACTIVATED, MailSender
from tests.conftest import serve_in_process
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user, published
from tests.integration.notify.conftest import MailCatcher, mail_settings
from tests.integration.notify.test_mail import cancellation_asked, outbox
from tests.integration.notify.test_subscriptions import NOTICE, subscribed
from tests.integration.selection.test_pages import EN, browsers  # noqa: F401 - browsers is a fixture

ODD_TITLE = "环评服务\u2028第二标段"


def sender(db: Database, settings: Any, **kwargs: Any) -> MailSender:
    return MailSender(db, settings, interval=1.0, **kwargs)


async def user_id_of(db: Database, email: str) -> int:
    async with db.transaction() as session:
        found = await session.execute(sa.text("SELECT id FROM app_user WHERE email = :e"), {"e": email})
        return int(found.scalar_one())


async def test_a_title_with_a_line_separator_stops_no_email(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    """U+2028 passes a notice title's checks but no mail header may hold it: the subject is
    made one line, and a row the email package still refuses (queued before) is failed
    alone, with its reason, while the rest of the batch goes."""
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        staff = await admin(client, db)
        email, _ = await subscribed(client, staff, ["EIA"], [])
        owner = await owner_user(client)
        odd = await published(client, owner, title=ODD_TITLE, **NOTICE)
        normal = await published(client, owner, title="普通的公告", **NOTICE)
    user_id = await user_id_of(db, email)
    async with db.transaction() as session:  # at the head of the queue: due before the others
        await session.execute(
            sa.text(
                "INSERT INTO mail_outbox (user_id, to_addr, kind, subject, body, status, attempts,"
                " next_attempt_at, created_at) VALUES (:u, :a, 'notice_matched', :s, 'b', 'pending', 0,"
                " now() - interval '1 hour', now())"
            ),
            {"u": user_id, "a": email, "s": "旧的\u2028标题"},
        )

    assert await sender(db, settings).run_once() == (2, 1)
    subjects = {str(r.message["Subject"]) for r in smtp.received}
    assert any(s.endswith("：环评服务 第二标段") for s in subjects), subjects
    bodies = "".join(r.message.get_content() for r in smtp.received)
    assert odd["id"] in bodies and normal["id"] in bodies
    rows = await outbox(db)
    assert sorted(r.status for r in rows) == ["failed", "sent", "sent"]
    [bad] = [r for r in rows if r.status == "failed"]
    assert bad.last_error.startswith("not sent: ValueError")
    assert await sender(db, settings).run_once() == (0, 0)  # nothing left stuck at the head


async def test_the_address_is_read_at_send_time_and_a_deactivated_user_gets_nothing(
    mail_app_for: Any, smtp_down: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp_down)
    async with serve_in_process(app) as client:
        email, _ = await cancellation_asked(client, db)
    assert await sender(db, settings).run_once() == (0, 1)  # the server is down: retried later
    user_id = await user_id_of(db, email)
    async with db.transaction() as session:
        await session.execute(
            sa.text("UPDATE app_user SET email = 'moved@km.gov.cn' WHERE id = :u"), {"u": user_id}
        )
    smtp_down.start()
    assert await sender(db, settings).run_once() == (1, 0)
    assert [r.rcpt_tos for r in smtp_down.received] == [["moved@km.gov.cn"]]
    assert smtp_down.received[0].message["To"] == "moved@km.gov.cn"

    # Another message queued, then the account deactivated before the sender wakes up.
    async with db.transaction() as session:
        await inbox.leave(session, user_id=user_id, kind="alert_red_flag", flag_kind="win_share")
        await session.execute(sa.text("UPDATE app_user SET is_active = false WHERE id = :u"), {"u": user_id})
    assert await sender(db, settings).run_once() == (0, 1)
    assert len(smtp_down.received) == 1
    assert [(r.kind, r.status, r.last_error) for r in await outbox(db)][-1] == (
        "alert_red_flag",
        "failed",
        DEACTIVATED,
    )
    assert await sender(db, settings).run_once() == (0, 0)


async def test_a_sender_that_dies_mid_send_leaves_the_rows_to_the_next_after_the_lease(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    """At least once (docs/notifications.md): the rows are the dead sender's until its
    lease runs out, then the next sender sends them again, under the same Message-ID."""
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        await cancellation_asked(client, db)
    handed_over = threading.Event()

    async def slow(server: Any, session: Any, envelope: Any) -> str:
        handed_over.set()
        return await MailCatcher.handle_DATA(smtp, server, session, envelope)

    smtp.handle_DATA = slow  # type: ignore[method-assign]
    smtp.delay = 1.0
    dying = asyncio.create_task(sender(db, settings, lease=3.0).run_once())
    for _ in range(200):  # claimed and handed to the SMTP server, not yet recorded
        if handed_over.is_set():
            break
        await asyncio.sleep(0.05)
    assert handed_over.is_set()
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    smtp.delay = 0.0
    assert await sender(db, settings).run_once() == (0, 0)  # still leased: nobody takes it
    [row] = await outbox(db)
    assert (row.status, row.attempts) == ("pending", 1)
    await asyncio.sleep(3.0)
    assert await sender(db, settings).run_once() == (1, 0)
    for _ in range(50):  # the dead sender's thread finishes its hand-over
        if len(smtp.received) == 2:
            break
        await asyncio.sleep(0.1)
    ids = [str(r.message["Message-ID"]) for r in smtp.received]
    assert len(ids) == 2 and len(set(ids)) == 1
    assert [(r.status, r.attempts) for r in await outbox(db)] == [("sent", 2)]


@pytest.mark.committing
async def test_the_sender_holds_no_lock_or_transaction_while_it_talks_to_smtp(
    committed_database_url: str, tmp_path: Path, smtp: MailCatcher
) -> None:
    db = Database.from_url(committed_database_url, poolclass=NullPool)
    seen: list[tuple[bool, int]] = []
    dsn = to_asyncpg_dsn(committed_database_url)

    async def while_sending(server: Any, session: Any, envelope: Any) -> str:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                try:
                    await conn.fetch("SELECT id FROM mail_outbox FOR UPDATE NOWAIT")
                    free = True
                except asyncpg.LockNotAvailableError:
                    free = False
            idle = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
            )
        finally:
            await conn.close()
        seen.append((free, int(idle)))
        return await MailCatcher.handle_DATA(smtp, server, session, envelope)

    smtp.handle_DATA = while_sending  # type: ignore[method-assign]
    try:
        settings = mail_settings(committed_database_url, tmp_path, smtp)
        async with serve_in_process(create_app(settings, database=db)) as client:
            await cancellation_asked(client, db)
        assert await MailSender(db, settings, interval=1.0).run_once() == (1, 0)
    finally:
        await db.dispose()
    assert seen == [(True, 0)]


async def test_only_the_provinces_administrators_reach_the_queue(
    client: AsyncClient, db: Database, browsers: Any
) -> None:
    county = await create_staff(db, role=Role.admin, jurisdiction="530102")
    province = await create_staff(db, role=Role.admin)
    async with db.transaction() as session:
        user_id = (await session.execute(sa.text("SELECT id FROM app_user ORDER BY id LIMIT 1"))).scalar_one()
        await session.execute(
            sa.text(
                "INSERT INTO mail_outbox (user_id, to_addr, kind, subject, body, status, attempts, last_error,"
                " created_at) VALUES (:u, 'elsewhere@example.cn', 'won', 's', 'b', 'failed', 8, 'refused: <elsewhere@example.cn>', now())"
            ),
            {"u": user_id},
        )
    token = bearer(await token_for(client, county))
    for method, path in (("GET", "/api/v1/admin/mail"), ("POST", "/api/v1/admin/mail/retry")):
        refused = await client.request(method, path, headers=token)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"] == "This is outside your jurisdiction."
    county_pages = await browsers(county, **EN)
    page = await county_pages.get("/admin/mail")
    assert page.status_code == 403 and "elsewhere@example.cn" not in page.text
    assert 'aria-labelledby="g-mail"' not in (await county_pages.get("/dashboard")).text
    assert [r.status for r in await outbox(db)] == ["failed"]  # nothing queued again

    province_pages = await browsers(province, **EN)
    assert 'aria-labelledby="g-mail"' in (await province_pages.get("/dashboard")).text
    assert "elsewhere@example.cn" in (await province_pages.get("/admin/mail")).text
