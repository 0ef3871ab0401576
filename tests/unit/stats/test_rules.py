"""Pure rules of the statistics dashboard: ratios, percentages, chart geometry, CSV."""

from __future__ import annotations

import csv
import io
import math
from fractions import Fraction

import pytest

from market.core import spreadsheet
from market.stats import rules
from market.stats.rules import Figures


@pytest.mark.parametrize(
    ("amount", "budget", "expected"),
    [
        (800_000, 1_000_000, Fraction(1, 5)),
        (1_000_000, 1_000_000, Fraction(0)),
        (0, 1_000_000, Fraction(1)),
        (1_200_000, 1_000_000, Fraction(-1, 5)),  # over the cap: reported, not hidden
        (3_700_000, 4_500_000, Fraction(8, 45)),
        (0, 0, None),  # no notice with a signed contract
        (500, 0, None),  # zero budget guard
        (500, -1, None),
    ],
)
def test_savings(amount: int, budget: int, expected: Fraction | None) -> None:
    assert rules.savings(amount, budget) == expected
    assert Figures(amount_fen=amount, budget_fen=budget).savings == expected


@pytest.mark.parametrize(
    ("on_time", "completed", "expected"),
    [
        (0, 0, None),  # nothing completed yet
        (3, 4, Fraction(3, 4)),
        (0, 5, Fraction(0)),
        (5, 5, Fraction(1)),
        (7, 5, Fraction(1)),  # never above 100 %
    ],
)
def test_on_time_rate(on_time: int, completed: int, expected: Fraction | None) -> None:
    assert rules.on_time_rate(on_time, completed) == expected
    assert Figures(on_time=on_time, completed=completed).on_time_rate == expected


@pytest.mark.parametrize(
    ("ratio", "digits", "text"),
    [
        (None, 1, "—"),
        (Fraction(1, 5), 1, "20.0%"),
        (Fraction(8, 45), 1, "17.8%"),
        (Fraction(1, 8), 1, "12.5%"),
        (Fraction(1, 800), 1, "0.1%"),  # 0.125 % rounds half away from zero
        (Fraction(-1, 5), 1, "-20.0%"),
        (Fraction(0), 1, "0.0%"),
        (Fraction(2, 3), 0, "67%"),
        (Fraction(1), 2, "100.00%"),
    ],
)
def test_percent(ratio: Fraction | None, digits: int, text: str) -> None:
    assert rules.percent(ratio, digits) == text


def test_as_float_and_yuan() -> None:
    assert rules.as_float(None) is None
    assert rules.as_float(Fraction(8, 45)) == 0.1778
    assert rules.yuan(3_200_000) == "32000.00" and rules.yuan(5) == "0.05" and rules.yuan(-150) == "-1.50"


def test_last_months_cross_the_year_oldest_first() -> None:
    months = rules.last_months(2026, 2, 12)
    assert months[0] == "2025-03" and months[-1] == "2026-02" and len(months) == 12
    assert rules.last_months(2026, 12, 3) == ["2026-10", "2026-11", "2026-12"]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 0.0),
        (-3, 0.0),
        (float("nan"), 0.0),
        (1, 1.0),
        (3, 5.0),
        (7, 10.0),
        (12, 20.0),
        (20, 20.0),
        (24, 25.0),
        (0.3, 0.5),
        (480, 500.0),
    ],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert rules.nice_ceiling(value) == pytest.approx(ceiling)


def _finite(chart: rules.Chart) -> bool:
    numbers = [n for b in chart.bars for n in (b.x, b.y, b.width, b.height, b.value)]
    numbers += (
        [t.position for t in chart.ticks]
        + [t.value for t in chart.ticks]
        + [label.x for label in chart.labels]
        + [label.y for label in chart.labels]
    )
    return all(math.isfinite(n) for n in numbers)


