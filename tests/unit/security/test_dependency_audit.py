"""The dependency audit's verdicts, and the claim behind its one ignored advisory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jose.backends
from jose.backends.cryptography_backend import CryptographyECKey

ROOT = Path(__file__).resolve().parents[3]


def _audit():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ops_audit", ROOT / "ops" / "audit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jose_signs_and_verifies_ec_keys_with_cryptography_not_ecdsa() -> None:
    # The ecdsa advisory is ignored only because of this: receipts (ES256) never reach
    # python-ecdsa's signing or verification code.
    assert jose.backends.ECKey is CryptographyECKey


def test_a_known_vulnerability_fails_the_audit() -> None:
    report = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "3.1.3",
                "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.4"]}],
            },
            {"name": "anyio", "version": "4.16.0", "vulns": []},
        ]
    }
    code, lines = _audit().summarize(report, required=False)
    assert code == 1
    assert any("jinja2 3.1.3: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.4)" in line for line in lines)


def test_nothing_audited_is_said_plainly_and_fails_when_required() -> None:
    report = {
        "dependencies": [
            {
                "name": "anyio",
                "skip_reason": "Dependency not found on PyPI and could not be audited: anyio (4.16.0)",
            },
        ]
    }
    audit = _audit()
    code, lines = audit.summarize(report, required=False)
    assert code == 0 and "NOT AUDITED" in lines[-1]
    code, _ = audit.summarize(report, required=True)
    assert code == 1


def test_a_clean_audit_passes_and_names_what_it_ignored() -> None:
    report = {"dependencies": [{"name": "anyio", "version": "4.16.0", "vulns": []}]}
    code, lines = _audit().summarize(report, required=True)
    assert code == 0
    assert "1 locked packages audited" in lines[-1] and "GHSA-wj6h-64fc-37mp" in lines[-1]
