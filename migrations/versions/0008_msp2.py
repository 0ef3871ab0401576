"""MSP/2 sealed bids: a protocol version per notice and bid, no plaintext price or bid
document for MSP/2 bids (sealed material only), and the openings kept with the selection

Notices and bids that exist at the upgrade keep MSP/1 (protocol 1) for life; only notices
published from now on follow MSP/2. Nothing stored is rewritten.

Revision ID: 0008_msp2
Revises: 0007_witness
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0008_msp2"
down_revision: str | None = "0007_witness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows are MSP/1 (server default 1 while the column is added), new ones MSP/2.
    op.add_column("notice", sa.Column("protocol", sa.SmallInteger(), server_default="1", nullable=False))
    op.alter_column("notice", "protocol", server_default="2")
    op.add_column("notice", sa.Column("sealing", sa.String(length=8), nullable=True))
    op.add_column("notice", sa.Column("opened_seq", sa.BigInteger(), nullable=True))
    op.add_column("notice", sa.Column("tlock_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_notice_protocol_known"), "notice", "protocol IN (1, 2)")
    op.create_check_constraint(
        op.f("ck_notice_sealing_known"), "notice", "sealing IS NULL OR sealing IN ('server', 'tlock')"
    )

    op.add_column("bid", sa.Column("protocol", sa.SmallInteger(), server_default="1", nullable=False))
    op.alter_column("bid", "protocol", server_default="2")
    for column in ("nonce", "document", "bid_sha256", "receipt"):
        op.alter_column("bid", column, nullable=True)
    op.add_column("bid", sa.Column("commitment", sa.String(length=64), nullable=True))
    op.add_column("bid", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    op.add_column("bid", sa.Column("withdrawal_seq", sa.BigInteger(), nullable=True))
    op.add_column("bid", sa.Column("withdrawal_sealed", sa.LargeBinary(), nullable=True))
    # The database itself refuses an MSP/2 bid with a readable price or document.
    op.create_check_constraint(
        op.f("ck_bid_protocol_columns"),
        "bid",
        "(protocol = 1 AND document IS NOT NULL AND bid_sha256 IS NOT NULL AND receipt IS NOT NULL AND nonce IS NOT NULL) OR "
        "(protocol = 2 AND price_fen IS NULL AND document IS NULL AND nonce IS NULL AND bid_sha256 IS NULL "
        "AND receipt IS NULL AND commitment IS NOT NULL)",
    )

    op.add_column("selection", sa.Column("openings", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("selection", "openings")
    op.drop_constraint(op.f("ck_bid_protocol_columns"), "bid", type_="check")
    for column in ("withdrawal_sealed", "withdrawal_seq", "sealed", "commitment", "protocol"):
        op.drop_column("bid", column)
    for column in ("nonce", "document", "bid_sha256", "receipt"):
        op.alter_column("bid", column, nullable=False)
    op.drop_constraint(op.f("ck_notice_sealing_known"), "notice", type_="check")
    op.drop_constraint(op.f("ck_notice_protocol_known"), "notice", type_="check")
    op.drop_column("notice", "tlock_checked_at")
    op.drop_column("notice", "opened_seq")
    op.drop_column("notice", "sealing")
    op.drop_column("notice", "protocol")
