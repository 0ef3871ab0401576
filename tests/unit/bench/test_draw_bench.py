"""The draw benchmark (ops/bench/draw.py) at CI size: it runs and reports a ratio for each
case; how fast is for the full-size run (docs/performance.md), not for CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_draw_benchmark_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "draw.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "ops/bench/draw.py"),
            "--candidates",
            "500",
            "--repeat",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert [r["benchmark"] for r in results] == [
        "draw among 500 candidates (lottery, 1 winner)",
        "draw among 500 candidates (lowest price, 3 winners)",
    ]
    assert all(r["ratio"] > 0 and r["baseline_ms"] > 0 for r in results)
    assert "goal < 50 ms" in done.stdout
