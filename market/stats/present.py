"""Shapes of the statistics for each front end: the JSON API, the CSV files and the page's
tables and charts. One list of columns serves the page and the CSV, so the two always
carry the same numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from market.core.config import Settings
from market.core.i18n import N_
from market.core.money import format_fen
from market.core.spreadsheet import to_csv
from market.halls.rules import PROVINCE
from market.stats import rules
from market.stats.queries import Row, Scope, Stats
from market.stats.rules import Figures

TABLES = ("summary", "category", "region", "month")

TABLE_TITLES = {
    "summary": N_("Headline figures"),
    "category": N_("By service category"),
    "region": N_("By region (prefecture level)"),
    "month": N_("By month of publication (last 12 months)"),
}
KEY_HEADERS = {"category": N_("Service category"), "region": N_("Region"), "month": N_("Month")}


@dataclass(frozen=True)
class Column:
    label: str
    page: Callable[[Figures], str]
    csv: Callable[[Figures], object]
    csv_label: str | None = None  # when the CSV's cells differ in unit from the page's


COLUMNS = (
    Column(N_("Agencies registered"), lambda f: str(f.agencies), lambda f: f.agencies),
    Column(N_("Notices published"), lambda f: str(f.notices), lambda f: f.notices),
    Column(N_("Selections made"), lambda f: str(f.selections), lambda f: f.selections),
    Column(N_("Contracts signed"), lambda f: str(f.signed), lambda f: f.signed),
    Column(N_("Contracts completed"), lambda f: str(f.completed), lambda f: f.completed),
    Column(
        N_("Contract amounts"),
        lambda f: format_fen(f.amount_fen),
        lambda f: rules.yuan(f.amount_fen),
        N_("Contract amounts (yuan)"),
    ),
    Column(
        N_("Budget caps of the same notices"),
        lambda f: format_fen(f.budget_fen),
        lambda f: rules.yuan(f.budget_fen),
        N_("Budget caps of the same notices (yuan)"),
    ),
    Column(
        N_("Savings"),
        lambda f: rules.percent(f.savings),
        lambda f: rules.percent(f.savings) if f.savings is not None else "",
    ),
    Column(
        N_("Completed on time"),
        lambda f: rules.percent(f.on_time_rate),
        lambda f: rules.percent(f.on_time_rate) if f.on_time_rate is not None else "",
    ),
)


def interval_minutes(settings: Settings) -> int:
    """Within how many minutes a change shows on the page (0: this server does not refresh)."""
    if settings.stats_interval <= 0:
        return 0
    return max(1, math.ceil(settings.stats_interval / 60))


def name_of(row: Row, locale: str) -> str:
    return row.name_zh if locale == "zh_Hans" else row.name_en


# -- JSON -----------------------------------------------------------------------------------------


def figures_public(f: Figures) -> dict[str, Any]:
    return {
        "agencies": f.agencies,
        "notices_published": f.notices,
        "selections": f.selections,
        "contracts_signed": f.signed,
        "contracts_completed": f.completed,
        "completed_on_time": f.on_time,
        "amount_fen": f.amount_fen,
        "budget_fen": f.budget_fen,
        "savings": rules.as_float(f.savings),
        "on_time_rate": rules.as_float(f.on_time_rate),
    }


def row_public(row: Row) -> dict[str, Any]:
    return {"key": row.key, "name_zh": row.name_zh, "name_en": row.name_en, **figures_public(row.figures)}


def scope_query(scope: Scope | None) -> str:
    """The query string that keeps a page's links (the CSV files, the API) in its jurisdiction."""
    if scope is None or scope.codes is None:
        return ""
    return "?" + urlencode({"jurisdiction": scope.code})


def scope_public(scope: Scope | None) -> dict[str, Any]:
    if scope is None:
        return {"code": PROVINCE, "kind": "province", "name_zh": None, "name_en": None}
    return {"code": scope.code, "kind": scope.kind, "name_zh": scope.name_zh, "name_en": scope.name_en}


def stats_public(stats: Stats) -> dict[str, Any]:
    return {
        "jurisdiction": scope_public(stats.scope),
        # Agencies register once and work anywhere: their counts are the province's, whatever
        # the jurisdiction asked for.
        "agencies_scope": "province",
        "generated_at": stats.generated_at.isoformat() if stats.generated_at else None,
        # the figures' time: the summary's last refresh (None: never computed, every figure 0)
        "as_of": stats.as_of.isoformat() if stats.as_of else None,
        "summary": figures_public(stats.total),
        "by_category": [row_public(r) for r in stats.by_category],
        "by_region": [row_public(r) for r in stats.by_region],
        "by_month": [row_public(r) for r in stats.by_month],
    }


# -- CSV ------------------------------------------------------------------------------------------


def csv_bytes(stats: Stats, table: str, *, locale: str, gettext: Callable[[str], str]) -> bytes:
    """One table as CSV, headers in the reader's language; money in yuan, ratios as
    percentages, an empty cell where a ratio has nothing to be computed from."""
    if table == "summary":
        header = [gettext("Figure"), gettext("Value")]
        body = [[gettext(c.csv_label or c.label), c.csv(stats.total)] for c in COLUMNS]
        return to_csv(header, body)
    rows = stats.table(table)
    lead = [gettext("Code"), gettext(KEY_HEADERS[table])] if table != "month" else [gettext("Month")]
    header = lead + [gettext(c.csv_label or c.label) for c in COLUMNS]
    body = []
    for row in rows:
        cells: list[object] = [row.key, name_of(row, locale)] if table != "month" else [row.key]
        body.append(cells + [c.csv(row.figures) for c in COLUMNS])
    return to_csv(header, body)


# -- charts ---------------------------------------------------------------------------------------


def month_chart(stats: Stats) -> rules.Chart:
    labels = [r.key[2:] for r in stats.by_month]  # "25-03": short enough under a bar group
    return rules.columns(
        labels,
        [[r.figures.notices for r in stats.by_month], [r.figures.signed for r in stats.by_month]],
        integer=True,
    )


def savings_rows(stats: Stats) -> list[Row]:
    """Categories that have a savings figure (a notice with a signed contract)."""
    return [r for r in stats.by_category if r.figures.savings is not None]


def savings_chart(stats: Stats, locale: str) -> rules.Chart:
    rows = savings_rows(stats)
    return rules.rows(
        [name_of(r, locale) for r in rows],
        [float(r.figures.savings * 100) if r.figures.savings is not None else None for r in rows],
    )
