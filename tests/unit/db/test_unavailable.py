"""What counts as "the database is unavailable" (a 503 with Retry-After, a background task
that waits and tries again) and what is a bug (a 500), and the background loops that must
outlive a PostgreSQL restart: the scheduler, the checkpointer and the overdue task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from market.contracts.scheduler import OverdueTask
from market.core.db import is_unavailable
from market.core.errors import Conflict
from market.log import store
from market.selection import scheduler as selection_scheduler
from market.selection import service as selection_service


def wrapped(cause: BaseException) -> Exception:
    try:
        raise cause
    except BaseException as exc:
        try:
            raise RuntimeError("wrapper") from exc
        except RuntimeError as outer:
            return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        # a pooled connection that PostgreSQL's shutdown notice reached while it sat idle
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        sa_exc.TimeoutError(
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"
        ),
        sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        wrapped(ConnectionRefusedError()),
        wrapped(asyncpg.CannotConnectNowError("the database system is shutting down")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_level_errors_are_unavailable(exc: BaseException) -> None:
    assert is_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad"),
        KeyError("x"),
        Conflict("This notice is not open for bids."),
        asyncpg.UniqueViolationError("duplicate key value"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation (11) is in progress"),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sa_exc.DBAPIError("SELECT 1", {}, Exception("syntax error"), connection_invalidated=False),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bugs_and_domain_errors_are_not_unavailable(exc: BaseException) -> None:
    assert not is_unavailable(exc)


def test_a_connection_error_hidden_with_from_none_does_not_count() -> None:
    try:
        try:
            raise ConnectionRefusedError()
        except ConnectionRefusedError:
            raise ValueError("something else") from None
    except ValueError as exc:
        assert not is_unavailable(exc)


# -- background loops ---------------------------------------------------------------------------


class FlakyDatabase:
    """A database whose first ``failures`` transactions are refused, as while PostgreSQL restarts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.served = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionRefusedError(111, "Connect call failed")
        self.served += 1
        yield object()


async def run_until(
    task_factory: Any, db: FlakyDatabase, served: int, timeout: float = 5.0
) -> asyncio.Task[None]:
    task = asyncio.create_task(task_factory())
    try:
        async with asyncio.timeout(timeout):
            while db.served < served:
                assert not task.done(), task.exception() if not task.cancelled() else "cancelled"
                await asyncio.sleep(0.01)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return task


async def test_the_scheduler_keeps_looking_while_the_database_is_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def nothing_due(session: Any, exclude: Any = ()) -> None:
        return None

    monkeypatch.setattr(selection_service, "claim_due", nothing_due)
    db = FlakyDatabase(failures=4)
    scheduler = selection_scheduler.Scheduler(db, ctx=None, interval=0.01)  # type: ignore[arg-type]
    await run_until(scheduler.run, db, served=3)
    assert db.attempts >= 7


async def test_a_step_cut_by_a_lost_connection_is_not_set_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    """A notice whose step failed because the database went away is due again at once, not
    parked for BACKOFF seconds like one whose step has a bug."""

    class Claimed:
        public_id = "N-000001"

    async def claim(session: Any, exclude: Any = ()) -> Any:
        return None if "N-000001" in exclude else Claimed()

    async def step_lost(session: Any, notice: Any, ctx: Any) -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(selection_service, "claim_due", claim)
    monkeypatch.setattr(selection_service, "step", step_lost)
    scheduler = selection_scheduler.Scheduler(FlakyDatabase(failures=0), ctx=None, interval=0.01)  # type: ignore[arg-type]
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await scheduler.run_once()
    assert scheduler.backing_off == {}

    async def step_bug(session: Any, notice: Any, ctx: Any) -> None:
        raise ValueError("a bug in this notice's step")

    monkeypatch.setattr(selection_service, "step", step_bug)
    assert await scheduler.run_once() == []
    assert list(scheduler.backing_off) == ["N-000001"]


async def test_the_checkpointer_keeps_signing_after_the_database_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def sign(session: Any, signer: Any) -> None:
        return None

    monkeypatch.setattr(store, "ensure_checkpoint", sign)
    db = FlakyDatabase(failures=3)
    checkpointer = store.Checkpointer(db, signer=None, interval=0.01)  # type: ignore[arg-type]
    await run_until(checkpointer.run, db, served=2)


async def test_the_overdue_task_tries_again_after_the_database_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from market.contracts import service as contracts

    async def flag(session: Any, day: Any, **batch: Any) -> tuple[int, None]:
        return 0, None

    monkeypatch.setattr(contracts, "flag_overdue_batch", flag)
    db = FlakyDatabase(failures=2)
    task = OverdueTask(db, interval=1.0)
    task.interval = 0.01  # the real one is at least a second
    await run_until(task.run, db, served=1)
    assert task.last_day is not None
