"""The application factory: settings, database lifespan, middleware, routes, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.channels import ChannelsPlugin
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncSession

from market import __version__
from market.accounts.api import AccountsApi
from market.accounts.web import AccountPages
from market.agencies.api import AgencyApi
from market.agencies.web import AgencyPages
from market.agencies.web_agency import AgencyOwnPages
from market.agencies.web_staff import AgencyReviewPages
from market.bids.api import BidApi, ReceiptKeyApi
from market.bids.receipts import ReceiptSigner
from market.bids.web import BidPages
from market.contracts import service as contracts_service
from market.contracts.api import ContractApi
from market.contracts.scheduler import OverdueTask
from market.contracts.web import ContractPages
from market.core.channels import ReconnectingAsyncPgChannelsBackend
from market.core.config import ConfigError, Settings
from market.core.db import (
    ROOT,
    TASK_POOL_OVERFLOW,
    TASK_POOL_SIZE,
    Database,
    request_database,
    request_timeouts,
    task_timeouts,
    to_asyncpg_dsn,
)
from market.core.replica import Standby, read_routing_middleware_factory
from market.dashboards.web import DashboardPages
from market.halls.api import HallApi
from market.halls.web import HallPages
from market.inbox.api import MessageApi
from market.log.api import LogApi
from market.log.signer import LogSigner
from market.log.store import Checkpointer
from market.log.web import LogPages
from market.notices.api import NoticeApi, OwnerApi, OwnerHallApi
from market.notices.secrets import SecretSealer
from market.notices.web import NoticePages
from market.notices.web_owner import OwnerNoticePages
from market.notices.web_staff import StaffNoticePages
from market.notify import service as notify_service
from market.notify.api import MailAdminApi, NotificationApi
from market.notify.feeds import FeedPages
from market.notify.sender import MailSender
from market.notify.web import NotificationPages
from market.objections.scheduler import EscalationTask
from market.ocds.api import OcdsApi
from market.ocds.web import OpenDataPages
from market.ratings.api import RatingApi
from market.ratings.web import RatingPages
from market.reference.api import ReferenceApi
from market.security.auth import auth_middleware_factory
from market.security.csrf import CSRF_HEADER, csrf_middleware_factory
from market.security.headers import add_security_headers
from market.security.hosts import allowed_hosts_middleware_factory
from market.security.keys import require_keys
from market.security.ratelimit import FailureBackoff, LimitStore, SlidingWindowLimiter
from market.security.swagger import StaticSwaggerRenderPlugin
from market.selection import service as selection_service
from market.selection.api import SelectionApi
from market.selection.api import context as selection_context
from market.selection.beacon import DrandRelays
from market.selection.beacon import available as beacon_available
from market.selection.scheduler import Scheduler
from market.selection.service import CHANNEL
from market.selection.web import SelectionPages
from market.site.web import HealthApi, SitePages
from market.stats.api import StatsApi
from market.stats.scheduler import StatsTask
from market.stats.web import StatsPages
from market.supervision.alerts import CHANNEL as ALERTS_CHANNEL
from market.supervision.flags.alerting import FlagAlertTask
from market.supervision.flags.alerting import interval_of as flag_interval
from market.supervision.flags.web import FlagApi, FlagPages
from market.supervision.web import SupervisionPages
from market.supervision.web_live import LivePages
from market.web.observability import access_log_middleware, configure_logging
from market.web.openapi import document_problems, link_operations
from market.web.problems import handle


async def provide_session(state: State, request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when
    it raises (Litestar throws the handler's exception in here), before the response is sent.
    On the primary, or on the read standby for a public read (market/core/replica.py)."""
    async with request_database(request).transaction() as session:
        yield session
    if session.info.get("log_appended") and state.get("checkpointer") is not None:
        state.checkpointer.nudge()


async def provide_reader(request: Request[Any, Any, Any]) -> AsyncIterator[Any]:
    """A pooled connection without a transaction, for the hot read paths (db.reading)."""
    async with request_database(request).reading() as reader:
        yield reader


