"""PostgreSQL for backup and restore: the client programs (pg_dump, pg_restore, psql) of the
server's version, libpq's environment, and what both commands ask the database.

asyncpg and SQLAlchemy are imported where they are used: every ``market`` command should
start quickly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from market.backup.errors import EXIT_DATABASE, BackupError
from market.core.pgembed import candidate_bindirs

if TYPE_CHECKING:
    import asyncpg


# -- PostgreSQL's client programs -------------------------------------------------------------------


@dataclass(frozen=True)
class PgTools:
    """pg_dump, pg_restore and psql from one directory, of one major version."""

    bindir: Path
    major: int
    version: str  # as pg_dump --version says it, e.g. "pg_dump (PostgreSQL) 15.20"

    def __call__(self, tool: str) -> str:
        return str(self.bindir / tool)


def _tool_version(bindir: Path) -> tuple[int, str] | None:
    if not all((bindir / tool).is_file() for tool in ("pg_dump", "pg_restore", "psql")):
        return None
    try:
        out = subprocess.run(
            [str(bindir / "pg_dump"), "--version"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s*(\d+)", out.stdout)
    return (int(found.group(1)), out.stdout.strip()) if found else None


def find_tools(server_major: int) -> PgTools:
    """The client programs for a server of ``server_major``: of that version if there are
    any (Debian's /usr/lib/postgresql/<major>/bin), else the oldest newer one, since pg_dump
    reads older servers but refuses newer ones."""
    explicit = os.environ.get("MARKET_PG_BINDIR")
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin"), *candidate_bindirs()]
    if on_path := shutil.which("pg_dump"):
        candidates.append(Path(on_path).resolve().parent)
    found: list[PgTools] = []
    for bindir in candidates:
        version = _tool_version(bindir)
        if version is not None:
            found.append(PgTools(bindir, *version))
    if explicit:  # an explicit choice is taken, or refused, as it is
        chosen = next((t for t in found if t.bindir == Path(explicit)), None)
        if chosen is None or chosen.major < server_major:
            raise BackupError(
                f"MARKET_PG_BINDIR={explicit} holds no pg_dump, pg_restore and psql of PostgreSQL {server_major} or newer",
                EXIT_DATABASE,
            )
        return chosen
    same = [t for t in found if t.major == server_major]
    newer = sorted((t for t in found if t.major > server_major), key=lambda t: t.major)
    if same or newer:
        return (same or newer)[0]
    raise BackupError(
        f"pg_dump, pg_restore and psql of PostgreSQL {server_major} (the server's version) not found: "
        f"install them (Debian/Ubuntu: apt-get install postgresql-client-{server_major}) or set MARKET_PG_BINDIR",
        EXIT_DATABASE,
    )


def db_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).database)


def _host_port(spec: str) -> tuple[str, str]:
    """("host", "port") from "host:port", "[v6]:port" or a bare host ("" for no port)."""
    if spec.startswith("["):
        address, _, rest = spec[1:].partition("]")
        return address, rest.removeprefix(":")
    if spec.count(":") == 1:
        host, _, port = spec.partition(":")
        return host, port
    return spec, ""


def libpq_env(url: str) -> dict[str, str]:
    """The environment that points libpq's programs at ``url``. The password goes in
    PGPASSWORD, never on a command line that ``ps`` shows."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    env = dict(os.environ)
    host, port = parsed.host, str(parsed.port) if parsed.port else None
    listed = parsed.query.get("host")
    if isinstance(listed, tuple):
        # Several hosts (?host=h1:p1&host=h2:p2, config.normalize_database_url): libpq
        # takes them as comma lists, and target_session_attrs picks the primary among them.
        pairs = [_host_port(h) for h in listed]
        host = ",".join(h for h, _ in pairs)
        port = ",".join(p or "5432" for _, p in pairs)
    elif listed and not host:
        host = listed  # ?host=/run/postgresql: a socket directory
    attrs = parsed.query.get("target_session_attrs")
    values = {
        "PGHOST": host,
        "PGPORT": port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
        "PGSSLMODE": parsed.query.get("sslmode") or parsed.query.get("ssl"),
        "PGTARGETSESSIONATTRS": attrs if isinstance(attrs, str) else None,
    }
    env.update({k: str(v) for k, v in values.items() if v})
    env["PGAPPNAME"] = "market backup"
    return env


def tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"


# -- the database ----------------------------------------------------------------------------------


async def connect(url: str) -> asyncpg.Connection:
    import asyncpg

    from market.core.db import COMMAND, to_asyncpg_dsn

    try:
        # COMMAND: the snapshot's transaction sits idle while pg_dump runs, which a role's
        # idle_in_transaction_session_timeout would otherwise end (docs/reliability.md).
        return await asyncpg.connect(
            to_asyncpg_dsn(url), timeout=15, server_settings=COMMAND.server_settings()
        )
    except asyncpg.InvalidCatalogNameError:
        raise
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise BackupError(f"cannot reach the database {db_name(url)}: {exc}", EXIT_DATABASE) from None


async def server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


async def has_table(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"public.{name}"))


async def referenced_uploads(conn: asyncpg.Connection) -> tuple[int, list[str]]:
    """(files the database holds, names of the files rows refer to that it lacks): those
    are files of an older version not imported yet (market/files/legacy.py), named where
    that version kept them under the data dir."""
    from market.files.legacy import _REFERENCED, NOT_STORED, legacy_name

    if not await has_table(conn, "stored_file"):
        # Not migrated yet (a backup before `market db upgrade`): every file its rows refer
        # to is on disk only, and not in this archive.
        if not (await has_table(conn, "agency_document") and await has_table(conn, "deliverable")):
            return 0, []
        rows = await conn.fetch(f"SELECT DISTINCT * FROM ({_REFERENCED}) r ORDER BY sha256, folder")
        return 0, [legacy_name(r["folder"], r["sha256"], r["content_type"]) for r in rows]
    stored = int(await conn.fetchval("SELECT count(*) FROM stored_file"))
    missing = [legacy_name(r["folder"], r["sha256"], r["content_type"]) for r in await conn.fetch(NOT_STORED)]
    return stored, missing


@dataclass
class DatabaseState:
    relations: int  # tables, views and sequences outside the system schemas
    users: int | None  # rows of app_user and log_entry, when those tables exist
    entries: int | None

    @property
    def empty(self) -> bool:
        return self.relations == 0

    @property
    def holds_data(self) -> bool:
        """Anything but an empty database or a freshly migrated one (whose only rows are
        the migrations' reference data, which the dump brings back too)."""
        if self.empty:
            return False
        return self.users is None or self.entries is None or self.users > 0 or self.entries > 0

    def describe(self) -> str:
        if self.users is None or self.entries is None:
            return f"{self.relations} tables and sequences of something other than market"
        return f"{self.users} users and {self.entries} log entries"


async def database_state(conn: asyncpg.Connection) -> DatabaseState:
    relations = int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
        )
    )
    users = entries = None
    if relations and await has_table(conn, "app_user") and await has_table(conn, "log_entry"):
        users = int(await conn.fetchval("SELECT count(*) FROM app_user"))
        entries = int(await conn.fetchval("SELECT count(*) FROM log_entry"))
    return DatabaseState(relations, users, entries)


async def latest_checkpoint(conn: asyncpg.Connection) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT size, root, note FROM log_checkpoint ORDER BY size DESC LIMIT 1")
    if row is None:
        return None
    return {"size": int(row["size"]), "root": bytes(row["root"]).hex(), "note": str(row["note"])}
