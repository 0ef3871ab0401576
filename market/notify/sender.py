"""The e-mail sender, inside every server process (the app's lifespan): every
``interval`` seconds it claims a batch of due rows of ``mail_outbox`` on a lease (FOR UPDATE
SKIP LOCKED, pushed ``lease`` seconds ahead, committed at once), hands them to the SMTP
server over one connection holding no transaction, lock or pooled connection, and records
each outcome in a short transaction of its own. A second process skips leased rows; a
process that dies mid-send leaves its rows to be sent again once the lease runs out, so an
e-mail goes at least once, and once unless a sender dies between the hand-over and the record.

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
# How long a claimed row is the claimer's: beyond the worst batch (a connection and twenty
# messages each waiting out SMTP_TIMEOUT is ten minutes), so that a slow sender is not
# overtaken by another while it is still sending.
LEASE = 900.0
# The reason recorded for a row whose user was deactivated before it went out.
DEACTIVATED = "cancelled: the account is deactivated"


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
    def __init__(
        self, db: Any, settings: Settings, *, interval: float, batch: int = BATCH, lease: float = LEASE
    ) -> None:
        assert settings.smtp is not None
        self.db = db
        self.server = settings.smtp
        self.sender = settings.mail_from
        self.max_attempts = settings.mail_max_attempts
        self.retry_seconds = settings.mail_retry_seconds
        self.interval = min(max(interval, 0.05), MAX_INTERVAL)
        self.batch = batch
        self.lease = lease

    async def run_once(self) -> tuple[int, int]:
        """Send one batch of what is due: (sent, failed attempts). A row that cannot be made
        into an e-mail, or whose user is no longer active, is failed with its reason and
        the rest of the batch goes: one bad row never holds up the queue."""
        async with self.db.transaction() as session:
            rows = await queries.claim(session, self.batch, self.lease)
        if not rows:
            return 0, 0
        outgoing: list[Outgoing] = []
        dropped: dict[int, tuple[bool, str]] = {}
        for r in rows:
            if not r.active:
                dropped[r.id] = (True, DEACTIVATED)
                continue
            try:
                message = build(r, self.sender)
            except Exception as exc:  # any refusal of the email package: this row only, for good
                logger.warning("e-mail %d cannot be built: %s", r.id, exc)
                dropped[r.id] = (True, f"not sent: {type(exc).__name__}: {exc}"[:500])
                continue
            outgoing.append(Outgoing(r.id, r.to_addr, r.subject, r.body, r.attempts, message))
        failures = dict(dropped)
        if outgoing:
            # Outside any transaction: the rows are leased, nothing is locked or held open.
            failures |= await asyncio.to_thread(deliver, self.server, self.sender, outgoing)
        async with self.db.transaction() as session:
            for r in rows:
                if r.id not in failures:
                    await session.execute(queries.MARK_SENT, {"id": r.id, "attempts": r.attempts})
                    continue
                permanent, error = failures[r.id]
                status = "failed" if permanent else rules.after_failure(r.attempts, self.max_attempts)
                wait = rules.backoff(r.attempts, self.retry_seconds).total_seconds()
                await session.execute(
                    queries.MARK_FAILED,
                    {"id": r.id, "attempts": r.attempts, "status": status, "error": error, "wait": wait},
                )
        return len(rows) - len(failures), len(failures)

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
