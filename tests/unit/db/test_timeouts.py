"""A statement cut short by statement_timeout or lock_timeout is told apart from a bug (a
500 with a traceback) and from the database being away: asyncpg's own error, as the log's
append raises it, and SQLAlchemy's wrapping of it, as every other statement does."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from market.core.db import (
    RETRY_AFTER,
    Timeouts,
    is_unavailable,
    log_failure,
    request_timeouts,
    task_timeouts,
    timed_out,
)
from market.web.problems import problem_for


def wrapped(error: Exception) -> sa_exc.DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for ``error``."""
    try:
        raise sa_exc.DBAPIError("SELECT 1", {}, error) from error
    except sa_exc.DBAPIError as exc:
        return exc


LOCK = asyncpg.LockNotAvailableError("canceling statement due to lock timeout")
STATEMENT = asyncpg.QueryCanceledError("canceling statement due to statement timeout")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [(LOCK, "lock"), (wrapped(LOCK), "lock"), (STATEMENT, "statement"), (wrapped(STATEMENT), "statement")],
    ids=["lock", "lock-wrapped", "statement", "statement-wrapped"],
)
def test_timeouts_are_their_own_kind_of_failure(exc: Exception, kind: str) -> None:
    assert timed_out(exc) == kind
    assert not is_unavailable(exc)  # not "the database is not answering"
    problem = problem_for(exc)
    if kind == "lock":
        assert problem.status == 503 and problem.headers == {"Retry-After": str(RETRY_AFTER)}
    else:
        assert problem.status == 504 and "Retry-After" not in problem.headers


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        wrapped(asyncpg.DeadlockDetectedError("deadlock")),
        ValueError(),
    ],
)
def test_other_errors_are_not_timeouts(exc: Exception) -> None:
    assert timed_out(exc) is None


def test_a_background_task_logs_a_timeout_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.timeouts")
    with caplog.at_level(logging.WARNING, logger="tests.timeouts"):
        log_failure(logger, "could not flag overdue milestones", wrapped(STATEMENT))
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "statement timeout" in record.getMessage()


def test_zero_in_the_settings_leaves_the_role_s_value() -> None:
    assert Timeouts.of(statement=0, lock=0).server_settings() == {}
    assert Timeouts.of(statement=30_000, lock=5_000, idle_in_transaction=60_000).server_settings() == {
        "statement_timeout": "30000",
        "lock_timeout": "5000",
        "idle_in_transaction_session_timeout": "60000",
    }
    # an explicit 0 (a command's "no limit") is sent, so it wins over the role's
    assert Timeouts(statement=0).server_settings() == {"statement_timeout": "0"}


def test_requests_plan_without_memoize_and_tasks_with_it() -> None:
    # A Memoize node's hash table grows with the cached table's distinct keys and is built in
    # every execution: a page-sized join paid for the table's size (Timeouts.memoize).
    settings = SimpleNamespace(
        db_statement_timeout=30_000, db_lock_timeout=5_000, task_statement_timeout=0, task_lock_timeout=0
    )
    assert request_timeouts(settings).server_settings()["enable_memoize"] == "off"
    assert "enable_memoize" not in task_timeouts(settings).server_settings()
    assert "enable_memoize" not in Timeouts(statement=0).server_settings()
