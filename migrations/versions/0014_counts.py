"""Issue 24, the administrators' counts at any size: accounts by role and place, agencies by
status with their pending qualifications, kept by triggers in the same transaction as every
change, instead of counted from every row on each visit of /admin/users, /admin/agencies
and the home page.

How the counts are kept (one design for both tables):
- Statement-level AFTER triggers with transition tables, so a statement changing many rows
  (the seed's COPY, a bulk fix) costs one aggregated change, not one per row. ENABLE ALWAYS:
  a load under ``session_replication_role = replica`` (ops/bench/seed.py does that to skip
  the row-by-row foreign-key checks) still keeps them; no logical replication applies rows
  to this schema, the only case ALWAYS would count twice.
- A change is added as a new row for its key, and the rows of that key that no other
  transaction holds are folded into it in the same statement (DELETE ... FOR UPDATE SKIP
  LOCKED, INSERT the sum). Writers therefore never wait for one another on a count, and a
  count taken after the log's append lock (an automatic suspension follows the award's log
  entry) cannot deadlock with one taken before it. Readers sum a key's rows: a few hundred
  at most, as many as keys plus the changes of concurrent transactions not yet folded.
- Each count is a sum of contributions that depend on one row and the current state of the
  rows it points to: an owner organisation moves its creator's count from no place to its
  hall, an agency its owner's from no place to its region, a pending qualification adds to
  its agency's status. The triggers on the pointing tables take FOR SHARE on the rows they
  read (app_user, agency), so a concurrent change of those rows waits or is waited for and
  both see each other's result.
- TRUNCATE of a counted table rebuilds the counts from the rows (``*_count_rebuild()``,
  which also fills them here).

Revision ID: 0014_counts
Revises: 0013_scale
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0014_counts"
down_revision: str | None = "0013_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _accounts_upgrade()
    _agencies_upgrade()


def downgrade() -> None:
    _agencies_downgrade()
    _accounts_downgrade()


def _triggers(table: str, function: str) -> list[str]:
    """One trigger per event (a trigger with transition tables takes one event), each
    firing even under ``session_replication_role = replica``, and one for TRUNCATE."""
    name = f"{function}_{table}"
    out = [
        f"CREATE TRIGGER {name}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}_{table}()",
        f"CREATE TRIGGER {name}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}_{table}()",
        f"CREATE TRIGGER {name}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}_{table}()",
        f"CREATE TRIGGER {name}_trunc AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}_truncated()",
    ]
    out += [f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}_{e}" for e in ("ins", "upd", "del", "trunc")]
    return out


# -- accounts: active accounts by role and place ---------------------------------------------
#
# An account's place, as market/accounts/rules.Place has it: a staff account's jurisdiction,
# an owner's organisation's hall, an agency account's agency's region; '' for an owner or
# agency account with neither yet (only the province reaches it).

_ACCOUNT_PLACE = """CASE
    WHEN u.role IN ('admin', 'supervisor') THEN coalesce(u.jurisdiction, '')
    WHEN u.role = 'owner' THEN coalesce((SELECT o.hall FROM owner_org o WHERE o.created_by = u.id), '')
    WHEN u.role = 'agency' THEN coalesce((SELECT a.region FROM agency a WHERE a.owner_id = u.id), '')
    ELSE '' END"""

_ACCOUNT_FUNCTIONS = [
    # The fold: one statement adds the change and takes in the key's rows no one else holds.
    """
