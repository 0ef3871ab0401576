"""A PostgreSQL primary with streaming standbys, and Debian's nginx in front of app hosts,
all on 127.0.0.1, for the cluster tests (the drill, synchronous replication, point-in-time
recovery) and for trying the deployment of docs/deployment.md on one machine.

    primary = start_primary(tmp / "primary", synchronous=True)
    standby = start_standby(primary, tmp / "standby", synchronous=True)
    proxy = Nginx(tmp / "nginx", ["127.0.0.1:8001", "127.0.0.1:8002"]).start()

Each PostgreSQL node is a private cluster made the way ``market serve`` makes its own
(market/core/pgembed.py: initdb with a generated password, scram-sha-256, running as the
``postgres`` system user when we are root), with the replication settings an operator
sets by hand (docs/deployment.md). nginx runs the shipped configuration,
ops/deploy/nginx/market.conf, with only its listen port, its app hosts and its paths
replaced, so that what is shipped is what the drill tests.

Every node and nginx started here is stopped when the process exits (atexit), or at the
end of a ``with`` block, so a failing test leaves nothing running.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from market.core.pgembed import DB_NAME, DB_USER, EmbeddedPostgres, free_port, port_is_free

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "ops" / "deploy" / "nginx" / "market.conf"
NGINX = Path(os.environ.get("MARKET_NGINX", "/usr/sbin/nginx"))

REPLICATION_USER = "replicator"
# What a commit waits for when a synchronous standby is named. "on" waits until the
# standby has flushed the commit's WAL to disk: the commit survives losing either
# machine. "remote_apply" waits, further, until the standby has replayed it, so that a
# read on the standby straight after the 201 sees the bid (read-your-writes on a
# DATABASE_READ_URL that points at the synchronous standby) and the failover test can
# read an acknowledged bid there before promoting. It costs the replay time on every
# commit, and a standby query that holds replay back (a replay conflict) would hold
# commits back too: the standby runs with hot_standby_feedback=on, which removes the
# usual cause (the primary vacuuming rows a standby query still reads), and readers
# have statement timeouts.
SYNCHRONOUS_COMMIT = "remote_apply"

_live: list[Node | Nginx] = []
_homes: list[Path] = []  # clusters placed under /var/tmp (see _reachable_dir), removed at exit


class ClusterError(Exception):
    """A node or nginx could not be set up, started or promoted; the message says why."""


def _stop_everything() -> None:
    for thing in reversed(_live[:]):
        try:
            thing.stop("immediate") if isinstance(thing, Node) else thing.stop()
        except Exception:  # at exit: stop what can be stopped
            continue
    for home in _homes:
        shutil.rmtree(home, ignore_errors=True)


atexit.register(_stop_everything)


def _wait(what: str, test: Callable[[], object], timeout: float) -> None:
    """Poll ``test()`` (a callable returning truthy when done) until ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if test():
                return
        except (ClusterError, OSError) as exc:
            last = exc
        time.sleep(0.1)
    raise ClusterError(f"gave up waiting for: {what}, after {timeout:.0f} s" + (f" ({last})" if last else ""))


