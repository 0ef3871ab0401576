"""A real SMTP server for the notification tests (aiosmtpd, in a thread of its own), and
an app whose e-mail goes to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar

from market.app import create_app
from market.core.config import Settings, SmtpServer
from market.core.db import Database
from market.core.pgembed import free_port
from market.notify import service as notify_service
from tests.conftest import make_settings, serve_in_process

MAIL_FROM = "中介超市 <noreply@zjcs.example.gov.cn>"
PUBLIC_URL = "https://zjcs.example.gov.cn"


@dataclass
class Received:
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class MailCatcher:
    """An SMTP server on ``port`` that keeps what it is given; ``start`` and ``stop`` may
    be called again (a server that is down, then back)."""

    port: int
    delay: float = 0.0  # seconds each DATA takes, to make two senders overlap
    received: list[Received] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        self.received.append(Received(list(envelope.rcpt_tos), raw, parsed))  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def server(self) -> SmtpServer:
        return SmtpServer(host="127.0.0.1", port=self.port, security="plain")


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    """A running SMTP server."""
    catcher = MailCatcher(free_port())
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def smtp_down() -> Iterator[MailCatcher]:
    """An SMTP server not yet started: its port refuses connections until ``start``."""
    catcher = MailCatcher(free_port())
    yield catcher
    catcher.stop()


def mail_settings(database_url: str, tmp_path: Path, catcher: MailCatcher, **overrides: Any) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        smtp=catcher.server,
        mail_from=MAIL_FROM,
        mail_retry_seconds=0,  # retried at the next wake-up
        public_url=PUBLIC_URL,
        allowed_hosts=("testserver.local",),
        **overrides,
    )


@pytest.fixture(autouse=True)
def _mail_switch_reset() -> Iterator[None]:
    """create_app sets the process's e-mail switch; leave it off for the tests after."""
    yield
    notify_service.configure(mail=False, base_url="")


@pytest.fixture
def mail_app_for(database_url: str, tmp_path: Path, db: Database) -> Any:
    def build(catcher: MailCatcher, **overrides: Any) -> tuple[Litestar, Settings]:
        settings = mail_settings(database_url, tmp_path, catcher, **overrides)
        return create_app(settings, database=db), settings

    return build


@pytest.fixture
async def mail_client(mail_app_for: Any, smtp_down: MailCatcher) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that e-mails through ``smtp_down`` (start it when needed)."""
    app, _ = mail_app_for(smtp_down)
    async with serve_in_process(app) as client:
        yield client
