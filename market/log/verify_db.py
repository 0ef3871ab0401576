"""Reading the log straight from the database, for ``market log verify`` on the server.
Entries are streamed with a server-side cursor, so a million of them need no more memory
than their leaf hashes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from market.core.db import Database, connect, to_asyncpg_dsn
from market.log import store
from market.log.signer import LogSigner

FETCH = 20_000


class DatabaseSource:
    """A verifier source over one database; its methods block (the CLI is synchronous)."""

    def __init__(self, url: str, signer: LogSigner) -> None:
        self.url = url
        self.signer = signer
        self.name = "the database"
        self.loop = asyncio.new_event_loop()
        self.db = Database.from_url(url)

    def close(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()

    def _run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    async def _with_session(self, fn: Any) -> Any:
        async with self.db.transaction() as session:
            return await fn(session)

    def key(self) -> str:
        return self.signer.verifier_key

    def checkpoint(self) -> str:
        row = self._run(self._with_session(lambda s: store.ensure_checkpoint(s, self.signer)))
        return str(row.note)

    def entries(self, start: int, end: int) -> Iterator[list[bytes]]:
        async def open_cursor() -> tuple[Any, Any, Any]:
            conn = await connect(to_asyncpg_dsn(self.url))
            tx = conn.transaction(readonly=True)
            await tx.start()
            cursor = await conn.cursor(
                "SELECT entry FROM log_entry WHERE seq >= $1 AND seq < $2 ORDER BY seq", start, end
            )
            return conn, tx, cursor

        conn, tx, cursor = self._run(open_cursor())
        try:
            while True:
                rows = self._run(cursor.fetch(FETCH))
                if not rows:
                    return
                yield [row[0] for row in rows]
        finally:
            self._run(tx.rollback())
            self._run(conn.close())

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        return self._run(self._with_session(lambda s: store.inclusion_proof(s, index, size)))

    def consistency(self, first: int, second: int) -> list[bytes]:
        return self._run(self._with_session(lambda s: store.consistency_proof(s, first, second)))
