"""the transparency log: entries, perfect-subtree hashes, checkpoints; insert-only

Revision ID: 0002_log
Revises: 0001_accounts
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0002_log"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_TABLES = ("log_entry", "log_subtree", "log_checkpoint")

# One append in one round trip (see market/log/store.py for why): lock, read the size, stamp
# the time, splice seq and ts into the canonical bytes the caller prepared, hash, and store
# the entry with every perfect subtree it completes. Each statement of a VOLATILE function
# takes a new snapshot, so the size is read after the lock is granted.
APPEND_FUNCTION = r"""
CREATE FUNCTION market_log_append(p_type text, p_notice_id text, p_head bytea, p_middle bytea, p_tail bytea)
RETURNS TABLE (seq bigint, ts text, entry bytea, leaf_hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
    stamp text;
    body bytea;
    leaf bytea;
    node bytea;
    sibling bytea;
    lvl int := 1;
BEGIN
    PERFORM pg_advisory_xact_lock(7193000002);
    SELECT coalesce(max(e.seq) + 1, 0) INTO n FROM log_entry e;
    stamp := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    body := p_head || convert_to(n::text, 'UTF8') || p_middle || convert_to(stamp, 'UTF8') || p_tail;
    leaf := sha256('\x00'::bytea || body);
    INSERT INTO log_entry (seq, type, notice_id, entry, leaf_hash) VALUES (n, p_type, p_notice_id, body, leaf);
    INSERT INTO log_subtree (level, idx, hash) VALUES (0, n, leaf);
    node := leaf;
    -- The new leaf completes the level-l subtree ending at it for every l up to the number
    -- of trailing zero bits of the new size.
    WHILE (n + 1) % (1::bigint << lvl) = 0 LOOP
        SELECT s.hash INTO sibling FROM log_subtree s WHERE s.level = lvl - 1 AND s.idx = (n >> (lvl - 1)) - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'log_subtree lacks level % index %', lvl - 1, (n >> (lvl - 1)) - 1;
        END IF;
        node := sha256('\x01'::bytea || sibling || node);
        INSERT INTO log_subtree (level, idx, hash) VALUES (lvl, n >> lvl, node);
        lvl := lvl + 1;
    END LOOP;
    RETURN QUERY SELECT n, stamp, body, leaf;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("notice_id", sa.String(64), nullable=True),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_log_entry"),
        sa.CheckConstraint("seq >= 0", name="ck_log_entry_seq_natural"),
        sa.CheckConstraint("octet_length(leaf_hash) = 32", name="ck_log_entry_leaf_hash_32"),
    )
    op.create_index("ix_log_entry_type_seq", "log_entry", ["type", "seq"])
    op.create_index(
        "ix_log_entry_notice_seq",
        "log_entry",
        ["notice_id", "seq"],
        postgresql_where=sa.text("notice_id IS NOT NULL"),
    )
    op.create_table(
        "log_subtree",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_log_subtree"),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_log_checkpoint"),
    )
    # History is never rewritten: not by the application, not by a stray migration, not by
    # a hand-typed statement. A superuser can still disable triggers; the signed
    # checkpoints and the verifier catch what that allows.
    op.execute(
        """
        CREATE FUNCTION market_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(APPEND_FUNCTION)
    for table in LOG_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION market_log_is_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION market_log_is_append_only()"
        )


def downgrade() -> None:
    for table in reversed(LOG_TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION market_log_is_append_only()")
    op.execute("DROP FUNCTION market_log_append(text, text, bytea, bytea, bytea)")
