"""The error answers of the JSON API, and the links between its operations, in its
OpenAPI schema.

Every API error is an RFC 9457 problem (market/web/problems.py), but Litestar only documents
its own 400 shape. ``document_problems`` declares, on every /api/ operation, the problem
answers that follow from how the handler is built (guards, path and body parameters, an
unsafe method, a database session), so a new route is documented without anyone
remembering to; a handler adds what only it can answer (a 404 for a query naming
nothing) with ``responses=problems(...)`` on its decorator. The API fuzz test
(tests/integration/security/test_api_fuzz.py) fails on any status the schema omits.

``link_operations`` adds OpenAPI links from each create (a POST answering 201 with the new
resource's ``id``) to the operations on that resource, the paths under it with its id as
the next path parameter (POST /api/v1/notices -> GET /api/v1/notices/{notice_id}, publish,
bids...), so clients and the stateful fuzz test can follow them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link, OpenAPIResponse, Operation, Reference
from litestar.routes import HTTPRoute

from market.web.problems import PROBLEM_JSON, TITLES

# Methods that change state, and so may meet a state conflict (409).
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class ProblemField:
    field: str
    message: str


@dataclass
class Problem:
    """RFC 9457 problem details; ``errors`` names each invalid field."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemField] | None = None


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for these problem statuses, for a route decorator."""
    return {
        code: ResponseSpec(
            data_container=Problem, media_type=PROBLEM_JSON, description=TITLES[code], generate_examples=False
        )
        for code in codes
    }


def _codes_for(handler: HTTPRouteHandler, method: str, path_params: bool) -> set[int]:
    params = set(handler.parsed_fn_signature.parameters)
    codes: set[int] = set()
    # Guards by name (market/security): requires_login (401), requires_<roles> (401, 403),
    # rate_limited_<action> (429). Litestar keeps each wrapped, the function in ``func``.
    for name in (getattr(getattr(g, "func", g), "__name__", "") for g in handler.resolve_guards()):
        if name.startswith("rate_limited"):
            codes.add(429)
        elif name == "requires_login":
            codes.add(401)
        else:
            codes |= {401, 403}
    if path_params:
        codes.add(404)
    # Anything the client sends can be malformed (400) or break a rule (422).
    if params - {"request", "session", "state"}:
        codes |= {400, 422}
    if method in UNSAFE:
        codes.add(409)
    if "session" in params:
        codes.add(503)  # the database is unreachable: answered with Retry-After
    return codes


def _api_operations(app: Litestar) -> list[tuple[HTTPRoute, str, HTTPRouteHandler]]:
    return [
        (route, method, handler)
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/")
        for handler in route.route_handlers
        if handler.resolve_include_in_schema()
        for method in sorted(handler.http_methods)
    ]


def document_problems(app: Litestar) -> None:
    """Declare the problem answers of every /api/ operation; a handler's own
    ``responses`` win. Call before the schema is first built."""
    for route, method, handler in _api_operations(app):
        codes = _codes_for(handler, method, bool(route.path_parameters))
        handler.responses = {**problems(*sorted(codes)), **(handler.responses or {})}


def _with_links(links: dict[str, Link | Reference]) -> type[Operation]:
    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            for code, response in (self.responses or {}).items():
                if code.startswith("2") and isinstance(response, OpenAPIResponse):
                    response.links = links

    return LinkedOperation


def link_operations(app: Litestar) -> None:
    """Link every create to the operations on what it created (see the module's doc)."""
    operations = _api_operations(app)
    for source, method, handler in operations:
        if method != "POST" or handler.status_code != 201:
            continue
        base = source.path_format
        carried = {name: f"$request.path.{name}" for name in re.findall(r"\{(\w+)\}", base)}
        links: dict[str, Link | Reference] = {}
        for target, target_method, _ in operations:
            new = re.match(re.escape(base) + r"/\{(\w+)\}", target.path_format)
            if new is None:
                continue
            pointer = target.path_format.replace("~", "~0").replace("/", "~1")
            name = re.sub(r"\W+", "_", f"{target_method} {target.path_format}").strip("_")
            links[name] = Link(
                operation_ref=f"#/paths/{pointer}/{target_method.lower()}",
                parameters={**carried, new.group(1): "$response.body#/id"},
            )
        if links:
            handler.operation_class = _with_links(links)
