"""Pure rules of the jurisdiction tree: no I/O. Which hall a code is, who is above it, and
whether one jurisdiction's powers reach another's notices, organisations or agencies.

The tree is read from the codes themselves, so these rules need no table:
- the province, its prefectures and their counties are GB/T 2260 codes (53 Yunnan, 5301
  Kunming, 530102 Wuhua District; market/reference/regions.py);
- a development park (开发园区) is its parent's six-digit code followed by a suffix that
  starts with a capital letter, such as 530100KF (a park under Kunming) or 530102K1 (a
  park under Wuhua District). A park reaches only itself; its parent reaches it.

The deployment's province is the root and reaches everything, also codes outside the
province (an agency registered in another province is the province's to review).
"""

from __future__ import annotations

import re
from typing import Final, Literal

from market.reference import regions

# The province this deployment serves: the one whose prefectures and counties are held in
# market/reference/regions.py. Another province needs its divisions added there first.
PROVINCE: Final = "530000"

Kind = Literal["province", "prefecture", "county", "park"]
KINDS: Final[tuple[Kind, ...]] = ("province", "prefecture", "county", "park")

PARK_CODE: Final = re.compile(r"([0-9]{6})([A-Z][0-9A-Z]{1,5})")
MAX_CODE_LENGTH: Final = 12


class NotAHall(ValueError):
    """A code that cannot name a hall of this deployment."""


def kind_of(code: str) -> Kind:
    """A hall's level, from the shape of its code."""
    if PARK_CODE.fullmatch(code):
        return "park"
    level = regions.region(code).level if code in regions.REGIONS else _level_by_shape(code)
    return level


def _level_by_shape(code: str) -> Kind:
    if not re.fullmatch(r"[0-9]{6}", code):
        raise NotAHall(f"{code!r} is not a hall code")
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def parent_of(code: str) -> str | None:
    """The hall one level up (None for the province): where an undecided objection escalates."""
    match = PARK_CODE.fullmatch(code)
    if match:
        return match.group(1)
    kind = _level_by_shape(code)
    if kind == "province":
        return None
    if kind == "prefecture":
        return code[:2] + "0000"
    return code[:4] + "00"


def chain(code: str) -> list[str]:
    """From ``code`` up to the province, ``code`` first."""
    out = [code]
    while (up := parent_of(out[-1])) is not None:
        out.append(up)
    return out


def covers(scope: str, code: str) -> bool:
    """Whether powers held at ``scope`` reach ``code`` (a hall or a region code): itself and
    everything below it, nothing beside or above. The province reaches everything."""
    if scope == PROVINCE:
        return True
    if scope == code:
        return True
    if PARK_CODE.fullmatch(scope):
        return False  # a park has nothing below it
    if kind_of(scope) == "province":
        return False  # another province's code: not a hall of this deployment
    region_part = code[:6]
    return bool(re.fullmatch(r"[0-9]{6}", region_part)) and region_part.startswith(
        regions.scope_prefix(scope)
    )


def reaches(scope: str | None, code: str | None) -> bool:
    """``covers`` for possibly missing values: an account without a jurisdiction reaches
    nothing; a target without a hall (a draft, an organisation outside the province) is
    the province's."""
    if scope is None:
        return False
    return covers(scope, code or PROVINCE)


def depth(code: str) -> int:
    """0 for the province, 1 for a prefecture, 2 for a county; a park sits below its parent."""
    return len(chain(code)) - 1


def strictly_above(scope: str, code: str) -> bool:
    return scope != code and covers(scope, code)


def check_park_code(code: str, parent: str) -> str:
    """A new park's code: its parent's code and a suffix, such as 530100KF. Raises NotAHall."""
    code = code.strip().upper()
    match = PARK_CODE.fullmatch(code)
    if not match or len(code) > MAX_CODE_LENGTH:
        raise NotAHall(f"{code!r} is not a park code: the parent's six digits and a suffix such as KF or K1")
    if match.group(1) != parent:
        raise NotAHall(f"{code!r} does not start with its parent's code {parent}")
    if kind_of(parent) not in ("prefecture", "county"):
        raise NotAHall("a development park sits under a prefecture or a county")
    return code


def default_hall(region: str) -> str:
    """The hall an organisation registered in ``region`` belongs to unless it chooses a
    park: the region's own hall when it is in the province, else the province's."""
    if region in regions.REGIONS and region.startswith(regions.scope_prefix(PROVINCE)):
        return region
    return PROVINCE


def hall_choices(region: str, halls: list[str]) -> list[str]:
    """The halls an organisation in ``region`` may belong to: its region's own hall and the
    parks inside the region (an organisation outside the province belongs to the province)."""
    own = default_hall(region)
    if own == PROVINCE and region != PROVINCE:
        return [PROVINCE]
    parks = [h for h in halls if PARK_CODE.fullmatch(h) and covers(own, h)]
    return [own, *sorted(parks)]


def under(scope: str, halls: list[str]) -> list[str]:
    """The halls among ``halls`` that ``scope`` reaches, itself included, in code order."""
    return sorted(h for h in halls if covers(scope, h))