class Node:
    """One PostgreSQL server of the cluster: a primary or a streaming standby."""

    def __init__(self, root: Path, *, name: str) -> None:
        self.name = name
        self.pg = EmbeddedPostgres(root)
        self.sync_names: list[str] = []  # on a primary: the standbys named synchronous
        self.archive: Path | None = None  # on a primary: where its WAL is archived

    # -- where it is ----------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.pg.root

    @property
    def data(self) -> Path:
        return self.pg.data

    @property
    def port(self) -> int:
        return self.pg.port()

    @property
    def password(self) -> str:
        return self.pg.password()

    @property
    def url(self) -> str:
        """postgresql+asyncpg://market:PASSWORD@127.0.0.1:PORT/market"""
        return self.pg.url()

    @property
    def host(self) -> str:
        """127.0.0.1:PORT, for a multi-host DATABASE_URL."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.pg.log_file

    def conninfo(self, *, user: str = DB_USER, password: str | None = None, database: str = DB_NAME) -> str:
        password = self.password if password is None else password
        return f"host=127.0.0.1 port={self.port} user={user} password={password} dbname={database}"

    # -- using it -------------------------------------------------------------------

    def sql(self, query: str, *, database: str = DB_NAME, timeout: float = 60) -> str:
        """``psql -Atc query`` on this node; its output, stripped. Raises on an error."""
        result = subprocess.run(
            [
                str(self.pg.bindir / "psql"),
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                query,
                f"host=127.0.0.1 port={self.port} user={DB_USER} dbname={database}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            # the password in the environment, not on a command line that ps shows
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
                "PGPASSWORD": self.password,
            },
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"{self.name}: {query[:80]!r}: {result.stderr.strip()[-400:]}")
        return result.stdout.strip()

    def is_running(self) -> bool:
        return self.pg.is_running()

    def in_recovery(self) -> bool:
        return self.sql("SELECT pg_is_in_recovery()", database="postgres") == "t"

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> Node:
        """Start the server (on the port it had) and wait until it takes connections."""
        if self.pg.is_running():
            return self
        if self.pg.port_file.exists() and not port_is_free(self.port):
            # pgembed would move to another port; a node keeps its own, which a
            # multi-host DATABASE_URL names. A stopped server's socket frees quickly.
            _wait(f"{self.name}: port {self.port} free", lambda: port_is_free(self.port), 20)
        self._pg_ctl_start()
        if self not in _live:
            _live.append(self)
        _wait(f"{self.name} takes connections", lambda: self.sql("SELECT 1", database="postgres") == "1", 60)
        return self

    def _pg_ctl_start(self) -> None:
        result = self.pg.pg_ctl_start(self.data, self.port, self.log_file)
        if result.returncode != 0:
            raise ClusterError(
                f"{self.name} did not start (see {self.log_file}): {result.stderr.strip()[-300:]}"
            )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: "fast" disconnects every session and shuts down
        cleanly; "immediate" drops everything at once, like a crash or a power cut."""
        self.pg.stop(mode)
        if self in _live:
            _live.remove(self)

    def promote(self, timeout: float = 60) -> None:
        """``pg_ctl promote``, then wait until the server takes writes."""
        result = self.pg._run(
            [str(self.pg.bindir / "pg_ctl"), "promote", "-w", "-t", "60", "-D", str(self.data)], timeout=90
        )
        if result.returncode != 0:
            raise ClusterError(f"{self.name}: pg_ctl promote failed: {result.stderr.strip()[-300:]}")
        _wait(f"{self.name} out of recovery", lambda: not self.in_recovery(), timeout)

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop("immediate")

    def __repr__(self) -> str:
        return f"Node({self.name!r}, port={self.pg.port() if self.pg.port_file.exists() else None})"


def _track_home(node: Node) -> None:
    if node.pg.location_file.exists() and node.data.parent not in _homes:
        _homes.append(node.data.parent)


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n# ops/cluster.py\n" + "".join(line + "\n" for line in lines))


def _reachable_dir(node: Node, wanted: Path, fallback_name: str) -> Path:
    """A directory the server's user can write: ``wanted`` itself, or (as root, when a
    parent of ``wanted`` is closed to the ``postgres`` user, as pytest's tmp_path is) a
    directory beside the cluster, with ``wanted`` made a symbolic link to it."""
    wanted.mkdir(parents=True, exist_ok=True)
    node.pg._chown(wanted)
    if node.pg._reachable(wanted):
        return wanted
    real = node.data.parent / fallback_name
    real.mkdir(mode=0o700, exist_ok=True)
    node.pg._chown(real)
    wanted.rmdir()
    wanted.symlink_to(real, target_is_directory=True)
    return real


