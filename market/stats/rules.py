"""Pure rules of the statistics dashboard: the ratios, their display, the geometry of the
server-drawn SVG charts (the tables download through market.core.spreadsheet).

Counts and money arrive as integers (fen) from the database; every ratio is computed here
from those integers, as an exact :class:`~fractions.Fraction`, and only turned into a
float or a percentage string at the edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

DASH = "—"


# -- figures and ratios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One row of the dashboard (the whole market, or one category, region or month).

    ``amount_fen`` sums the signed contracts and ``budget_fen`` the budget caps of the same
    notices, each notice once however many contracts it has; ``on_time`` counts completed
    contracts finished (China date) on or before their due date."""

    agencies: int = 0
    notices: int = 0
    selections: int = 0
    signed: int = 0
    completed: int = 0
    on_time: int = 0
    amount_fen: int = 0
    budget_fen: int = 0

    @property
    def savings(self) -> Fraction | None:
        return savings(self.amount_fen, self.budget_fen)

    @property
    def on_time_rate(self) -> Fraction | None:
        return on_time_rate(self.on_time, self.completed)


def savings(amount_fen: int, budget_fen: int) -> Fraction | None:
    """1 − Σ contract amounts / Σ budget caps; ``None`` when there is no budget to compare
    with (no notice with a signed contract, or a zero sum). Negative when contracts cost
    more than the caps: that is reported, not hidden."""
    if budget_fen <= 0:
        return None
    return 1 - Fraction(int(amount_fen), int(budget_fen))


def on_time_rate(on_time: int, completed: int) -> Fraction | None:
    """Completed on or before the due date / all completed; ``None`` when none completed."""
    if completed <= 0:
        return None
    return Fraction(min(int(on_time), int(completed)), int(completed))


def as_float(ratio: Fraction | None, digits: int = 4) -> float | None:
    return None if ratio is None else round(float(ratio), digits)


def percent(ratio: Fraction | None, digits: int = 1) -> str:
    """``Fraction(1, 8)`` → ``"12.5%"``; ``None`` → ``"—"``. Rounded half away from zero
    on the exact value, with none of binary floating point's surprises at the halves."""
    if ratio is None:
        return DASH
    scaled = ratio * 100 * 10**digits
    rounded = math.floor(abs(scaled) + Fraction(1, 2)) * (1 if scaled >= 0 else -1)
    whole, part = divmod(abs(rounded), 10**digits)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{whole}.{part:0{digits}d}%" if digits else f"{sign}{whole}%"


def yuan(fen: int) -> str:
    """Plain yuan with two decimals for spreadsheets (no sign, no separators)."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{part:02d}"


def last_months(year: int, month: int, count: int = 12) -> list[str]:
    """The ``count`` months ending with ``year-month``, oldest first, as ``YYYY-MM``."""
    out = []
    index = year * 12 + (month - 1)
    for i in range(index - count + 1, index + 1):
        out.append(f"{i // 12:04d}-{i % 12 + 1:02d}")
    return out


# -- chart geometry -------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (0 stays 0), so gridlines
    fall on round numbers."""
    if not value or value <= 0 or not math.isfinite(value):
        return 0.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-12 * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    series: int
    index: int


@dataclass(frozen=True)
class Tick:
    position: float  # y for columns, x for rows
    value: float


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    top: float  # the value the full length stands for
    baseline: float  # y of the axis (columns) or x where bars start (rows)


def _clean(value: float | int | None) -> float:
    if value is None:
        return 0.0
    v = float(value)
    return v if math.isfinite(v) and v > 0 else 0.0


