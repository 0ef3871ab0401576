"""Issue 22, item 12: a duration in its best units, not "至少 0.02 小时" for 60 seconds."""

from __future__ import annotations

import pytest

from market.core import durations
from market.core.i18n import gettext_for
from market.web.templating import LocaleGettext

ZH = LocaleGettext("zh_Hans", gettext_for("zh_Hans")[0])


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (0, "0 seconds", "0 秒"),
        (1, "1 second", "1 秒"),
        (45, "45 seconds", "45 秒"),
        (60, "1 minute", "1 分钟"),
        (90, "1 minute 30 seconds", "1 分钟 30 秒"),
        (3600, "1 hour", "1 小时"),
        (5400, "1 hour 30 minutes", "1 小时 30 分钟"),
        (7200, "2 hours", "2 小时"),
        (86400, "1 day", "1 天"),
        (2 * 86400 + 3600 + 1, "2 days 1 hour 1 second", "2 天 1 小时 1 秒"),
    ],
)
def test_a_duration_is_said_in_whole_units_largest_first(seconds: int, english: str, chinese: str) -> None:
    assert durations.say(seconds) == english
    assert durations.say(seconds, ZH) == chinese


def test_parts_leave_out_the_units_that_are_zero() -> None:
    assert durations.parts(86400 + 60) == [(1, 86400), (1, 60)]
    assert durations.parts(0) == [(0, 1)]
    with pytest.raises(ValueError):
        durations.parts(-1)


def test_no_decimal_hours_for_a_minute() -> None:
    assert "0.02" not in durations.say(60) and "0.02" not in durations.say(60, ZH)
