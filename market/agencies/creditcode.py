"""Unified social credit codes (统一社会信用代码), checked in full per GB 32100-2015.

A code has 18 characters:

    1       registration authority (登记管理部门代码)
    2       organisation type within that authority (机构类别代码)
    3-8     administrative division of the registering office (GB/T 2260)
    9-17    organisation code (组织机构代码, GB 11714): 8 characters and its own check
    18      check character over characters 1-17 (GB 32100)

Both check characters are verified, the organisation code's first, since the last
character is computed over it.

The two standards give letters different values, and the code mixes them:

- GB 11714 (character 17): digits are 0-9 and A-Z are 10-35, all 26 letters counted, so
  M is 22 and Y is 34.
- GB 32100 (character 18): a character's value is its index in the 31-character alphabet
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S or V), so M is 21 and Y is 30.

Worked example, 91350100M000100Y43, valid under the plain reading of both standards:

- GB 11714 over M000100Y with weights 3 7 9 10 5 8 4 2: 22·3 + 1·5 + 34·2 = 139;
  139 mod 11 = 7; 11 - 7 = 4, and character 17 is 4.
- GB 32100 over the first 17 with weights 3^i mod 31 (1 3 9 27 19 26 16 17 20 29 25 13 8
  24 10 30 28): the sum is 1640; 1640 mod 31 = 28; 31 - 28 = 3, and character 18 is 3.

Using one value table for both checks breaks the example (with M = 21 the organisation
check gives 7), which is why the tables are kept apart below.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

LENGTH: Final = 18

# GB 32100 leaves out I, O, Z, S and V, which are too easily read as 1, 0, 2, 5 and U.
ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE: Final = {char: index for index, char in enumerate(ALPHABET)}
_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))

# GB 11714 values letters by their place in the full Latin alphabet.
_ORG_VALUE: Final = {
    **{str(d): d for d in range(10)},
    **{chr(ord("A") + i): 10 + i for i in range(26)},
}
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 32100-2015 appendix A: registration authorities, then the organisation types each
# one defines. Name changes since 2015 (工商 is now 市场监管) do not change the codes.
AUTHORITIES: Final[dict[str, tuple[str, str]]] = {
    "1": ("机构编制", "Public-sector staffing"),
    "2": ("外交", "Foreign affairs"),
    "3": ("司法行政", "Judicial administration"),
    "4": ("文化", "Culture"),
    "5": ("民政", "Civil affairs"),
    "6": ("旅游", "Tourism"),
    "7": ("宗教", "Religious affairs"),
    "8": ("工会", "Trade unions"),
    "9": ("工商", "Industry and commerce"),
    "A": ("中央军委改革和编制办公室", "CMC Reform and Staffing Office"),
    "N": ("农业", "Agriculture"),
    "Y": ("其他", "Other"),
}

# Only listed for display: the type character is not checked, because the standard lets
# authorities add types and a new one must not make a real code look forged.
ORG_TYPES: Final[dict[str, tuple[str, str]]] = {
    "11": ("机关", "Government body"),
    "12": ("事业单位", "Public institution"),
    "13": ("中央编办直接管理机构编制的群众团体", "Mass organisation staffed by the central office"),
    "19": ("其他", "Other"),
    "21": ("外国常驻新闻机构", "Resident foreign news organisation"),
    "29": ("其他", "Other"),
    "31": ("律师执业机构", "Law firm"),
    "32": ("公证处", "Notary office"),
    "33": ("基层法律服务所", "Grassroots legal service office"),
    "34": ("司法鉴定机构", "Forensic appraisal institution"),
    "35": ("仲裁委员会", "Arbitration commission"),
    "39": ("其他", "Other"),
    "41": ("外国在华文化中心", "Foreign cultural centre in China"),
    "49": ("其他", "Other"),
    "51": ("社会团体", "Social organisation"),
    "52": ("民办非企业单位", "Private non-enterprise unit"),
    "53": ("基金会", "Foundation"),
    "59": ("其他", "Other"),
    "61": ("外国旅游部门常驻代表机构", "Resident office of a foreign tourism authority"),
    "62": (
        "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "Resident office of a Hong Kong, Macao or Taiwan tourism authority",
    ),
    "69": ("其他", "Other"),
    "71": ("宗教活动场所", "Place of religious activity"),
    "72": ("宗教院校", "Religious school"),
    "79": ("其他", "Other"),
    "81": ("基层工会", "Grassroots trade union"),
    "89": ("其他", "Other"),
    "91": ("企业", "Enterprise"),
    "92": ("个体工商户", "Individual business"),
    "93": ("农民专业合作社", "Farmers' specialised cooperative"),
    "A1": ("军队事业单位", "Military public institution"),
    "A9": ("其他", "Other"),
    "N1": ("组级集体经济组织", "Group-level collective economic organisation"),
    "N2": ("村级集体经济组织", "Village-level collective economic organisation"),
    "N3": ("乡镇级集体经济组织", "Township-level collective economic organisation"),
    "N9": ("其他", "Other"),
}

ERROR_CODES: Final = (
    "length",
    "charset",
    "authority",
    "division",
    "org_code_check",
    "check_char",
)


class CreditCodeError(ValueError):
    """A code that fails one of the checks. ``code`` names the check (one of
    :data:`ERROR_CODES`); ``str(error)`` is the English message, ``message_zh`` the
    Chinese one, both written for the person who typed the code."""

    def __init__(self, code: str, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_en = message_en
        self.message_zh = message_zh


@dataclass(frozen=True)
class CreditCode:
    """A code that passed every check, with its parts."""

    code: str
    authority: str
    org_type: str
    division: str
    org_code: str  # the 9 characters of the GB 11714 code, its check character included

    @property
    def authority_name_zh(self) -> str:
        return AUTHORITIES[self.authority][0]

    @property
    def authority_name_en(self) -> str:
        return AUTHORITIES[self.authority][1]

    @property
    def org_type_name_zh(self) -> str | None:
        names = ORG_TYPES.get(self.authority + self.org_type)
        return names[0] if names else None

    @property
    def org_type_name_en(self) -> str | None:
        names = ORG_TYPES.get(self.authority + self.org_type)
        return names[1] if names else None


def normalise(text: str) -> str:
    """Strip and upper-case. NFKC first, because Chinese input methods often type
    full-width characters (９１３５…), which mean the same code."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def _check_length(text: str, length: int, what_en: str, what_zh: str) -> None:
    if len(text) != length:
        raise CreditCodeError(
            "length",
            f"{what_en} should have {length} characters, not {len(text)}",
            f"{what_zh}应为 {length} 位，而不是 {len(text)} 位",
        )


