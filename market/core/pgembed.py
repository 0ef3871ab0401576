"""A private PostgreSQL cluster under the data directory, for when DATABASE_URL is unset.

The cluster listens on 127.0.0.1 only, on a port chosen once and reused, with a generated
password (scram-sha-256) so that other local users cannot walk in. As root, PostgreSQL
refuses to run, so initdb and the server run as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DB_NAME = "market"
DB_USER = "market"


class EmbeddedPostgresError(Exception):
    """The private cluster cannot be set up or started; the message says why in one line."""


def candidate_bindirs() -> list[Path]:
    """Where PostgreSQL's programs may live, most wanted first: MARKET_PG_BINDIR,
    pg_config's answer, Debian's per-version directories (newest first), then PATH."""
    candidates: list[Path] = []
    if explicit := os.environ.get("MARKET_PG_BINDIR"):
        candidates.append(Path(explicit))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
    # Debian keeps each major version apart; prefer the newest.
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    for initdb in (shutil.which("initdb"),):
        if initdb:
            candidates.append(Path(initdb).parent)
    return candidates


def find_bindir() -> Path:
    """Where initdb, pg_ctl and postgres live."""
    for path in candidate_bindirs():
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install them "
        "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL binds: connections of a cluster just stopped linger in TIME_WAIT
        # for a minute and must not make its own port look taken (a restart would move).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedPostgres:
    """One private cluster rooted at ``root`` (``$MARKET_DATA_DIR/postgres``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.password_file = self.root / "password"
        self.port_file = self.root / "port"
        self.location_file = self.root / "data-location"
        self.started_here = False
        self._bindir: Path | None = None
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam("postgres")
            except KeyError:
                raise EmbeddedPostgresError(
                    "running as root needs the 'postgres' system user to own the private cluster "
                    "(it comes with Debian's postgresql package)"
                ) from None

    @property
    def data(self) -> Path:
        """The cluster's directory: ``<root>/data``, or where ``data-location`` points."""
        if self.location_file.exists():
            return Path(self.location_file.read_text(encoding="utf-8").strip())
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.data.parent / "server.log" if self.location_file.exists() else self.root / "server.log"

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    # -- commands ------------------------------------------------------------------

    def _run(
        self, args: list[str], *, timeout: float = 120, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        # None for each: run as ourselves (subprocess's defaults)
        user: int | None = None
        group: int | None = None
        extra_groups: list[int] | None = None
        if self._run_as is not None:
            user, group, extra_groups = self._run_as.pw_uid, self._run_as.pw_gid, []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        # A new session keeps the server out of the terminal's process group, so that
        # Ctrl-C reaches only our process, which then stops the server in order.
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd="/",
            start_new_session=new_session,
            check=False,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _reachable(self, path: Path) -> bool:
        return self._run_as is None or self._run(["test", "-w", str(path)], timeout=10).returncode == 0

    def _choose_data_dir(self) -> None:
        """As root, the postgres user must reach the cluster. When a parent of the data dir
        is closed to it (a checkout under /root, a mktemp -d folder), the cluster lives in
        /var/tmp instead, and ``data-location`` in the data dir says where."""
        if self._reachable(self.root):
            return
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        home = Path("/var/tmp") / f"market-postgres-{digest}"
        home.mkdir(mode=0o700, exist_ok=True)
        self._chown(home)
        if not self._reachable(home):
            raise EmbeddedPostgresError(
                f"the 'postgres' system user can reach neither {self.root} nor {home}; set DATABASE_URL"
            )
        self.location_file.write_text(str(home / "data") + "\n", encoding="utf-8")

    def password(self) -> str:
        return self.password_file.read_text(encoding="ascii").strip()

    def port(self) -> int:
        return int(self.port_file.read_text(encoding="ascii").strip())

    def url(self, database: str = DB_NAME) -> str:
        return f"postgresql+asyncpg://{DB_USER}:{self.password()}@127.0.0.1:{self.port()}/{database}"

    # -- life cycle ----------------------------------------------------------------

    def initialize(self) -> None:
        """Create the cluster the first time; later calls do nothing."""
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._chown(self.root)
        if not self.location_file.exists():
            self._choose_data_dir()
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(24) + "\n")
            self._chown(self.password_file)
        if self.data.exists():  # a half-made cluster from an interrupted initdb
            shutil.rmtree(self.data)
        # initdb runs as the cluster's owner, who may not reach the data dir: hand it a
        # copy of the password beside the cluster, removed straight after.
        pwfile = self.data.parent / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(self.password() + "\n")
        self._chown(pwfile)
        try:
            initdb = [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                DB_USER,
                "--pwfile",
                str(pwfile),
            ]
            initdb += ["--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C.UTF-8"]
            result = self._run(initdb, timeout=300)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise EmbeddedPostgresError(f"initdb failed: {tail[0]}")

    def is_running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        return (
            self._run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)], timeout=30).returncode
            == 0
        )

    def start(self) -> str:
        """Start (or reuse) the cluster, make sure the database exists, return its URL."""
        self.initialize()
        if not self.is_running():
            port = self.port() if self.port_file.exists() else 0
            if not port or not port_is_free(port):
                port = free_port()
            self.port_file.write_text(f"{port}\n", encoding="ascii")
            result = self.pg_ctl_start(self.data, port, self.log_file)
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start (see {self.log_file}): {(result.stderr or result.stdout).strip()[-300:]}"
                )
            self.started_here = True
        self._wait_ready()
        self._ensure_database(DB_NAME)
        return self.url()

    def pg_ctl_start(self, data: Path, port: int, log_file: Path) -> subprocess.CompletedProcess[str]:
        """``pg_ctl start`` of the cluster in ``data`` on 127.0.0.1:``port`` only (no Unix
        socket), waiting until it takes connections (ops/cluster.py starts its nodes so too)."""
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        command = [
            str(self.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "90",
            "-D",
            str(data),
            "-l",
            str(log_file),
        ]
        return self._run([*command, "-o", options], timeout=120, new_session=True)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: "fast" rolls back and disconnects every session;
        "immediate" drops everything at once, like a crash (the next start recovers)."""
        if not (self.data / "postmaster.pid").exists():
            return
        self._run(
            [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60"],
            timeout=90,
        )
        self.started_here = False

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port()), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL is not answering on port {self.port()}"
                    ) from None
                time.sleep(0.1)

    def _ensure_database(self, name: str) -> None:
        from market.core.db import ensure_database

        ensure_database(self.url("postgres"), name)


@contextlib.contextmanager
def database_url_for(settings_database_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a database URL: the configured one, or a private cluster's (stopped on exit
    if this call started it)."""
    if settings_database_url:
        yield settings_database_url
        return
    cluster = EmbeddedPostgres(data_dir / "postgres")
    url = cluster.start()
    try:
        yield url
    finally:
        if cluster.started_here:
            cluster.stop()