def columns(
    labels: Sequence[str],
    series: Sequence[Sequence[float | int | None]],
    *,
    width: float = 640,
    height: float = 260,
    left: float = 40,
    bottom: float = 36,
    top: float = 12,
    gap: float = 0.25,
    ticks: int = 4,
    integer: bool = False,
) -> Chart:
    """Grouped vertical bars: one group per label, one bar per series. Heights scale to
    the largest value (rounded up to a nice number); nothing, zero, negative or missing
    values draw bars of height 0, never NaN. With ``integer`` (counts), gridlines fall on
    whole numbers only."""
    n = len(labels)
    m = max(1, len(series))
    plot_w = width - left - 8
    plot_h = height - top - bottom
    peak = max((_clean(v) for s in series for v in s), default=0.0)
    ceiling = nice_ceiling(peak)
    if integer and ceiling:
        ceiling = float(math.ceil(ceiling))
        ticks = _integer_ticks(ceiling, ticks)
    slot = plot_w / n if n else 0.0
    bar_w = slot * (1 - gap) / m if n else 0.0
    baseline = top + plot_h
    bars = []
    for si, values in enumerate(series):
        for i in range(n):
            v = _clean(values[i] if i < len(values) else None)
            h = plot_h * v / ceiling if ceiling else 0.0
            x = left + i * slot + slot * gap / 2 + si * bar_w
            bars.append(
                Bar(
                    x=round(x, 2),
                    y=round(baseline - h, 2),
                    width=round(bar_w, 2),
                    height=round(h, 2),
                    value=v,
                    series=si,
                    index=i,
                )
            )
    tick_list = (
        [
            Tick(position=round(baseline - plot_h * k / ticks, 2), value=ceiling * k / ticks)
            for k in range(ticks + 1)
        ]
        if ceiling
        else [Tick(position=baseline, value=0.0)]
    )
    text = [
        Label(x=round(left + i * slot + slot / 2, 2), y=round(baseline + 16, 2), text=label)
        for i, label in enumerate(labels)
    ]
    return Chart(
        width=width, height=height, bars=bars, ticks=tick_list, labels=text, top=ceiling, baseline=baseline
    )


def _integer_ticks(ceiling: float, preferred: int) -> int:
    """How many gridline steps divide ``ceiling`` into whole numbers (close to ``preferred``)."""
    whole = int(ceiling)
    if whole <= preferred:
        return whole
    for n in (preferred, preferred + 1, preferred - 1, 2):
        if n > 0 and whole % n == 0:
            return n
    return 1


def rows(
    labels: Sequence[str],
    values: Sequence[float | int | None],
    *,
    width: float = 640,
    label_width: float = 200,
    right: float = 64,
    row_height: float = 24,
    gap: float = 0.3,
    top: float = 4,
    axis: float = 20,
) -> Chart:
    """Horizontal bars, one per label, on a scale from 0 to the largest value rounded up to
    a nice number, with its ticks (x positions) for gridlines and labels in the ``axis``
    band below the bars: a bar's length reads against the scale, not only against the
    longest bar. Missing and non-positive values draw 0."""
    n = len(labels)
    plot_w = width - label_width - right
    peak = max((_clean(v) for v in values), default=0.0)
    ceiling = nice_ceiling(peak)
    height = top * 2 + n * row_height + axis
    bars = []
    text = []
    for i in range(n):
        v = _clean(values[i] if i < len(values) else None)
        w = plot_w * v / ceiling if ceiling else 0.0
        y = top + i * row_height
        bars.append(
            Bar(
                x=label_width,
                y=round(y + row_height * gap / 2, 2),
                width=round(w, 2),
                height=round(row_height * (1 - gap), 2),
                value=v,
                series=0,
                index=i,
            )
        )
        text.append(Label(x=label_width - 6, y=round(y + row_height / 2, 2), text=labels[i]))
    steps = _nice_steps(ceiling)
    ticks = (
        [
            Tick(position=round(label_width + plot_w * k / steps, 2), value=ceiling * k / steps)
            for k in range(steps + 1)
        ]
        if ceiling
        else [Tick(position=label_width, value=0.0)]
    )
    return Chart(
        width=width, height=height, bars=bars, ticks=ticks, labels=text, top=ceiling, baseline=label_width
    )


def _nice_steps(ceiling: float) -> int:
    """How many equal steps divide a nice ceiling (1, 2, 2.5 or 5 × 10ⁿ) into round numbers."""
    if not ceiling:
        return 1
    mantissa = round(ceiling / 10 ** math.floor(math.log10(ceiling)), 2)
    return {1.0: 5, 2.0: 4, 2.5: 5, 5.0: 5}.get(mantissa, 4)
