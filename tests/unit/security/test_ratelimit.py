from __future__ import annotations

from market.security.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=3, window=60, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert limiter.hit("a") == 50


def test_window_slides() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)
    limiter.hit("a")
    clock.now += 30
    limiter.hit("a")
    assert limiter.hit("a") is not None
    clock.now += 31  # the first hit has left the window
    assert limiter.hit("a") is None


def test_clients_are_counted_apart() -> None:
    limiter = SlidingWindowLimiter(limit=1, window=60, clock=Clock())
    assert limiter.hit("a") is None
    assert limiter.hit("b") is None
    assert limiter.hit("a") is not None
