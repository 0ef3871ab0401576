"""Languages: zh-Hans first, English second.

Catalogs are the ``.po`` files under ``market/translations``; they are compiled in memory
at start-up, so there is no build step and no stale ``.mo`` file. Message ids are English;
the English catalog is therefore the identity.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DEFAULT_LOCALE = "zh_Hans"
LOCALES = ("zh_Hans", "en")
LANG_COOKIE = "market_lang"
# The value for <html lang> and the switch's labels.
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}
LABEL = {"zh_Hans": "中文", "en": "English"}


@cache
def translations(locale: str) -> NullTranslations:
    po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=Locale.parse(locale))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def normalize(tag: str) -> str | None:
    """Map a language tag (``zh-CN``, ``zh-Hans``, ``en-GB``, ``en``) to a supported locale."""
    tag = tag.strip().replace("_", "-").lower()
    if not tag:
        return None
    primary = tag.split("-")[0]
    if primary == "zh":
        return "zh_Hans"
    if primary == "en":
        return "en"
    return None


def parse_accept_language(header: str) -> list[str]:
    """Supported locales in the client's order of preference (q-values honoured)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        locale = normalize(tag)
        if locale and quality > 0:
            weighted.append((-quality, position, locale))
    return [locale for _, _, locale in sorted(weighted)]


def negotiate(*, cookie: str | None, accept_language: str | None) -> str:
    """The switch (cookie) wins; else the browser's preference; else zh-Hans."""
    if cookie in LOCALES:
        return cookie
    for locale in parse_accept_language(accept_language or ""):
        return locale
    return DEFAULT_LOCALE


def gettext_for(locale: str) -> tuple[Any, Any]:
    t = translations(locale)
    return t.gettext, t.ngettext


def N_(message: str) -> str:
    """Mark a message for the catalog where it is defined; translate where it is shown."""
    return message
