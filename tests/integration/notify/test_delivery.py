"""The queue on real commits: a pending e-mail is sent by a server started afterwards (a
restart), and two processes sending from one queue send each e-mail once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.pool import NullPool

from market.app import create_app
from market.core.db import Database, to_asyncpg_dsn
from market.notify.sender import MailSender
from tests.conftest import serve_in_process
from tests.integration.notify.conftest import MAIL_FROM, MailCatcher, mail_settings
from tests.integration.notify.test_mail import cancellation_asked
from tests.live import running_server


async def outbox_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        return list(await conn.fetch("SELECT id, status, attempts FROM mail_outbox ORDER BY id"))
    finally:
        await conn.close()


@pytest.mark.committing
async def test_a_pending_email_is_sent_by_the_next_server_started(
    committed_database_url: str, tmp_path: Path, smtp_down: MailCatcher
) -> None:
    # The first instance queues the e-mail and fails to send it: the server is down.
    db = Database.from_url(committed_database_url, poolclass=NullPool)
    try:
        settings = mail_settings(committed_database_url, tmp_path, smtp_down)
        async with serve_in_process(create_app(settings, database=db)) as client:
            email, _ = await cancellation_asked(client, db)
        assert await MailSender(db, settings, interval=1.0).run_once() == (0, 1)
    finally:
        await db.dispose()
    assert [(r["status"], r["attempts"]) for r in await outbox_rows(committed_database_url)] == [
        ("pending", 1)
    ]

    # That instance is gone; the mail server is back; a new server process starts.
    smtp_down.start()
    with running_server(
        committed_database_url,
        tmp_path / "served",
        MARKET_SMTP_URL=f"smtp://127.0.0.1:{smtp_down.port}",
        MARKET_MAIL_FROM=MAIL_FROM,
        MARKET_SCHEDULER_INTERVAL="0.2",
    ):
        # Up to 30 s: the server's sender runs once it has started, and records the delivery
        # in a transaction of its own after the SMTP exchange (so wait for both).
        for _ in range(300):
            rows = await outbox_rows(committed_database_url)
            if smtp_down.received and [r["status"] for r in rows] == ["sent"]:
                break
            await asyncio.sleep(0.1)
    assert [r.rcpt_tos for r in smtp_down.received] == [[email]]
    assert [r["status"] for r in rows] == ["sent"]


@pytest.mark.committing
async def test_two_processes_sending_from_one_queue_send_each_email_once(
    committed_database_url: str, tmp_path: Path, smtp: MailCatcher
) -> None:
    count = 12
    db = Database.from_url(committed_database_url, poolclass=NullPool)
    try:
        settings = mail_settings(committed_database_url, tmp_path, smtp)
        async with serve_in_process(create_app(settings, database=db)) as client:
            await cancellation_asked(client, db)
    finally:
        await db.dispose()
    conn = await asyncpg.connect(to_asyncpg_dsn(committed_database_url))
    try:  # more of the same e-mail, as a burst of messages would queue
        await conn.execute(
            """INSERT INTO mail_outbox (user_id, to_addr, kind, subject, body, status, attempts, created_at)
               SELECT user_id, to_addr, kind, subject, body, 'pending', 0, now()
               FROM mail_outbox, generate_series(2, $1)""",
            count,
        )
    finally:
        await conn.close()

    smtp.delay = 0.05  # each message takes a while, so the two senders overlap
    sent = [0, 0]

    async def process(i: int) -> None:
        own = Database.from_url(committed_database_url, poolclass=NullPool)
        try:
            sender = MailSender(own, settings, interval=1.0, batch=4)
            while True:
                done, failed = await sender.run_once()
                assert failed == 0
                if not done:
                    return
                sent[i] += done
        finally:
            await own.dispose()

    await asyncio.gather(process(0), process(1))
    ids = [str(r.message["Message-ID"]) for r in smtp.received]
    assert len(ids) == count and len(set(ids)) == count
    assert sum(sent) == count and min(sent) > 0, sent  # both took part, neither sent another's
    assert {r["status"] for r in await outbox_rows(committed_database_url)} == {"sent"}
