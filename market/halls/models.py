"""The jurisdiction tree: one row per hall (the province, its prefectures and counties,
loaded from the GB/T 2260 reference by migration, and the development parks that
administrators add). Codes follow market/halls/rules.py."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column


class Jurisdiction(SQLModel, table=True):
    __tablename__ = "jurisdiction"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('province', 'prefecture', 'county', 'park')", name="kind_known"),
        sa.CheckConstraint("(kind = 'province') = (parent IS NULL)", name="root_has_no_parent"),
    )

    code: str = Field(sa_column=sa.Column(sa.String(12), primary_key=True))
    parent: str | None = Field(
        default=None,
        sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), nullable=True, index=True),
    )
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    name_zh: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    name_en: str = Field(sa_column=sa.Column(sa.String(160), nullable=False))
    # The GB/T 2260 division the hall lies in (a park: its parent's).
    region: str = Field(sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), nullable=False))
    # The staff contact line shown on the hall's page (咨询电话); empty until staff set it.
    contact_phone: str = Field(
        default="", sa_column=sa.Column(sa.String(40), nullable=False, server_default="")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class ParkCreate(SQLModel):
    """A development park (开发园区) to add under a prefecture or county (POST /api/v1/halls):
    its code is the parent's six digits and a suffix such as KF (market/halls/rules.py)."""

    parent: str = Field(max_length=12)
    code: str = Field(max_length=12)
    name_zh: str = Field(max_length=100)
    name_en: str = Field(max_length=160)
    reason: str = Field(default="", max_length=500)


class ContactUpdate(SQLModel):
    """A hall's staff contact line (咨询电话); empty clears it."""

    phone: str = Field(default="", max_length=40)
