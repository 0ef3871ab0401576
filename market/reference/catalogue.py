"""The service catalogue: what agencies offer, and the qualification levels, if any, that
a notice can ask for.

A category's ``levels`` run highest first, so a level's rank is its index (0 = highest)
and "at least level X" is "rank at most X's rank". An empty tuple means the work needs no
graded qualification, because the licence was abolished or never existed; such a
category meets every level requirement, so an old notice that still names a level
does not shut everyone out.

Real qualifications are issued per speciality (岩土工程勘察甲级, 工程测量乙级...). The
catalogue keeps one ladder per category, the one notices ask for; matching specialities
is left to the people reading the certificates.

Where a category's level set comes from is noted beside it, as of 2025 and as best we
know; the sources are the regulations named, not second-hand summaries. Names are
written as government documents write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


class UnknownCategory(ValueError):
    """A category code that is not in the catalogue."""


class UnknownLevel(ValueError):
    """A level code that the category does not have."""


@dataclass(frozen=True)
class Level:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    levels: tuple[Level, ...] = ()  # highest first


COMPREHENSIVE: Final = Level("comprehensive", "综合资质", "Comprehensive")
GRADE_A: Final = Level("A", "甲级", "Grade A")
GRADE_B: Final = Level("B", "乙级", "Grade B")
GRADE_C: Final = Level("C", "丙级", "Grade C")
CLASS_1: Final = Level("class1", "一类", "Class I")
CLASS_2: Final = Level("class2", "二类", "Class II")
# A licence that exists but is not graded: one level, so that eligibility still asks for
# an approved certificate while no notice can ask for more.
LICENSED: Final = Level("licensed", "资质（不分等级）", "Licensed (ungraded)")

CATEGORIES: Final[tuple[Category, ...]] = (
    # The EIA agency licence was abolished when the 环境影响评价法 was amended on
    # 2018-12-29; agencies now only register in the 生态环境部 credit platform
    # (生态环境部令第9号, 2019).
    Category("EIA", "环境影响评价", "Environmental impact assessment"),
    # The plan-writing licence was withdrawn and the 中国水土保持学会 rating that
    # replaced it was discontinued; the 水利部 now relies on credit supervision.
    Category("SOIL_WATER", "水土保持方案编制", "Soil and water conservation plan"),
    # 《地质灾害防治单位资质管理办法》(自然资源部令第8号, in force 2023-01-01) merged the
    # assessment and treatment licences and cut 甲乙丙 to 甲乙 (its article 4).
    Category(
        "GEOHAZARD",
        "地质灾害危险性评估",
        "Geological hazard risk assessment",
        (GRADE_A, GRADE_B),
    ),
    # 《安全评价检测检验机构管理办法》(应急管理部令第1号, in force 2019-05-01) replaced
    # the 甲级/乙级 licences of 原安监总局令第22号 with one licence granted by the
    # provincial emergency-management department: licensed, but not graded.
    Category("SAFETY_ASSESSMENT", "安全评价", "Safety assessment", (LICENSED,)),
    # No agency licence: the NDRC reviews the report itself (固定资产投资项目节能审查).
    Category("ENERGY_SAVING", "节能评估", "Energy conservation assessment"),
    # Never licensed.
    Category("SOCIAL_RISK", "社会稳定风险评估", "Social stability risk assessment"),
    # 《工程勘察资质标准》(2013): 综合资质 (only 甲级), then 专业资质 甲乙丙 (丙 for
    # 岩土工程勘察, 水文地质勘察 and 工程测量); the ungraded 劳务资质 is left out. The
    # 2020 reform plan (建市〔2020〕94号) would cut the professional grades to 甲乙,
    # but until new standards are issued the 2013 ladder is what certificates carry.
    Category(
        "ENG_INVESTIGATION",
        "工程勘察",
        "Engineering investigation",
        (COMPREHENSIVE, GRADE_A, GRADE_B, GRADE_C),
    ),
    # 《工程设计资质标准》(2007): 综合资质 (only 甲级) above 行业/专业资质 甲乙, with 丙
    # in some trades. 建筑工程 丁级 is left out: it covers only the smallest buildings and
    # the 2020 reform plan drops it.
    Category(
        "ENG_DESIGN",
        "工程设计",
        "Engineering design",
        (COMPREHENSIVE, GRADE_A, GRADE_B, GRADE_C),
    ),
    # 《房屋建筑和市政基础设施工程施工图设计文件审查管理办法》(住房城乡建设部令第13号,
    # amended 2018): 审查机构 are 一类 or 二类.
    Category(
        "DRAWING_REVIEW",
        "施工图审查",
        "Construction drawing review",
        (CLASS_1, CLASS_2),
    ),
    # The State Council withdrew the 工程造价咨询企业资质 licence on 2021-07-01 (国发
    # 〔2021〕7号; 建办标〔2021〕26号): firms have needed no grade since.
    Category("COST_CONSULTING", "工程造价咨询", "Construction cost consulting"),
    # 《工程监理企业资质管理规定》(2007, amended): 综合资质, then 专业资质 甲乙丙; the
    # ungraded 事务所资质 is left out. The 2020 reform plan keeps 综合 and cuts 专业 to 甲乙.
    Category(
        "ENG_SUPERVISION",
        "工程监理",
        "Construction supervision",
        (COMPREHENSIVE, GRADE_A, GRADE_B, GRADE_C),
    ),
    # 《测绘资质管理办法》and《测绘资质分类分级标准》(自然资办发〔2021〕43号, in force
    # 2021-07-01) cut 甲乙丙丁 to 甲乙.
    Category("SURVEYING", "测绘", "Surveying and mapping", (GRADE_A, GRADE_B)),
    # The 工程咨询单位资格 licence was replaced by a voluntary 资信评价 (《工程咨询行业管理
    # 办法》, 国家发展改革委令第9号, 2017), which is a reference, not a licence.
    Category("FEASIBILITY", "可行性研究报告编制", "Feasibility study report"),
    # The 地震安全性评价单位资质 licence was withdrawn in 2017 along with the amendment of
    # the 地震安全性评价管理条例.
    Category("SEISMIC_SAFETY", "地震安全性评价", "Seismic safety evaluation"),
    # The 水利部 requires no agency licence for 防洪评价 reports.
    Category("FLOOD_CONTROL", "防洪评价", "Flood control assessment"),
    # 工程建设项目招标代理机构资格 was abolished by the amendment of the 招标投标法
    # (2017-12-27), 政府采购代理机构资格 by that of the 政府采购法 (2014).
    Category("TENDER_AGENCY", "招标代理", "Tendering agency"),
)

_BY_CODE: Final = {c.code: c for c in CATEGORIES}


def category(code: str) -> Category:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise UnknownCategory(f"unknown service category {code!r}") from None


def level_codes(category_code: str) -> tuple[str, ...]:
    """The category's level codes, highest first (empty when it has no levels)."""
    return tuple(level.code for level in category(category_code).levels)


def level(category_code: str, level_code: str) -> Level:
    for candidate in category(category_code).levels:
        if candidate.code == level_code:
            return candidate
    raise UnknownLevel(f"service category {category_code!r} has no level {level_code!r}")


def level_rank(category_code: str, level_code: str) -> int:
    """0 for the category's highest level, 1 for the next, and so on."""
    codes = level_codes(category_code)
    if level_code not in codes:
        raise UnknownLevel(f"service category {category_code!r} has no level {level_code!r}")
    return codes.index(level_code)


def meets_level(category_code: str, held: str | None, required: str | None) -> bool:
    """Whether a qualification at level ``held`` satisfies a requirement of ``required``
    or higher. No requirement, or a category without levels, is always met. A held level
    that is missing or not on the ladder (data from before a reform) meets nothing: it
    cannot be shown to be good enough. An unknown required level raises
    :class:`UnknownLevel`, as it can only be a mistake in the notice."""
    codes = level_codes(category_code)
    if required is None or not codes:
        return True
    required_rank = level_rank(category_code, required)
    if held is None or held not in codes:
        return False
    return codes.index(held) <= required_rank