def start_primary(root: Path, *, synchronous: bool = False, archive: Path | None = None) -> Node:
    """A new primary under ``root``, its database ``market`` made and a replication role.

    ``synchronous``: commits wait (synchronous_commit = SYNCHRONOUS_COMMIT) for the
    standby named "standby" (synchronous_standby_names = 'FIRST 1 (standby)'); until it
    has connected, every commit waits. ``archive``: archive_mode = on, and each finished
    WAL segment is copied into that directory (for point-in-time recovery)."""
    node = Node(root, name="primary")
    node.pg.initialize()
    _track_home(node)
    lines = [
        "wal_level = replica",
        "max_wal_senders = 10",
        "max_replication_slots = 10",
        "wal_keep_size = '256MB'",  # a standby stopped for a while catches up from the primary
        "hot_standby = on",
        "hot_standby_feedback = on",  # copied to the standbys (pg_basebackup copies this file)
        f"synchronous_commit = {SYNCHRONOUS_COMMIT if synchronous else 'on'}",
    ]
    if archive is not None:
        real = _reachable_dir(node, archive, "wal-archive")
        node.archive = real
        lines += [
            "archive_mode = on",
            f"archive_command = 'test ! -f {real}/%f && cp %p {real}/%f'",
            "archive_timeout = 60",
        ]
    _append(node.data / "postgresql.conf", lines)
    _append(node.data / "pg_hba.conf", [f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256"])
    node.pg.port_file.write_text(f"{free_port()}\n", encoding="ascii")
    node.start()
    node.sql(f'CREATE DATABASE "{DB_NAME}"', database="postgres")
    replication_password = secrets.token_hex(24)
    (node.root / "replication-password").write_text(replication_password + "\n", encoding="ascii")
    os.chmod(node.root / "replication-password", 0o600)
    node.sql(
        f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD '{replication_password}'",
        database="postgres",
    )
    if synchronous:
        _name_synchronous(node, "standby")
    return node


def _name_synchronous(primary: Node, name: str) -> None:
    if name not in primary.sync_names:
        primary.sync_names.append(name)
    names = ", ".join(primary.sync_names)
    primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({names})'", database="postgres")
    primary.sql(f"ALTER SYSTEM SET synchronous_commit = '{SYNCHRONOUS_COMMIT}'", database="postgres")
    primary.sql("SELECT pg_reload_conf()", database="postgres")


def start_standby(primary: Node, root: Path, *, name: str = "standby", synchronous: bool = False) -> Node:
    """A streaming standby of ``primary`` under ``root``: ``pg_basebackup -R -X stream``,
    its own port, ``application_name=name``; started and waited for until it streams
    (and, if ``synchronous``, until the primary counts it as its synchronous standby)."""
    node = Node(root, name=name)
    node.pg.root.mkdir(parents=True, exist_ok=True)
    os.chmod(node.root, 0o700)
    node.pg._chown(node.root)
    if not node.pg.location_file.exists():
        node.pg._choose_data_dir()
    _track_home(node)
    if node.data.exists():
        shutil.rmtree(node.data)
    shutil.copy(primary.pg.password_file, node.pg.password_file)  # the same roles, replicated
    node.pg._chown(node.pg.password_file)
    replication_password = (primary.root / "replication-password").read_text(encoding="ascii").strip()
    conninfo = (
        f"host=127.0.0.1 port={primary.port} user={REPLICATION_USER} "
        f"password={replication_password} application_name={name}"
    )
    result = node.pg._run(
        [
            str(node.pg.bindir / "pg_basebackup"),
            "-d",
            conninfo,
            "-D",
            str(node.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        timeout=300,
    )
    if result.returncode != 0:
        raise ClusterError(f"pg_basebackup failed: {result.stderr.strip()[-400:]}")
    # -R wrote standby.signal and a primary_conninfo; ours (later in the file) says the
    # same with application_name spelt out, which synchronous_standby_names matches.
    # A standby that is promoted names no synchronous standby of its own: it runs alone
    # until a new standby is attached (docs/deployment.md, "Failover").
    _append(
        node.data / "postgresql.auto.conf",
        [f"primary_conninfo = '{conninfo}'", "synchronous_standby_names = ''"],
    )
    node.pg.port_file.write_text(f"{free_port()}\n", encoding="ascii")
    node.pg._chown(node.pg.port_file)
    if synchronous:
        _name_synchronous(primary, name)
    node.start()
    _wait(
        f"{name} streaming from the primary",
        lambda: node.sql("SELECT status FROM pg_stat_wal_receiver", database="postgres") == "streaming",
        60,
    )
    if synchronous:
        _wait(
            f"{name} the primary's synchronous standby",
            lambda: (
                primary.sql(
                    f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'",
                    database="postgres",
                )
                == "sync"
            ),
            60,
        )
    return node


# -- nginx ---------------------------------------------------------------------------------


def render_nginx_conf(upstreams: list[str], *, port: int, root: Path, conf: Path = NGINX_CONF) -> str:
    """The shipped server configuration with its listen port, app hosts and paths for
    this machine: the ``server`` lines of the upstream block become one per upstream
    (keeping their parameters), ``listen 80`` becomes ``listen 127.0.0.1:port``, and
    ``/var/log/nginx`` becomes ``root``. Nothing else is changed."""
    text = conf.read_text(encoding="utf-8")
    block = re.search(r"upstream\s+market_app\s*\{(.*?)\n\}", text, re.S)
    if block is None:
        raise ClusterError(f"{conf}: no 'upstream market_app {{ ... }}' block")
    servers = list(re.finditer(r"^(\s*)server\s+\S+(.*);\s*$", block.group(1), re.M))
    if not servers:
        raise ClusterError(f"{conf}: the upstream block names no server")
    indent, params = servers[0].group(1), servers[0].group(2)
    body = block.group(1)
    lines = "".join(f"{indent}server {u}{params};\n" for u in upstreams)
    body = body[: servers[0].start()] + lines.rstrip("\n") + body[servers[-1].end() :]
    text = text[: block.start(1)] + body + text[block.end(1) :]
    text, listens = re.subn(r"listen\s+80(\s+default_server)?;", f"listen 127.0.0.1:{port};", text)
    if listens == 0:
        raise ClusterError(f"{conf}: no 'listen 80;' to replace")
    return text.replace("/var/log/nginx/", f"{root}/")


class Nginx:
    """Debian's nginx running the shipped configuration in front of ``upstreams``
    ("127.0.0.1:PORT" each), everything (pid, logs, temporary files) under ``root``."""

    def __init__(self, root: Path, upstreams: list[str], port: int | None = None) -> None:
        self.root = root.resolve()
        self.upstreams = upstreams
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    def write_config(self) -> Path:
        """nginx.conf (the frame Debian's /etc/nginx/nginx.conf gives) including
        market.conf (the shipped file, rendered for here). Returns nginx.conf's path."""
        if not NGINX.is_file():
            raise ClusterError(f"{NGINX} not found: install Debian's nginx (apt-get install nginx)")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "market.conf").write_text(
            render_nginx_conf(self.upstreams, port=self.port, root=self.root), encoding="utf-8"
        )
        temp = "".join(
            f"    {kind}_temp_path {self.root / 'temp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root the workers would run as "nobody", who cannot reach a directory under
        # /tmp/pytest-of-root: they run as root here (never in a deployment).
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"{user}worker_processes 1;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            f"    access_log {self.access_log};\n"
            f"{temp}"
            f"    include {self.root / 'market.conf'};\n"
            "}\n",
            encoding="utf-8",
        )
        return conf

    def start(self) -> Nginx:
        conf = self.write_config()
        (self.root / "temp").mkdir(exist_ok=True)
        directives = f"daemon off; pid {self.root / 'nginx.pid'}; error_log {self.error_log} info;"
        args = [str(NGINX), "-p", str(self.root), "-c", str(conf), "-g", directives]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30, check=False)
        if checked.returncode != 0:
            raise ClusterError(f"nginx -t: {checked.stderr.strip()[-600:]}")
        log = (self.root / "nginx.out").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _live.append(self)

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise ClusterError(f"nginx exited: {self.error_log.read_text(errors='replace')[-600:]}")
            try:
                with urllib.request.urlopen(self.url + "/nginx-harness-probe", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True  # nginx answered (the app's 404, or 502 with no app up yet)
            except OSError:
                return False

        try:
            _wait("nginx answers", answers, 20)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> Nginx:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
