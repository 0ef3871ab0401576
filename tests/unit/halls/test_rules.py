"""The jurisdiction tree read from codes: who reaches whom (market/halls/rules.py)."""

from __future__ import annotations

import pytest

from market.halls import rules

KUNMING, WUHUA, PANLONG, QUJING = "530100", "530102", "530103", "530300"
PARK_KM, PARK_WH = "530100KF", "530102K1"
HALLS = [rules.PROVINCE, KUNMING, WUHUA, PANLONG, QUJING, PARK_KM, PARK_WH]


@pytest.mark.parametrize(
    ("scope", "code", "expected"),
    [
        (rules.PROVINCE, PARK_WH, True),
        (rules.PROVINCE, "110101", True),  # another province's agency: the province reviews it
        (KUNMING, KUNMING, True),
        (KUNMING, WUHUA, True),
        (KUNMING, PARK_KM, True),
        (KUNMING, PARK_WH, True),
        (KUNMING, QUJING, False),  # beside
        (KUNMING, rules.PROVINCE, False),  # above
        (WUHUA, WUHUA, True),
        (WUHUA, PARK_WH, True),
        (WUHUA, PANLONG, False),  # a sibling county
        (WUHUA, KUNMING, False),
        (WUHUA, PARK_KM, False),  # a park of the prefecture is not the county's
        (PARK_WH, PARK_WH, True),
        (PARK_WH, WUHUA, False),
        (PARK_KM, "530100KG", False),
        ("110000", "110101", False),  # not a hall of this deployment
    ],
)
def test_powers_reach_down_never_beside_or_above(scope: str, code: str, expected: bool) -> None:
    assert rules.covers(scope, code) is expected


def test_missing_values_reach_nothing_and_a_hall_less_target_is_the_provinces() -> None:
    assert rules.reaches(None, WUHUA) is False
    assert rules.reaches(rules.PROVINCE, None) is True
    assert rules.reaches(KUNMING, None) is False


def test_the_chain_climbs_one_level_at_a_time_to_the_province() -> None:
    assert rules.chain(PARK_WH) == [PARK_WH, WUHUA, KUNMING, rules.PROVINCE]
    assert rules.chain(PARK_KM) == [PARK_KM, KUNMING, rules.PROVINCE]
    assert rules.parent_of(rules.PROVINCE) is None
    assert [rules.kind_of(c) for c in (rules.PROVINCE, KUNMING, WUHUA, PARK_WH)] == [
        "province",
        "prefecture",
        "county",
        "park",
    ]
    assert rules.depth(WUHUA) == 2


def test_park_codes_carry_their_parent() -> None:
    assert rules.check_park_code(" 530102k1 ", WUHUA) == PARK_WH
    for bad, parent in (
        ("530103K1", WUHUA),
        ("530102", WUHUA),
        ("5301021K", WUHUA),
        ("530000K1", rules.PROVINCE),
    ):
        with pytest.raises(rules.NotAHall):
            rules.check_park_code(bad, parent)


def test_an_organisation_chooses_its_regions_hall_or_a_park_inside_it() -> None:
    assert rules.hall_choices(WUHUA, HALLS) == [WUHUA, PARK_WH]
    assert rules.hall_choices(KUNMING, HALLS) == [KUNMING, PARK_KM, PARK_WH]
    assert rules.hall_choices(PANLONG, HALLS) == [PANLONG]
    assert rules.hall_choices("110101", HALLS) == [rules.PROVINCE]
    assert rules.default_hall("110101") == rules.PROVINCE
    assert rules.under(KUNMING, HALLS) == [KUNMING, PARK_KM, WUHUA, PARK_WH, PANLONG]
