"""Owners' ratings of completed or stopped contracts, the agency's one reply, and a
supervisor's voiding (with a reason) of a rating that should not count."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.core.clock import utcnow
from market.core.db import timestamp_column
from market.core.i18n import N_
from market.notices.models import exact_int

# The five dimensions of the provincial platforms, 1 to 5 each.
DIMENSIONS = ("quality", "timeliness", "attitude", "fees", "compliance")
DIMENSION_LABELS = {
    "quality": N_("Service quality (服务质量)"),
    "timeliness": N_("Timeliness (服务时效)"),
    "attitude": N_("Attitude (服务态度)"),
    "fees": N_("Reasonable fees (收费合理)"),
    "compliance": N_("Professional compliance (执业规范)"),
}


class Rating(SQLModel, table=True):
    __tablename__ = "rating"
    __table_args__ = tuple(
        sa.CheckConstraint(f"{d} BETWEEN 1 AND 5", name=f"{d}_in_range") for d in DIMENSIONS
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    contract_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("contract.id"), nullable=False, unique=True)
    )
    agency_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("agency.id"), nullable=False, index=True)
    )
    quality: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    timeliness: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    attitude: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    fees: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    compliance: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    rated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    reply: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    replied_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    void_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    voided_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=True)
    )


# -- input -------------------------------------------------------------------------------------


class RatingInput(SQLModel):
    quality: int
    timeliness: int
    attitude: int
    fees: int
    compliance: int
    comment: str = Field(default="", max_length=5000)

    _exact = field_validator(*DIMENSIONS, mode="before")(exact_int)


class ReplyInput(SQLModel):
    reply: str = Field(min_length=2, max_length=5000)


class VoidInput(SQLModel):
    reason: str = Field(min_length=5, max_length=2000)
