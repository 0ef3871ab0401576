"""Fuzzing the JSON API with schemathesis over the OpenAPI schema the app serves (issue 9,
item 1): no 5xx, and every answer documented (status code, content type, headers, body).

- Stateless: every /api/ operation, each generated request sent as every role (anonymous,
  owner, agency, supervisor, admin); the log-in endpoints only anonymously, since they
  never read the caller and each call costs an argon2 hash.
- Boundary cases (schemathesis' coverage phase: missing fields, wrong types, extremes),
  sent anonymously and as each role the operation's guard admits, since guards refuse
  before the body is read.
- Stateful: the OpenAPI links from each create to the operations on what it created
  (market/web/openapi.py), each step as a role the step's guard admits.

Bounded and reproducible for CI: ``MARKET_FUZZ_EXAMPLES`` examples per operation (default
5), derandomized, no example database. Raise it for a longer run (docs/reliability.md, "Fuzzing the API").

The app is called in-process through schemathesis' ASGI transport, which runs it on one
event loop of its own with its lifespan, so the app makes its own engine on a database of
this module's, with real commits (the rolled-back connection of tests/conftest.py lives on
the test's loop, which that transport cannot use). The schema is taken from the app when
the module is imported, since the tests are generated from it; the first test checks that
it is exactly what /schema/openapi.json serves.
"""

from __future__ import annotations

import atexit
import copy
import inspect
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, note, settings
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import make_url

from market.accounts import service as accounts
from market.accounts.models import Role
from market.app import create_app
from market.core.db import Database
from market.security.tokens import issue_token
from tests.conftest import SERVER_URL_VAR, _drop, _recreate, make_settings, run_blocking, url_for
from tests.helpers import PASSWORD, unique_email
from tests.integration.agencies.test_api import agency_body, credit_code
from tests.integration.notices.test_api import in_hours, notice_body, project_code

ROLES = ("anonymous", "owner", "agency", "supervisor", "admin")
MAX_EXAMPLES = int(os.environ.get("MARKET_FUZZ_EXAMPLES", "5"))
STATEFUL_STEPS = int(os.environ.get("MARKET_FUZZ_STEPS", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Each call of these hashes a password (argon2); the caller's token means nothing to them.
CALLER_BLIND = ("/api/v1/auth/",)
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Refusals (401, 403, 404) are most of what random input earns; that is not a problem here.
    suppress_health_check=list(HealthCheck),
)

# -- the app and its schema, at import: the tests are generated from the schema -------------

DB_NAME = f"market_fuzz_{os.getpid()}_{secrets.token_hex(3)}"
DATA_DIR = Path(tempfile.mkdtemp(prefix="market-fuzz-"))
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)
# schemathesis's ASGI client asks for http://testserver.
APP = create_app(
    make_settings(
        url_for(os.environ[SERVER_URL_VAR], DB_NAME),
        DATA_DIR,
        scheduler_interval=0,
        allowed_hosts=("testserver",),
    )
)
RAW_SCHEMA = APP.openapi_schema.to_schema()


def _schema(*phases: str) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "phases": {
                phase: {"enabled": phase in phases}
                for phase in ("examples", "coverage", "fuzzing", "stateful")
            }
        }
    )
    # A copy each: schemathesis resolves and annotates the dict it is given.
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(RAW_SCHEMA), config=config)
    loaded.app = APP  # calls go in-process to this app (the ASGI transport)
    return loaded


def _roles_of(handler: HTTPRouteHandler) -> tuple[str, ...]:
    """The roles the handler's guards admit (every role when it has no guard)."""
    admitted: set[str] = set(ROLES)
    for wrapped in handler.resolve_guards():
        guard = getattr(wrapped, "func", wrapped)  # Litestar wraps each guard
        if guard.__name__.startswith("rate_limited"):  # counts attempts, admits anyone
            continue
        roles = inspect.getclosurevars(guard).nonlocals.get("roles")  # from requires_role(*roles)
        admitted &= {str(r) for r in roles} if roles is not None else set(ROLES) - {"anonymous"}
    return tuple(r for r in ROLES if r in admitted)


ADMITS = {
    (method, route.path_format): _roles_of(handler)
    for route in APP.routes
    if isinstance(route, HTTPRoute)
    for handler in route.route_handlers
    for method in handler.http_methods
}

stateless = _schema("examples", "fuzzing")
boundaries = _schema("coverage")
linked = _schema("stateful")


@linked.hook("map_body")
def plausible_notices(context: Any, body: Any) -> Any:
    """A random notice almost never passes the domain rules (a known category and region, a
    deadline ahead), so the links from its create would go unvisited: keep what was
    generated but the fields those rules check, so publish, bids, amend... get real ids."""
    operation = context.operation
    if (
        operation is None
        or (operation.method.upper(), operation.path) != ("POST", "/api/v1/notices")
        or not isinstance(body, dict)
    ):
        return body
    budget = body.get("budget_fen")
    return {
        **body,
        **notice_body(bid_deadline=in_hours(48)),
        "title": body.get("title") if isinstance(body.get("title"), str) else "模糊测试公告",
        "budget_fen": abs(budget) + 1
        if isinstance(budget, int) and not isinstance(budget, bool)
        else 1_000_000,
        "method": body.get("method") if body.get("method") in ("lottery", "lowest_price") else "lottery",
        "avoid": [],
    }


