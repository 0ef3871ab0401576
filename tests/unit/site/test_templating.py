from __future__ import annotations

import pytest

from market.core.money import format_fen
from market.web.templating import safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/notices?page=2", "/notices?page=2"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("account", "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_money_is_shown_in_yuan_from_fen() -> None:
    assert format_fen(123456789) == "¥1,234,567.89"
    assert format_fen(5) == "¥0.05"
    assert format_fen(-250) == "-¥2.50"
    assert format_fen(None) == "—"


def test_htmx_history_restore_gets_the_whole_page() -> None:
    from types import SimpleNamespace

    from market.web.templating import wants_partial

    def request(**headers: str) -> object:
        return SimpleNamespace(headers=headers)

    assert wants_partial(request(**{"hx-request": "true"}))  # type: ignore[arg-type]
    assert not wants_partial(request(**{"hx-request": "true", "hx-history-restore-request": "true"}))  # type: ignore[arg-type]
    assert not wants_partial(request())  # type: ignore[arg-type]


def test_a_select_s_options_are_escaped_once_and_the_chosen_one_is_marked() -> None:
    from market.web.forms import Choices

    choices = Choices([("", "全部"), ("a&b", "<甲>"), ("Group", [("x", 'X "1"'), ("y", "Y")])])
    plain = str(choices.html())
    assert plain == (
        '<option value="">全部</option><option value="a&amp;b">&lt;甲&gt;</option>'
        '<optgroup label="Group"><option value="x">X &#34;1&#34;</option><option value="y">Y</option></optgroup>'
    )
    assert choices.html("") == plain and choices.html("not-an-option") == plain
    assert str(choices.html("y")).count(
        " selected"
    ) == 1 and '<option value="y" selected>Y</option>' in choices.html("y")
    assert '<option value="a&amp;b" selected>' in choices.html("a&b")


@pytest.mark.parametrize("locale", ["zh_Hans", "en"])
def test_the_templates_gettext_answers_as_jinja_s_newstyle_one(locale: str) -> None:
    """market.web.templating.template_gettext remembers answers; it must give the i18n
    extension's answers exactly: escaped, %-formatted, variables escaped."""
    from jinja2.ext import _make_new_gettext

    from market.core.i18n import gettext_for
    from market.web.templating import environment, template_gettext

    source = (
        '{{ _("Notices") }}|{{ _("Notices") }}|{{ _("100%% sure <b>") }}|{{ _("Hello %(name)s", name="<i>&") }}|'
        '{{ _("%(days)s days, %(hours)s hours and %(minutes)s minutes left (as of %(time)s).", days=1, hours=2, minutes=3, time="now") }}'
    )
    template = environment().from_string(source)
    ours = template.render(_=template_gettext(locale))
    theirs = template.render(_=_make_new_gettext(gettext_for(locale)[0]))
    assert ours == theirs
    # The translation is trusted markup (as Jinja has it); the variables are not.
    assert "&lt;i&gt;&amp;" in ours and "100% sure <b>" in ours
