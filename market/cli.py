"""The ``market`` command: serve, database, users, demo data."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from market.core.config import ConfigError, Settings
from market.core.pgembed import EmbeddedPostgres, EmbeddedPostgresError, database_url_for

# The production setting: uvloop's event loop and httptools' HTTP parser (both in
# uvicorn[standard]) named, so a missing one fails at start rather than silently falling
# back to the slower pure-Python pair.
# proxy_headers off: uvicorn's default believes X-Forwarded-For from 127.0.0.1 and rewrites
# the client's address with it, so a client on the same machine (or behind a proxy on it)
# could name a fresh address per log-in attempt and never meet the rate limit. The address
# is decided in one place, security.ratelimit.client_address, by MARKET_TRUSTED_PROXIES.
SERVER_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools", "proxy_headers": False}


def _fail(message: str) -> int:
    print(f"market: {message}", file=sys.stderr)
    return 1


def _run_with_session(url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in one committed transaction against ``url``."""
    from market.core.db import Database

    async def main() -> Any:
        db = Database.from_url(url)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    from dataclasses import replace

    import uvicorn

    from market.app import create_app, freeze_startup_objects
    from market.core.db import upgrade

    if args.workers < 1:
        return _fail("--workers must be at least 1")
    cluster: EmbeddedPostgres | None = None
    url = settings.database_url
    if not url:
        cluster = EmbeddedPostgres(settings.data_dir / "postgres")
        print(f"market: starting the private PostgreSQL under {cluster.root}", file=sys.stderr)
        url = cluster.start()
    # uvicorn handles SIGINT and SIGTERM itself; until it runs, make SIGTERM behave like
    # Ctrl-C so that the cleanup below still stops the private cluster.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        upgrade(url)
        _import_files(url, settings)
        settings = replace(settings, database_url=url)
        if args.demo:
            from market.demo import load_demo

            _run_with_session(url, lambda s: load_demo(s, settings=settings, out=sys.stdout))
        host = args.host or settings.host
        port = args.port or settings.port
        # Without MARKET_PUBLIC_URL (development) the absolute URLs and allowed hosts follow
        # the address actually bound.
        settings = replace(settings, host=host, port=port)
        app = create_app(settings)  # also creates the keys and the secret once, before any worker
        if args.workers > 1:
            # Each worker is a fresh process that builds its own app from the environment
            # (uvicorn needs an import string for that), on the database started above;
            # the data dir's keys and secret are shared through the files made just now.
            os.environ.update(DATABASE_URL=url, MARKET_HOST=host, MARKET_PORT=str(port))
            print(f"market: serving on http://{host}:{port} with {args.workers} workers", file=sys.stderr)
            uvicorn.run(
                "market.app:app_from_env",
                factory=True,
                workers=args.workers,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
                **SERVER_OPTIONS,
            )
        else:
            print(f"market: serving on http://{host}:{port}", file=sys.stderr)
            freeze_startup_objects()
            uvicorn.run(
                app, host=host, port=port, log_config=None, access_log=False, lifespan="on", **SERVER_OPTIONS
            )
    except KeyboardInterrupt:
        pass
    finally:
        if cluster is not None and cluster.started_here:
            print("market: stopping the private PostgreSQL", file=sys.stderr)
            cluster.stop()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from market.core.db import upgrade

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url, args.revision)
        if args.revision == "head":
            _import_files(url, settings)
    print(f"market: database at {args.revision}")
    return 0


def _import_files(url: str, settings: Settings) -> None:
    """After migrating: files an older version kept under MARKET_DATA_DIR/uploads go into
    the database, so that upgrading needs no step of its own (market/files/legacy.py)."""
    from market.files.commands import import_after_upgrade

    import_after_upgrade(url, settings.data_dir)


