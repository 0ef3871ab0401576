"""The service catalogue and the GB/T 2260 regions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from market.reference import catalogue, regions
from market.reference.catalogue import (
    CATEGORIES,
    UnknownCategory,
    UnknownLevel,
    category,
    level_codes,
    level_rank,
    meets_level,
)
from market.reference.regions import (
    PREFECTURES_WITH_COUNTIES,
    REGIONS,
    UnknownRegion,
    children,
    contains,
    path,
    region,
    scope_prefix,
)

# --- catalogue ----------------------------------------------------------------------------

REQUIRED_NAMES = (
    "环境影响评价",
    "水土保持方案编制",
    "地质灾害危险性评估",
    "安全评价",
    "节能评估",
    "社会稳定风险评估",
    "工程勘察",
    "工程设计",
    "施工图审查",
    "工程造价咨询",
    "工程监理",
    "测绘",
    "可行性研究报告编制",
    "地震安全性评价",
    "防洪评价",
    "招标代理",
)


def test_the_catalogue_holds_the_sixteen_required_categories() -> None:
    assert len(CATEGORIES) >= 16
    assert set(REQUIRED_NAMES) <= {c.name_zh for c in CATEGORIES}


def test_category_codes_are_unique_stable_ascii() -> None:
    codes = [c.code for c in CATEGORIES]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"[A-Z][A-Z_]{1,31}", code), code


def test_every_category_has_both_names() -> None:
    for c in CATEGORIES:
        assert c.name_zh and c.name_en, c.code
    assert category("EIA").name_en == "Environmental impact assessment"


def test_level_codes_are_unique_short_ascii_within_each_category() -> None:
    for c in CATEGORIES:
        codes = level_codes(c.code)
        assert len(codes) == len(set(codes)), c.code
        for code in codes:
            assert re.fullmatch(r"[A-Za-z0-9_]{1,16}", code), (c.code, code)
        for level in c.levels:
            assert level.name_zh and level.name_en


# Highest first: every pair (higher, lower) that appears in a category must appear in
# this order.
ORDER = ("comprehensive", "A", "B", "C", "D")


def test_levels_run_highest_first() -> None:
    for c in CATEGORIES:
        codes = level_codes(c.code)
        graded = [code for code in codes if code in ORDER]
        assert graded == sorted(graded, key=ORDER.index), c.code
        if "class1" in codes:
            assert codes.index("class1") < codes.index("class2")
        assert [level_rank(c.code, code) for code in codes] == list(range(len(codes)))


@pytest.mark.parametrize(
    ("code", "levels"),
    [
        pytest.param("GEOHAZARD", ("A", "B"), id="geohazard-2022-rules"),
        pytest.param("SAFETY_ASSESSMENT", ("licensed",), id="safety-ungraded-licence"),
        pytest.param("ENG_INVESTIGATION", ("comprehensive", "A", "B", "C"), id="investigation"),
        pytest.param("ENG_DESIGN", ("comprehensive", "A", "B", "C"), id="design"),
        pytest.param("DRAWING_REVIEW", ("class1", "class2"), id="drawing-review"),
        pytest.param("ENG_SUPERVISION", ("comprehensive", "A", "B", "C"), id="supervision"),
        pytest.param("SURVEYING", ("A", "B"), id="surveying-2021-rules"),
        pytest.param("EIA", (), id="eia-abolished"),
        pytest.param("SOIL_WATER", (), id="soil-water-abolished"),
        pytest.param("COST_CONSULTING", (), id="cost-abolished"),
        pytest.param("TENDER_AGENCY", (), id="tender-abolished"),
        pytest.param("SEISMIC_SAFETY", (), id="seismic-abolished"),
        pytest.param("FEASIBILITY", (), id="feasibility-rating-not-licence"),
        pytest.param("ENERGY_SAVING", (), id="energy-never"),
        pytest.param("SOCIAL_RISK", (), id="social-risk-never"),
        pytest.param("FLOOD_CONTROL", (), id="flood-never"),
    ],
)
def test_level_sets(code: str, levels: tuple[str, ...]) -> None:
    assert level_codes(code) == levels


def test_level_names_are_written_as_in_government_documents() -> None:
    names = {level.code: level.name_zh for level in category("ENG_SUPERVISION").levels}
    assert names == {"comprehensive": "综合资质", "A": "甲级", "B": "乙级", "C": "丙级"}
    assert [level.name_zh for level in category("DRAWING_REVIEW").levels] == ["一类", "二类"]


@pytest.mark.parametrize(
    ("code", "held", "required", "expected"),
    [
        pytest.param("ENG_DESIGN", "A", "A", True, id="same-level"),
        pytest.param("ENG_DESIGN", "A", "B", True, id="higher-than-required"),
        pytest.param("ENG_DESIGN", "comprehensive", "A", True, id="comprehensive-above-A"),
        pytest.param("ENG_DESIGN", "B", "A", False, id="lower-than-required"),
        pytest.param("ENG_DESIGN", "C", "comprehensive", False, id="lowest-vs-highest"),
        pytest.param("ENG_DESIGN", "C", None, True, id="no-requirement"),
        pytest.param("ENG_DESIGN", None, None, True, id="no-level-no-requirement"),
        pytest.param("ENG_DESIGN", None, "C", False, id="no-level-held"),
        pytest.param("SURVEYING", "C", "B", False, id="level-abolished-by-reform"),
        pytest.param("DRAWING_REVIEW", "class2", "class1", False, id="class2-below-class1"),
        pytest.param("DRAWING_REVIEW", "class1", "class2", True, id="class1-above-class2"),
        pytest.param("EIA", None, "A", True, id="no-levels-always-meets"),
        pytest.param("EIA", "A", "A", True, id="no-levels-always-meets-held"),
        pytest.param("SAFETY_ASSESSMENT", "licensed", "licensed", True, id="ungraded"),
    ],
)
def test_meets_level(code: str, held: str | None, required: str | None, expected: bool) -> None:
    assert meets_level(code, held, required) is expected


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: category("NOPE"), id="category"),
        pytest.param(lambda: level_codes("eia"), id="level_codes-case-sensitive"),
        pytest.param(lambda: level_rank("NOPE", "A"), id="level_rank"),
        pytest.param(lambda: meets_level("NOPE", "A", "A"), id="meets_level"),
    ],
)
def test_unknown_category_is_a_value_error_not_a_key_error(call: Callable[[], object]) -> None:
    with pytest.raises(UnknownCategory) as caught:
        call()
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, KeyError)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: level_rank("ENG_DESIGN", "D"), id="rank-of-missing-level"),
        pytest.param(lambda: level_rank("EIA", "A"), id="rank-in-category-without-levels"),
        pytest.param(lambda: meets_level("SURVEYING", "A", "C"), id="required-level-unknown"),
        pytest.param(lambda: catalogue.level("ENG_DESIGN", "X"), id="level-lookup"),
    ],
)
def test_unknown_level_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(UnknownLevel):
        call()


# --- regions ------------------------------------------------------------------------------

YUNNAN_PREFECTURES = {
    "530100": "昆明市",
    "530300": "曲靖市",
    "530400": "玉溪市",
    "530500": "保山市",
    "530600": "昭通市",
    "530700": "丽江市",
    "530800": "普洱市",
    "530900": "临沧市",
    "532300": "楚雄彝族自治州",
    "532500": "红河哈尼族彝族自治州",
    "532600": "文山壮族苗族自治州",
    "532800": "西双版纳傣族自治州",
    "532900": "大理白族自治州",
    "533100": "德宏傣族景颇族自治州",
    "533300": "怒江傈僳族自治州",
    "533400": "迪庆藏族自治州",
}

KUNMING_COUNTIES = {
    "530102": "五华区",
    "530103": "盘龙区",
    "530111": "官渡区",
    "530112": "西山区",
    "530113": "东川区",
    "530114": "呈贡区",
    "530115": "晋宁区",
    "530124": "富民县",
    "530125": "宜良县",
    "530126": "石林彝族自治县",
    "530127": "嵩明县",
    "530128": "禄劝彝族苗族自治县",
    "530129": "寻甸回族彝族自治县",
    "530181": "安宁市",
}


def test_there_are_31_provinces_in_code_order() -> None:
    provinces = children(None)
    assert len(provinces) == 31
    assert [p.code for p in provinces] == sorted(p.code for p in provinces)
    assert provinces[0].code == "110000" and provinces[-1].code == "650000"
    for p in provinces:
        assert p.level == "province" and p.parent is None
        assert re.fullmatch(r"[1-6][0-9]0000", p.code)


def test_yunnan_has_all_16_prefectures() -> None:
    yunnan = region("530000")
    assert (yunnan.name_zh, yunnan.name_en) == ("云南省", "Yunnan")
    prefectures = children("530000")
    assert {p.code: p.name_zh for p in prefectures} == YUNNAN_PREFECTURES
    assert region("530100").name_en == "Kunming"
    assert region("532500").name_en == "Honghe Hani and Yi Autonomous Prefecture"
    assert region("533400").name_en == "Diqing Tibetan Autonomous Prefecture"


def test_kunming_has_its_14_county_level_divisions() -> None:
    assert {c.code: c.name_zh for c in children("530100")} == KUNMING_COUNTIES


def test_every_yunnan_prefecture_has_its_counties() -> None:
    assert set(YUNNAN_PREFECTURES) == PREFECTURES_WITH_COUNTIES
    counts = {code: len(children(code)) for code in YUNNAN_PREFECTURES}
    assert counts["530100"] == 14
    assert counts["532500"] == 13
    assert counts["532800"] == 3
    assert sum(counts.values()) == 129  # Yunnan's county-level divisions


def test_every_region_hangs_from_an_existing_parent_with_its_prefix() -> None:
    expected_parent_level = {"prefecture": "province", "county": "prefecture"}
    for r in REGIONS.values():
        assert re.fullmatch(r"[0-9]{6}", r.code)
        assert r.name_zh and r.name_en
        if r.level == "province":
            assert r.parent is None
            continue
        parent = region(r.parent)  # type: ignore[arg-type]
        assert parent.level == expected_parent_level[r.level], r.code
        assert r.code.startswith(scope_prefix(parent.code)), r.code
        assert r.code != parent.code


def test_names_are_unique_under_each_parent() -> None:
    for parent in [None, *REGIONS]:
        names = [r.name_zh for r in children(parent)]
        assert len(names) == len(set(names)), parent


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("530000", ["530000"], id="province"),
        pytest.param("530100", ["530000", "530100"], id="prefecture"),
        pytest.param("530114", ["530000", "530100", "530114"], id="county"),
        pytest.param("533401", ["530000", "533400", "533401"], id="autonomous-prefecture"),
    ],
)
def test_path_runs_from_the_province_down(code: str, expected: list[str]) -> None:
    assert [r.code for r in path(code)] == expected


@pytest.mark.parametrize(
    ("scope", "code", "expected"),
    [
        pytest.param(None, "530114", True, id="no-scope-is-everywhere"),
        pytest.param(None, "110105", True, id="no-scope-unheld-code"),
        pytest.param("530000", "530000", True, id="province-contains-itself"),
        pytest.param("530000", "530100", True, id="province-contains-prefecture"),
        pytest.param("530000", "533423", True, id="province-contains-county"),
        pytest.param("530000", "520102", False, id="province-excludes-neighbour"),
        pytest.param("530100", "530181", True, id="prefecture-contains-county"),
        pytest.param("530100", "530100", True, id="prefecture-contains-itself"),
        pytest.param("530100", "530302", False, id="prefecture-excludes-sibling-county"),
        pytest.param("530100", "530000", False, id="prefecture-excludes-its-province"),
        pytest.param("530102", "530102", True, id="county-contains-itself"),
        pytest.param("530102", "530103", False, id="county-excludes-sibling"),
        pytest.param("530102", "530100", False, id="county-excludes-prefecture"),
        pytest.param("110000", "110105", True, id="by-prefix-for-unheld-codes"),
    ],
)
def test_contains(scope: str | None, code: str, expected: bool) -> None:
    assert contains(scope, code) is expected


@pytest.mark.parametrize(
    ("code", "prefix"),
    [("530000", "53"), ("530100", "5301"), ("530114", "530114"), ("110000", "11")],
)
def test_scope_prefix(code: str, prefix: str) -> None:
    assert scope_prefix(code) == prefix


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: region("530199"), id="unknown-code"),
        pytest.param(lambda: region("5301"), id="short-code"),
        pytest.param(lambda: region("53010a"), id="letter"),
        pytest.param(lambda: children("999999"), id="children-of-unknown"),
        pytest.param(lambda: path("110105"), id="path-of-unheld"),
        pytest.param(lambda: contains("5301", "530102"), id="contains-bad-scope"),
        pytest.param(lambda: contains(None, "53 0102"), id="contains-bad-code"),
    ],
)
def test_unknown_or_malformed_region_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(UnknownRegion) as caught:
        call()
    assert isinstance(caught.value, ValueError)


def test_provinces_without_prefectures_have_no_children() -> None:
    assert children("110000") == []
    assert regions.region("540000").name_zh == "西藏自治区"
