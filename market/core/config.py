"""Settings from the environment (api-v1.md, "Process settings").

Secrets are never defaulted in code: the signing secret is generated into the data
directory on first start, or taken from MARKET_SECRET_KEY, and a well-known value is
refused outside development.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from market.core.keyfiles import load_or_create_secret

KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "",
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "dev",
        "development",
        "test",
        "password",
        "market",
        "insecure",
    }
)
MIN_SECRET_LENGTH = 32
# drand's public HTTP relays (League of Entropy); any one that answers with a round whose
# signature verifies will do, so several are tried in turn.
DEFAULT_DRAND_RELAYS = (
    "https://api.drand.sh",
    "https://drand.cloudflare.com",
    "https://api2.drand.sh",
    "https://api3.drand.sh",
)
# The names a development or test server also answers to, whatever its public URL.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
# A host name as it may appear in the public URL and the allowed hosts: letters, digits,
# dots and hyphens (IDNs in their xn-- form), or an IP address. Nothing a shell command
# or an HTML attribute copied from a page could trip over.
HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


class ConfigError(Exception):
    """A setting is missing or unsafe; the message says which and what to do."""


def _int(name: str, default: int, environ: dict[str, str]) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


PG_MAX_MS = 2**31 - 1  # the most PostgreSQL takes for a timeout (ms)


def _ms(name: str, default: int, environ: dict[str, str]) -> int:
    """A timeout in milliseconds, as PostgreSQL takes it: a larger one would make every
    connection fail at its start (the value is sent with it), every request a 500."""
    value = _int(name, default, environ)
    if value > PG_MAX_MS:
        raise ConfigError(f"{name} must be at most {PG_MAX_MS} ms, got {value}")
    return value


def _float(name: str, default: float, environ: dict[str, str]) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not 0 <= value < 3600:
        raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {raw}")
    return value


def _host(raw: str, setting: str) -> str:
    """A host name or IP address in the one spelling the allowed-hosts check compares:
    lower case, IPv6 without brackets."""
    name = raw.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not HOST_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(f"{setting}: {raw!r} is not a host name or IP address")
    return name


def _public_url(raw: str) -> str:
    """``scheme://host[:port]`` with no path, query, fragment or user: the public URL is a
    site's root, and everything after it is the app's own paths."""
    url = raw.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number up to 65535
    except ValueError:
        raise ConfigError(f"MARKET_PUBLIC_URL: {raw!r} is not a URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"MARKET_PUBLIC_URL must be an http(s) URL such as https://zjcs.example.gov.cn, got {raw!r}"
        )
    if parts.username is not None or parts.path or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(
            f"MARKET_PUBLIC_URL must be the site's root (https://host[:port]), with no path, query or user, got {raw!r}"
        )
    return _url(parts.scheme, _host(parts.hostname, "MARKET_PUBLIC_URL"), port)


OCID_PREFIX = re.compile(r"ocds-[a-z0-9]{6}-")  # as the OCDS Data Support Team registers them
DEV_OCID_PREFIX = "ocds-mkt000-"  # development and tests only: production refuses it


def _ocid_prefix(env: dict[str, str], mode: str) -> str:
    """MARKET_OCID_PREFIX (or its old name MARKET_OCDS_PREFIX): ``ocds-`` and six lower-case
    letters or digits registered with the Open Contracting Partnership, a trailing ``-``
    added. Unset in production: empty, and the open data refuses to publish (the rest of
    the site runs; market/ocds/service.publishing_settings says why)."""
    raw = (env.get("MARKET_OCID_PREFIX") or env.get("MARKET_OCDS_PREFIX") or "").strip()
    if not raw:
        return "" if mode == "production" else DEV_OCID_PREFIX
    prefix = raw if raw.endswith("-") else raw + "-"
    if not OCID_PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"MARKET_OCID_PREFIX must be 'ocds-' and six lower-case letters or digits, e.g. ocds-213czf, got {raw!r}"
        )
    if mode == "production" and prefix == DEV_OCID_PREFIX:
        raise ConfigError("MARKET_OCID_PREFIX: ocds-mkt000 is the development placeholder; register a prefix")
    return prefix


def _url(scheme: str, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{netloc}" + (f":{port}" if port is not None and port != default else "")


def _allowed_hosts(raw: str | None) -> tuple[str, ...]:
    if not raw or not raw.strip():
        return ()
    hosts = tuple(_host(h, "MARKET_ALLOWED_HOSTS") for h in raw.split(",") if h.strip())
    return tuple(dict.fromkeys(hosts))


def _relays(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return DEFAULT_DRAND_RELAYS
    relays = tuple(r.strip().rstrip("/") for r in raw.split(",") if r.strip())
    for relay in relays:
        if not relay.startswith(("https://", "http://")):
            raise ConfigError(f"MARKET_DRAND_RELAYS: {relay!r} is not an http(s) URL")
    if not relays:
        raise ConfigError("MARKET_DRAND_RELAYS names no relay")
    return relays


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail is handed over (MARKET_SMTP_URL), parsed once at start-up."""

    host: str
    port: int
    security: str  # "plain" (smtp://), "starttls" (smtp+starttls://) or "tls" (smtps://)
    username: str = ""
    password: str = field(default="", repr=False)


