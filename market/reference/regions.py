"""GB/T 2260 administrative divisions, as far as the market needs them.

Held here: the 31 provincial-level divisions of the mainland; every prefecture of Yunnan
(云南省); and the county-level divisions of every one of those 16 prefectures (129 in
all, codes as of the 2023 list, after 禄丰 became a city, 532302). Other provinces have
no prefectures here yet: add them a whole prefecture at a time, from the Ministry of
Civil Affairs' published list, because a wrong code is worse than a missing one.

A code is six digits, two per level: 53 is Yunnan, 5301 Kunming, 530102 Wuhua District.
So a province covers the codes that start with its first two digits, a prefecture those
that start with its first four, and scopes can be tested on codes this module does not
hold. (The prefix reading has known exceptions elsewhere, such as Hubei's 省直辖县
4290xx, which have no real prefecture; none is in Yunnan.)

English names: prefecture- and county-level cities go by the bare name ("Kunming",
"Anning"), districts, counties and prefectures by their full titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

RegionLevel = Literal["province", "prefecture", "county"]


class UnknownRegion(ValueError):
    """A code that is not a region held here, or not a six-digit code at all."""


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    name_en: str
    level: RegionLevel
    parent: str | None


_PROVINCES: Final = (
    ("110000", "北京市", "Beijing"),
    ("120000", "天津市", "Tianjin"),
    ("130000", "河北省", "Hebei"),
    ("140000", "山西省", "Shanxi"),
    ("150000", "内蒙古自治区", "Inner Mongolia Autonomous Region"),
    ("210000", "辽宁省", "Liaoning"),
    ("220000", "吉林省", "Jilin"),
    ("230000", "黑龙江省", "Heilongjiang"),
    ("310000", "上海市", "Shanghai"),
    ("320000", "江苏省", "Jiangsu"),
    ("330000", "浙江省", "Zhejiang"),
    ("340000", "安徽省", "Anhui"),
    ("350000", "福建省", "Fujian"),
    ("360000", "江西省", "Jiangxi"),
    ("370000", "山东省", "Shandong"),
    ("410000", "河南省", "Henan"),
    ("420000", "湖北省", "Hubei"),
    ("430000", "湖南省", "Hunan"),
    ("440000", "广东省", "Guangdong"),
    ("450000", "广西壮族自治区", "Guangxi Zhuang Autonomous Region"),
    ("460000", "海南省", "Hainan"),
    ("500000", "重庆市", "Chongqing"),
    ("510000", "四川省", "Sichuan"),
    ("520000", "贵州省", "Guizhou"),
    ("530000", "云南省", "Yunnan"),
    # "Xizang" is the romanisation Chinese government documents now use.
    ("540000", "西藏自治区", "Xizang Autonomous Region"),
    ("610000", "陕西省", "Shaanxi"),
    ("620000", "甘肃省", "Gansu"),
    ("630000", "青海省", "Qinghai"),
    ("640000", "宁夏回族自治区", "Ningxia Hui Autonomous Region"),
    ("650000", "新疆维吾尔自治区", "Xinjiang Uygur Autonomous Region"),
)

_PREFECTURES: Final = (
    ("530100", "昆明市", "Kunming"),
    ("530300", "曲靖市", "Qujing"),
    ("530400", "玉溪市", "Yuxi"),
    ("530500", "保山市", "Baoshan"),
    ("530600", "昭通市", "Zhaotong"),
    ("530700", "丽江市", "Lijiang"),
    ("530800", "普洱市", "Pu'er"),
    ("530900", "临沧市", "Lincang"),
    ("532300", "楚雄彝族自治州", "Chuxiong Yi Autonomous Prefecture"),
    ("532500", "红河哈尼族彝族自治州", "Honghe Hani and Yi Autonomous Prefecture"),
    ("532600", "文山壮族苗族自治州", "Wenshan Zhuang and Miao Autonomous Prefecture"),
    ("532800", "西双版纳傣族自治州", "Xishuangbanna Dai Autonomous Prefecture"),
    ("532900", "大理白族自治州", "Dali Bai Autonomous Prefecture"),
    ("533100", "德宏傣族景颇族自治州", "Dehong Dai and Jingpo Autonomous Prefecture"),
    ("533300", "怒江傈僳族自治州", "Nujiang Lisu Autonomous Prefecture"),
    ("533400", "迪庆藏族自治州", "Diqing Tibetan Autonomous Prefecture"),
)

# Complete for all 16 prefectures above; the parent of each is its code's first four
# digits followed by 00.
_COUNTIES: Final = (
    # 昆明市 (14)
    ("530102", "五华区", "Wuhua District"),
    ("530103", "盘龙区", "Panlong District"),
    ("530111", "官渡区", "Guandu District"),
    ("530112", "西山区", "Xishan District"),
    ("530113", "东川区", "Dongchuan District"),
    ("530114", "呈贡区", "Chenggong District"),
    ("530115", "晋宁区", "Jinning District"),
    ("530124", "富民县", "Fumin County"),
    ("530125", "宜良县", "Yiliang County"),
    ("530126", "石林彝族自治县", "Shilin Yi Autonomous County"),
    ("530127", "嵩明县", "Songming County"),
    ("530128", "禄劝彝族苗族自治县", "Luquan Yi and Miao Autonomous County"),
    ("530129", "寻甸回族彝族自治县", "Xundian Hui and Yi Autonomous County"),
    ("530181", "安宁市", "Anning"),
    # 曲靖市 (9)
    ("530302", "麒麟区", "Qilin District"),
    ("530303", "沾益区", "Zhanyi District"),
    ("530304", "马龙区", "Malong District"),
    ("530322", "陆良县", "Luliang County"),
    ("530323", "师宗县", "Shizong County"),
    ("530324", "罗平县", "Luoping County"),
    ("530325", "富源县", "Fuyuan County"),
    ("530326", "会泽县", "Huize County"),
    ("530381", "宣威市", "Xuanwei"),
    # 玉溪市 (9)
    ("530402", "红塔区", "Hongta District"),
    ("530403", "江川区", "Jiangchuan District"),
    ("530423", "通海县", "Tonghai County"),
    ("530424", "华宁县", "Huaning County"),
    ("530425", "易门县", "Yimen County"),
    ("530426", "峨山彝族自治县", "Eshan Yi Autonomous County"),
    ("530427", "新平彝族傣族自治县", "Xinping Yi and Dai Autonomous County"),
    ("530428", "元江哈尼族彝族傣族自治县", "Yuanjiang Hani, Yi and Dai Autonomous County"),
    ("530481", "澄江市", "Chengjiang"),
    # 保山市 (5)
    ("530502", "隆阳区", "Longyang District"),
    ("530521", "施甸县", "Shidian County"),
    ("530523", "龙陵县", "Longling County"),
    ("530524", "昌宁县", "Changning County"),
    ("530581", "腾冲市", "Tengchong"),
    # 昭通市 (11)
    ("530602", "昭阳区", "Zhaoyang District"),
    ("530621", "鲁甸县", "Ludian County"),
    ("530622", "巧家县", "Qiaojia County"),
    ("530623", "盐津县", "Yanjin County"),
    ("530624", "大关县", "Daguan County"),
    ("530625", "永善县", "Yongshan County"),
    ("530626", "绥江县", "Suijiang County"),
    ("530627", "镇雄县", "Zhenxiong County"),
    ("530628", "彝良县", "Yiliang County"),
    ("530629", "威信县", "Weixin County"),
    ("530681", "水富市", "Shuifu"),
    # 丽江市 (5)
    ("530702", "古城区", "Gucheng District"),
    ("530721", "玉龙纳西族自治县", "Yulong Naxi Autonomous County"),
    ("530722", "永胜县", "Yongsheng County"),
    ("530723", "华坪县", "Huaping County"),
    ("530724", "宁蒗彝族自治县", "Ninglang Yi Autonomous County"),
    # 普洱市 (10)
    ("530802", "思茅区", "Simao District"),
    ("530821", "宁洱哈尼族彝族自治县", "Ning'er Hani and Yi Autonomous County"),
    ("530822", "墨江哈尼族自治县", "Mojiang Hani Autonomous County"),
    ("530823", "景东彝族自治县", "Jingdong Yi Autonomous County"),
    ("530824", "景谷傣族彝族自治县", "Jinggu Dai and Yi Autonomous County"),
    ("530825", "镇沅彝族哈尼族拉祜族自治县", "Zhenyuan Yi, Hani and Lahu Autonomous County"),
    ("530826", "江城哈尼族彝族自治县", "Jiangcheng Hani and Yi Autonomous County"),
    ("530827", "孟连傣族拉祜族佤族自治县", "Menglian Dai, Lahu and Va Autonomous County"),
    ("530828", "澜沧拉祜族自治县", "Lancang Lahu Autonomous County"),
    ("530829", "西盟佤族自治县", "Ximeng Va Autonomous County"),
    # 临沧市 (8)
    ("530902", "临翔区", "Linxiang District"),
    ("530921", "凤庆县", "Fengqing County"),
    ("530922", "云县", "Yun County"),
    ("530923", "永德县", "Yongde County"),
    ("530924", "镇康县", "Zhenkang County"),
    (
        "530925",
        "双江拉祜族佤族布朗族傣族自治县",
        "Shuangjiang Lahu, Va, Blang and Dai Autonomous County",
    ),
    ("530926", "耿马傣族佤族自治县", "Gengma Dai and Va Autonomous County"),
    ("530927", "沧源佤族自治县", "Cangyuan Va Autonomous County"),
    # 楚雄彝族自治州 (10)
    ("532301", "楚雄市", "Chuxiong"),
    ("532302", "禄丰市", "Lufeng"),
    ("532322", "双柏县", "Shuangbai County"),
    ("532323", "牟定县", "Mouding County"),
    ("532324", "南华县", "Nanhua County"),
    ("532325", "姚安县", "Yao'an County"),
    ("532326", "大姚县", "Dayao County"),
    ("532327", "永仁县", "Yongren County"),
    ("532328", "元谋县", "Yuanmou County"),
    ("532329", "武定县", "Wuding County"),
    # 红河哈尼族彝族自治州 (13)
    ("532501", "个旧市", "Gejiu"),
    ("532502", "开远市", "Kaiyuan"),
    ("532503", "蒙自市", "Mengzi"),
    ("532504", "弥勒市", "Mile"),
    ("532523", "屏边苗族自治县", "Pingbian Miao Autonomous County"),
    ("532524", "建水县", "Jianshui County"),
    ("532525", "石屏县", "Shiping County"),
    ("532527", "泸西县", "Luxi County"),
    ("532528", "元阳县", "Yuanyang County"),
    ("532529", "红河县", "Honghe County"),
    ("532530", "金平苗族瑶族傣族自治县", "Jinping Miao, Yao and Dai Autonomous County"),
    ("532531", "绿春县", "Lüchun County"),
    ("532532", "河口瑶族自治县", "Hekou Yao Autonomous County"),
    # 文山壮族苗族自治州 (8)
    ("532601", "文山市", "Wenshan"),
    ("532622", "砚山县", "Yanshan County"),
    ("532623", "西畴县", "Xichou County"),
    ("532624", "麻栗坡县", "Malipo County"),
    ("532625", "马关县", "Maguan County"),
    ("532626", "丘北县", "Qiubei County"),
    ("532627", "广南县", "Guangnan County"),
    ("532628", "富宁县", "Funing County"),
    # 西双版纳傣族自治州 (3)
    ("532801", "景洪市", "Jinghong"),
    ("532822", "勐海县", "Menghai County"),
    ("532823", "勐腊县", "Mengla County"),
    # 大理白族自治州 (12)
    ("532901", "大理市", "Dali"),
    ("532922", "漾濞彝族自治县", "Yangbi Yi Autonomous County"),
    ("532923", "祥云县", "Xiangyun County"),
    ("532924", "宾川县", "Binchuan County"),
    ("532925", "弥渡县", "Midu County"),
    ("532926", "南涧彝族自治县", "Nanjian Yi Autonomous County"),
    ("532927", "巍山彝族回族自治县", "Weishan Yi and Hui Autonomous County"),
    ("532928", "永平县", "Yongping County"),
    ("532929", "云龙县", "Yunlong County"),
    ("532930", "洱源县", "Eryuan County"),
    ("532931", "剑川县", "Jianchuan County"),
    ("532932", "鹤庆县", "Heqing County"),
    # 德宏傣族景颇族自治州 (5)
    ("533102", "瑞丽市", "Ruili"),
    ("533103", "芒市", "Mangshi"),
    ("533122", "梁河县", "Lianghe County"),
    ("533123", "盈江县", "Yingjiang County"),
    ("533124", "陇川县", "Longchuan County"),
    # 怒江傈僳族自治州 (4)
    ("533301", "泸水市", "Lushui"),
    ("533323", "福贡县", "Fugong County"),
    ("533324", "贡山独龙族怒族自治县", "Gongshan Derung and Nu Autonomous County"),
    ("533325", "兰坪白族普米族自治县", "Lanping Bai and Pumi Autonomous County"),
    # 迪庆藏族自治州 (3)
    ("533401", "香格里拉市", "Shangri-La"),
    ("533422", "德钦县", "Deqin County"),
    ("533423", "维西傈僳族自治县", "Weixi Lisu Autonomous County"),
)


def _build() -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for code, zh, en in _PROVINCES:
        regions[code] = Region(code, zh, en, "province", None)
    for code, zh, en in _PREFECTURES:
        regions[code] = Region(code, zh, en, "prefecture", code[:2] + "0000")
    for code, zh, en in _COUNTIES:
        regions[code] = Region(code, zh, en, "county", code[:4] + "00")
    return regions


REGIONS: Final = MappingProxyType(_build())

# Prefectures whose county-level divisions are all held, for pages that want to say so.
PREFECTURES_WITH_COUNTIES: Final = frozenset(code for code, _, _ in _PREFECTURES)

_CODE: Final = re.compile(r"[0-9]{6}")


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise UnknownRegion(f"{code!r} is not a six-digit GB/T 2260 code")
    return code


def region(code: str) -> Region:
    try:
        return REGIONS[_check_code(code)]
    except KeyError:
        raise UnknownRegion(f"unknown region {code!r}") from None


def children(parent_code: str | None) -> list[Region]:
    """The regions directly under ``parent_code`` in code order; None gives the
    provinces. An unknown parent raises rather than looking like one without children."""
    if parent_code is not None:
        region(parent_code)
    return sorted(
        (r for r in REGIONS.values() if r.parent == parent_code),
        key=lambda r: r.code,
    )


def scope_prefix(code: str) -> str:
    """The digits a code in ``code``'s area starts with: 2 for a province (xx0000), 4 for
    a prefecture (xxxx00), all 6 for a county. Read from the code's shape, so it works
    for well-formed codes this module does not hold."""
    _check_code(code)
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def contains(scope_code: str | None, code: str) -> bool:
    """Whether ``code`` lies within ``scope_code`` (itself included); None is everywhere."""
    _check_code(code)
    if scope_code is None:
        return True
    return code.startswith(scope_prefix(scope_code))


def path(code: str) -> list[Region]:
    """From the province down to ``code`` itself."""
    chain = [region(code)]
    while chain[-1].parent is not None:
        chain.append(region(chain[-1].parent))
    return chain[::-1]
