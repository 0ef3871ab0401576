"""``market backup`` and ``market restore`` as the CLI runs them: a summary on stdout,
one line on stderr and an exit code when they fail."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from market.backup.archive import KEYS
from market.backup.dump import backup
from market.backup.errors import EXIT_DATABASE, EXIT_FAILED, BackupError
from market.backup.restore import restore
from market.core.config import Settings


def _guarded(work: Callable[[], int]) -> int:
    import asyncpg

    try:
        return work()
    except BackupError as exc:
        print(f"market: {exc}", file=sys.stderr)
        return exc.code
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, TimeoutError) as exc:
        print(f"market: the database failed: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except OSError as exc:  # a file that cannot be read or written: say which and why
        print(f"market: {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


def run_backup(settings: Settings, out: Path) -> int:
    def work() -> int:
        done = backup(settings, out)
        m = done.manifest
        cp = m["log"]["checkpoint"]
        for warning in done.warnings:
            print(f"market: warning: {warning}", file=sys.stderr)
        size = done.out.stat().st_size
        print(
            f"market: backed up database {m['database']['name']} to {done.out} ({size:,} bytes, {done.seconds:.1f} s)"
        )
        print(f"  log: {m['log']['entries']} entries; checkpoint {cp['size']} entries, root {cp['root']}")
        keys = [n.removeprefix(KEYS + "/") for n in m["files"] if n.startswith(KEYS + "/")]
        print(
            f"  keys: {', '.join(keys) or 'none'}; uploaded files: {m['uploads']['in_database']}, in the dump"
        )
        return 0

    return _guarded(work)


def run_restore(settings: Settings, source: Path, *, force: bool) -> int:
    def work() -> int:
        done = restore(settings, source, force=force)
        for warning in done.warnings:
            print(f"market: warning: {warning}", file=sys.stderr)
        how = (
            "created and restored"
            if done.created_database
            else ("replaced" if done.replaced_data else "restored")
        )
        print(
            f"market: {how} database {done.database} and {settings.data_dir} from {source} ({done.seconds:.1f} s)"
        )
        print(f"  keys: {', '.join(done.keys) or 'none'} (mode 0600)")
        if done.uploads:
            print(f"  uploaded files: {done.uploads} imported into the database from the archive's uploads/")
        r = done.report
        cp = done.checkpoint
        since = (
            f"; consistent with the backup's checkpoint of {cp['size']} entries"
            if cp and cp["size"] != r.size
            else ""
        )
        same = ", the backup's checkpoint" if cp and cp["size"] == r.size else ""
        print(f"  log verified: {r.size} entries, root {r.root}{same}{since}")
        return 0

    return _guarded(work)
