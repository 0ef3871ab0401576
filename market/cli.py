"""The ``market`` command: serve, database, users, demo data."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from market.config import ConfigError, Settings
from market.pgembed import EmbeddedPostgres, EmbeddedPostgresError, database_url_for


def _fail(message: str) -> int:
    print(f"market: {message}", file=sys.stderr)
    return 1


def _run_with_session(url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in one committed transaction against ``url``."""
    from market.db import Database

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

    from market.app import create_app
    from market.db import upgrade

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
        settings = replace(settings, database_url=url)
        if args.demo:
            from market.demo import load_demo

            _run_with_session(url, lambda s: load_demo(s, settings=settings, out=sys.stdout))
        host = args.host or settings.host
        port = args.port or settings.port
        print(f"market: serving on http://{host}:{port}", file=sys.stderr)
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False, lifespan="on")
    except KeyboardInterrupt:
        pass
    finally:
        if cluster is not None and cluster.started_here:
            print("market: stopping the private PostgreSQL", file=sys.stderr)
            cluster.stop()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from market.db import upgrade

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url, args.revision)
    print(f"market: database at {args.revision}")
    return 0


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from market.accounts import service
    from market.accounts.models import Role
    from market.db import upgrade
    from market.errors import DomainError

    password = args.password or os.environ.get("MARKET_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        try:
            user = _run_with_session(
                url,
                lambda s: service.create_staff(
                    s, email=args.email, password=password, name=args.name or args.email.split("@")[0], role=Role(args.role)
                ),
            )
        except DomainError as exc:
            details = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            return _fail(f"{exc.detail}" + (f" ({details})" if details else ""))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            from pydantic import ValidationError

            from market.errors import validation_errors

            if isinstance(exc, ValidationError):
                return _fail("; ".join(f"{e.field}: {e.message}" for e in validation_errors(exc)))
            raise
    print(f"created {user.role} {user.public_id} <{user.email}>")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from market.db import upgrade
    from market.demo import load_demo

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        _run_with_session(url, lambda s: load_demo(s, settings=settings, out=sys.stdout))
    return 0


def cmd_log_verify(args: argparse.Namespace, settings: Settings) -> int:
    from market.log import verifier

    since = verifier.read_since(args.since)
    progress = None if args.json else verifier.progress_bar()
    if args.url:
        report = verifier.verify(verifier.HttpSource(args.url), since=since, progress=progress, canonical=args.canonical, notice=args.notice)
        return verifier.emit(report, as_json=args.json)

    from market.db import upgrade
    from market.log.signer import LogSigner
    from market.log.verify_db import DatabaseSource

    with database_url_for(settings.database_url, settings.data_dir) as url:
        upgrade(url)
        source = DatabaseSource(url, LogSigner.from_data_dir(settings.log_origin, settings.data_dir))
        try:
            report = verifier.verify(source, since=since, progress=progress, canonical=args.canonical, notice=args.notice)
        finally:
            source.close()
    return verifier.emit(report, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="market", description="The intermediary-services supermarket (中介超市).")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (starts the private PostgreSQL when DATABASE_URL is unset)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--demo", action="store_true", help="load the demo data before serving")
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
    create.set_defaults(func=cmd_users_create)

    log = sub.add_parser("log", help="the transparency log")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    verify = log_sub.add_parser("verify", help="verify the whole log (exit 1 and the first bad entry on failure)")
    verify.add_argument("--url", default=None, help="verify a running server through its API instead of the database")
    from market.log.verifier import add_arguments

    add_arguments(verify)
    verify.set_defaults(func=cmd_log_verify)

    demo = sub.add_parser("demo", help="load the demo data (idempotent)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except (ConfigError, EmbeddedPostgresError) as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
