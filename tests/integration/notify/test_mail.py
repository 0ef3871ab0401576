"""E-mail people actually get (issue 22): an inbox message is e-mailed through a real SMTP
server (aiosmtpd) from a queue in PostgreSQL, queued in the same transaction, retried while
the server is down, given up after the limit and shown to admins, never sent for a kind
the user turned off, and never queued without MARKET_SMTP_URL."""

from __future__ import annotations

from email.header import decode_header
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient

from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database
from market.core.i18n import gettext_for
from market.inbox import service as inbox
from market.notify import rules
from market.notify.sender import MailSender
from tests.conftest import make_settings, serve_in_process
from tests.helpers import bearer, create_staff, token_for
from tests.integration.agencies.test_api import admin
from tests.integration.notices.test_api import owner_user, published
from tests.integration.notify.conftest import PUBLIC_URL, MailCatcher
from tests.integration.selection.helpers import messages_of

TITLE = "昆明市五华区某道路工程环境影响评价"


async def outbox(db: Database) -> list[Any]:
    async with db.transaction() as session:
        rows = await session.execute(
            sa.text("SELECT to_addr, kind, status, attempts, last_error FROM mail_outbox ORDER BY id")
        )
        return list(rows.all())


async def cancellation_asked(client: AsyncClient, db: Database) -> tuple[str, dict[str, str]]:
    """A supervisor of the province (the only one, so the hall's requests go to them) and
    an owner asking to cancel a notice: the supervisor's inbox has "cancel_requested"."""
    email = await create_staff(db, role=Role.supervisor)
    supervisor = bearer(await token_for(client, email))
    owner = await owner_user(client)
    notice = await published(client, owner, title=TITLE)
    asked = await client.post(
        f"/api/v1/notices/{notice['id']}/cancel", json={"reason": "项目调整"}, headers=owner
    )
    assert asked.status_code == 202, asked.text
    return email, supervisor


def sender(db: Database, settings: Any) -> MailSender:
    return MailSender(db, settings, interval=1.0)


