"""Rendering pages: one Jinja environment, per-request language, CSRF token, flash notes.

Handlers return ``render(request, "domain/page.html", ...)``; for htmx requests they may
render a partial from ``templates/<domain>/partials/`` instead of the full page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.ext import _make_new_gettext, _make_new_ngettext  # the i18n extension's own wrappers
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from market.accounts.models import ROLE_LABELS
from market.core.clock import today_in_china
from market.core.db import ROOT
from market.core.i18n import HTML_LANG, LABEL, LANG_COOKIE, LOCALES, N_, gettext_for, negotiate
from market.core.money import format_fen
from market.security.auth import current_principal
from market.security.redirects import local_path
from market.supervision.present import Phrase
from market.web.labels import GLOBALS
from market.web.names import Names

FLASH_COOKIE = "market_flash"
# Flash notes are codes, never free text, so a forged cookie can only show one of these.
FLASH_MESSAGES = {
    "registered": N_("Your account is ready. Welcome!"),
    "logged_in": N_("You are logged in."),
    "logged_out": N_("You are logged out."),
    "password_changed": N_("Your password has been changed."),
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(ROOT / "templates")),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Outside development a template file cannot change under a running server, and
        # checking its mtime on every render and include was 1-2 % of a list page.
        auto_reload=os.environ.get("MARKET_ENV", "dev") == "dev",
    )
    env.policies["ext.i18n.trimmed"] = True
    env.filters["fen"] = format_fen
    env.filters["bdi"] = bdi_in_page
    env.globals["LOCALES"] = LOCALES
    env.globals["LOCALE_LABEL"] = LABEL
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals.update(GLOBALS)
    env.globals["reason_text"] = reason_text
    env.globals["say"] = say
    return env


# Han characters (the CJK blocks and their extensions): text holding any is Chinese.
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def name_lang(value: object, locale: str | None) -> str | None:
    """``zh-Hans`` for a name in Chinese on a page that is not (WCAG 3.1.2, Language of
    Parts: a screen reader reads 云南环科 with Chinese voice, not letter by letter); else
    None. Names people type carry no language of their own; Han characters say it."""
    if locale == "zh_Hans" or value is None:
        return None
    return "zh-Hans" if HAN.search(str(value)) else None


@pass_context
def bdi_in_page(context: Context, value: object) -> Markup:
    """The ``bdi`` filter: ``bdi`` with the name's language when it differs from the page's."""
    return bdi(value, lang=name_lang(value, context.get("locale")))


def bdi(value: object, lang: str | None = None) -> Markup:
    """Text a user typed (a name, a title, a reason, a file name), escaped and isolated in
    ``<bdi>`` for a page's text: ``{{ agency.name | bdi }}``.

    Right-to-left letters (Arabic, Hebrew) in a name otherwise take the digits and
    punctuation beside them into their own direction, so that "שלום 123 · AG-000001" can
    read as if the id belonged elsewhere or a price stood before the name; ``<bdi>`` keeps
    the name's direction to itself (the Unicode bidi algorithm's isolation). Nothing for
    None or empty text, so that ``{{ x | bdi or "—" }}`` works. Not for attributes,
    ``<option>``, ``<title>`` or ``<textarea>``, which hold no markup; a block that holds
    only the text (a description) takes ``dir="auto"`` instead."""
    if value is None or value == "":
        return Markup("")
    if lang:
        return Markup(f'<bdi lang="{escape(lang)}">{escape(value)}</bdi>')
    return Markup(f"<bdi>{escape(value)}</bdi>")


@pass_context
def reason_text(context: Context, reason: Any) -> str:
    """A refusal's reason (it carries both languages) in the page's language."""
    return str(reason.message_zh if context["locale"] == "zh_Hans" else reason.message_en)


# The values of a supervision phrase (market/supervision/present.py) that people typed (names,
# reasons, justifications, milestone titles, certificate numbers, amended terms); the rest are
# ids, dates and amounts the platform made.
TYPED = frozenset({"name", "reason", "text", "title", "cert", "old", "new"})


def say_phrase(phrase: Phrase, gettext: Callable[[str], str], locale: str | None = None) -> Markup:
    """A phrase for a page: our own words escaped, each value people typed in <bdi>, so that
    one in a right-to-left script cannot reorder the ids and amounts beside it (``bdi``)."""
    values = {
        k: say_phrase(v, gettext, locale)
        if isinstance(v, Phrase)
        else bdi(v, name_lang(v, locale))
        if k in TYPED
        else v
        for k, v in phrase.params.items()
    }
    translated = escape(gettext(phrase.msgid))
    return translated % values if values else translated


@pass_context
def say(context: Context, phrase: Phrase) -> Markup:
    return say_phrase(phrase, gettext_for(context["locale"])[0], context["locale"])


@cache
def names_for(locale: str) -> Names:
    return Names(locale)


@cache
def template_gettext(locale: str) -> Callable[..., Markup]:
    """The templates' ``_``: what the i18n extension's newstyle gettext does (the
    translation escaped, then %-formatted with escaped variables), remembering the answers
    that take no variables. A page calls it forty times, and the extension's version went
    through the template context, Markup and formatting each time."""
    gettext = gettext_for(locale)[0]
    plain: dict[str, Markup] = {}

    def translate(string: str, **variables: Any) -> Markup:
        if variables:
            return Markup(gettext(string)) % variables
        if (rv := plain.get(string)) is None:
            rv = Markup(gettext(string)) % {}
            if len(plain) < PLAIN_MESSAGES:  # message ids, a closed set; the bound is a guard
                plain[string] = rv
        return rv

    return translate


PLAIN_MESSAGES = 10_000


class LocaleGettext:
    """gettext that also says which language it speaks, for messages that carry their
    own Chinese text (market.core.errors.Message.zh)."""

    def __init__(self, locale: str, gettext: Any) -> None:
        self.locale = locale
        self._gettext = gettext

    def __call__(self, message: str) -> str:
        return str(self._gettext(message))


def request_locale(request: Request[Any, Any, Any]) -> str:
    return negotiate(
        cookie=request.cookies.get(LANG_COOKIE), accept_language=request.headers.get("accept-language")
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_partial(request: Request[Any, Any, Any]) -> bool:
    """An htmx request that will swap a part of the page. When htmx restores history it
    asks for the whole page, so that gets the full page too."""
    return is_htmx(request) and request.headers.get("hx-history-restore-request") != "true"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths; anything else (``//evil``, ``https://...``) goes home
    (market/security/redirects.py)."""
    return local_path(target, default)


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    locale = request_locale(request)
    gettext, ngettext = gettext_for(locale)
    flash_code = request.cookies.get(FLASH_COOKIE)
    flash = FLASH_MESSAGES.get(flash_code or "")
    here = request.url.path + (("?" + request.url.query) if request.url.query else "")
    values = {
        "request": request,
        "viewer": current_principal(request),
        "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
        "locale": locale,
        "html_lang": HTML_LANG[locale],
        "here": here,
        "here_quoted": quote(here, safe=""),
        "flash": gettext(flash) if flash else None,
        "gettext": _make_new_gettext(gettext),
        "ngettext": _make_new_ngettext(ngettext),
        "_": template_gettext(locale),
        "raw_gettext": LocaleGettext(locale, gettext),
        "names": names_for(locale),
        "today": today_in_china(),
        **context,
    }
    html = environment().get_template(template).render(values)
    cookies = (
        [Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax")]
        if flash_code
        else []
    )
    return Response(
        content=html,
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Vary": "Cookie, Accept-Language", "Cache-Control": "no-store", **(headers or {})},
        cookies=cookies,
    )


def redirect(path: str, *, flash: str | None = None, cookies: list[Cookie] | None = None) -> Redirect:
    jar = list(cookies or [])
    if flash:
        jar.append(Cookie(key=FLASH_COOKIE, value=flash, path="/", httponly=True, samesite="lax", max_age=60))
    return Redirect(path=path, status_code=303, cookies=jar)
