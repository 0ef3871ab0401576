"""Point-in-time recovery, tested once (issue 23, item 5): a primary archiving its WAL, a
base backup taken before the app's migrations, bids through the API, a named restore
point, then a mistake (an operator deleting the bids outside the log) and a later bid;
the base backup is restored into a new directory and replayed from the archive up to the
restore point (and, a second time, up to the time noted with it). The restored server holds everything up to the point (the migrations, the
bids, the log) and nothing after it (the later bid, the deletion), and ``market log
verify`` passes on it.

The commands are the ones docs/deployment.md gives ("Backups and point-in-time
recovery"), in the same order: ``pg_basebackup -Ft -z -X stream -c fast``, the two
``tar -xzf``, the five lines appended to ``postgresql.auto.conf``, ``recovery.signal``;
once with ``recovery_target_name`` and once with ``recovery_target_time``, each into a new
directory from the same base backup. Only the machine-specific parts differ: here the connection is a conninfo string instead
of ``-h``/``-U`` with ``~/.pgpass``, the directories are the test's, and the restored
server is started with ``pg_ctl`` on a port of its own instead of ``pg_ctlcluster``. Keep
the two in step.

The two other tests run the document's other procedures with its commands: an old
primary re-attached after a failover with ``pg_rewind`` ("Unplanned failover", step 6),
and a planned switchover ("Planned switchover")."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from market.core.pgembed import free_port
from ops.cluster import REPLICATION_USER, Node, start_primary, start_standby
from tests.integration.reliability.helpers import make_cast, open_notice, start_servers

ROOT = Path(__file__).resolve().parents[3]
POINT = "before-the-mistake"
# docs/deployment.md, "Base backups": the first segment of the oldest base backup kept.
FIRST_WAL = (
    "tar -xzOf {base}/base.tar.gz backup_label | sed -n 's/^START WAL LOCATION: .*(file \\(.*\\))$/\\1/p'"
)


def as_postgres(node: Node, *args: str, timeout: float = 120) -> str:
    """A command as the server's own user (``postgres`` when we are root), as the docs
    run them in a shell of that user; its output, or the test fails with its error."""
    done = node.pg._run(list(args), timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}: {(done.stderr or done.stdout).strip()[-800:]}"
    return done.stdout


def wait_for(what: str, test: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not test():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.1)


def restored_node(primary: Node, root: Path) -> Node:
    """An empty node beside the primary: its password (the restored roles are the
    primary's) and a port of its own; its data directory is made by the restore."""
    node = Node(root, name="restored")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    node.pg._chown(root)
    node.pg._choose_data_dir()  # as root: somewhere the postgres user can reach
    shutil.copy(primary.pg.password_file, node.pg.password_file)
    node.pg.port_file.write_text(f"{free_port()}\n", encoding="ascii")
    return node


def restore(primary: Node, base: Path, archive: Path, root: Path, target: str) -> Node:
    """The base backup unpacked into a new data directory and replayed from the archive
    up to ``target``, then promoted: docs/deployment.md, "Point-in-time recovery"."""
    node = restored_node(primary, root)
    data = node.data
    as_postgres(node, "mkdir", "-m", "700", str(data))
    as_postgres(node, "tar", "-xzf", str(base / "base.tar.gz"), "-C", str(data))
    as_postgres(node, "tar", "-xzf", str(base / "pg_wal.tar.gz"), "-C", str(data / "pg_wal"))
    with (data / "postgresql.auto.conf").open("a", encoding="utf-8") as fh:
        fh.write(
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"{target}\n"
            "recovery_target_action = 'promote'\n"
            "archive_mode = 'off'\n"
            "synchronous_standby_names = ''\n"
        )
    as_postgres(node, "touch", str(data / "recovery.signal"))
    node.start()
    wait_for(f"{node.name} out of recovery", lambda: not node.in_recovery())
    return node


def market_log_verify(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``market log verify`` as an operator runs it on an app host: the restored
    database, the hosts' key."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    return subprocess.run(
        [sys.executable, "-m", "market.cli", "log", "verify"],
        cwd=ROOT,
        env={**environ, "DATABASE_URL": database_url, "MARKET_DATA_DIR": str(data_dir), "MARKET_ENV": "test"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.committing
async def test_a_base_backup_and_the_wal_archive_restore_the_database_to_a_point_in_time(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    primary = start_primary(tmp_path / "primary", archive=tmp_path / "wal-archive")
    assert primary.archive is not None
    archive = primary.archive
    # As deployed: a synchronous standby, named before the base backup, so the backup
    # carries synchronous_standby_names and the restore has to clear it.
    standby = start_standby(primary, tmp_path / "standby", synchronous=True)
    # Beside the clusters: a directory the postgres user can write even as root.
    base = primary.data.parent / "base-backup"
    server = None
    restored: list[Node] = []
    try:
        # -- the base backup, before the app has made a single table ----------------------
        password = (primary.root / "replication-password").read_text(encoding="ascii").strip()
        conninfo = f"host=127.0.0.1 port={primary.port} user={REPLICATION_USER} password={password}"
        as_postgres(primary, "mkdir", "-p", str(base))
        as_postgres(
            primary, str(primary.pg.bindir / "pg_basebackup"), "-d", conninfo, "-D", str(base),
            "-Ft", "-z", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        assert sorted(p.name for p in base.iterdir()) == ["backup_manifest", "base.tar.gz", "pg_wal.tar.gz"]
        # The first WAL segment the backup needs, read as the docs' clean-up reads it.
        first_wal = as_postgres(primary, "sh", "-c", FIRST_WAL.format(base=base)).strip()
        assert re.fullmatch(r"[0-9A-F]{24}", first_wal), first_wal

        # -- the app migrates the database and takes bids ---------------------------------
        data_dir = tmp_path / "app"
        (server,) = start_servers(primary.url, data_dir, [None], MARKET_SCHEDULER_INTERVAL="600")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            cast = await make_cast(client, primary.url, 3)
            notice_id = await open_notice(client, cast.owner, seconds=600, title="时间点恢复测试")
            kept = []
            for headers, _ in cast.agencies[:2]:
                answer = await client.post(f"/api/v1/notices/{notice_id}/bids", json={}, headers=headers)
                assert answer.status_code == 201, answer.text
                kept.append(answer.json()["bid_id"])
            entries_at_point = int(primary.sql("SELECT count(*) FROM log_entry"))

            # -- the restore point, then what should never have happened ------------------
            primary.sql(f"SELECT pg_create_restore_point('{POINT}')")
            # The time an operator would note instead ("just before 14:05"), then a
            # moment so that the later commit is after it.
            point_time = primary.sql("SELECT clock_timestamp()")
            await asyncio.sleep(0.05)
            late = await client.post(
                f"/api/v1/notices/{notice_id}/bids", json={}, headers=cast.agencies[2][0]
            )
            assert late.status_code == 201, late.text
        primary.sql(f"DELETE FROM bid WHERE public_id IN ({', '.join(repr(b) for b in kept)})")
        assert primary.sql("SELECT count(*) FROM bid") == "1"
        entries_at_end = int(primary.sql("SELECT count(*) FROM log_entry"))
        assert entries_at_end > entries_at_point
        # The segment holding all of it is finished and archived (archive_timeout would
        # do the same within a minute).
        segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())", database="postgres")
        wait_for(f"{segment} archived", lambda: (archive / segment).exists())
        server.stop()

        # -- the restore, as docs/deployment.md gives it, to the name and to the time ------
        targets = {
            "name": f"recovery_target_name = '{POINT}'",
            "time": f"recovery_target_time = '{point_time}'",
        }
        for kind, target in targets.items():
            node = restore(primary, base, archive, tmp_path / f"restored-by-{kind}", target)
            restored.append(node)
            log = node.log_file.read_text(errors="replace")
            stopped = (
                f'recovery stopping at restore point "{POINT}"'
                if kind == "name"
                else "recovery stopping before commit"
            )
            assert stopped in log, log[-2000:]

            # -- up to the point, and nothing after it -------------------------------------
            stored = node.sql("SELECT public_id FROM bid ORDER BY public_id").splitlines()
            assert stored == sorted(kept), (
                f"by {kind}: the deleted bids are back and the later one is not there"
            )
            assert int(node.sql("SELECT count(*) FROM log_entry")) == entries_at_point
            assert node.sql("SELECT max(seq) + 1 = count(*) FROM log_entry") == "t"
            assert node.sql("SELECT version_num FROM alembic_version") == primary.sql(
                "SELECT version_num FROM alembic_version"
            )
            verified = market_log_verify(node.url, data_dir)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            # It takes writes: the backup's synchronous_standby_names, cleared by the
            # restore, would have it wait for a standby it does not have.
            node.sql("CREATE TABLE written_after_the_restore (x int)", timeout=20)
            node.stop("fast")
        # The docs' clean-up of the archive keeps that segment and everything after it.
        assert (archive / first_wal).exists()
        removable = as_postgres(
            primary, str(primary.pg.bindir / "pg_archivecleanup"), "-n", str(archive), first_wal
        ).split()
        assert all(Path(f).name < first_wal for f in removable), (removable, first_wal)
        # The primary, which went on past the point, is a longer log than the restored one.
        assert int(primary.sql("SELECT count(*) FROM log_entry")) == entries_at_end
    finally:
        if server is not None:
            server.stop()
        for node in restored:
            node.stop("immediate")
            if node.pg.location_file.exists():
                shutil.rmtree(node.data.parent, ignore_errors=True)
        standby.stop("immediate")
        primary.stop("immediate")
    print(f"point-in-time recovery test: {time.monotonic() - began:.1f} s")


# -- re-attaching an old primary after a failover -------------------------------------------------

REWIND_GRANTS = [
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO rewind",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO rewind",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO rewind",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO rewind",
]


@pytest.mark.committing
def test_an_old_primary_with_writes_the_standby_never_had_is_rewound_and_follows_the_new_one(
    tmp_path: Path,
) -> None:
    """docs/deployment.md, "Unplanned failover", step 6, with its commands: the primary
    commits a row the standby never receives and dies; the standby is promoted and takes
    a write; ``pg_rewind`` (as the ``rewind`` role with the docs' grants, ``wal_log_hints``
    on) turns the old primary back to the new one's history, ``primary_conninfo`` and
    ``standby.signal`` make it a standby, and it becomes the new primary's synchronous
    standby: the row only it had is gone, the new primary's row is there."""
    began = time.monotonic()
    archive = tmp_path / "wal-archive"
    # Synchronous from the moment the standby is attached (start_standby names it).
    old = start_primary(tmp_path / "db1", archive=archive)
    new: Node | None = None
    try:
        assert old.archive is not None
        # docs/deployment.md's shared settings that the harness does not set itself
        old.sql("ALTER SYSTEM SET wal_log_hints = on", database="postgres")
        old.sql(f"ALTER SYSTEM SET restore_command = 'cp {old.archive}/%f %p'", database="postgres")
        old.stop("fast")
        old.start()
        assert old.sql("SHOW wal_log_hints", database="postgres") == "on"
        rewind_password = "rewind-" + os.urandom(8).hex()
        old.sql(f"CREATE ROLE rewind LOGIN PASSWORD '{rewind_password}'", database="postgres")
        for grant in REWIND_GRANTS:
            old.sql(grant, database="postgres")
        new = start_standby(old, tmp_path / "db2", name="standby", synchronous=True)
        old.sql("CREATE TABLE drill (what text)")
        old.sql("INSERT INTO drill VALUES ('acknowledged')")  # waits for the standby: on both

        # The standby goes away, the primary commits alone (a commit not waiting for it,
        # as one cut off would have written locally) and then dies.
        new.stop("fast")
        old.sql("SET synchronous_commit = local; INSERT INTO drill VALUES ('only on db1')")
        old.stop("immediate")

        # Failover: the standby is promoted, runs alone (step 3), takes a write.
        new.start()
        new.promote()
        new.sql("ALTER SYSTEM SET synchronous_standby_names = ''", database="postgres")
        new.sql("SELECT pg_reload_conf()", database="postgres")
        new.sql("INSERT INTO drill VALUES ('after the failover')")

        # Step 6: rewind the old primary from the new one, then make it its standby. The
        # CHECKPOINT first: pg_rewind reads the source's timeline from its control file,
        # which a promotion updates only at its next checkpoint (without it, seen here:
        # "no rewind required", and db1 then refuses to follow db2's timeline).
        new.sql("CHECKPOINT", database="postgres")
        as_postgres(
            old, str(old.pg.bindir / "pg_rewind"), f"--target-pgdata={old.data}",
            f"--source-server=host=127.0.0.1 port={new.port} user=rewind password={rewind_password} dbname=postgres",
            "--restore-target-wal", "--progress",
        )  # fmt: skip
        auto = old.data / "postgresql.auto.conf"
        as_postgres(
            old, "sed", "-i", "-e", "/^primary_conninfo/d", "-e", "/^synchronous_standby_names/d", str(auto)
        )
        replication_password = (old.root / "replication-password").read_text(encoding="ascii").strip()
        conninfo = (
            f"host=127.0.0.1 port={new.port} user={REPLICATION_USER} "
            f"password={replication_password} application_name=db1"
        )
        as_postgres(old, "sh", "-c", f"echo \"primary_conninfo = '{conninfo}'\" >> {auto}")
        as_postgres(old, "touch", str(old.data / "standby.signal"))
        old.start()
        wait_for(
            "db1 streaming from db2",
            lambda: old.sql("SELECT status FROM pg_stat_wal_receiver", database="postgres") == "streaming",
        )
        # Step 7: db2 names db1 synchronous again.
        new.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (db1, db2)'", database="postgres")
        new.sql("SELECT pg_reload_conf()", database="postgres")
        wait_for(
            "db1 the synchronous standby of db2",
            lambda: new.sql("SELECT sync_state FROM pg_stat_replication", database="postgres") == "sync",
        )
        new.sql("INSERT INTO drill VALUES ('on both again')")
        assert old.in_recovery()
        rows = old.sql("SELECT what FROM drill ORDER BY what").splitlines()
        assert rows == ["acknowledged", "after the failover", "on both again"], rows
    finally:
        if new is not None:
            new.stop("immediate")
        old.stop("immediate")
    print(f"rewind test: {time.monotonic() - began:.1f} s")


@pytest.mark.committing
def test_a_planned_switchover_moves_the_primary_without_losing_a_commit(tmp_path: Path) -> None:
    """docs/deployment.md, "Planned switchover", with its commands: db1 stopped cleanly,
    its last checkpoint read with ``pg_controldata``, db2 checked to have replayed past it
    and promoted, db1 made db2's standby without a rewind (the same three edits as after
    a failover), and db2 naming db1 synchronous: every row committed on db1 is on db2,
    and a row committed on db2 reaches db1."""
    began = time.monotonic()
    db1 = start_primary(tmp_path / "db1")
    db2: Node | None = None
    try:
        db2 = start_standby(db1, tmp_path / "db2", name="db2", synchronous=True)
        db1.sql("CREATE TABLE drill (what text)")
        db1.sql("INSERT INTO drill SELECT 'before the switchover ' || i FROM generate_series(1, 100) i")

        # Step 2: a clean stop, and where its last checkpoint is.
        db1.stop("fast")
        control = as_postgres(db1, str(db1.pg.bindir / "pg_controldata"), str(db1.data))
        assert re.search(r"^Database cluster state:\s+shut down$", control, re.M), control
        found = re.search(r"^Latest checkpoint location:\s+(\S+)$", control, re.M)
        assert found, control
        # Step 3: db2 has replayed past it (within moments of the stop); promoted.
        replayed = f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{found[1]}') > 0"
        wait_for("db2 past db1's last checkpoint", lambda: db2.sql(replayed) == "t", 10)
        db2.promote()
        # Step 4: db1 follows db2.
        auto = db1.data / "postgresql.auto.conf"
        as_postgres(
            db1, "sed", "-i", "-e", "/^primary_conninfo/d", "-e", "/^synchronous_standby_names/d", str(auto)
        )
        replication_password = (db1.root / "replication-password").read_text(encoding="ascii").strip()
        conninfo = (
            f"host=127.0.0.1 port={db2.port} user={REPLICATION_USER} "
            f"password={replication_password} application_name=db1"
        )
        as_postgres(db1, "sh", "-c", f"echo \"primary_conninfo = '{conninfo}'\" >> {auto}")
        as_postgres(db1, "touch", str(db1.data / "standby.signal"))
        db2.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (db1, db2)'", database="postgres")
        db2.sql("ALTER SYSTEM SET synchronous_commit = 'remote_apply'", database="postgres")
        db2.sql("SELECT pg_reload_conf()", database="postgres")
        db1.start()
        wait_for(
            "db1 the synchronous standby of db2",
            lambda: (
                db2.sql("SELECT application_name || '|' || sync_state FROM pg_stat_replication") == "db1|sync"
            ),
        )
        db2.sql("INSERT INTO drill VALUES ('after the switchover')")  # remote_apply: on db1 when it returns
        assert db1.in_recovery() and not db2.in_recovery()
        assert db2.sql("SELECT count(*) FROM drill") == "101"
        assert db1.sql("SELECT count(*) FROM drill WHERE what = 'after the switchover'") == "1"
    finally:
        if db2 is not None:
            db2.stop("immediate")
        db1.stop("immediate")
    print(f"switchover test: {time.monotonic() - began:.1f} s")
