"""Review of issue 23: `market keys check` must print, for a host given the secret through
MARKET_SECRET_KEY, the fingerprint of the secret the app uses. Settings.with_secret strips
the variable (set from the file's text, it keeps its newline); a check that hashed the raw
value would tell the operator that two hosts signing alike disagree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.security.test_keys_cluster import VARIABLES


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_a_secret_given_with_its_newline_has_the_files_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from market.cli import main

    monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / "a"))
    assert main(["keys", "generate"]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    text = (tmp_path / "b" / "secret_key").read_text(encoding="ascii")
    assert text.endswith("\n")
    (tmp_path / "b" / "secret_key").unlink()
    capsys.readouterr()
    printed = []
    for host, env in (("a", None), ("b", text)):
        monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / host))
        if env is not None:
            monkeypatch.setenv("MARKET_SECRET_KEY", env)
        assert main(["keys", "check"]) == 0
        printed.append(
            [line for line in capsys.readouterr().out.splitlines() if line.startswith("secret key: sha256")]
        )
    assert printed[0] and printed[0] == printed[1]
