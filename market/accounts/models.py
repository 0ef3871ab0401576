"""Users and their roles; input and output shapes kept apart from the table."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import re

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.db import timestamp_column, utcnow
from market.i18n import N_
from market import text

MIN_PASSWORD_LENGTH = 10
# Deliberately plain: the address is confirmed by use, not by a regular expression.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")
MAX_PASSWORD_LENGTH = 256


class Role(enum.StrEnum):
    owner = "owner"
    agency = "agency"
    supervisor = "supervisor"
    admin = "admin"


ROLE_LABELS = {
    Role.owner.value: N_("Project owner"),
    Role.agency.value: N_("Agency"),
    Role.supervisor.value: N_("Supervisor"),
    Role.admin.value: N_("Administrator"),
}
SELF_REGISTERED_ROLES = (Role.owner, Role.agency)
STAFF_ROLES = (Role.supervisor, Role.admin)


class UserBase(SQLModel):
    email: str = Field(max_length=254)
    name: str = Field(max_length=100)
    role: Role


class AppUser(UserBase, table=True):
    # "user" is reserved in PostgreSQL.
    __tablename__ = "app_user"
    __table_args__ = (
        sa.Index("uq_app_user_email_lower", sa.func.lower(sa.column("email")), unique=True),
        sa.CheckConstraint("role IN ('owner', 'agency', 'supervisor', 'admin')", name="role_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    role: Role = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))


class UserCreate(SQLModel):
    """What a person may send to register; validated (table models are not)."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    name: str = Field(min_length=1, max_length=100)
    role: Role

    @field_validator("email")
    @classmethod
    def email_plausible(cls, value: str) -> str:
        value = value.strip()
        if not EMAIL.match(value):
            raise ValueError(N_("Enter a valid e-mail address, such as name@example.cn."))
        return value

    @field_validator("name")
    @classmethod
    def name_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(N_("Enter a name."))
        return value

    @field_validator("password")
    @classmethod
    def password_long_enough(cls, value: str) -> str:
        if len(value) < MIN_PASSWORD_LENGTH:
            raise ValueError(N_("The password must be at least 10 characters long."))
        return value

    @field_validator("role")
    @classmethod
    def role_self_registrable(cls, value: Role) -> Role:
        if value not in SELF_REGISTERED_ROLES:
            raise ValueError(N_("Only project owners and agencies can register; staff accounts are created by an administrator."))
        return value

    _names = field_validator("name")(text.validate_name)


class LoginInput(SQLModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class UserPublic(SQLModel):
    id: str
    email: str
    name: str
    role: Role

    @classmethod
    def of(cls, user: AppUser) -> UserPublic:
        return cls(id=user.public_id, email=user.email, name=user.name, role=user.role)


class TokenPublic(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