# -- one database, seeded with a user of each role and something to act on ------------------


@pytest.fixture(scope="module")
def tokens(server_url: str, database_url: str) -> Iterator[dict[str, dict[str, str]]]:
    run_blocking(_recreate(server_url, DB_NAME, template=make_url(database_url).database))
    url = url_for(server_url, DB_NAME)

    async def staff() -> dict[str, str]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                made = {
                    role.value: await accounts.create_staff(
                        session, email=unique_email(role.value), password=PASSWORD, name="Fuzz", role=role
                    )
                    for role in (Role.supervisor, Role.admin)
                }
                await session.commit()
                return {role: user.public_id for role, user in made.items()}
        finally:
            await db.dispose()

    ids = run_blocking(staff())
    with asgi.get_client(APP) as client:
        for role in ("owner", "agency"):
            body = {"email": unique_email(role), "password": PASSWORD, "name": f"Fuzz {role}", "role": role}
            answer = client.post("/api/v1/auth/register", json=body)
            assert answer.status_code == 201, answer.text
            ids[role] = answer.json()["id"]
        # Minted rather than logged in for: each log-in costs an argon2 hash.
        secret = APP.state.settings.secret_key
        headers: dict[str, dict[str, str]] = {"anonymous": {}} | {
            role: {
                "Authorization": "Bearer "
                + issue_token(secret=secret, subject=public_id, role=role, ttl=3600)
            }
            for role, public_id in ids.items()
        }
        owner, agency, admin = headers["owner"], headers["agency"], headers["admin"]
        org = {"name": "昆明市交通运输局", "credit_code": credit_code(), "region": "530100"}
        assert client.post("/api/v1/owners/org", json=org, headers=owner).status_code == 201
        project = {"name": "某道路改扩建工程", "code": project_code()}
        assert client.post("/api/v1/owners/projects", json=project, headers=owner).status_code == 201
        registered = client.post("/api/v1/agencies", json=agency_body(), headers=agency)
        assert registered.status_code == 201, registered.text
        review = client.post(
            f"/api/v1/agencies/{registered.json()['id']}/review", json={"decision": "approve"}, headers=admin
        )
        assert review.status_code == 200, review.text
        notice = client.post("/api/v1/notices", json=notice_body(), headers=owner)
        assert notice.status_code == 201, notice.text
        assert client.post(f"/api/v1/notices/{notice.json()['id']}/publish", headers=owner).status_code == 200
    yield headers
    asgi.shutdown_lifespans()  # the app's engine and tasks, before its database goes
    run_blocking(_drop(server_url, DB_NAME))


def test_the_fuzzed_schema_is_the_served_one_with_problems_and_links(
    tokens: dict[str, dict[str, str]],
) -> None:
    with asgi.get_client(APP) as client:
        served = client.get("/schema/openapi.json")
    assert served.status_code == 200 and served.json() == RAW_SCHEMA
    operations = [
        (p, m, op)
        for p, item in RAW_SCHEMA["paths"].items()
        if p.startswith("/api/")
        for m, op in item.items()
    ]
    assert len(operations) >= 70
    for path, method, op in operations:
        for code, answer in op["responses"].items():
            if code.startswith(("4", "5")):
                assert list(answer["content"]) == ["application/problem+json"], (method, path, code)
    links = RAW_SCHEMA["paths"]["/api/v1/notices"]["post"]["responses"]["201"]["links"]
    assert any(
        link["operationRef"].endswith("~1api~1v1~1notices~1{notice_id}/get") for link in links.values()
    )


@stateless.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_every_role(case: Any, tokens: dict[str, dict[str, str]]) -> None:
    roles = ("anonymous",) if case.path.startswith(CALLER_BLIND) else ROLES
    for role in roles:
        note(f"as {role}")
        case.call_and_validate(headers=tokens[role], checks=CHECKS)


@boundaries.parametrize()
@FUZZ_SETTINGS
def test_boundary_cases_as_the_roles_admitted(case: Any, tokens: dict[str, dict[str, str]]) -> None:
    # Methods the path does not serve (the coverage phase tries them: 405) are not in ADMITS.
    admitted = ADMITS.get((case.method.upper(), case.path), ())
    roles = (
        ("anonymous",)
        if case.path.startswith(CALLER_BLIND)
        else tuple(dict.fromkeys(("anonymous", *admitted)))
    )
    for role in roles:
        note(f"as {role}")
        case.call_and_validate(headers=tokens[role], checks=CHECKS)


class LinkedFlows(linked.as_state_machine()):  # type: ignore[misc]
    """Create something, then act on it through the links, each step as a role its guard
    admits (the first one: owners create notices, agencies bid, admins review)."""

    headers: dict[str, dict[str, str]] = {}

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        admitted = ADMITS[(case.method.upper(), case.path)]
        role = next((r for r in admitted if r != "anonymous"), "owner")
        return {"headers": self.headers[role]}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)


def test_linked_flows(tokens: dict[str, dict[str, str]]) -> None:
    LinkedFlows.headers = tokens
    LinkedFlows.run(
        settings=settings(FUZZ_SETTINGS, max_examples=MAX_EXAMPLES * 4, stateful_step_count=STATEFUL_STEPS)
    )
