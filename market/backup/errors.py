"""Exit codes of ``market backup`` and ``market restore``, and the error that carries one.

Light on purpose: the CLI's parser imports this module for its help text, and every
``market`` command should start quickly."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_ARCHIVE = 3
EXIT_IN_USE = 4
EXIT_DATABASE = 5
EXIT_VERIFY = 6
EXIT_CODES_HELP = """exit codes:
  0  done (restore: the restored log verifies and matches the backup's checkpoint)
  1  a setting or a file is wrong (unwritable --out, another MARKET_LOG_ORIGIN, a missing key)
  2  wrong arguments
  3  restore: the archive is not a market backup, or is truncated or corrupted; nothing was changed
  4  restore: the database holds data, or the data dir holds other keys; nothing was changed (--force replaces them)
  5  the database cannot be reached, or pg_dump, pg_restore or psql failed (a failed restore changes nothing)
  6  the log does not verify: with the data dir's key (backup) or after the restore"""


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