CREATE FUNCTION account_count_add(p_role text[], p_place text[], p_n bigint[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
WITH delta AS (
    SELECT d.role, d.place, sum(d.n) AS n FROM unnest(p_role, p_place, p_n) AS d(role, place, n)
    GROUP BY d.role, d.place HAVING sum(d.n) <> 0
), gone AS (
    DELETE FROM account_count c WHERE c.id IN (
        SELECT k.id FROM account_count k JOIN delta d ON d.role = k.role AND d.place = k.place
        FOR UPDATE OF k SKIP LOCKED)
    RETURNING c.role, c.place, c.n
)
INSERT INTO account_count (role, place, n)
SELECT s.role, s.place, sum(s.n) FROM (
    SELECT role, place, n FROM delta UNION ALL SELECT role, place, n FROM gone) AS s
GROUP BY s.role, s.place HAVING sum(s.n) <> 0
$$""",
    f"""
CREATE FUNCTION account_count_rebuild() RETURNS void LANGUAGE sql VOLATILE AS $$
DELETE FROM account_count;
INSERT INTO account_count (role, place, n)
SELECT u.role, {_ACCOUNT_PLACE} AS place, count(*) FROM app_user u WHERE u.is_active GROUP BY 1, 2;
$$""",
    """
CREATE FUNCTION account_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM account_count_rebuild();
    RETURN NULL;
END $$""",
    # app_user: an account counts while active, at its role and place; only rows whose role,
    # activity or jurisdiction changed move (a session_version bump moves nothing).
    f"""
CREATE FUNCTION account_count_app_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM account_count_add(array_agg(d.role), array_agg(d.place), array_agg(d.n))
        FROM (SELECT u.role, {_ACCOUNT_PLACE} AS place, 1::bigint AS n
              FROM new_rows u WHERE u.is_active) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM account_count_add(array_agg(d.role), array_agg(d.place), array_agg(d.n))
        FROM (SELECT u.role, {_ACCOUNT_PLACE} AS place, -1::bigint AS n
              FROM old_rows u WHERE u.is_active) AS d;
    ELSE
        PERFORM account_count_add(array_agg(d.role), array_agg(d.place), array_agg(d.n))
        FROM (
            WITH moved AS (
                SELECT coalesce(o.id, n.id) AS id FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
                WHERE o.id IS NULL OR n.id IS NULL
                   OR (o.role, o.is_active, o.jurisdiction) IS DISTINCT FROM (n.role, n.is_active, n.jurisdiction)
            )
            SELECT u.role, {_ACCOUNT_PLACE} AS place, -1::bigint AS n
            FROM old_rows u WHERE u.is_active AND u.id IN (SELECT id FROM moved)
            UNION ALL
            SELECT u.role, {_ACCOUNT_PLACE} AS place, 1::bigint AS n
            FROM new_rows u WHERE u.is_active AND u.id IN (SELECT id FROM moved)
        ) AS d;
    END IF;
    RETURN NULL;
END $$""",
    # owner_org and agency point at their account: each row moves its account (when active
    # and of the role) from no place to the row's hall or region. The accounts are locked
    # FOR SHARE, in id order: a concurrent change of their activity or role then waits for
    # this transaction and sees the row, or this waits for that change and sees it.
    """
CREATE FUNCTION account_count_placed(p_role text, p_user integer[], p_place text[], p_sign bigint[])
RETURNS void LANGUAGE sql VOLATILE AS $$
WITH placed AS (
    SELECT r.user_id, r.place, r.sign FROM unnest(p_user, p_place, p_sign) AS r(user_id, place, sign)
), holder AS (
    SELECT u.id, u.role, u.is_active FROM app_user u
    WHERE u.id IN (SELECT user_id FROM placed) ORDER BY u.id FOR SHARE OF u
)
SELECT account_count_add(array_agg(d.role), array_agg(d.place), array_agg(d.n)) FROM (
    SELECT p_role AS role, '' AS place, -r.sign AS n
    FROM placed r JOIN holder h ON h.id = r.user_id WHERE h.role = p_role AND h.is_active
    UNION ALL
    SELECT p_role, coalesce(r.place, ''), r.sign
    FROM placed r JOIN holder h ON h.id = r.user_id WHERE h.role = p_role AND h.is_active
) AS d
$$""",
]


def _placing(table: str, user: str, place: str, role: str) -> str:
    """The trigger function of a table whose rows place their account (owner_org, agency):
    only rows whose account or place changed move anything."""
    return f"""
CREATE FUNCTION account_count_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM account_count_placed('{role}', array_agg(r.{user}), array_agg(r.{place}::text), array_agg(1::bigint))
        FROM new_rows r;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM account_count_placed('{role}', array_agg(r.{user}), array_agg(r.{place}::text), array_agg(-1::bigint))
        FROM old_rows r;
    ELSE
        PERFORM account_count_placed('{role}', array_agg(r.user_id), array_agg(r.place), array_agg(r.sign))
        FROM (
            WITH moved AS (
                SELECT coalesce(o.id, n.id) AS id FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
                WHERE o.id IS NULL OR n.id IS NULL OR (o.{user}, o.{place}) IS DISTINCT FROM (n.{user}, n.{place})
            )
            SELECT o.{user} AS user_id, o.{place}::text AS place, -1::bigint AS sign
            FROM old_rows o WHERE o.id IN (SELECT id FROM moved)
            UNION ALL
            SELECT n.{user}, n.{place}::text, 1::bigint FROM new_rows n WHERE n.id IN (SELECT id FROM moved)
        ) AS r;
    END IF;
    RETURN NULL;
END $$"""


_ACCOUNT_TABLES = ("app_user", "owner_org", "agency")


def _accounts_upgrade() -> None:
    op.create_table(
        "account_count",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("place", sa.String(12), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_count"),
    )
    for statement in [
        *_ACCOUNT_FUNCTIONS,
        _placing("owner_org", "created_by", "hall", "owner"),
        _placing("agency", "owner_id", "region", "agency"),
    ]:
        op.execute(statement)
    for table in _ACCOUNT_TABLES:
        for statement in _triggers(table, "account_count"):
            op.execute(statement)
    op.execute("SELECT account_count_rebuild()")


def _accounts_downgrade() -> None:
    for table in _ACCOUNT_TABLES:
        for event in ("ins", "upd", "del", "trunc"):
            op.execute(f"DROP TRIGGER account_count_{table}_{event} ON {table}")
    for function in (
        "account_count_agency()",
        "account_count_owner_org()",
        "account_count_placed(text, integer[], text[], bigint[])",
        "account_count_app_user()",
        "account_count_truncated()",
        "account_count_rebuild()",
        "account_count_add(text[], text[], bigint[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("account_count")


# -- agencies: agencies by status, and the pending qualifications of each status's agencies ---
#
# The review page's totals: agencies waiting (status pending) and qualification changes
# waiting (pending qualifications of agencies not pending), and the counts by status.

_PENDING_OF = "(SELECT count(*) FROM qualification q WHERE q.agency_id = a.id AND q.status = 'pending')"

_AGENCY_FUNCTIONS = [
    """
CREATE FUNCTION agency_count_add(p_status text[], p_agencies bigint[], p_pending bigint[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
WITH delta AS (
    SELECT d.status, sum(d.agencies) AS agencies, sum(d.pending) AS pending
    FROM unnest(p_status, p_agencies, p_pending) AS d(status, agencies, pending)
    GROUP BY d.status HAVING sum(d.agencies) <> 0 OR sum(d.pending) <> 0
), gone AS (
    DELETE FROM agency_count c WHERE c.id IN (
        SELECT k.id FROM agency_count k JOIN delta d ON d.status = k.status FOR UPDATE OF k SKIP LOCKED)
    RETURNING c.status, c.agencies, c.pending_qualifications AS pending
)
INSERT INTO agency_count (status, agencies, pending_qualifications)
SELECT s.status, sum(s.agencies), sum(s.pending) FROM (
    SELECT status, agencies, pending FROM delta UNION ALL SELECT status, agencies, pending FROM gone) AS s
GROUP BY s.status HAVING sum(s.agencies) <> 0 OR sum(s.pending) <> 0
$$""",
    f"""
CREATE FUNCTION agency_count_rebuild() RETURNS void LANGUAGE sql VOLATILE AS $$
DELETE FROM agency_count;
INSERT INTO agency_count (status, agencies, pending_qualifications)
SELECT a.status, count(*), coalesce(sum({_PENDING_OF}), 0) FROM agency a GROUP BY a.status;
$$""",
    """
CREATE FUNCTION agency_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM agency_count_rebuild();
    RETURN NULL;
END $$""",
    # agency: one at its status, with its pending qualifications; only a change of status
    # moves anything.
    f"""
CREATE FUNCTION agency_count_agency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM agency_count_add(array_agg(d.status), array_agg(d.agencies), array_agg(d.pending))
        FROM (SELECT a.status::text, 1::bigint AS agencies, {_PENDING_OF} AS pending FROM new_rows a) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM agency_count_add(array_agg(d.status), array_agg(d.agencies), array_agg(d.pending))
        FROM (SELECT a.status::text, -1::bigint AS agencies, -{_PENDING_OF} AS pending FROM old_rows a) AS d;
    ELSE
        PERFORM agency_count_add(array_agg(d.status), array_agg(d.agencies), array_agg(d.pending))
        FROM (
            WITH moved AS (
                SELECT coalesce(o.id, n.id) AS id FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
                WHERE o.id IS NULL OR n.id IS NULL OR o.status IS DISTINCT FROM n.status
            )
            SELECT a.status::text, -1::bigint AS agencies, -{_PENDING_OF} AS pending
            FROM old_rows a WHERE a.id IN (SELECT id FROM moved)
            UNION ALL
            SELECT a.status::text, 1::bigint, {_PENDING_OF} FROM new_rows a WHERE a.id IN (SELECT id FROM moved)
        ) AS d;
    END IF;
    RETURN NULL;
END $$""",
    # qualification: a pending one adds to its agency's status. The agencies are locked FOR
    # SHARE (a concurrent change of their status waits, or is waited for and seen).
    """
CREATE FUNCTION agency_count_pending(p_agency integer[], p_sign bigint[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
WITH counted AS (
    SELECT r.agency_id, r.sign FROM unnest(p_agency, p_sign) AS r(agency_id, sign)
), holder AS (
    SELECT a.id, a.status FROM agency a WHERE a.id IN (SELECT agency_id FROM counted) ORDER BY a.id FOR SHARE OF a
)
SELECT agency_count_add(array_agg(h.status::text), array_agg(0::bigint), array_agg(r.sign))
FROM counted r JOIN holder h ON h.id = r.agency_id
$$""",
    """
CREATE FUNCTION agency_count_qualification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM agency_count_pending(array_agg(r.agency_id), array_agg(1::bigint))
        FROM new_rows r WHERE r.status = 'pending';
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM agency_count_pending(array_agg(r.agency_id), array_agg(-1::bigint))
        FROM old_rows r WHERE r.status = 'pending';
    ELSE
        PERFORM agency_count_pending(array_agg(r.agency_id), array_agg(r.sign))
        FROM (
            WITH moved AS (
                SELECT coalesce(o.id, n.id) AS id FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
                WHERE o.id IS NULL OR n.id IS NULL
                   OR (o.agency_id, o.status) IS DISTINCT FROM (n.agency_id, n.status)
            )
            SELECT o.agency_id, -1::bigint AS sign FROM old_rows o
            WHERE o.status = 'pending' AND o.id IN (SELECT id FROM moved)
            UNION ALL
            SELECT n.agency_id, 1::bigint FROM new_rows n
            WHERE n.status = 'pending' AND n.id IN (SELECT id FROM moved)
        ) AS r;
    END IF;
    RETURN NULL;
END $$""",
]

_AGENCY_TABLES = ("agency", "qualification")


def _agencies_upgrade() -> None:
    op.create_table(
        "agency_count",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agencies", sa.BigInteger(), nullable=False),
        sa.Column("pending_qualifications", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agency_count"),
    )
    for statement in _AGENCY_FUNCTIONS:
        op.execute(statement)
    for table in _AGENCY_TABLES:
        for statement in _triggers(table, "agency_count"):
            op.execute(statement)
    op.execute("SELECT agency_count_rebuild()")
    # The review queue's oldest waiting agencies by the index, not by sorting every one.
    op.create_index(
        "ix_agency_pending_updated",
        "agency",
        ["updated_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def _agencies_downgrade() -> None:
    op.drop_index("ix_agency_pending_updated", table_name="agency")
    for table in _AGENCY_TABLES:
        for event in ("ins", "upd", "del", "trunc"):
            op.execute(f"DROP TRIGGER agency_count_{table}_{event} ON {table}")
    for function in (
        "agency_count_qualification()",
        "agency_count_pending(integer[], bigint[])",
        "agency_count_agency()",
        "agency_count_truncated()",
        "agency_count_rebuild()",
        "agency_count_add(text[], bigint[], bigint[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("agency_count")
