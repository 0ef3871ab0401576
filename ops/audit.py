"""Audit the locked dependencies for known vulnerabilities with pip-audit.

Run by CI (``.ci/run``) after the test suite: ``.venv/bin/python ops/audit.py``.

- A known vulnerability in a locked package fails the run (exit 1), unless it is listed in
  ``NOT_REACHABLE`` below with the reason it cannot be reached from this code; that list is
  checked by ``tests/unit/security/test_dependency_audit.py``.
- pip-audit asks its vulnerability service about every pinned version. A machine that
  cannot reach that service gets "could not be audited" for each package, and pip-audit
  still says "No known vulnerabilities found" and exits 0; this script says plainly that
  nothing was audited instead. ``MARKET_AUDIT_REQUIRED=1`` turns that into a failure, for
  a CI that is known to reach the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Advisory id -> why this project cannot be affected. Keep each entry checkable.
NOT_REACHABLE: dict[str, str] = {
    # ecdsa (python-ecdsa): Minerva timing attack on P-256 signing and verification, no fix
    # planned upstream. python-jose depends on ecdsa, but with `cryptography` installed its
    # ECKey backend is CryptographyECKey, so ES256 receipts are signed and verified by
    # cryptography; jose only imports ecdsa's int_to_string helper. Pinned by
    # tests/unit/security/test_dependency_audit.py.
    "GHSA-wj6h-64fc-37mp": "ecdsa timing side channel: jose's EC backend is cryptography, not ecdsa",
    "CVE-2024-23342": "ecdsa timing side channel: jose's EC backend is cryptography, not ecdsa",
}


def run_pip_audit(lock: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "-r",
            str(lock),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-f",
            "json",
            "-o",
            str(out),
        ]
        for advisory in NOT_REACHABLE:
            command += ["--ignore-vuln", advisory]
        done = subprocess.run(command, capture_output=True, text=True)
        if not out.exists():
            print(done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"audit: pip-audit did not run (exit {done.returncode})")
        return json.loads(out.read_text())


def summarize(report: dict, *, required: bool) -> tuple[int, list[str]]:
    """The exit code and the lines to print for pip-audit's JSON report."""
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines: list[str] = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            lines.append(f"audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
    if vulnerable:
        lines.append(f"audit: {len(vulnerable)} locked package(s) with known vulnerabilities")
        return 1, lines
    if not audited:
        example = skipped[0]["skip_reason"] if skipped else "pip-audit listed no packages"
        lines.append(
            f"audit: NOT AUDITED: the vulnerability service answered for none of the "
            f"{len(dependencies)} locked packages ({example})"
        )
        return (1 if required else 0), lines
    lines += [f"audit: skipped {d['name']}: {d['skip_reason']}" for d in skipped]
    lines.append(
        f"audit: {len(audited)} locked packages audited, no known vulnerabilities "
        f"(not reachable here: {', '.join(sorted(NOT_REACHABLE))})"
    )
    return 0, lines


def main() -> int:
    report = run_pip_audit(ROOT / "requirements.lock")
    code, lines = summarize(report, required=os.environ.get("MARKET_AUDIT_REQUIRED") == "1")
    for line in lines:
        print(line, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
