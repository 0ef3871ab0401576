"""``market backup`` and ``market restore``: the database and the data directory in one archive.

A backup is a tar file (compressed as its name says) holding

- ``database.dump``: pg_dump's custom format, taken from one snapshot of the database,
  uploaded files included (they live in the database, market/files);
- ``keys/...``: the data directory's secret and keys (secret_key, log_signing_key.pem,
  receipt_signing_key.pem, secret_seal_key), those that exist there;
- ``uploads/...``: only in archives of older versions, which kept uploaded files on disk;
  restore imports them into the database, each checked against its row's SHA-256;
- ``manifest.json``: format version, time, database, the log's latest checkpoint in the
  dump, and the SHA-256, size and mode of every other file in the archive.

Restoring checks every hash before changing anything, refuses to overwrite a database that
holds data or keys that differ unless told to, restores the dump in one transaction, puts
the keys back (mode 0600) and verifies the restored log against the manifest.

The package: ``errors`` (exit codes and BackupError), ``archive`` (the archive's names and
manifest, read and checked without a database), ``pg`` (PostgreSQL's client programs and
what a backup or restore asks the database), ``dump`` (``market backup``), ``restore``
(``market restore``) and ``commands`` (both commands as the CLI runs them).
"""
