"""A length of time in words people read, in its best units (pure).

"at least 0.02 hours" said 60 seconds in a unit nobody counts in (issue 22, item 12). A
duration is shown in whole days, hours, minutes and seconds, largest first, leaving out
the units that are zero: 60 s is "1 minute" (1 分钟), 90 s "1 minute 30 seconds", 86 400 s
"1 day". The words are catalog messages, translated where they are shown
(market.core.errors.Message), so a refusal carries the duration, not the words."""

from __future__ import annotations

from market.core.errors import Message
from market.core.i18n import N_

# (seconds in the unit, singular, plural), largest first.
UNITS: tuple[tuple[int, str, str], ...] = (
    (86400, N_("{n} day"), N_("{n} days")),
    (3600, N_("{n} hour"), N_("{n} hours")),
    (60, N_("{n} minute"), N_("{n} minutes")),
    (1, N_("{n} second"), N_("{n} seconds")),
)


def parts(seconds: int) -> list[tuple[int, int]]:
    """(count, unit seconds) for each non-zero unit, largest first; ``[(0, 1)]`` for zero."""
    if seconds < 0:
        raise ValueError("a duration is not negative")
    out: list[tuple[int, int]] = []
    rest = int(seconds)
    for size, _, _ in UNITS:
        count, rest = divmod(rest, size)
        if count:
            out.append((count, size))
    return out or [(0, 1)]


def duration(seconds: int) -> Message:
    """The duration as a message: ``duration(60).text(gettext)`` is "1 minute" / "1 分钟"."""
    words = {size: (one, many) for size, one, many in UNITS}
    pieces = [Message(words[size][0 if count == 1 else 1], {"n": count}) for count, size in parts(seconds)]
    if len(pieces) == 1:
        return pieces[0]
    # Joined with spaces in both languages ("1 小时 30 分钟"); the join itself has no words.
    return Message(
        " ".join(f"{{p{i}}}" for i in range(len(pieces))), {f"p{i}": p for i, p in enumerate(pieces)}
    )


def say(seconds: int, gettext: object = None) -> str:
    """The duration in words in the reader's language (English without ``gettext``)."""
    return duration(seconds).text(gettext)
