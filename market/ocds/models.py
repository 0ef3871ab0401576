"""Every OCDS release ever published, kept forever (docs/ocds.md, "Releases kept forever").

A release is stored the first time it exists: when the transaction that changed its stage
commits (the hook registered below) and, for data from before this table, the first time
it is served. Rows are never changed or deleted (a trigger refuses it, migration 0011), so
a harvester that used ``since`` can always fetch again every release it once held.

The body is the release's JSON with two tokens in place of what the deployment decides,
``⟦ocid⟧`` (the ocid prefix) and ``⟦base⟧`` (the public URL), filled in when served: the
bytes served follow MARKET_OCID_PREFIX and MARKET_PUBLIC_URL, never a request's Host.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core import db
from market.core.db import timestamp_column

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class OcdsRelease(SQLModel, table=True):
    __tablename__ = "ocds_release"

    key: str = Field(sa_column=sa.Column(sa.String(120), primary_key=True))  # the id without the prefix
    notice_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("notice.id"), nullable=False, index=True)
    )
    stage: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))  # the log entry that made it
    date: datetime = Field(sa_column=timestamp_column(nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    kept_at: datetime = Field(sa_column=timestamp_column(nullable=False))


async def _keep_before_commit(session: AsyncSession) -> None:
    from market.ocds import store  # the builder imports every domain's models: only when needed

    await store.keep_changed(session)


db.BEFORE_COMMIT.append(_keep_before_commit)
