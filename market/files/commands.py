"""``market files import`` as the CLI runs it, and the same import run by ``market serve``
and ``market db upgrade`` after migrating."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from market.files import legacy


def report(done: legacy.Imported, uploads: Path, out: TextIO, err: TextIO) -> None:
    for problem in done.problems():
        print(f"market: {uploads.parent / problem}", file=err)
    print(
        f"market: files: {len(done.imported)} imported from {uploads}, {done.already} already in the database, "
        f"{done.unresolved} not found whole ({done.referenced} referenced)",
        file=out,
    )


def run_import(url: str, data_dir: Path) -> int:
    """``market files import``: 0 when every file the database refers to is in it now, 1
    (with each file that could not be imported named on stderr) when not."""
    uploads = data_dir / legacy.UPLOADS
    done = legacy.run(url, data_dir)
    report(done, uploads, sys.stdout, sys.stderr)
    if not done.ok:
        print(
            "market: the files named above were not imported (the others were); put the right ones "
            f"back under {uploads} and run `market files import` again",
            file=sys.stderr,
        )
        return 1
    return 0


def import_after_upgrade(url: str, data_dir: Path) -> None:
    """What ``market serve`` and ``market db upgrade`` do after migrating: when the data dir
    still has an uploads directory (a site upgraded from a version that kept files there),
    import what the database lacks. A file that cannot be imported is a warning, not a
    refusal to start: it was already unreadable, and the other files still go in."""
    uploads = data_dir / legacy.UPLOADS
    if not uploads.is_dir():
        return
    done = legacy.run(url, data_dir)
    if done.imported or not done.ok:
        report(done, uploads, sys.stderr, sys.stderr)
    if not done.ok:
        print(
            "market: warning: some uploaded files could not be imported into the database (named above); "
            "`market files import` retries them",
            file=sys.stderr,
        )
