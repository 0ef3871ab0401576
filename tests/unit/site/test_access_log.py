"""The access log records the status the client got, also when the application's exception
handler answers after the access-log middleware is done (an error in a dependency's
cleanup, such as the commit of a request whose database went away)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest
from litestar.exceptions import NotFoundException

from market.core.errors import Conflict
from market.web.observability import access_log_middleware


def logged_status(app: Any, caplog: pytest.LogCaptureFixture) -> int:
    middleware = access_log_middleware(app)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/notices/N-1/bids",
        "client": ("127.0.0.1", 5000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="market.access"):
        try:
            asyncio.run(middleware(scope, receive, send))
        except Exception:
            pass
    (record,) = [r for r in caplog.records if r.name == "market.access"]
    return int(record.status)  # type: ignore[attr-defined]


def raising(exc: Exception) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (asyncpg.CannotConnectNowError("the database system is shutting down"), 503),
        (ConnectionRefusedError(111, "Connect call failed"), 503),
        (Conflict("taken"), 409),
        (NotFoundException(), 404),
        (ValueError("a bug"), 500),
    ],
)
def test_an_exception_that_passes_the_middleware_is_logged_with_the_status_it_gets(
    exc: Exception, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    assert logged_status(raising(exc), caplog) == status


def test_an_answer_already_started_keeps_its_status(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        raise asyncpg.CannotConnectNowError("gone half-way")

    assert logged_status(app, caplog) == 201
