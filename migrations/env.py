"""Alembic environment: async, over SQLModel.metadata with every model imported."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import market.models  # noqa: F401  (registers every table on SQLModel.metadata)
from market.core.db import MIGRATIONS

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        # Two servers starting at once must not both migrate.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7193000001)")
        context.run_migrations()


async def run_migrations_online() -> None:
    # No time limit whatever the role's (a migration may move much data, and a second
    # server waits here for the first one's): docs/reliability.md, "Timeouts".
    engine = create_async_engine(
        config.get_main_option("sqlalchemy.url"),
        connect_args={"server_settings": MIGRATIONS.server_settings()},
    )
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
