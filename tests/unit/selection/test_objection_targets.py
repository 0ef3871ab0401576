"""Who an objection may name (issue 22): never the filer's own award."""

from __future__ import annotations

from market.selection import rules

A, B, C = "AG-000001", "AG-000002", "AG-000003"


def test_a_bidder_that_holds_nothing_may_name_any_holder_or_the_whole_result() -> None:
    assert rules.objection_targets([A, B], C) == [A, B]
    assert rules.may_object_to_whole_result([A, B], C)
    assert rules.may_object_at_all([A], C)
    assert not rules.objects_to_itself([A], C, None)


def test_a_holder_may_name_only_another_holder() -> None:
    assert rules.objection_targets([A, B], A) == [B]
    assert not rules.may_object_to_whole_result([A, B], A)
    assert rules.objects_to_itself([A, B], A, A) and rules.objects_to_itself([A, B], A, None)
    assert not rules.objects_to_itself([A, B], A, B)


def test_a_sole_holder_has_nothing_to_object_to() -> None:
    assert rules.objection_targets([A], A) == []
    assert not rules.may_object_at_all([A], A)


def test_the_owner_party_is_no_holder() -> None:
    assert rules.may_object_at_all([A], "owner") and rules.objection_targets([A], "owner") == [A]
