"""Issue 19, fair play and the remaining security holes: one migration, one section per part

Revision ID: 0009_fair_play
Revises: 0008_msp2
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0009_fair_play"
down_revision: str | None = "0008_msp2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _accounts_upgrade()
    _contracts_upgrade()
    _objections_upgrade()
    _notices_upgrade()


def downgrade() -> None:
    _notices_downgrade()
    _objections_downgrade()
    _contracts_downgrade()
    _accounts_downgrade()


# --- accounts: session versions, password change and reset, deactivation (item 8) ---
def _accounts_upgrade() -> None:
    # Tokens issued before this carry no version and are refused: everyone logs in once more.
    op.add_column("app_user", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_password_reset"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_password_reset_user_id_app_user"),
        sa.ForeignKeyConstraint(["issued_by"], ["app_user.id"], name="fk_password_reset_issued_by_app_user"),
        sa.UniqueConstraint("token_sha256", name="uq_password_reset_token_sha256"),
    )
    op.create_index("ix_password_reset_user_id", "password_reset", ["user_id"])


def _accounts_downgrade() -> None:
    op.drop_index("ix_password_reset_user_id", table_name="password_reset")
    op.drop_table("password_reset")
    op.drop_column("app_user", "session_version")


# --- contracts follow the award (item 1) ---
CONTRACT_STATUSES_8 = "status IN ('proposed', 'in_service', 'completed', 'stopped', 'declined')"
CONTRACT_STATUSES_9 = (
    "status IN ('proposed', 'in_service', 'completed', 'stopped', 'declined', 'disputed', 'set_aside')"
)
CONTRACT_DISPUTE_COLUMNS = (
    ("dispute_reason", sa.Text()),
    ("disputed_seq", sa.BigInteger()),
    ("disputed_at", sa.DateTime(timezone=True)),
    ("dispute_decision", sa.String(length=16)),
    ("dispute_decision_reason", sa.Text()),
    ("dispute_decided_by", sa.Integer()),
    ("dispute_decided_seq", sa.BigInteger()),
    ("dispute_decided_at", sa.DateTime(timezone=True)),
)


def _contracts_upgrade() -> None:
    for name, type_ in CONTRACT_DISPUTE_COLUMNS:
        op.add_column("contract", sa.Column(name, type_, nullable=True))
    op.create_foreign_key(
        op.f("fk_contract_dispute_decided_by_app_user"),
        "contract",
        "app_user",
        ["dispute_decided_by"],
        ["id"],
    )
    op.drop_constraint(op.f("ck_contract_status_known"), "contract", type_="check")
    op.create_check_constraint(op.f("ck_contract_status_known"), "contract", CONTRACT_STATUSES_9)
    op.create_check_constraint(
        op.f("ck_contract_dispute_decision_known"),
        "contract",
        "dispute_decision IS NULL OR dispute_decision IN ('terms_fine', 'terms_wrong')",
    )
    op.drop_index("uq_contract_live_award", table_name="contract")
    op.create_index(
        "uq_contract_live_award",
        "contract",
        ["award_id"],
        unique=True,
        postgresql_where=sa.text("status NOT IN ('declined', 'set_aside')"),
    )


def _contracts_downgrade() -> None:
    # Disputed contracts were waiting for the agency's answer; set-aside ones are over, as
    # declined ones are: the older schema knows only those.
    op.execute("UPDATE contract SET status = 'proposed' WHERE status = 'disputed'")
    op.execute("UPDATE contract SET status = 'declined' WHERE status = 'set_aside'")
    op.drop_index("uq_contract_live_award", table_name="contract")
    op.create_index(
        "uq_contract_live_award",
        "contract",
        ["award_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'declined'"),
    )
    op.drop_constraint(op.f("ck_contract_dispute_decision_known"), "contract", type_="check")
    op.drop_constraint(op.f("ck_contract_status_known"), "contract", type_="check")
    op.create_check_constraint(op.f("ck_contract_status_known"), "contract", CONTRACT_STATUSES_8)
    op.drop_constraint(op.f("fk_contract_dispute_decided_by_app_user"), "contract", type_="foreignkey")
    for name, _ in reversed(CONTRACT_DISPUTE_COLUMNS):
        op.drop_column("contract", name)


# --- objections with standing (item 5) ---
def _objections_upgrade() -> None:
    # Objections filed before this keep a NULL party: they were filed by any account, and
    # nothing recorded for which party; a NULL party is outside the unique index.
    op.add_column("objection", sa.Column("party", sa.String(length=16), nullable=True))
    op.add_column("objection", sa.Column("party_salt", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_objection_pending_party",
        "objection",
        ["notice_id", "party"],
        unique=True,
        postgresql_where=sa.text("status IN ('filed', 'answered')"),
    )


def _objections_downgrade() -> None:
    op.drop_index("uq_objection_pending_party", table_name="objection")
    op.drop_column("objection", "party_salt")
    op.drop_column("objection", "party")


# --- notices: terms fixed once a bid stands, cancellation with consent, self-dealing (items 2-4) ---
def _notices_upgrade() -> None:
    # A cancellation waits for a supervisor's consent (section 2 step 9 of docs/protocol/msp.md).
    op.add_column("notice", sa.Column("cancel_request_reason", sa.Text(), nullable=True))
    op.add_column("notice", sa.Column("cancel_requested_seq", sa.BigInteger(), nullable=True))
    op.add_column("notice", sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))
    # Self-dealing: an owner organisation's contact line, compared with its winners', and
    # the links an admin draws between an agency and an owner organisation.
    op.add_column(
        "owner_org", sa.Column("contact_phone", sa.String(length=40), server_default="", nullable=False)
    )
    op.create_table(
        "agency_org_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("linked_by", sa.Integer(), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_agency_org_link_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["owner_org.id"], name=op.f("fk_agency_org_link_org_id_owner_org")
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"], ["app_user.id"], name=op.f("fk_agency_org_link_linked_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_org_link")),
        sa.UniqueConstraint("agency_id", "org_id", name=op.f("uq_agency_org_link_agency_id_org_id")),
    )
    op.create_index(op.f("ix_agency_org_link_org_id"), "agency_org_link", ["org_id"], unique=False)


def _notices_downgrade() -> None:
    op.drop_index(op.f("ix_agency_org_link_org_id"), table_name="agency_org_link")
    op.drop_table("agency_org_link")
    op.drop_column("owner_org", "contact_phone")
    op.drop_column("notice", "cancel_requested_at")
    op.drop_column("notice", "cancel_requested_seq")
    op.drop_column("notice", "cancel_request_reason")
