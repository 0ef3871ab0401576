"""Issue 22, item 12: a validator's English words (as Litestar passes pydantic's on) are read
back into the catalog's messages, so a Chinese reader of a 422 gets Chinese."""

from __future__ import annotations

import pytest

from market.core.errors import NOT_VALID_ZH, field_error_from_words
from market.core.i18n import gettext_for
from market.web.templating import LocaleGettext

ZH = LocaleGettext("zh_Hans", gettext_for("zh_Hans")[0])


@pytest.mark.parametrize(
    ("words", "english"),
    [
        ("Field required", "This field is required."),
        ("String should have at least 8 characters", "Too short: at least 8 characters."),
        ("Input should be a valid string", "Enter text here."),
        ("Input should be less than or equal to 100", "Must be at most 100."),
        ("Input should be 'owner' or 'agency'", "Choose one of: 'owner' or 'agency'."),
        ("Value error, This field is required.", "This field is required."),
    ],
)
def test_known_words_become_catalog_messages(words: str, english: str) -> None:
    error = field_error_from_words("email", words)
    assert error.field == "email" and error.text() == english
    assert error.text(ZH) != english and not any(
        c.isascii() and c.isalpha() for c in error.text(ZH).split("'")[0]
    )


def test_unknown_words_stay_for_english_readers_and_say_so_in_chinese() -> None:
    error = field_error_from_words("flag", "Input should be a valid boolean")
    assert error.text() == "Input should be a valid boolean" and error.text(ZH) == NOT_VALID_ZH
