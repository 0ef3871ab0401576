"""A scratch database for a benchmark: on DATABASE_URL's server when set, else on a private
cluster under var/bench-postgres; dropped at the end unless kept."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from market.config import normalize_database_url  # noqa: E402
from market.db import run_on_server, upgrade  # noqa: E402
from market.pgembed import EmbeddedPostgres  # noqa: E402


@contextmanager
def scratch_database(*, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated database's URL. ``keep``: leave it in place at the end (a private
    cluster is still stopped; its next start serves the database again)."""
    cluster = None
    # The plain postgresql:// form other tools use is accepted, as by the application.
    server = normalize_database_url(os.environ.get("DATABASE_URL") or None)
    if not server:
        cluster = EmbeddedPostgres(ROOT / "var" / "bench-postgres")
        server = cluster.start()
    name = f"market_bench_{secrets.token_hex(4)}"
    asyncio.run(run_on_server(server, f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        if not keep:
            asyncio.run(run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if cluster is not None and cluster.started_here:
            cluster.stop()