def cmd_files_import(args: argparse.Namespace, settings: Settings) -> int:
    from market.core.db import upgrade
    from market.files.commands import run_import

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        return run_import(url, settings.data_dir)


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from market.accounts import service
    from market.accounts.models import Role
    from market.core.db import upgrade
    from market.core.errors import DomainError

    password = args.password or os.environ.get("MARKET_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        try:
            user = _run_with_session(
                url,
                lambda s: service.create_staff(
                    s,
                    email=args.email,
                    password=password,
                    name=args.name or args.email.split("@")[0],
                    role=Role(args.role),
                    jurisdiction=args.jurisdiction,
                ),
            )
        except DomainError as exc:
            details = "; ".join(f"{e.field}: {e.text()}" for e in exc.errors)
            return _fail(exc.text() + (f" ({details})" if details else ""))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            from pydantic import ValidationError

            from market.core.errors import validation_errors

            if isinstance(exc, ValidationError):
                return _fail("; ".join(f"{e.field}: {e.message}" for e in validation_errors(exc)))
            raise
    print(f"created {user.role} {user.public_id} <{user.email}>")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from market.core.db import upgrade
    from market.demo import load_demo

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        _run_with_session(url, lambda s: load_demo(s, settings=settings, out=sys.stdout))
    return 0


def cmd_log_verify(args: argparse.Namespace, settings: Settings) -> int:
    from market.protocol import verifier

    since = verifier.read_since(args.since)
    progress = None if args.json else verifier.progress_bar()
    if args.url:
        report = verifier.verify(
            verifier.HttpSource(args.url),
            since=since,
            progress=progress,
            canonical=args.canonical,
            notice=args.notice,
            notices=not args.log_only,
            state=args.state,
        )
        return verifier.emit(report, as_json=args.json)

    from market.core.db import upgrade
    from market.log.signer import LogSigner
    from market.log.verify_db import DatabaseSource

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        source = DatabaseSource(url, LogSigner.from_data_dir(settings.log_origin, settings.data_dir))
        try:
            report = verifier.verify(
                source,
                since=since,
                progress=progress,
                canonical=args.canonical,
                notice=args.notice,
                notices=not args.log_only,
                state=args.state,
            )
        finally:
            source.close()
    return verifier.emit(report, as_json=args.json)


def cmd_log_witness(args: argparse.Namespace, settings: Settings) -> int:
    from market.protocol import witness

    return witness.run(args.url, args.state, key=args.key)


def cmd_log_cosign(args: argparse.Namespace, settings: Settings) -> int:
    from market.protocol import cosign

    return cosign.run_cosign(
        args.url,
        args.key,
        args.name,
        state_dir=args.state,
        token=args.token or os.environ.get("MARKET_TOKEN"),
        register=args.register,
        print_public_key=args.print_public_key,
    )


def cmd_ocds_export(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from pathlib import Path

    from market.core.db import upgrade
    from market.core.errors import DomainError
    from market.ocds import mapping, service
    from market.ocds.api import parse_since, publisher

    try:
        since = parse_since(args.since)
        service.publishing_settings(settings.ocds_prefix)
    except DomainError as exc:
        return _fail(f"--since: {exc.text()}" if args.since and "since" in exc.detail else exc.text())
    if not (args.base_url or settings.public_url):
        # The file leaves this machine: links to the address the server binds to would be wrong.
        return _fail(
            "ocds export needs the public address its links use: set MARKET_PUBLIC_URL (or pass --base-url)"
        )
    base = (args.base_url or settings.public_url).rstrip("/")

    from market.ocds import commands  # a transaction per page (market/ocds/commands.py)

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        try:
            hall, releases, published = commands.run(
                url,
                lambda db: commands.export(
                    db, prefix=settings.ocds_prefix, base_url=base, since=since, hall=args.hall
                ),
            )
        except DomainError as exc:
            return _fail(f"--hall: {exc.text()} {args.hall}")
    out = Path(args.out)
    query = f"?hall={hall.code}" if hall is not None else ""
    body = mapping.package(
        releases,
        uri=f"{base}/api/v1/ocds/releases{query}",
        published=published,
        publisher=publisher(hall, base_url=base),
        base_url=base,
    )
    out.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"market: wrote {len(releases)} releases to {out}")
    return 0


def cmd_ocds_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from market.core.db import upgrade
    from market.ocds import commands

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        processes, stored = commands.run(url, commands.backfill)
    print(f"market: {stored} releases stored for {processes} contracting processes")
    return 0


def cmd_stats_refresh(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the statistics' summary up to date now (market/stats/summary.py), as the
    servers' task does every MARKET_STATS_INTERVAL seconds: after a restore or a bulk load,
    or before a benchmark, so that no server's first refresh runs during it."""
    from market.core.clock import utcnow
    from market.stats import summary

    with database_url_for(settings.database_url, settings.data_dir) as url:
        done = _run_with_session(url, lambda session: summary.refresh(session, now=utcnow(), full=args.full))
    if done is None:
        return _fail("another process is refreshing the statistics; try again when it is done")
    what = (
        "everything" if done.full else f"{done.halls} hall(s){' and the agencies' if done.agencies else ''}"
    )
    print(
        f"market: statistics refreshed ({what}), up to log entry {done.log_seq}, as of {done.as_of.isoformat()}"
    )
    return 0


async def _keep_flags(session: Any, *, settings: Settings, hall: str) -> list[Any]:
    from market.core.clock import today_in_china
    from market.supervision.flags import store

    return await store.refresh(session, settings, today_in_china(), hall=hall)


def cmd_flags_refresh(args: argparse.Namespace, settings: Settings) -> int:
    """Compute and keep the red flags of the halls named (every hall's view by default) now,
    as the servers' flag task does (market/supervision/flags/store.py): after an upgrade or
    a bulk load a province's flags take minutes to compute, longer than a page may wait.
    Kept as not alerted yet: the servers' task still alerts what is new."""
    from market.halls import queries as halls

    with database_url_for(settings.database_url, settings.data_dir) as url:
        known = _run_with_session(url, halls.hall_codes)
        unknown = sorted(set(args.hall or ()) - set(known))
        if unknown:
            return _fail(f"no such hall: {', '.join(unknown)}")
        for code in args.hall or known:
            flags = _run_with_session(url, functools.partial(_keep_flags, settings=settings, hall=code))
            print(f"market: {len(flags)} red flag(s) kept for hall {code}")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from market.backup.commands import run_backup

    return run_backup(settings, Path(args.out))


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from market.backup.commands import run_restore

    return run_restore(settings, Path(args.source), force=args.force)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="market", description="The intermediary-services supermarket (中介超市)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the web server (starts the private PostgreSQL when DATABASE_URL is unset)"
    )
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--demo", action="store_true", help="load the demo data before serving")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply the migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    users = sub.add_parser("users", help="staff accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create an admin or supervisor")
    create.add_argument("--email", required=True)
    create.add_argument("--password", default=None, help="or MARKET_NEW_USER_PASSWORD, or asked for")
    create.add_argument("--role", required=True, choices=["admin", "supervisor"])
    create.add_argument("--name", default=None)
    create.add_argument(
        "--jurisdiction",
        default="530000",
        metavar="CODE",
        help="the hall whose tree the account's powers reach: 530000 (the province, the default), "
        "a prefecture or county code such as 530100 or 530102, or a park's code",
    )
    create.set_defaults(func=cmd_users_create)

    log = sub.add_parser("log", help="the transparency log")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    verify = log_sub.add_parser(
        "verify", help="verify the whole log (exit 1 and the first bad entry on failure)"
    )
    verify.add_argument(
        "--url", default=None, help="verify a running server through its API instead of the database"
    )
    from market.protocol.verifier import add_arguments

    add_arguments(verify)
    verify.set_defaults(func=cmd_log_verify)

    from market.protocol.witness import EXIT_CODES_HELP

    witness = log_sub.add_parser(
        "witness",
        help="check that the log's latest checkpoint extends the one seen last time (docs/witness.md)",
        description="Fetch the log's key and latest checkpoint, verify the signature and, if the state directory "
        "holds an earlier checkpoint, that the log is consistent with it (RFC 9162 consistency proof); then store "
        "the new checkpoint there. The first run trusts the key it sees (or --key) and stores it.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    witness.add_argument(
        "--url", required=True, help="the server's base URL, such as https://market.example.cn"
    )
    witness.add_argument(
        "--state", required=True, metavar="DIR", help="the directory keeping the key and the last checkpoint"
    )
    witness.add_argument(
        "--key",
        default=None,
        metavar="LINE|FILE",
        help="on the first run, the verifier key to trust instead of the served one",
    )
    witness.set_defaults(func=cmd_log_witness)

    cosign = log_sub.add_parser(
        "cosign",
        help="co-sign the log's latest checkpoint with your witness key (C2SP tlog-cosignature v1)",
        description="Fetch the latest checkpoint, verify it (and with --state its consistency with the last one "
        "seen), sign it with your Ed25519 key as a cosignature/v1 and submit it to the server.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cosign.add_argument("--url", default=None, help="the server's base URL")
    cosign.add_argument(
        "--key",
        required=True,
        metavar="FILE",
        help="your Ed25519 private key: PEM (openssl genpkey -algorithm ed25519) or base64 seed",
    )
    cosign.add_argument(
        "--name", required=True, help="your cosigner name, such as supervisor.example.cn/alice"
    )
    cosign.add_argument(
        "--state",
        default=None,
        metavar="DIR",
        help="also witness: check consistency with the checkpoint kept in DIR",
    )
    cosign.add_argument("--token", default=None, help="a bearer token (default: MARKET_TOKEN)")
    cosign.add_argument(
        "--register",
        action="store_true",
        help="first register the public key (a supervisor's token needed; idempotent)",
    )
    cosign.add_argument(
        "--print-public-key",
        action="store_true",
        help="print the public key and key id to register, and stop",
    )
    cosign.set_defaults(func=cmd_log_cosign)

    ocds = sub.add_parser("ocds", help="Open Contracting Data Standard")
    ocds_sub = ocds.add_subparsers(dest="ocds_command", required=True)
    export = ocds_sub.add_parser("export", help="write one OCDS release package with every release")
    export.add_argument("--out", required=True, help="the JSON file to write")
    export.add_argument("--since", default=None, help="only releases dated at or after this RFC 3339 time")
    export.add_argument(
        "--hall",
        default=None,
        help="only one hall's notices (and those of the halls below it), published by the hall",
    )
    export.add_argument(
        "--base-url",
        default=None,
        help="the public address the links use (default MARKET_PUBLIC_URL, or http://HOST:PORT in development)",
    )
    export.set_defaults(func=cmd_ocds_export)
    backfill = ocds_sub.add_parser(
        "backfill",
        help="store the current release of every process not stored yet (data from before the upgrade; docs/ocds.md)",
    )
    backfill.set_defaults(func=cmd_ocds_backfill)

    stats = sub.add_parser("stats", help="the statistics' summary")
    stats_sub = stats.add_subparsers(dest="stats_command", required=True)
    stats_refresh = stats_sub.add_parser(
        "refresh",
        help="bring the statistics' summary up to date now, as the servers do every MARKET_STATS_INTERVAL seconds",
    )
    stats_refresh.add_argument(
        "--full", action="store_true", help="compute everything anew, not only what changed"
    )
    stats_refresh.set_defaults(func=cmd_stats_refresh)

    flags = sub.add_parser("flags", help="the supervisors' red flags")
    flags_sub = flags.add_subparsers(dest="flags_command", required=True)
    flags_refresh = flags_sub.add_parser(
        "refresh", help="compute and keep the red flags now, as the servers' flag task does"
    )
    flags_refresh.add_argument(
        "--hall", action="append", help="a hall's code (repeatable; default: every hall's view)"
    )
    flags_refresh.set_defaults(func=cmd_flags_refresh)

    files = sub.add_parser("files", help="uploaded documents and deliverables")
    files_sub = files.add_subparsers(dest="files_command", required=True)
    files_import = files_sub.add_parser(
        "import",
        help="copy the files an older version kept under MARKET_DATA_DIR/uploads into the database (docs/reliability.md)",
        description="Every file the database refers to and does not hold yet is read from MARKET_DATA_DIR/uploads, "
        "checked against the SHA-256 recorded when it was uploaded and stored, each whole or not at all. Running it "
        "again imports only what is still missing. market serve and market db upgrade run it after migrating. The "
        "files stay on disk. Exit 1, with each file named, when one is missing or is not the bytes recorded.",
    )
    files_import.set_defaults(func=cmd_files_import)

    receipt = sub.add_parser("receipt", help="bid receipts (MSP/2)")
    receipt_sub = receipt.add_subparsers(dest="receipt_command", required=True)
    check = receipt_sub.add_parser(
        "check",
        help="check a bid's receipt file against a server: signature, sealed entry, commitment, inclusion, and the opening once bidding ended",
        description="Exit 0 when every check passes, 1 when one fails (a bid left out of its notice's opening among them).",
    )
    check.add_argument(
        "file", metavar="FILE", help="the receipt file (the bid page's 'Download the receipt file')"
    )
    check.add_argument("--url", required=True, help="the server, e.g. https://market.example.cn")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_receipt_check)

    demo = sub.add_parser("demo", help="load the demo data (idempotent)")
    demo.set_defaults(func=cmd_demo)

    keys = sub.add_parser("keys", help="the secret and keys every app host is given (docs/security.md)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    generate = keys_sub.add_parser(
        "generate",
        help="make the secret and the three keys once, as files (mode 0600) to copy to every host",
        description="Make secret_key, log_signing_key.pem, receipt_signing_key.pem and secret_seal_key in DIR "
        "(mode 0600). A file already there is kept, never overwritten. Production hosts never make their own.",
    )
    generate.add_argument("--out", metavar="DIR", help="where to write them (default: MARKET_DATA_DIR)")
    generate.set_defaults(func=cmd_keys_generate)
    keys_check = keys_sub.add_parser(
        "check",
        help="say where this host finds each key and print fingerprints to compare between hosts",
    )
    keys_check.set_defaults(func=cmd_keys_check)

    from market.backup.errors import EXIT_CODES_HELP as BACKUP_EXIT_CODES

    backup = sub.add_parser(
        "backup",
        help="write the database (uploaded files included) and the data dir's keys to one archive (docs/reliability.md)",
        description="Dump the database (pg_dump, one snapshot; uploaded files are in it) and archive it with the data "
        "dir's secret and keys and a manifest of their SHA-256 hashes and the log's latest checkpoint. Starts the private "
        "PostgreSQL when DATABASE_URL is unset. The archive is written with mode 0600: it holds the keys.",
        epilog=BACKUP_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backup.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the archive to write: .tar, .tar.gz (.tgz), .tar.xz or .tar.bz2",
    )
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser(
        "restore",
        help="restore a backup into the configured database and data dir, then verify the log",
        description="Check every file of the archive against its manifest, then restore the dump into the database "
        "(DATABASE_URL, created if missing, or the private PostgreSQL) in one transaction, put the keys into "
        "MARKET_DATA_DIR (an older version's archive: import its uploads into the database) and verify the restored log against the backup's checkpoint. Stop the server first.",
        epilog=BACKUP_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument(
        "--from", dest="source", required=True, metavar="FILE", help="the archive made by market backup"
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database that holds data and data-dir files that differ",
    )
    restore.set_defaults(func=cmd_restore)
    return parser


def cmd_keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from market.security import keys

    out = Path(args.out).resolve() if args.out else settings.data_dir
    for key, made in keys.generate(out):
        print(f"{out / key.file}: {key.what}, {'made' if made else 'already there, kept'}")
    print(keys.copy_instructions(out))
    return 0


def cmd_keys_check(args: argparse.Namespace, settings: Settings) -> int:
    from market.security import keys

    missing = False
    for key in keys.host_keys():
        found = keys.where(key, settings.data_dir, os.environ)
        missing = missing or found is None
        print(f"{key.what}: {found or 'missing'}")
    if missing:
        return _fail(
            f"a key is missing: make them once with `{keys.GENERATE_COMMAND}` and copy them to every host"
        )
    # Stripped as Settings.with_secret strips it: the secret the app signs with.
    secret = (
        settings.secret_key.strip()
        or (settings.data_dir / keys.SECRET_FILE).read_text(encoding="ascii").strip()
    )
    for what, value in keys.fingerprints(settings.data_dir, settings.log_origin, secret):
        print(f"{what}: {value}")
    return 0


def cmd_receipt_check(args: argparse.Namespace, settings: Settings) -> int:
    from market.protocol import receipt_check

    try:
        return receipt_check.main(args.file, args.url, as_json=args.json)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read {args.file}: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except (ConfigError, EmbeddedPostgresError) as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
