"""A scratch database for the benchmarks (ops/bench) and the load test (ops/load).

Where it is made:

- ``DATABASE_URL`` set (``postgresql://`` or ``postgresql+asyncpg://``): a new database on
  that server.
- Unset: a new database on the private cluster under ``var/bench-postgres``
  (market.core.pgembed.EmbeddedPostgres), created the first time and reused afterwards, and
  stopped at the end when this call started it.

The database is migrated to head and dropped at the end, unless ``keep``. Import it as
``ops.scratch`` with the project root on the path.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from market.core.config import normalize_database_url
from market.core.db import run_on_server, upgrade
from market.core.pgembed import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
# One persistent cluster for every script, not one per run: initdb costs seconds each
# time, and a kept database must still be there when the cluster next starts.
CLUSTER_ROOT = ROOT / "var" / "bench-postgres"


@contextmanager
def scratch_database(
    *, keep: bool = False, prefix: str = "market_bench", cluster_root: Path = CLUSTER_ROOT
) -> Iterator[str]:
    """A fresh, migrated database's URL (``postgresql+asyncpg://``), named
    ``<prefix>_<8 hex digits>``.

    ``keep``: leave the database in place at the end; a private cluster is still stopped,
    and its next start serves the database again. ``cluster_root``: where the private
    cluster lives when ``DATABASE_URL`` is unset (tests move it off the shared one)."""
    cluster: EmbeddedPostgres | None = None
    # The plain postgresql:// form other tools use is accepted, as by the application.
    server = normalize_database_url(os.environ.get("DATABASE_URL") or None)
    if not server:
        cluster = EmbeddedPostgres(cluster_root)
        server = cluster.start()
    try:
        name = f"{prefix}_{secrets.token_hex(4)}"
        asyncio.run(run_on_server(server, f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield url
        finally:
            if not keep:
                # FORCE: a server or pool the caller left behind must not keep it alive.
                asyncio.run(run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        # Only a cluster this call started: another run may be using one it found running.
        if cluster is not None and cluster.started_here:
            cluster.stop()