SMTP_SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


def _smtp_url(raw: str) -> SmtpServer | None:
    """``smtp://host[:port]``, ``smtp+starttls://user:pass@host[:port]`` or
    ``smtps://user:pass@host[:port]``; empty: no e-mail (the inbox only)."""
    url = raw.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"MARKET_SMTP_URL: {raw!r} is not a URL (smtp://host:port)") from None
    if parts.scheme not in SMTP_SCHEMES:
        raise ConfigError(
            "MARKET_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, "
            f"e.g. smtps://user:password@smtp.example.gov.cn:465, got scheme {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConfigError(f"MARKET_SMTP_URL names no host: {raw!r}")
    if (parts.path not in {"", "/"}) or parts.query or parts.fragment:
        raise ConfigError(
            "MARKET_SMTP_URL must be scheme://[user:password@]host[:port], with no path or query"
        )
    if (parts.username is None) != (parts.password is None):
        raise ConfigError("MARKET_SMTP_URL: give both a user and a password (user:password@host), or neither")
    security, default_port = SMTP_SCHEMES[parts.scheme]
    if parts.username and security == "plain" and parts.hostname not in LOCAL_HOSTS:
        raise ConfigError(
            "MARKET_SMTP_URL: a password is never sent unencrypted; use smtps:// or smtp+starttls://"
        )
    return SmtpServer(
        host=_host(parts.hostname, "MARKET_SMTP_URL"),
        port=port if port is not None else default_port,
        security=security,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def _mail_from(raw: str | None, smtp: SmtpServer | None) -> str:
    value = (raw or "").strip()
    if smtp is None:
        return value
    if not value:
        raise ConfigError(
            "MARKET_MAIL_FROM is required with MARKET_SMTP_URL: the sender, e.g. noreply@zjcs.example.gov.cn"
        )
    address = parseaddr(value)[1]
    if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]+", address) or any(c in value for c in "\r\n"):
        raise ConfigError(f"MARKET_MAIL_FROM is not an e-mail address: {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    min_bid_window: int = 86400
    log_origin: str = "market.localhost/log"
    env: str = "dev"
    secret_key: str = field(default="", repr=False)
    token_ttl: int = 8 * 3600
    auth_rate_limit: int = 10
    auth_rate_window: int = 60
    cookie_secure: bool = False
    # How many reverse proxies in front may be believed about the client's address
    # (X-Forwarded-For, counted from the right); 0: the header is ignored.
    trusted_proxies: int = 0
    # The address people reach the site at (MARKET_PUBLIC_URL); every absolute URL the app
    # writes starts with it, never with a request's Host header. Empty: see base_url.
    public_url: str = ""
    # The Host header values answered (MARKET_ALLOWED_HOSTS); empty: see hosts_allowed.
    allowed_hosts: tuple[str, ...] = ()
    beacon: str = "none"  # MSP/1 scheme source: "none" or "drand" (quicknet)
    drand_relays: tuple[str, ...] = DEFAULT_DRAND_RELAYS
    publicity_days: int = 3  # 公示: how long a result is open to objections
    scheduler_interval: float = 1.0  # seconds between looks for due notices; 0 turns it off
    # Seconds between two refreshes of the statistics' summary (market/stats/summary.py: the
    # halls the log names since the last one, everything daily); 0 turns it off.
    stats_interval: float = 60.0
    # Database connections each server worker keeps open (opened at start-up), how many
    # more it may open for a burst, and the readers' pool: with W workers PostgreSQL needs
    # W x (all three) connections, 80 for four workers (its default max_connections is 100).
    db_pool_size: int = 10
    db_pool_overflow: int = 5
    db_read_pool_size: int = 5  # bare connections for the hot read paths (the public list)
    contract_days: int = 30  # a contract not signed this many days after the award is overdue
    # An objection pending this many days after filing (or its last escalation) goes one hall up.
    objection_escalation_days: int = 5
    declines_to_suspend: int = 2  # this many declines within decline_window_days suspend an agency
    decline_window_days: int = 365
    suspension_days: int = 182  # how long that automatic suspension lasts (about 6 months)
    ocds_prefix: str = "ocds-mkt000-"  # OCDS ocid prefix; a registered one replaces it in production
    # Red-flag thresholds (market/supervision/flags/rules.py explains each).
    flag_win_share_percent: int = 50  # one agency's share of a category's or region's awards
    flag_min_awards: int = 4  # ...among at least this many awards
    flag_pair_repeats: int = 3  # the same owner–agency pair this many times within a year
    flag_direct_share_percent: int = 30  # an owner's direct selections among its notices
    flag_min_notices: int = 3  # ...among at least this many notices
    flag_price_gap_permille: int = 5  # lowest-price bids this close (‰ of the lower) look alike
    flag_amend_hours: int = 48  # a notice amended this close to its deadline
    flag_withdrawn_percent: int = 30  # withdrawn bids among a notice's bids
    flag_min_bids: int = 5  # ...among at least this many bids
    # E-mail (docs/notifications.md): none without MARKET_SMTP_URL, the inbox only.
    smtp: SmtpServer | None = None
    mail_from: str = ""
    mail_max_attempts: int = 8  # a message that failed this many times is marked failed
    mail_retry_seconds: int = 60  # the first retry's wait, doubled each time (at most an hour)
    # A streaming standby for the public read paths (DATABASE_READ_URL, docs/deployment.md);
    # unset: every read goes to DATABASE_URL.
    database_read_url: str | None = None
    # A standby further behind than this many seconds is not read from: the primary answers.
    read_max_lag: float = 10.0
    # Bounds in milliseconds on every statement and every lock wait, per kind of connection:
    # the requests' (MARKET_DB_*) and the background tasks' (MARKET_TASK_*, which work in
    # batches); 0 leaves the database role's own setting (docs/deployment.md).
    db_statement_timeout: int = 30_000
    db_lock_timeout: int = 5_000
    task_statement_timeout: int = 300_000
    task_lock_timeout: int = 10_000

    @property
    def is_dev(self) -> bool:
        return self.env in {"dev", "test"}

    @property
    def base_url(self) -> str:
        """The site's root for absolute URLs, without a trailing slash: the public URL, or
        in development the address the server is bound to (production requires the former)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in WILDCARD_BINDS else self.host.strip("[]").lower()
        return _url("http", host, self.port)

    @property
    def hosts_allowed(self) -> frozenset[str]:
        """Host names (lower case, IPv6 without brackets) a request's Host header may name:
        MARKET_ALLOWED_HOSTS, or the public URL's host, and in development and tests also
        the loopback names and the bound address. The public URL's own host always."""
        own = urlsplit(self.base_url).hostname or ""
        names: set[str] = set()
        if self.allowed_hosts:
            names.update(self.allowed_hosts)
        elif self.is_dev:
            names.update(LOCAL_HOSTS)
            if self.host not in WILDCARD_BINDS:
                names.add(self.host.strip("[]").lower())
        return frozenset({*names, own})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("MARKET_DATA_DIR") or "./var").resolve()
        mode = env.get("MARKET_ENV", "dev")
        if mode not in {"dev", "test", "production"}:
            raise ConfigError(f"MARKET_ENV must be dev, test or production, got {mode!r}")
        public_url = (
            _public_url(env["MARKET_PUBLIC_URL"]) if (env.get("MARKET_PUBLIC_URL") or "").strip() else ""
        )
        if not public_url and mode == "production":
            raise ConfigError(
                "MARKET_PUBLIC_URL is required in production: the address people reach the site at, "
                "e.g. https://zjcs.example.gov.cn (absolute links are built from it, never from a request's Host header)"
            )
        origin = env.get("MARKET_LOG_ORIGIN") or "market.localhost/log"
        if "+" in origin or any(c.isspace() for c in origin):
            raise ConfigError("MARKET_LOG_ORIGIN must hold no '+' and no white space")
        settings = cls(
            data_dir=data_dir,
            database_url=normalize_database_url(env.get("DATABASE_URL") or None),
            host=env.get("MARKET_HOST") or "127.0.0.1",
            port=_int("MARKET_PORT", 8000, env),
            min_bid_window=_int("MARKET_MIN_BID_WINDOW", 86400, env),
            log_origin=origin,
            env=mode,
            secret_key=env.get("MARKET_SECRET_KEY", ""),
            token_ttl=_int("MARKET_TOKEN_TTL", 8 * 3600, env),
            auth_rate_limit=_int("MARKET_AUTH_RATE_LIMIT", 10, env),
            auth_rate_window=_int("MARKET_AUTH_RATE_WINDOW", 60, env),
            # Production is served over HTTPS, so its cookies are Secure unless told otherwise.
            cookie_secure=(env.get("MARKET_COOKIE_SECURE") or ("1" if mode == "production" else ""))
            in {"1", "true", "yes"},
            trusted_proxies=_int("MARKET_TRUSTED_PROXIES", 0, env),
            public_url=public_url,
            allowed_hosts=_allowed_hosts(env.get("MARKET_ALLOWED_HOSTS")),
            beacon=env.get("MARKET_BEACON") or "none",
            drand_relays=_relays(env.get("MARKET_DRAND_RELAYS")),
            publicity_days=_int("MARKET_PUBLICITY_DAYS", 3, env),
            scheduler_interval=_float("MARKET_SCHEDULER_INTERVAL", 1.0, env),
            stats_interval=_float("MARKET_STATS_INTERVAL", 60.0, env),
            db_pool_size=_int("MARKET_DB_POOL_SIZE", 10, env),
            db_pool_overflow=_int("MARKET_DB_POOL_OVERFLOW", 5, env),
            db_read_pool_size=_int("MARKET_DB_READ_POOL_SIZE", 5, env),
            contract_days=_int("MARKET_CONTRACT_DAYS", 30, env),
            objection_escalation_days=_int("MARKET_OBJECTION_ESCALATION_DAYS", 5, env),
            declines_to_suspend=_int("MARKET_DECLINES_TO_SUSPEND", 2, env),
            decline_window_days=_int("MARKET_DECLINE_WINDOW_DAYS", 365, env),
            suspension_days=_int("MARKET_SUSPENSION_DAYS", 182, env),
            ocds_prefix=_ocid_prefix(env, mode),
            flag_win_share_percent=_int("MARKET_FLAG_WIN_SHARE_PERCENT", 50, env),
            flag_min_awards=_int("MARKET_FLAG_MIN_AWARDS", 4, env),
            flag_pair_repeats=_int("MARKET_FLAG_PAIR_REPEATS", 3, env),
            flag_direct_share_percent=_int("MARKET_FLAG_DIRECT_SHARE_PERCENT", 30, env),
            flag_min_notices=_int("MARKET_FLAG_MIN_NOTICES", 3, env),
            flag_price_gap_permille=_int("MARKET_FLAG_PRICE_GAP_PERMILLE", 5, env),
            flag_amend_hours=_int("MARKET_FLAG_AMEND_HOURS", 48, env),
            flag_withdrawn_percent=_int("MARKET_FLAG_WITHDRAWN_PERCENT", 30, env),
            flag_min_bids=_int("MARKET_FLAG_MIN_BIDS", 5, env),
            smtp=(smtp := _smtp_url(env.get("MARKET_SMTP_URL") or "")),
            mail_from=_mail_from(env.get("MARKET_MAIL_FROM"), smtp),
            mail_max_attempts=max(1, _int("MARKET_MAIL_MAX_ATTEMPTS", 8, env)),
            mail_retry_seconds=_int("MARKET_MAIL_RETRY_SECONDS", 60, env),
            database_read_url=normalize_database_url(
                env.get("DATABASE_READ_URL") or None, name="DATABASE_READ_URL"
            ),
            read_max_lag=_float("MARKET_READ_MAX_LAG", 10.0, env),
            db_statement_timeout=_ms("MARKET_DB_STATEMENT_TIMEOUT", 30_000, env),
            db_lock_timeout=_ms("MARKET_DB_LOCK_TIMEOUT", 5_000, env),
            task_statement_timeout=_ms("MARKET_TASK_STATEMENT_TIMEOUT", 300_000, env),
            task_lock_timeout=_ms("MARKET_TASK_LOCK_TIMEOUT", 10_000, env),
        )
        if settings.beacon not in {"none", "drand"}:
            raise ConfigError(f"MARKET_BEACON must be none or drand, got {settings.beacon!r}")
        return settings

    def with_secret(self) -> Settings:
        """Return settings whose secret key is set: from the environment or the data dir."""
        from dataclasses import replace

        # Stripped as the file is: a variable set from the file's text keeps its newline.
        path = self.data_dir / "secret_key"
        if not self.secret_key.strip() and self.env == "production" and not path.is_file():
            # Never a secret of this host's own, which the other hosts would not share
            # (create_app checks the keys the same way: market/security/keys.require_keys).
            raise ConfigError(
                f"MARKET_ENV=production, and this host is given no secret key (MARKET_SECRET_KEY, or the file {path}): "
                "make the keys once with `market keys generate --out DIR` and give every host the same files (docs/security.md)"
            )
        key = self.secret_key.strip() or load_or_create_secret(path)
        check_secret(key, is_dev=self.is_dev)
        return replace(self, secret_key=key)


def normalize_database_url(url: str | None, *, name: str = "DATABASE_URL") -> str | None:
    """``postgresql+asyncpg://...``; the plain ``postgresql://`` and ``postgres://`` forms
    that other tools use are taken too and given the driver this application uses.

    Several hosts (a primary and its standbys, tried in turn; with
    ``target_session_attrs=read-write`` the first that takes writes is used, so after a
    failover the same URL finds the promoted server) in either of two forms:
    libpq's ``postgresql://u:p@10.0.0.31:5432,10.0.0.32:5432/market?target_session_attrs=read-write``,
    which is rewritten into SQLAlchemy's, or SQLAlchemy's own
    ``postgresql://u:p@/market?host=10.0.0.31:5432&host=10.0.0.32:5432&target_session_attrs=read-write``.
    A host without a port gets 5432."""
    if url is None:
        return None
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return _database_hosts("postgresql+asyncpg://" + url.removeprefix(prefix), name)
    raise ConfigError(
        f"{name} must be a PostgreSQL URL: postgresql+asyncpg://user:password@host:port/database"
    )


TARGET_SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")


def _host_port(spec: str, name: str) -> str:
    """``host:port`` (``[v6]:port``) from ``host``, ``host:port`` or ``[v6]``, ``[v6]:port``."""
    host, port = spec, "5432"
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0 or (spec[end + 1 :] and not spec[end + 1 :].startswith(":")):
            raise ConfigError(
                f"{name}: {spec!r} is not a host (an IPv6 address goes in brackets: [::1]:5432)"
            )
        host, port = spec[: end + 1], spec[end + 2 :] or port
    elif ":" in spec:
        host, _, port = spec.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: {spec!r} is not host:port (e.g. 10.0.0.31:5432)")
    return f"{host}:{port}"


def _database_hosts(url: str, name: str) -> str:
    """The multi-host forms of ``url`` (``postgresql+asyncpg://...``) as SQLAlchemy takes
    them (``?host=h1:p1&host=h2:p2``), each with its port; a single host as it is."""
    scheme, _, rest = url.partition("://")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    auth, at, hostspec = netloc.rpartition("@")
    path, _, query = tail.partition("?")
    pairs = [p for p in query.split("&") if p]
    listed = [unquote(p.partition("=")[2]) for p in pairs if p.partition("=")[0] == "host"]
    for p in pairs:
        key, _, value = p.partition("=")
        if key == "target_session_attrs" and unquote(value) not in TARGET_SESSION_ATTRS:
            raise ConfigError(
                f"{name}: target_session_attrs={unquote(value)} is not one of {', '.join(TARGET_SESSION_ATTRS)}"
            )
    if "," in hostspec:
        if listed:
            raise ConfigError(f"{name}: hosts listed both before the database name and in ?host=")
        hosts = [h.strip() for h in hostspec.split(",")]
    elif len(listed) > 1 or any("," in h for h in listed):
        if hostspec:
            raise ConfigError(f"{name}: hosts listed both before the database name and in ?host=")
        hosts = [h.strip() for item in listed for h in item.split(",")]
        pairs = [p for p in pairs if p.partition("=")[0] != "host"]
    else:
        return url
    if any(not h for h in hosts):
        raise ConfigError(f"{name}: an empty host in the host list {hostspec or ','.join(listed)!r}")
    query = "&".join([f"host={_host_port(h, name)}" for h in hosts] + pairs)
    return f"{scheme}://{auth}{at}{path or '/'}?{query}"


def check_secret(key: str, *, is_dev: bool) -> None:
    if is_dev:
        return
    if key.strip().lower() in KNOWN_DEFAULT_SECRETS or len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "MARKET_SECRET_KEY is a known default or shorter than "
            f"{MIN_SECRET_LENGTH} characters; unset it to have one generated"
        )
