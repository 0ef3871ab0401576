"""Issue 22, item 2: every message with ``{named}`` places is shown filled, in both languages.

Walks every catalog id with a ``{name}`` in the code (what ``./ops/i18n`` extracts: ``N_``,
``_``, ``gettext``), renders it as a refusal would (market.core.errors.Message) in English
and in Chinese, and finds no ``{...}`` left: a Chinese translation that renamed, dropped
or mistyped a place would show its braces to people. Then the refusals themselves: a
detail that repeats its field's message is formatted with the field's values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from market.core.errors import Conflict, DomainError, FieldError, InvalidInput, Message
from market.core.i18n import gettext_for
from market.web.templating import LocaleGettext

ROOT = Path(__file__).resolve().parents[3]
PLACE = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")
LEFT = re.compile(r"\{[^{}]*\}")


def _ids_with_places() -> list[str]:
    found: set[str] = set()
    keywords = {"N_": None, "_": None, "gettext": None}
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT / "market"), method_map=[("**.py", "python")], keywords=keywords
    ):
        if isinstance(message, str) and PLACE.search(message):
            found.add(message)
    return sorted(found)


IDS = _ids_with_places()


def test_the_walk_finds_the_messages_of_issue_22() -> None:
    assert "The price is above the budget of {budget}." in IDS
    assert "The deadline must be at least {duration} after publishing." in IDS
    assert len(IDS) > 20


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_every_message_with_places_is_filled_in_both_languages(locale: str) -> None:
    gettext = LocaleGettext(locale, gettext_for(locale)[0])
    unfilled = {}
    for msgid in IDS:
        params = {name: "1" for name in PLACE.findall(msgid)}
        shown = Message(msgid, params).text(gettext)
        if LEFT.search(shown):
            unfilled[msgid] = shown
    assert unfilled == {}


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_a_refusal_repeating_its_fields_message_is_formatted_with_its_values(locale: str) -> None:
    gettext = LocaleGettext(locale, gettext_for(locale)[0])
    message = "The price is above the budget of {budget}."
    for exc in (
        InvalidInput(message, [FieldError("price_fen", message, {"budget": "¥10,000.00"})]),
        Conflict(message, [FieldError("price_fen", message, {"budget": "¥10,000.00"})]),
        DomainError(
            detail=message, status=422, errors=[FieldError("price_fen", message, {"budget": "¥10,000.00"})]
        ),
    ):
        shown = exc.text(gettext)
        assert "¥10,000.00" in shown and not LEFT.search(shown), shown
        assert exc.errors[0].text(gettext) == shown


def test_a_refusal_keeps_its_own_values() -> None:
    own = InvalidInput("Show between 1 and {max} entries at a time.", params={"max": 100})
    assert own.text() == "Show between 1 and 100 entries at a time."
    other = InvalidInput(
        "Show between 1 and {max} entries at a time.", [FieldError("limit", "x", {"max": 5})]
    )
    assert other.params == {}


def test_every_chinese_translation_has_the_same_places_as_its_english() -> None:
    gettext = gettext_for("zh_Hans")[0]
    differ = {
        msgid: gettext(msgid)
        for msgid in IDS
        if gettext(msgid) != msgid and set(PLACE.findall(gettext(msgid))) != set(PLACE.findall(msgid))
    }
    assert differ == {}
