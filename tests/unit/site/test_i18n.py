"""Languages: negotiation, and a complete Chinese catalog."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from market.core.i18n import TRANSLATIONS, negotiate, parse_accept_language, translations

ROOT = Path(__file__).resolve().parents[3]


def test_default_is_simplified_chinese() -> None:
    assert negotiate(cookie=None, accept_language=None) == "zh_Hans"
    assert negotiate(cookie=None, accept_language="fr-FR,de;q=0.5") == "zh_Hans"


def test_accept_language_order_and_quality() -> None:
    assert parse_accept_language("en-US,en;q=0.9,zh-CN;q=0.8") == ["en", "en", "zh_Hans"]
    assert negotiate(cookie=None, accept_language="zh-TW;q=0.3, en;q=0.7") == "en"
    assert negotiate(cookie=None, accept_language="en;q=0") == "zh_Hans"
    assert negotiate(cookie=None, accept_language="en;q=abc, zh") == "zh_Hans"


def test_cookie_wins_and_unknown_cookie_is_ignored() -> None:
    assert negotiate(cookie="en", accept_language="zh-CN") == "en"
    assert negotiate(cookie="klingon", accept_language="en") == "en"


def test_every_message_has_a_chinese_translation() -> None:
    with (TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []


def test_catalog_knows_every_template_message() -> None:
    """ops/i18n was run after the last template change (no id is missing from the catalog)."""
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        known = {m.id for m in read_po(fh) if m.id}
    pattern = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)+)"\s*\)|_\(\s*'((?:[^'\\]|\\.)+)'\s*\)""")
    used: set[str] = set()
    for template in (ROOT / "templates").rglob("*.html"):
        for match in pattern.finditer(template.read_text(encoding="utf-8")):
            used.add(match.group(1) or match.group(2))
    assert sorted(used - known) == []


def test_placeholders_survive_translation() -> None:
    with (TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if message.id and message.string:
            assert set(re.findall(r"\{\w+\}", message.id)) == set(re.findall(r"\{\w+\}", message.string)), (
                message.id
            )


def test_compiled_catalog_translates() -> None:
    assert translations("zh_Hans").gettext("Log in") == "登录"
    assert translations("en").gettext("Log in") == "Log in"