def header_text(raw: bytes, name: str) -> str:
    """A header as it went over the wire (folded lines joined)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n")
    return next(
        line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(name.lower() + ":")
    )


async def test_an_inbox_message_reaches_the_smtp_server_in_chinese(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        email, supervisor = await cancellation_asked(client, db)
        assert "cancel_requested" in [m["kind"] for m in await messages_of(client, supervisor)]
        assert [(r.to_addr, r.kind, r.status) for r in await outbox(db)] == [
            (email, "cancel_requested", "pending")
        ]

        assert await sender(db, settings).run_once() == (1, 0)

    [got] = smtp.received
    assert got.rcpt_tos == [email]
    message = got.message
    assert message["To"] == email
    assert message["From"].addresses[0].addr_spec == "noreply@zjcs.example.gov.cn"
    assert message["From"].addresses[0].display_name == "中介超市"
    subject = str(message["Subject"])
    zh = gettext_for("zh_Hans")[0]  # the e-mail is Chinese first, whoever reads it
    assert subject == f"【{zh(rules.SITE)}】{zh(rules.BY_CODE['cancel_requested'].label)}：{TITLE}"
    # On the wire every header is ASCII: the Chinese subject is RFC 2047 encoded as UTF-8.
    wire = header_text(got.raw, "Subject")
    assert "=?utf-8?" in wire.lower() and all(ord(c) < 128 for c in wire)
    assert (
        "".join(
            part.decode(charset or "ascii") if isinstance(part, bytes) else part
            for part, charset in decode_header(wire)
        )
        == subject
    )
    body = message.get_content()
    assert message.get_content_charset() == "utf-8"
    assert (
        TITLE in body and f"{PUBLIC_URL}/messages" in body and f"{PUBLIC_URL}/account/notifications" in body
    )
    assert message["Message-ID"].startswith("<outbox-")
    assert [r.status for r in await outbox(db)] == ["sent"]

    # Sent once: the next wake-up finds nothing.
    assert await sender(db, settings).run_once() == (0, 0)
    assert len(smtp.received) == 1


async def test_a_kind_turned_off_sends_no_email_but_still_the_inbox_message(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        email = await create_staff(db, role=Role.supervisor)
        supervisor = bearer(await token_for(client, email))
        before = (await client.get("/api/v1/me/notifications", headers=supervisor)).json()
        assert before["email"]["cancel_requested"] is True  # on by default: it asks for a decision
        assert "won" not in before["email"]  # a supervisor never receives an agency's kinds
        turned = await client.put(
            "/api/v1/me/notifications", json={"email": {"cancel_requested": False}}, headers=supervisor
        )
        assert turned.status_code == 200, turned.text
        assert turned.json()["email"]["cancel_requested"] is False
        owner = await owner_user(client)
        notice = await published(client, owner, title=TITLE)
        asked = await client.post(
            f"/api/v1/notices/{notice['id']}/cancel", json={"reason": "项目调整"}, headers=owner
        )
        assert asked.status_code == 202, asked.text
        assert "cancel_requested" in [m["kind"] for m in await messages_of(client, supervisor)]
        assert await outbox(db) == []
        assert await sender(db, settings).run_once() == (0, 0)
    assert smtp.received == []


async def test_preferences_refuse_kinds_of_another_role_and_non_booleans(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    app, _ = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        owner = await owner_user(client)
        wrong = await client.put("/api/v1/me/notifications", json={"email": {"won": False}}, headers=owner)
        assert wrong.status_code == 422 and wrong.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert wrong.json()["errors"][0]["field"] == "won"
        bad = await client.put("/api/v1/me/notifications", json={"email": {"selected": "no"}}, headers=owner)
        assert bad.status_code in (400, 422), bad.text
        assert (await client.get("/api/v1/me/notifications", headers=owner)).json()["email"][
            "selected"
        ] is True


async def test_a_rollback_queues_nothing(mail_app_for: Any, smtp: MailCatcher, db: Database) -> None:
    app, _ = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        email, _ = await cancellation_asked(client, db)
    assert len(await outbox(db)) == 1
    async with db.transaction() as session:
        user_id = (
            await session.execute(sa.text("SELECT id FROM app_user WHERE email = :e"), {"e": email})
        ).scalar_one()
    try:
        async with db.transaction() as session:
            await inbox.leave(session, user_id=user_id, kind="alert_red_flag", flag_kind="win_share")
            await session.flush()
            assert len((await session.execute(sa.text("SELECT id FROM mail_outbox"))).all()) == 2
            raise RuntimeError("the change that caused the message fails")
    except RuntimeError:
        pass
    assert [r.kind for r in await outbox(db)] == ["cancel_requested"]


async def test_without_an_smtp_url_nothing_is_queued(database_url: str, tmp_path: Path, db: Database) -> None:
    app = create_app(make_settings(database_url, tmp_path), database=db)
    async with serve_in_process(app) as client:
        _, supervisor = await cancellation_asked(client, db)
        assert "cancel_requested" in [m["kind"] for m in await messages_of(client, supervisor)]
        prefs = (await client.get("/api/v1/me/notifications", headers=supervisor)).json()
        assert prefs["email_configured"] is False
    assert await outbox(db) == []


async def test_a_server_that_is_down_is_retried_and_gets_it_when_back(
    mail_app_for: Any, smtp_down: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp_down)
    async with serve_in_process(app) as client:
        email, _ = await cancellation_asked(client, db)
    assert await sender(db, settings).run_once() == (0, 1)
    [row] = await outbox(db)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("connect:")
    assert await sender(db, settings).run_once() == (0, 1)  # still down: tried again, still pending
    assert [(r.status, r.attempts) for r in await outbox(db)] == [("pending", 2)]

    smtp_down.start()
    assert await sender(db, settings).run_once() == (1, 0)
    assert [r.rcpt_tos for r in smtp_down.received] == [[email]]
    assert [r.status for r in await outbox(db)] == ["sent"]


async def test_after_the_last_attempt_it_is_marked_failed_and_admins_see_it(
    mail_app_for: Any, smtp_down: MailCatcher, db: Database
) -> None:
    app, settings = mail_app_for(smtp_down, mail_max_attempts=2)
    async with serve_in_process(app) as client:
        await cancellation_asked(client, db)
        for _ in range(3):
            await sender(db, settings).run_once()
        assert [(r.status, r.attempts) for r in await outbox(db)] == [("failed", 2)]

        staff = await admin(client, db)
        state = (await client.get("/api/v1/admin/mail", headers=staff)).json()
        assert state["counts"] == {"pending": 0, "sent": 0, "failed": 1}
        assert state["failed"][0]["kind"] == "cancel_requested" and state["failed"][0]["attempts"] == 2
        supervisor = bearer(await token_for(client, await create_staff(db, role=Role.supervisor)))
        assert (await client.get("/api/v1/admin/mail", headers=supervisor)).status_code == 403

        # Mended: the admin queues it again and it goes.
        retried = await client.post("/api/v1/admin/mail/retry", headers=staff)
        assert retried.json() == {"requeued": 1}
        smtp_down.start()
        assert await sender(db, settings).run_once() == (1, 0)
        assert (await client.get("/api/v1/admin/mail", headers=staff)).json()["counts"]["sent"] == 1


async def test_a_recipient_refused_for_good_is_failed_at_once(
    mail_app_for: Any, smtp: MailCatcher, db: Database
) -> None:
    """A 5xx for the recipient would be refused again: no retries wasted on it."""

    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 mailbox unavailable"

    smtp.handle_RCPT = refuse  # type: ignore[attr-defined]
    app, settings = mail_app_for(smtp)
    async with serve_in_process(app) as client:
        await cancellation_asked(client, db)
    assert await sender(db, settings).run_once() == (0, 1)
    [row] = await outbox(db)
    assert (row.status, row.attempts) == ("failed", 1) and "550" in row.last_error
