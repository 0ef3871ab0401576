"""ops/verify_log.py is the package's verifier, joined into one file: never out of date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_standalone_verifier_is_built_from_the_package() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "ops/build_verifier.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_standalone_verifier_runs_without_the_package() -> None:
    # -I and cwd=/ : neither the checkout nor the virtual environment's paths help it.
    result = subprocess.run(
        [sys.executable, "-I", str(ROOT / "ops/verify_log.py"), "--help"], capture_output=True, text=True, cwd="/"
    )
    assert result.returncode == 0 and "--url" in result.stdout, result.stderr
