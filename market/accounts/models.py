"""Users and their roles; input and output shapes kept apart from the table."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from market.core import text
from market.core.clock import utcnow
from market.core.db import timestamp_column
from market.core.i18n import N_

MIN_PASSWORD_LENGTH = 10
# Deliberately plain: the address is confirmed by use, not by a regular expression.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")
MAX_PASSWORD_LENGTH = 256


class HasRole(Protocol):
    """Anyone who holds a role: a loaded user or a token's principal (permission checks take either)."""

    @property
    def role(self) -> str: ...


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


def check_password(value: str) -> str:
    """The password rules, one place for registration, change and reset (the upper bound
    is the input models' max_length, which keeps argon2 from hashing megabytes)."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(N_("The password must be at least 10 characters long."))
    return value


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
        # Staff powers reach one jurisdiction and everything below it (market/halls/rules.py).
        sa.CheckConstraint(
            "role IN ('owner', 'agency') OR jurisdiction IS NOT NULL", name="staff_have_jurisdiction"
        ),
        # A scoped administrator's accounts page: a hall's staff in id order (migration 0016).
        sa.Index("ix_app_user_jurisdiction_id", "jurisdiction", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, unique=True))
    role: Role = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    # Carried in every token as "ver" and compared on every authenticated request: raising
    # it (log-out, a password change or reset, deactivation) ends every session at once.
    session_version: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # Staff only: the hall whose tree their powers reach (granted, moved and revoked through the log).
    jurisdiction: str | None = Field(
        default=None,
        sa_column=sa.Column(sa.String(12), sa.ForeignKey("jurisdiction.code"), nullable=True),
    )


class AccountCount(SQLModel, table=True):
    """Active accounts by role and place, kept by triggers in the same transaction as every
    change of app_user, owner_org and agency (migration 0014 says how): the administrators'
    counts read these few hundred rows instead of every account. A key may have several
    rows (changes of concurrent transactions not yet folded together): read their sum.

    ``place`` is the account's place (rules.Place): a staff account's jurisdiction, an
    owner's organisation's hall, an agency account's agency's region; '' for neither yet."""

    __tablename__ = "account_count"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    place: str = Field(sa_column=sa.Column(sa.String(12), nullable=False))
    n: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class PasswordReset(SQLModel, table=True):
    """A one-time link to set a new password: only the token's SHA-256 is kept, so a copy
    of the database opens no account. A link is good once, until it expires, and only
    while it is the account's newest (issuing another supersedes it)."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True)
    )
    token_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    # The administrator who issued it; None for a link the person asked for (by e-mail, later).
    issued_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("app_user.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column(nullable=False))
    expires_at: datetime = Field(sa_column=timestamp_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    superseded_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


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
        return check_password(value)

    @field_validator("role")
    @classmethod
    def role_self_registrable(cls, value: Role) -> Role:
        if value not in SELF_REGISTERED_ROLES:
            raise ValueError(
                N_(
                    "Only project owners and agencies can register; staff accounts are created by an administrator."
                )
            )
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


class UserAdminView(UserPublic):
    """An account as administrators see it: with whether it may log in."""

    active: bool

    @classmethod
    def of(cls, user: AppUser) -> UserAdminView:
        return cls(id=user.public_id, email=user.email, name=user.name, role=user.role, active=user.is_active)


class PasswordChange(SQLModel):
    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)

    _rules = field_validator("new_password")(check_password)


class PasswordResetInput(SQLModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)

    _rules = field_validator("new_password")(check_password)


class AccountDecision(SQLModel):
    """Why an administrator deactivates, reactivates or issues a reset link: published."""

    reason: str = Field(max_length=500)

    @field_validator("reason")
    @classmethod
    def reason_given(cls, value: str) -> str:
        value = text.clean_name(value)
        if not value:
            raise ValueError(N_("Give a reason; it is published in the log."))
        return value


class ResetLinkPublic(SQLModel):
    """Shown once to the administrator who issued it; the server keeps only its hash."""

    user_id: str
    token: str
    path: str
    url: str  # the path on the configured public address (MARKET_PUBLIC_URL)
    expires_at: datetime


class StaffGrant(SQLModel):
    """An administrator creates a staff account at a hall; the person sets their own
    password with the one-time link the answer carries."""

    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=100)
    role: Role
    jurisdiction: str = Field(min_length=1, max_length=12)

    @field_validator("email")
    @classmethod
    def email_plausible(cls, value: str) -> str:
        return UserCreate.email_plausible(value)

    @field_validator("name")
    @classmethod
    def name_not_blank(cls, value: str) -> str:
        return UserCreate.name_not_blank(value)

    _names = field_validator("name")(text.validate_name)


class StaffMove(SQLModel):
    """Where a staff account's powers move, and why (published)."""

    jurisdiction: str = Field(min_length=1, max_length=12)
    reason: str = Field(max_length=500)

    @field_validator("reason")
    @classmethod
    def reason_given(cls, value: str) -> str:
        return AccountDecision.reason_given(value)


class StaffPublic(SQLModel):
    """A staff account as administrators see it: its role and the hall its powers reach."""

    id: str
    email: str
    name: str
    role: Role
    jurisdiction: str | None
    active: bool

    @classmethod
    def of(cls, user: AppUser) -> StaffPublic:
        return cls(
            id=user.public_id,
            email=user.email,
            name=user.name,
            role=user.role,
            jurisdiction=user.jurisdiction,
            active=user.is_active,
        )


class StaffGranted(StaffPublic):
    """The new staff account and its one-time set-password link (shown once)."""

    password_link: ResetLinkPublic
