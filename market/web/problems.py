"""One mapping from exceptions to answers: RFC 9457 problem details for the API, a
friendly page for people. Anything unexpected is logged and shown as a 500, which is a bug."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect

from market.core.db import RETRY_AFTER, is_unavailable, timed_out
from market.core.errors import DomainError, FieldError, field_error_from_words
from market.core.i18n import HTML_LANG, LANG_COOKIE, LOCALES, N_, gettext_for, parse_accept_language
from market.web.templating import LocaleGettext, render

logger = logging.getLogger("market.core.errors")
PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: N_("Bad request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    413: N_("Payload too large"),
    415: N_("Unsupported media type"),
    422: N_("Invalid input"),
    429: N_("Too many requests"),
    500: N_("Internal server error"),
    503: N_("Service unavailable"),
    504: N_("Gateway timeout"),
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/schema")):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept and "*/*" not in accept and bool(accept)


# What Litestar says when it says nothing more than the status ("Not Found", "Method Not
# Allowed"): English words outside the catalog, which reached Chinese readers as they were
# (issue 22, item 12). Our own sentence for each, translated like any other.
DETAILS = {
    400: N_("The request could not be understood."),
    401: N_("Log in first"),
    403: N_("You may not do this."),
    404: N_("There is nothing at this address."),
    405: N_("This address does not accept this kind of request."),
    413: N_("The request is too large."),
    415: N_("This kind of content is not accepted here."),
    429: N_("Too many requests; try again later."),
    500: N_("Something went wrong on our side; it has been logged"),
    503: N_("The service is not available just now; please try again in a few seconds."),
}


def _plain_detail(status: int, detail: str | None) -> str:
    """The detail to show for a Litestar exception: its status's own sentence when Litestar
    gave only the status's name (or nothing)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if not detail or detail == phrase:
        return DETAILS.get(status) or TITLES.get(status, "Error")
    return detail


def _from_litestar(exc: HTTPException) -> DomainError:
    status = exc.status_code
    detail = _plain_detail(status, exc.detail)
    errors: list[FieldError] = []
    if isinstance(exc, ValidationException):
        # Litestar reports body and parameter validation as 400; a well-formed request
        # whose fields break the rules is 422 (api-v1.md), while undecodable bodies stay 400.
        sources = set()
        for item in exc.extra or []:
            if isinstance(item, dict):
                message = str(item.get("message", "invalid"))
                sources.add(item.get("source") or "body")
                errors.append(
                    field_error_from_words(str(item.get("key") or item.get("source") or "body"), message)
                )
        # A malformed query or path parameter is a bad request (400); a body whose fields
        # break the rules is invalid input (422).
        if errors and sources <= {"body"}:
            status, detail = 422, N_("Some fields are invalid")
        elif errors:
            detail = N_("Some parameters are invalid")
    if status == 403 and "CSRF" in str(exc.detail):
        detail = N_(
            "The form has expired or was not sent by this site (CSRF token missing or wrong); reload the page and try again"
        )
    headers = dict(exc.headers or {})
    return DomainError(
        detail=str(detail), status=status, title=TITLES.get(status, "Error"), errors=errors, headers=headers
    )


def problem_locale(request: Request[Any, Any, Any]) -> str:
    """The language of a problem's words: the one the client asked for (the site's language
    switch, then Accept-Language); English for a client that asked for none, as the API
    always answered (api-v1.md), while pages default to Chinese (templating.request_locale)."""
    if request.cookies.get(LANG_COOKIE) in LOCALES:
        return str(request.cookies[LANG_COOKIE])
    asked = parse_accept_language(request.headers.get("accept-language") or "")
    return asked[0] if asked else "en"


def problem_response(request: Request[Any, Any, Any], err: DomainError) -> Response[Any]:
    locale = problem_locale(request)
    gettext = LocaleGettext(locale, gettext_for(locale)[0])
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": gettext(err.title or TITLES.get(err.status, "Error")),
        "status": err.status,
        "detail": err.text(gettext),
        "instance": request.url.path,
    }
    if err.errors:
        body["errors"] = [{"field": e.field, "message": e.text(gettext)} for e in err.errors]
    headers = {**err.headers, "Content-Language": HTML_LANG[locale], "Vary": "Accept-Language, Cookie"}
    return Response(body, status_code=err.status, media_type=PROBLEM_JSON, headers=headers)