def _check_charset(text: str) -> None:
    """Name the first character that credit codes do not use, and where it is."""
    for index, char in enumerate(text):
        if char not in _VALUE:
            position = index + 1
            raise CreditCodeError(
                "charset",
                f"character {position} is {char!r}, which credit codes do not use "
                "(only digits and capital letters other than I, O, Z, S and V)",
                f"第 {position} 位“{char}”不是统一社会信用代码使用的字符"
                "（只使用数字和除 I、O、Z、S、V 以外的大写字母）",
            )


def _check_prefix(code: str) -> None:
    """Characters, authority and division of a code or of its first 16 characters."""
    _check_charset(code)
    if code[0] not in AUTHORITIES:
        raise CreditCodeError(
            "authority",
            f"the first character (registration authority) should be one of 1-9, A, N or Y, not {code[0]}",
            f"第 1 位（登记管理部门代码）应为 1–9、A、N 或 Y，而不是 {code[0]}",
        )
    division = code[2:8]
    if not all(char in "0123456789" for char in division):
        raise CreditCodeError(
            "division",
            f"characters 3-8 (administrative division code) should be six digits, not {division}",
            f"第 3–8 位（登记管理机关行政区划码）应为 6 位数字，而不是 {division}",
        )


def org_code_check(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters:
    ``0``-``9`` or ``X``."""
    _check_length(first8, 8, "the organisation code body", "组织机构代码本体")
    for char in first8:
        if char not in _ORG_VALUE:
            raise CreditCodeError(
                "charset",
                f"{char!r} is not a digit or capital letter (organisation code)",
                f"“{char}”不是数字或大写字母（组织机构代码）",
            )
    total = sum(_ORG_VALUE[char] * weight for char, weight in zip(first8, _ORG_WEIGHTS))
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def check_character(first17: str) -> str:
    """The GB 32100 check character over a code's first 17 characters."""
    _check_length(first17, 17, "the code without its check character", "校验码前的代码")
    _check_charset(first17)
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS))
    # 31 - 0 would be 31, which the standard writes as 0.
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(text: str) -> CreditCode:
    """The parsed code if ``text`` is a valid unified social credit code, else
    :class:`CreditCodeError` for the first check that fails, in the order length,
    charset, authority, division, org_code_check, check_char."""
    code = normalise(text)
    _check_length(code, LENGTH, "a credit code", "统一社会信用代码")
    _check_prefix(code)
    expected_org = org_code_check(code[8:16])
    if code[16] != expected_org:
        raise CreditCodeError(
            "org_code_check",
            f"character 17 should be {expected_org} (organisation code check), not {code[16]}",
            f"组织机构代码校验码错误：第 17 位应为 {expected_org}，而不是 {code[16]}",
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise CreditCodeError(
            "check_char",
            f"the last character should be {expected} (check character), not {code[17]}",
            f"校验码错误：最后一位应为 {expected}，而不是 {code[17]}",
        )
    return CreditCode(
        code=code,
        authority=code[0],
        org_type=code[1],
        division=code[2:8],
        org_code=code[8:17],
    )


def complete_credit_code(authority: str, org_type: str, division: str, org_body8: str) -> str:
    """A valid code from its parts, both check characters computed (for demo data and
    tests). Parts are normalised like user input; bad parts raise
    :class:`CreditCodeError`."""
    parts = [normalise(p) for p in (authority, org_type, division, org_body8)]
    names = (
        ("the authority", "登记管理部门代码"),
        ("the organisation type", "机构类别代码"),
        ("the division code", "行政区划码"),
        ("the organisation code body", "组织机构代码本体"),
    )
    for part, length, (what_en, what_zh) in zip(parts, (1, 1, 6, 8), names):
        _check_length(part, length, what_en, what_zh)
    prefix = "".join(parts)
    # The body must also avoid I, O, Z, S and V: GB 11714 allows them, the credit code
    # that embeds it does not.
    _check_prefix(prefix)
    first17 = prefix + org_code_check(prefix[8:16])
    return first17 + check_character(first17)
