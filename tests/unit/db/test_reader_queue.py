"""The readers' connections go to requests in the order they asked (Database.reading).

asyncpg's pool keeps its free connections in an asyncio.Queue, which lets a request that
arrives just as a connection comes back take it ahead of the one woken for it; the woken
one then queues again at the back. Under saturation that was the list's p99
(ops/bench/diagnose.py, docs/performance.md). The pool here waits as asyncpg's does, so
that the order of hand-outs can be seen without a database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from market.core import db as db_module
from market.core.db import Database


class QueuePool:
    """asyncpg's Pool as far as waiting goes: free connections in an asyncio.Queue,
    acquire waits on it, release puts the connection back."""

    def __init__(self, size: int) -> None:
        self.free: asyncio.Queue[str] = asyncio.LifoQueue()
        for i in range(size):
            self.free.put_nowait(f"connection-{i}")

    async def acquire(self) -> str:
        return await self.free.get()

    async def release(self, connection: str, *, timeout: float | None = None) -> None:
        self.free.put_nowait(connection)


def readers(pool: QueuePool) -> Database:
    return Database(sessionmaker=None, reader_pool=pool, reader_queue=asyncio.Semaphore(1))  # type: ignore[arg-type]


async def hand_outs(ask: Any) -> list[str]:
    """Who got the one connection, in order: three requests queue while the first holds
    it; as it goes back, a newcomer whose step was already due runs before the woken one."""
    order: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    held = asyncio.Event()

    async def request(name: str, *, hold: bool = False) -> None:
        async with ask() as _:
            order.append(name)
            if hold:
                held.set()
                await asyncio.sleep(0.01)  # the waiters queue meanwhile
                # Its first step is due before anything the release (right after) wakes.
                tasks.append(asyncio.create_task(request("newcomer")))
            else:
                await asyncio.sleep(0)

    first = asyncio.create_task(request("first", hold=True))
    await held.wait()
    waiters = [asyncio.create_task(request(f"waiter-{i}")) for i in range(3)]
    await asyncio.gather(first, *waiters)
    await asyncio.gather(*tasks)
    return order


async def test_asyncpg_s_way_of_waiting_lets_a_newcomer_go_first() -> None:
    """What the queue in front of the pool is for: the pool alone serves the newcomer
    before the requests that were waiting (if this changes, the queue may go)."""
    pool = QueuePool(1)

    class Bare:
        async def __aenter__(self) -> str:
            self.connection = await pool.acquire()
            return self.connection

        async def __aexit__(self, *_: Any) -> None:
            await pool.release(self.connection)

    order = await hand_outs(Bare)
    assert order.index("newcomer") < order.index("waiter-0"), order


async def test_readers_are_served_first_come_first_served() -> None:
    db = readers(QueuePool(1))
    assert await hand_outs(db.reading) == ["first", "waiter-0", "waiter-1", "waiter-2", "newcomer"]


async def test_a_reader_waiting_past_the_pool_timeout_gets_a_503_error_and_leaves_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_module, "POOL_TIMEOUT", 0.05)
    db = readers(QueuePool(1))
    async with db.reading():
        with pytest.raises(sa_exc.TimeoutError):  # problems.py answers it with a 503
            async with db.reading():
                pass
    async with db.reading() as connection:  # the one that gave up holds no place
        assert connection == "connection-0"
    assert db.reader_queue is not None and not db.reader_queue.locked()
