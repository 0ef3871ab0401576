"""The house's layout promises (README, "Layout"): modules small enough to read, and the same
file names for the same roles in every domain package."""

from __future__ import annotations

from pathlib import Path

MARKET = Path(__file__).resolve().parents[3] / "market"
MAX_LINES = 800


def test_no_module_in_market_is_over_800_lines() -> None:
    long = {
        str(path.relative_to(MARKET.parent)): n
        for path in MARKET.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_domain_keeps_the_old_names_for_its_roles() -> None:
    # credit.py played rules.py, console.py played queries.py, flags_*.py hid a package
    old = [
        p
        for p in MARKET.rglob("*.py")
        if p.name in {"credit.py", "console.py"} or p.name.startswith("flags_")
    ]
    assert old == []
