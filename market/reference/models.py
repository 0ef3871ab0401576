"""Reference tables: the service catalogue with its qualification levels, and GB/T 2260
regions. Loaded by migration from market/reference/catalogue.py and regions.py; rows here
are what foreign keys point at."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ServiceCategory(SQLModel, table=True):
    __tablename__ = "service_category"

    code: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    name_zh: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    name_en: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    position: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))


class CategoryLevel(SQLModel, table=True):
    __tablename__ = "category_level"

    category: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("service_category.code"), primary_key=True)
    )
    code: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    name_zh: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name_en: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    rank: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))  # 0 = highest


class Region(SQLModel, table=True):
    __tablename__ = "region"

    code: str = Field(sa_column=sa.Column(sa.String(6), primary_key=True))
    name_zh: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    name_en: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    level: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    parent: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(6), sa.ForeignKey("region.code"), nullable=True)
    )