def page_response(request: Request[Any, Any, Any], err: DomainError) -> Response[Any]:
    if err.status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (("?" + request.url.query) if request.url.query else "")
        return Redirect(path="/login?next=" + quote(target, safe=""), status_code=303)
    try:
        return render(request, "errors/error.html", status_code=err.status, headers=err.headers, error=err)
    except Exception:  # a broken template must not hide the original error
        logger.exception("error page failed to render")
        return Response(err.detail, status_code=err.status, media_type=MediaType.TEXT)


# character_not_in_repertoire (a NUL in text) and untranslatable_character (\u0000 in jsonb).
BAD_TEXT = {"22021", "22P05"}
# A number its column cannot hold: asyncpg refuses to encode it (22000, "value out of int64
# range") or PostgreSQL refuses it (22003). Found by the API fuzz test in bodies such as a
# notice's budget_fen or min_candidates; query and path integers are bounded (market/core/params.py).
OUT_OF_RANGE = {"22000", "22003"}


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (SQLAlchemy wraps asyncpg's; both carry it)."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None


def problem_for(exc: Exception) -> DomainError:
    """The problem that the answer to ``exc`` reports. Pure: ``handle`` logs and renders
    it, and the access log records its status (``observability``)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, HTTPException):
        return _from_litestar(exc)
    if is_unavailable(exc):
        # PostgreSQL is restarting, refusing or out of connections: not a bug, and the
        # client may simply try again (the request's transaction, if any, rolled back).
        return DomainError(
            detail=N_("The database is not answering just now; please try again in a few seconds."),
            status=503,
            title=TITLES[503],
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    kind = timed_out(exc)
    if kind == "lock":
        # lock_timeout (MARKET_DB_LOCK_TIMEOUT): another transaction held what this one
        # needed (the log's lock, a row) for too long. Busy, not broken: the transaction
        # rolled back whole, and the same request a moment later goes through.
        return DomainError(
            detail=N_("The service is busy just now; please try again in a few seconds."),
            status=503,
            title=TITLES[503],
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    if kind == "statement":
        # statement_timeout (MARKET_DB_STATEMENT_TIMEOUT): a statement ran too long. 504,
        # not 503: trying again at once would most likely run as long again, and a proxy
        # that retries 503s on another host (nginx's proxy_next_upstream) must not repeat it.
        return DomainError(
            detail=N_("This took the database too long to answer; please try again later."),
            status=504,
            title=TITLES[504],
        )
    if _sqlstate(exc) in BAD_TEXT:
        # PostgreSQL refuses text holding U+0000 wherever it was typed (a search, a name, a
        # JSON string): the client's input, not our bug. The transaction rolled back.
        return DomainError(
            detail=N_("Text may not contain the NUL character (U+0000)."), status=422, title=TITLES[422]
        )
    if _sqlstate(exc) in OUT_OF_RANGE:
        return DomainError(detail=N_("Some fields are invalid"), status=422, title=TITLES[422])
    if isinstance(exc, RecursionError) and _raised_by_body_decoding(exc):
        # msgspec gives up on a body nested deeper than it recurses and raises RecursionError,
        # which Litestar's body decoding does not turn into its 400 as it does other bad JSON.
        return DomainError(detail=N_("The JSON body is nested too deeply."), status=400, title=TITLES[400])
    return DomainError(
        detail=N_("Something went wrong on our side; it has been logged"), status=500, title=TITLES[500]
    )


def _raised_by_body_decoding(exc: BaseException) -> bool:
    """Whether ``exc`` came out of decoding a request body (Litestar's JSON decoder), not out
    of our own code, where a RecursionError is a bug."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return (
        frame is not None
        and frame.tb_frame.f_code.co_name == "decode_json"
        and "litestar" in frame.tb_frame.f_code.co_filename
    )


def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    err = problem_for(exc)
    if not isinstance(exc, DomainError | HTTPException):  # the driver's or a bug, not an answer
        if kind := timed_out(exc):  # expected under load, one line: no traceback to read
            logger.warning(
                "database %s timeout on %s %s: %s", kind, request.method, request.url.path, type(exc).__name__
            )
        elif err.status == 503:
            logger.warning(
                "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
            )
        elif err.status == 500:
            logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, err) if wants_json(request) else page_response(request, err)
