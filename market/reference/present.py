"""The public shape of reference data: the service catalogue and GB/T 2260 regions."""

from __future__ import annotations

from typing import Any

from market.reference import catalogue, regions


def category_public(category: catalogue.Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "levels": [level.code for level in category.levels],
        "level_names": [
            {"code": level.code, "name_zh": level.name_zh, "name_en": level.name_en}
            for level in category.levels
        ],
    }


def region_public(region: regions.Region) -> dict[str, Any]:
    return {"code": region.code, "name_zh": region.name_zh, "name_en": region.name_en, "level": region.level}
