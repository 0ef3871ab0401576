"""Reference data for display: categories, levels and regions by name in the reader's
language (``Names``), a region select's groups, and the public lists' labels made once per
language (``labels``)."""

from __future__ import annotations

from functools import cache

from markupsafe import Markup, escape

from market.agencies.models import STATUS_LABELS
from market.core.i18n import N_, gettext_for
from market.halls.rules import PROVINCE
from market.reference import catalogue, regions
from market.web.forms import Choices


def find_category(code: str | None) -> catalogue.Category | None:
    try:
        return catalogue.category(code) if code else None
    except catalogue.UnknownCategory:
        return None


class Names:
    """Reference data for display: Chinese names, with the English added in English."""

    def __init__(self, locale: str) -> None:
        self.en = locale == "en"

    def _both(self, zh: str, en: str) -> str:
        return f"{zh} ({en})" if self.en else zh

    def category_label(self, category: catalogue.Category) -> str:
        return self._both(category.name_zh, category.name_en)

    def level_label(self, level: catalogue.Level) -> str:
        return self._both(level.name_zh, level.name_en)

    def region_label(self, region: regions.Region) -> str:
        return self._both(region.name_zh, region.name_en)

    def find_category(self, code: str | None) -> catalogue.Category | None:
        return find_category(code)

    def category(self, code: str) -> str:
        found = find_category(code)
        return self.category_label(found) if found else code

    def level(self, category: str, code: str | None) -> str:
        if not code:
            return "—"
        try:
            return self.level_label(catalogue.level(category, code))
        except (catalogue.UnknownCategory, catalogue.UnknownLevel):
            return code

    def qualification(self, category: str, level: str | None) -> str:
        """A category with its level, when it has one: 工程勘察 甲级, 环境影响评价."""
        return self.category(category) + (" " + self.level(category, level) if level else "")

    def region(self, code: str) -> str:
        """Prefecture and county (the province alone for a province)."""
        try:
            chain = regions.path(code)
        except regions.UnknownRegion:
            return code
        shown = chain[1:] or chain
        zh = "".join(r.name_zh for r in shown)
        if not self.en:
            return zh
        return ", ".join(r.name_en for r in reversed(shown)) + f" ({zh})"


def region_groups(
    names: Names, *, counties: bool, others: bool = True
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options for a region select, grouped: a province and its prefectures (with their
    counties when ``counties``), then (when ``others``: an agency may come from anywhere)
    the provinces this catalogue has no prefectures for."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    elsewhere: list[tuple[str, str]] = []
    for province in regions.children(None):
        prefectures = regions.children(province.code)
        if not prefectures:
            elsewhere.append((province.code, names.region_label(province)))
            continue
        if counties:
            groups.append((names.region_label(province), [(province.code, names.region_label(province))]))
            for prefecture in prefectures:
                options = [(prefecture.code, names.region_label(prefecture))]
                options += [
                    (county.code, names.region_label(county)) for county in regions.children(prefecture.code)
                ]
                groups.append((names.region_label(prefecture), options))
        else:
            options = [(province.code, names.region_label(province))]
            options += [(p.code, names.region_label(p)) for p in prefectures]
            groups.append((names.region_label(province), options))
    if others and elsewhere:
        groups.append((N_("Other provinces"), elsewhere))
    return groups


def province_region_groups(names: Names) -> list[tuple[str, list[tuple[str, str]]]]:
    """A public filter's regions: the platform serves one province (halls.rules.PROVINCE),
    so its prefectures, each a group of itself (its whole area) and its counties; not the
    country's provinces, where no notice can be."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for prefecture in regions.children(PROVINCE):
        options = [(prefecture.code, names.region_label(prefecture))]
        options += [(county.code, names.region_label(county)) for county in regions.children(prefecture.code)]
        groups.append((names.region_label(prefecture), options))
    return groups


class Labels:
    """Reference data's names and the public lists' common selects in one language, made
    once per locale (they change only with a release): the pages that show many rows look
    labels up in dicts instead of walking the catalogues and calling gettext per cell."""

    def __init__(self, locale: str) -> None:
        gettext = gettext_for(locale)[0]
        self.names = names = Names(locale)
        # Kept escaped: notices/web.py joins them into rows without a template.
        self.categories = {c.code: escape(names.category_label(c)) for c in catalogue.CATEGORIES}
        self.category_choices = Choices([("", gettext(N_("All categories"))), *self.categories.items()])
        self.region_choices = Choices(
            [
                ("", gettext(N_("All regions"))),
                *province_region_groups(names),
            ]
        )
        self.statuses = {code: escape(gettext(label)) for code, label in STATUS_LABELS.items()}
        # Region codes and qualifications are closed sets (the reference data): these stay small.
        self._regions: dict[str, Markup] = {}
        self._qualifications: dict[tuple[str, str], Markup] = {}

    def category(self, code: str) -> Markup:
        return self.categories.get(code) or escape(code)

    def region(self, code: str) -> Markup:
        if (text := self._regions.get(code)) is None:
            text = self._regions[code] = escape(self.names.region(code))
        return text

    def qualification(self, category: str, level: str) -> Markup:
        if (text := self._qualifications.get((category, level))) is None:
            text = self._qualifications[(category, level)] = escape(self.names.qualification(category, level))
        return text


@cache
def labels(locale: str) -> Labels:
    return Labels(locale)