def _lifespan(database: Database | None):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        if database is not None:
            app.state.db = app.state.task_db = database
        else:
            if not settings.database_url:
                raise ConfigError(
                    "DATABASE_URL is unset: start with `market serve`, which runs the embedded database"
                )
            # Made here, inside the running event loop, never at import time.
            app.state.db = Database.from_url(
                settings.database_url,
                timeouts=request_timeouts(settings),
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_overflow,
            )
            # The background tasks' own small engine, under their own limits (MARKET_TASK_*:
            # a batch may rightly run longer than a request), set once per connection.
            app.state.task_db = Database.from_url(
                settings.database_url,
                timeouts=task_timeouts(settings),
                pool_size=TASK_POOL_SIZE,
                max_overflow=TASK_POOL_OVERFLOW,
            )
            # A burst (a deadline's last seconds) would otherwise pay for the connections
            # while it queues: a new connection costs the worker and PostgreSQL several ms.
            await app.state.db.fill_pool(settings.db_pool_size)
            await app.state.db.open_reader_pool(settings.database_url, settings.db_read_pool_size)
            if settings.database_read_url:  # public reads from a standby (market/core/replica.py)
                app.state.standby = Standby.from_settings(settings, request_timeouts(settings))
                await app.state.standby.open(settings.db_read_pool_size)
        checkpointer = Checkpointer(app.state.task_db, app.state.log_signer)
        app.state.checkpointer = checkpointer
        tasks = [asyncio.create_task(checkpointer.run(), name="log-checkpointer")]
        if app.state.get("standby") is not None:
            tasks.append(asyncio.create_task(app.state.standby.watch(), name="read-standby-lag"))
        if settings.stats_interval > 0:  # on even with the scheduler off: the pages read its summary
            stats = StatsTask(app.state.task_db, interval=settings.stats_interval)
            tasks.append(asyncio.create_task(stats.run(), name="stats-refresh"))
        if settings.scheduler_interval > 0:
            scheduler = Scheduler(
                app.state.task_db,
                selection_context(app.state),
                interval=settings.scheduler_interval,
                on_step=checkpointer.nudge,
            )
            tasks.append(asyncio.create_task(scheduler.run(), name="selection-scheduler"))
            overdue = OverdueTask(
                app.state.task_db, interval=max(settings.scheduler_interval, 60.0), on_step=checkpointer.nudge
            )
            tasks.append(asyncio.create_task(overdue.run(), name="contracts-overdue"))
            if settings.objection_escalation_days > 0:
                escalations = EscalationTask(
                    app.state.task_db,
                    days=settings.objection_escalation_days,
                    interval=max(settings.scheduler_interval, 60.0),
                    on_step=checkpointer.nudge,
                )
                tasks.append(asyncio.create_task(escalations.run(), name="objection-escalation"))
            flag_alerts = FlagAlertTask(app.state.task_db, settings, interval=flag_interval(settings))
            tasks.append(asyncio.create_task(flag_alerts.run(), name="flag-alerts"))
            if settings.smtp is not None:  # the e-mail queue (market/notify/sender.py)
                mail = MailSender(app.state.task_db, settings, interval=max(settings.scheduler_interval, 5.0))
                tasks.append(asyncio.create_task(mail.run(), name="mail-sender"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.limits.close()
            if database is None:
                await app.state.db.dispose()
                await app.state.task_db.dispose()
                if app.state.get("standby") is not None:
                    await app.state.standby.close()

    return lifespan


def _channels(settings: Settings) -> list[ChannelsPlugin]:
    """Live draw pages listen for NOTIFY on the selection channel, so an update made by any
    server process (or the scheduler of another) reaches every page that watches. The
    listener reconnects after PostgreSQL restarts (market/core/channels.py)."""
    if not settings.database_url:
        return []
    backend = ReconnectingAsyncPgChannelsBackend(
        to_asyncpg_dsn(settings.database_url), server_settings=request_timeouts(settings).server_settings()
    )
    return [
        ChannelsPlugin(
            backend=backend,
            channels=[CHANNEL, ALERTS_CHANNEL],
            subscriber_max_backlog=100,
            subscriber_backlog_strategy="dropleft",
        )
    ]


def wire_services() -> None:
    """What one domain's service does on another's events, where an import would point
    upward (contracts.service builds on selection.service, so selection cannot call it).
    Idempotent: create_app calls it, and so does whatever uses the services without the app
    (the demo data, the tests)."""
    selection_service.on_award_declined(contracts_service.AWARD_DECLINED)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Litestar:
    """Build the app. ``database`` lets tests hand in sessions bound to a rolled-back
    transaction; otherwise the engine is created from ``settings`` in the lifespan."""
    wire_services()
    settings = settings or Settings.from_env()
    if settings.env == "production":
        # Never a key of this host's own, which the other hosts would not share.
        require_keys(settings.data_dir, secret_given=bool(settings.secret_key))
    settings = settings.with_secret()
    notify_service.configure(mail=settings.smtp is not None, base_url=settings.base_url)
    if settings.beacon == "drand" and not beacon_available():
        raise ConfigError(
            "MARKET_BEACON=drand needs the package drand-verify (CPython 3.11 or 3.12) to verify beacon rounds"
        )
    configure_logging()
    openapi = OpenAPIConfig(
        title="market: intermediary-services supermarket (中介超市)",
        version=__version__,
        path="/schema",
        description="The public interface of api-v1.md. Authenticate with `Authorization: Bearer <token>` "
        "from POST /api/v1/auth/token. Errors are RFC 9457 problem details.",
        render_plugins=[
            StaticSwaggerRenderPlugin(
                path="/",
                spec_url="/schema/openapi.json",
                csrf_header=CSRF_HEADER,
                js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                css_url="/static/vendor/swagger-ui/swagger-ui.css",
                standalone_preset_js_url="/static/vendor/swagger-ui/swagger-ui-standalone-preset.js",
            )
        ],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
        security=[{"BearerToken": []}],
    )
    state = State(
        {
            # Handed in (tests): usable at once, with or without the lifespan.
            **({"db": database} if database is not None else {}),
            "settings": settings,
            "log_signer": LogSigner.from_data_dir(settings.log_origin, settings.data_dir),
            "receipts": ReceiptSigner.from_data_dir(settings.data_dir),
            "sealer": SecretSealer.from_data_dir(settings.data_dir),
            "beacon": DrandRelays(settings.drand_relays),
        }
    )
    app = Litestar(
        route_handlers=[
            SitePages,
            HealthApi,
            AccountPages,
            DashboardPages,
            AccountsApi,
            LogApi,
            ReferenceApi,
            AgencyApi,
            OwnerApi,
            OwnerHallApi,
            NoticeApi,
            BidApi,
            ReceiptKeyApi,
            LogPages,
            AgencyPages,
            AgencyOwnPages,
            AgencyReviewPages,
            NoticePages,
            OwnerNoticePages,
            StaffNoticePages,
            BidPages,
            SelectionApi,
            MessageApi,
            SelectionPages,
            RatingApi,
            RatingPages,
            ContractApi,
            ContractPages,
            StatsApi,
            StatsPages,
            OcdsApi,
            OpenDataPages,
            FlagApi,
            FlagPages,
            SupervisionPages,
            LivePages,
            HallApi,
            HallPages,
            NotificationApi,
            MailAdminApi,
            NotificationPages,
            FeedPages,
            create_static_files_router(
                path="/static", directories=[ROOT / "static"], include_in_schema=False
            ),
        ],
        dependencies={"session": Provide(provide_session), "reader": Provide(provide_reader)},
        middleware=[
            access_log_middleware,
            auth_middleware_factory,
            csrf_middleware_factory(settings.secret_key, secure=settings.cookie_secure),
            # after auth: it reads who is asking; only with a read standby (the bid path pays nothing)
            *([read_routing_middleware_factory] if settings.database_read_url else []),
        ],
        exception_handlers={Exception: handle},
        # A hook, not a middleware: it also reaches the router's own 404 and 405 answers.
        before_send=[add_security_headers],
        lifespan=[_lifespan(database)],
        openapi_config=openapi,
        plugins=_channels(settings),
        state=state,
        debug=False,
        # Uploads may be 10 MB; a little more lets the service say so in its own words.
        request_max_body_size=12 * 1024 * 1024,
        logging_config=None,
    )
    # The log-in limits, counted in the database that every host shares (security/ratelimit.py).
    limits = LimitStore(lambda: app.state.db)
    app.state.limits = limits
    app.state.auth_limiter = SlidingWindowLimiter(
        limits, limit=settings.auth_rate_limit, window=settings.auth_rate_window
    )
    app.state.login_backoff = FailureBackoff(limits)
    document_problems(app)
    link_operations(app)
    # Around everything, the router's own 404s and the static files included: middleware
    # given to Litestar (and its own allowed_hosts) runs only once a route has matched.
    app.asgi_handler = allowed_hosts_middleware_factory(settings.hosts_allowed)(app.asgi_handler)
    return app


def app_from_env() -> Any:
    """For ``uvicorn --factory market.app:app_from_env`` with DATABASE_URL set."""
    app = create_app()
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """For a served process, once the app is built. What start-up made (modules, routes,
    models, templates) lives as long as the process; frozen, the collector stops walking
    it, where every full collection walked all of it: 30-135 ms pauses every few seconds
    under a burst of bids (ops/load/bids.py)."""
    gc.collect()
    gc.freeze()
