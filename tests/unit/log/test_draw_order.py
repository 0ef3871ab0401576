"""The draw's order computed in O(n log n) (protocol.draw_order) against the walk the
specification words (draw_order_by_walking): the same order for every input, weighted or
not, and the ranking's ties still broken by the draw."""

from __future__ import annotations

import random

import pytest

from market import protocol


@pytest.mark.parametrize("weighted", [False, True])
def test_same_order_as_the_specification_s_walk(weighted: bool) -> None:
    rng = random.Random(20261202 + weighted)
    for _ in range(200):
        ids = {f"AG-{rng.randint(0, 999_999):06d}" for _ in range(rng.randint(1, 80))}
        candidates = [(a, rng.randint(1, 7) if weighted else 1) for a in ids]
        seed = rng.randbytes(32)
        assert protocol.draw_order(seed, candidates) == protocol.draw_order_by_walking(seed, candidates)


def test_one_heavy_candidate_among_light_ones() -> None:
    candidates = [("AG-000001", 1000), *((f"AG-{i:06d}", 1) for i in range(2, 40))]
    for n in range(20):
        seed = n.to_bytes(32, "big")
        assert protocol.draw_order(seed, candidates) == protocol.draw_order_by_walking(seed, candidates)


def test_lowest_price_ties_keep_the_drawn_order() -> None:
    order = ["AG-3", "AG-1", "AG-2", "AG-4"]
    prices = {"AG-1": 500, "AG-2": 400, "AG-3": 500, "AG-4": 400}
    assert protocol.rank("lowest_price", order, prices) == ["AG-2", "AG-4", "AG-3", "AG-1"]


def test_candidate_checks_still_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="twice"):
        protocol.canonical_candidates([("AG-1", 1), ("AG-2", 1), ("AG-1", 1)])
    with pytest.raises(ValueError, match="weight"):
        protocol.canonical_candidates([("AG-1", True)])
    with pytest.raises(ValueError, match="not an id"):
        protocol.canonical_candidates([("AG 1", 1)])
