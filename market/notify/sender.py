"""The e-mail sender, inside every server process (the app's lifespan): every
``interval`` seconds it claims a batch of due rows of ``mail_outbox`` with FOR UPDATE SKIP
LOCKED, hands them to the SMTP server over one connection, and records each outcome in the
same transaction, still holding the rows: a second process skips them, so each is sent once.

SMTP is the standard library's smtplib, run in a worker thread (asyncio.to_thread): it is
maintained with Python itself, speaks plain SMTP, STARTTLS and implicit TLS, and the queue
sends a few messages a minute, where an asynchronous client would add a dependency and
save nothing (docs/notifications.md)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from market.core.config import Settings, SmtpServer
from market.core.db import log_failure
from market.notify import queries, rules

logger = logging.getLogger("market.notify.sender")
BATCH = 20  # messages per wake-up and SMTP connection
SMTP_TIMEOUT = 30.0  # seconds for the server to answer; a hung server fails the batch, retried later
MAX_INTERVAL = 3600.0


@dataclass
class Outgoing:
    id: int
    to_addr: str
    subject: str
    body: str
    attempts: int
    message: EmailMessage


def build(row: Any, sender: str) -> EmailMessage:
    """An e-mail for one queued row. Headers with Chinese are encoded by the email package
    (RFC 2047, UTF-8); the body is UTF-8, quoted-printable or base64 as it chooses. The
    Message-ID is the row's, so a receiver can tell a repeated send (after a crash between
    the hand-over and the commit) from a new message."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_addr
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "market.localhost"
    message["Message-ID"] = f"<outbox-{row.id}.{int(row.created_at.timestamp())}@{domain}>"
    message.set_content(row.body, charset="utf-8")
    return message


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            server.host, server.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
        if server.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if server.username:
        client.login(server.username, server.password)
    return client


def deliver(server: SmtpServer, sender: str, batch: Sequence[Outgoing]) -> dict[int, tuple[bool, str]]:
    """Send a batch over one connection (blocking: run in a thread). Per row: (permanent,
    error) for a failure, absent for a success. A connection that cannot be made fails the
    whole batch, to be retried; a recipient the server refuses for good (5xx) fails its row
    at once, since sending again would be refused again."""
    failures: dict[int, tuple[bool, str]] = {}
    try:
        client = _connect(server)
    except (OSError, smtplib.SMTPException) as exc:
        return {o.id: (False, f"connect: {exc}"[:500]) for o in batch}
    try:
        for outgoing in batch:
            try:
                client.send_message(
                    outgoing.message, from_addr=parseaddr(sender)[1], to_addrs=[outgoing.to_addr]
                )
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()))[0] if exc.recipients else 0
                failures[outgoing.id] = (500 <= code < 600, f"refused: {exc.recipients}"[:500])
            except smtplib.SMTPResponseException as exc:
                failures[outgoing.id] = (
                    500 <= exc.smtp_code < 600 and exc.smtp_code != 552,
                    f"{exc.smtp_code} {exc.smtp_error!r}"[:500],
                )
            except (OSError, smtplib.SMTPException) as exc:
                failures[outgoing.id] = (False, str(exc)[:500] or type(exc).__name__)
                # The connection is gone: the rest of the batch waits for the next wake-up.
                for rest in batch[batch.index(outgoing) + 1 :]:
                    failures[rest.id] = (False, "not tried: the connection failed")
                break
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return failures


class MailSender:
    def __init__(self, db: Any, settings: Settings, *, interval: float, batch: int = BATCH) -> None:
        assert settings.smtp is not None
        self.db = db
        self.server = settings.smtp
        self.sender = settings.mail_from
        self.max_attempts = settings.mail_max_attempts
        self.retry_seconds = settings.mail_retry_seconds
        self.interval = min(max(interval, 0.05), MAX_INTERVAL)
        self.batch = batch

    async def run_once(self) -> tuple[int, int]:
        """Send one batch of what is due: (sent, failed attempts)."""
        async with self.db.transaction() as session:
            rows = await queries.claim(session, self.batch)
            if not rows:
                return 0, 0
            outgoing = [
                Outgoing(r.id, r.to_addr, r.subject, r.body, r.attempts, build(r, self.sender)) for r in rows
            ]
            failures = await asyncio.to_thread(deliver, self.server, self.sender, outgoing)
            for o in outgoing:
                if o.id not in failures:
                    await session.execute(queries.MARK_SENT, {"id": o.id})
                    continue
                permanent, error = failures[o.id]
                attempts = o.attempts + 1
                status = "failed" if permanent else rules.after_failure(attempts, self.max_attempts)
                wait = rules.backoff(attempts, self.retry_seconds).total_seconds()
                await session.execute(
                    queries.MARK_FAILED,
                    {"id": o.id, "attempts": attempts, "status": status, "error": error, "wait": wait},
                )
        return len(outgoing) - len(failures), len(failures)

    async def run(self) -> None:
        while True:
            try:
                sent, failed = await self.run_once()
                if sent or failed:
                    logger.info("e-mail: %d sent, %d failed (retried later or marked failed)", sent, failed)
                if sent >= self.batch:
                    continue  # a full batch went out: more may be due, no pause
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # tried again after ``interval``
                log_failure(logger, "could not send queued e-mail; trying again later", exc)
            await asyncio.sleep(self.interval)
