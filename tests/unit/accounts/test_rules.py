"""The power map over accounts and grants (market/accounts/rules.py), without a database."""

from __future__ import annotations

import pytest

from market.accounts.rules import Place, grantable, manages_staff, may_grant, may_move, reaches_account

PROVINCE = "530000"
KUNMING = "530100"
WUHUA = "530102"  # a county of Kunming
PANLONG = "530103"  # its sibling
QUJING = "530300"  # another prefecture
PARK = "530100KF"  # a park under Kunming
COUNTY_PARK = "530102K1"  # a park under Wuhua


@pytest.mark.parametrize(
    ("scope", "target", "expected"),
    [
        (PROVINCE, PROVINCE, True),  # the province manages its own level too
        (PROVINCE, WUHUA, True),
        (KUNMING, WUHUA, True),
        (KUNMING, PARK, True),
        (KUNMING, KUNMING, False),  # never its own level
        (KUNMING, QUJING, False),
        (KUNMING, PROVINCE, False),
        (WUHUA, WUHUA, False),
        (WUHUA, PANLONG, False),
        (WUHUA, KUNMING, False),
        (WUHUA, COUNTY_PARK, True),
        (PARK, PARK, False),
        (None, WUHUA, False),
    ],
)
def test_staff_accounts_are_managed_from_strictly_above_or_the_province(
    scope: str | None, target: str, expected: bool
) -> None:
    assert manages_staff(scope, target) is expected
    assert reaches_account(scope, Place(role="supervisor", jurisdiction=target)) is expected


def test_owner_accounts_follow_their_organisations_hall() -> None:
    owner = Place(role="owner", org_hall=WUHUA)
    assert reaches_account(WUHUA, owner) and reaches_account(KUNMING, owner)
    assert not reaches_account(PANLONG, owner) and not reaches_account(QUJING, owner)
    in_park = Place(role="owner", org_hall=COUNTY_PARK)
    assert reaches_account(COUNTY_PARK, in_park) and reaches_account(WUHUA, in_park)
    assert not reaches_account(PARK, in_park)


def test_agency_accounts_follow_their_agencys_region() -> None:
    agency = Place(role="agency", agency_region=WUHUA)
    assert reaches_account(KUNMING, agency) and reaches_account(WUHUA, agency)
    assert not reaches_account(PANLONG, agency) and not reaches_account(PARK, agency)
    elsewhere = Place(role="agency", agency_region="110105")  # registered in Beijing
    assert reaches_account(PROVINCE, elsewhere) and not reaches_account(KUNMING, elsewhere)


def test_an_account_with_neither_is_the_provinces() -> None:
    for place in (Place(role="owner"), Place(role="agency")):
        assert place.code == PROVINCE
        assert reaches_account(PROVINCE, place) and not reaches_account(KUNMING, place)


@pytest.mark.parametrize(
    ("scope", "role", "at", "expected"),
    [
        (PROVINCE, "supervisor", PROVINCE, True),
        (PROVINCE, "admin", PROVINCE, False),  # province admins come from the operator
        (PROVINCE, "admin", KUNMING, True),
        (KUNMING, "supervisor", KUNMING, True),  # a supervisor anywhere it reaches
        (KUNMING, "supervisor", WUHUA, True),
        (KUNMING, "admin", KUNMING, False),  # an admin only strictly below
        (KUNMING, "admin", WUHUA, True),
        (KUNMING, "admin", PARK, True),
        (KUNMING, "supervisor", QUJING, False),
        (KUNMING, "supervisor", PROVINCE, False),
        (WUHUA, "supervisor", KUNMING, False),  # the level above
        (WUHUA, "supervisor", PANLONG, False),  # a sibling county
        (WUHUA, "admin", PANLONG, False),
        (WUHUA, "admin", COUNTY_PARK, True),
        (WUHUA, "owner", WUHUA, False),  # not a staff role
        (None, "supervisor", WUHUA, False),
    ],
)
def test_who_may_grant_what_where(scope: str | None, role: str, at: str, expected: bool) -> None:
    assert may_grant(scope, role, at) is expected


def test_grantable_halls_are_listed_in_code_order() -> None:
    halls = [QUJING, WUHUA, PROVINCE, PARK, KUNMING, PANLONG]
    assert grantable(KUNMING, "supervisor", halls) == [KUNMING, PARK, WUHUA, PANLONG]
    assert grantable(KUNMING, "admin", halls) == [PARK, WUHUA, PANLONG]
    assert grantable(WUHUA, "admin", halls) == []


def test_a_move_needs_the_account_below_and_the_new_hall_grantable() -> None:
    assert may_move(KUNMING, "supervisor", WUHUA, PANLONG)
    assert may_move(KUNMING, "admin", WUHUA, PARK)
    assert not may_move(KUNMING, "admin", WUHUA, KUNMING)  # an admin at its own level
    assert not may_move(KUNMING, "supervisor", KUNMING, WUHUA)  # a peer of the mover
    assert not may_move(WUHUA, "supervisor", KUNMING, WUHUA)  # a prefecture supervisor
    assert not may_move(KUNMING, "supervisor", WUHUA, QUJING)  # out of the mover's reach
    assert may_move(PROVINCE, "admin", PROVINCE, KUNMING)  # the province moves its own level
