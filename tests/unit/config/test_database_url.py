"""A DATABASE_URL naming several hosts (the primary and its standby; after a failover the
same URL finds the promoted server): the forms an operator writes are taken, rewritten
for SQLAlchemy, asyncpg and libpq alike, and a mistyped one is refused with a message
instead of connecting somewhere unexpected."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

from market.backup.pg import libpq_env
from market.core.config import ConfigError, normalize_database_url
from market.core.db import to_asyncpg_dsn

LIBPQ = "postgresql://market:p%40ss@10.0.0.31:5432,10.0.0.32:5433/market?target_session_attrs=read-write"
SQLALCHEMY = (
    "postgresql+asyncpg://market:p%40ss@/market?host=10.0.0.31:5432&host=10.0.0.32:5433"
    "&target_session_attrs=read-write"
)


@pytest.mark.parametrize(
    "given",
    [
        LIBPQ,
        LIBPQ.replace("postgresql://", "postgres://"),
        LIBPQ.replace("postgresql://", "postgresql+asyncpg://"),
        SQLALCHEMY,
        SQLALCHEMY.replace("postgresql+asyncpg://", "postgresql://"),
        # one host parameter holding a comma list, as libpq also reads it
        "postgresql://market:p%40ss@/market?host=10.0.0.31:5432,10.0.0.32:5433&target_session_attrs=read-write",
    ],
)
def test_every_multi_host_form_becomes_the_one_sqlalchemy_reads(given: str) -> None:
    assert normalize_database_url(given) == SQLALCHEMY


def test_sqlalchemy_asyncpg_and_libpq_all_get_both_hosts_in_order() -> None:
    url = normalize_database_url(LIBPQ)
    assert url is not None
    # the engine (SQLAlchemy's asyncpg dialect) gets the list, not only one of them
    _, kwargs = asyncpg_dialect().create_connect_args(make_url(url))
    assert (kwargs["host"], kwargs["port"]) == (["10.0.0.31", "10.0.0.32"], [5432, 5433])
    assert kwargs["target_session_attrs"] == "read-write" and kwargs["password"] == "p@ss"
    # asyncpg's own DSN (the readers' pool, LISTEN, log verify): asyncpg keeps only the
    # last of repeated ?host= parameters, so the hosts go before the database name
    assert to_asyncpg_dsn(url) == LIBPQ
    # pg_dump and pg_restore (libpq): comma lists in the environment, password not on argv
    env = libpq_env(url)
    assert (env["PGHOST"], env["PGPORT"]) == ("10.0.0.31,10.0.0.32", "5432,5433")
    assert (env["PGTARGETSESSIONATTRS"], env["PGPASSWORD"], env["PGDATABASE"]) == (
        "read-write",
        "p@ss",
        "market",
    )


def test_a_host_without_a_port_gets_postgresqls_and_one_host_is_left_alone() -> None:
    assert (
        normalize_database_url("postgresql://u:p@a,b:6543/m")
        == "postgresql+asyncpg://u:p@/m?host=a:5432&host=b:6543"
    )
    assert normalize_database_url("postgresql://u:p@[::1]:5,[fd00::2]/m") == (
        "postgresql+asyncpg://u:p@/m?host=[::1]:5&host=[fd00::2]:5432"
    )
    one = "postgresql+asyncpg://u:p@db:5432/m?ssl=require"
    assert normalize_database_url(one) == one
    assert to_asyncpg_dsn(one) == "postgresql://u:p@db:5432/m?ssl=require"
    env = libpq_env(one)
    assert (env["PGHOST"], env["PGPORT"]) == ("db", "5432") and "PGTARGETSESSIONATTRS" not in env


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("postgresql://u:p@a:54x2,b/m", "'a:54x2' is not host:port"),
        ("postgresql://u:p@a:99999,b/m", "'a:99999' is not host:port"),
        ("postgresql://u:p@a,,b/m", "an empty host"),
        ("postgresql://u:p@a,b/m?host=c:1", "hosts listed both"),
        (
            "postgresql://u:p@a,b/m?target_session_attrs=readwrite",
            "target_session_attrs=readwrite is not one of",
        ),
        ("postgresql://u:p@[::1,b/m", "is not a host"),
    ],
)
def test_a_mistyped_host_list_is_refused_with_what_is_wrong(given: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: ") as refused:
        normalize_database_url(given)
    assert says in str(refused.value)


def test_the_read_url_is_named_in_its_own_errors() -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_READ_URL: "):
        normalize_database_url("postgresql://u:p@a,,b/m", name="DATABASE_READ_URL")