def test_columns_scale_to_the_maximum() -> None:
    chart = rules.columns(
        ["a", "b", "c"], [[10, 5, 0], [20, 0, None]], width=640, height=260, left=40, bottom=36, top=12
    )
    plot_h = 260 - 12 - 36
    assert chart.top == 20  # 20 is already a nice number
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.value == 20 and tallest.height == pytest.approx(plot_h) and tallest.y == pytest.approx(12)
    first = next(b for b in chart.bars if b.series == 0 and b.index == 0)
    assert first.height == pytest.approx(plot_h / 2)
    assert all(b.y + b.height == pytest.approx(chart.baseline) for b in chart.bars)  # all stand on the axis
    assert len(chart.bars) == 6 and len(chart.labels) == 3 and len(chart.ticks) == 5
    # Bars stay inside the drawing, in order, and do not overlap.
    xs = sorted((b.x, b.x + b.width) for b in chart.bars)
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(xs, xs[1:], strict=False))
    assert xs[0][0] >= 40 and xs[-1][1] <= 640
    assert _finite(chart)


@pytest.mark.parametrize(
    ("peak", "ceiling", "steps"),
    [
        (1, 1, [0, 1]),
        (2, 2, [0, 1, 2]),
        (3, 5, [0, 1, 2, 3, 4, 5]),
        (7, 10, [0, 2, 4, 6, 8, 10]),
        (17, 20, [0, 5, 10, 15, 20]),
        (240, 250, [0, 50, 100, 150, 200, 250]),
    ],
)
def test_count_columns_have_whole_number_gridlines(peak: int, ceiling: int, steps: list[int]) -> None:
    chart = rules.columns(["a", "b"], [[peak, 0]], integer=True)
    assert chart.top == ceiling
    assert [t.value for t in chart.ticks] == steps
    assert chart.ticks[-1].position == pytest.approx(12)  # the top gridline is the top of the plot
    assert chart.bars[0].height == pytest.approx((chart.baseline - 12) * peak / ceiling)


@pytest.mark.parametrize(
    "series", [[[0, 0, 0], [0, 0, 0]], [[None, None, None]], [[-5, float("nan"), float("inf")]], []]
)
def test_columns_with_no_data_draw_nothing_and_no_nan(series: list[list[float | None]]) -> None:
    chart = rules.columns(["a", "b", "c"], series)
    assert all(b.height == 0 for b in chart.bars)
    assert chart.top == 0 and _finite(chart)


def test_columns_with_no_labels() -> None:
    chart = rules.columns([], [[]])
    assert chart.bars == [] and _finite(chart)


def test_rows_scale_to_the_maximum_and_zero_is_safe() -> None:
    chart = rules.rows(["x", "y", "z"], [20.0, 5.0, None], width=600, label_width=200, right=64)
    plot_w = 600 - 200 - 64
    assert [b.width for b in chart.bars] == [pytest.approx(plot_w), pytest.approx(plot_w / 4), 0]
    assert all(b.x == 200 for b in chart.bars) and _finite(chart)
    assert chart.height == pytest.approx(8 + 3 * 24 + 20)  # the scale's labels below the bars
    # The scale runs from 0 to the peak rounded up to a nice number, in round steps.
    assert [t.value for t in chart.ticks] == [0, 5, 10, 15, 20]
    assert chart.ticks[0].position == 200 and chart.ticks[-1].position == pytest.approx(200 + plot_w)
    twelve = rules.rows(["a", "b"], [12.0, 6.0], width=600, label_width=200, right=64)
    assert [t.value for t in twelve.ticks] == [0, 5, 10, 15, 20]
    assert twelve.bars[0].width == pytest.approx(plot_w * 12 / 20)  # not the full length
    empty = rules.rows(["x"], [0.0])
    assert empty.bars[0].width == 0 and _finite(empty)
    negative = rules.rows(["x", "y"], [-10.0, -2.0])
    assert all(b.width == 0 for b in negative.bars) and _finite(negative)


def test_csv_has_a_bom_crlf_and_escapes() -> None:
    data = spreadsheet.to_csv(
        ["名称", "Value"],
        [
            ["环境影响评价", 3],
            ['Say "hi", then', "line\nbreak"],
            ['=HYPERLINK("http://x")', "-12.5%"],
            ["@SUM(A1)", -3],
            [None, True],
        ],
    )
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert text.endswith("\r\n") and text.startswith("名称,Value\r\n")
    assert '"Say ""hi"", then","line\nbreak"' in text
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[1] == ["环境影响评价", "3"]
    assert parsed[2] == ['Say "hi", then', "line\nbreak"]
    assert parsed[3] == ['\'=HYPERLINK("http://x")', "-12.5%"]  # formula defused; a negative number is kept
    assert parsed[4] == ["'@SUM(A1)", "-3"]
    assert parsed[5] == ["", "1"]
