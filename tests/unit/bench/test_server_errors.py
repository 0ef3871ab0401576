"""What the benchmarks say of the servers' own errors (ops/load/bids.py): a count, and the
first lines themselves, so that a run whose data dir is gone still says what went wrong."""

from __future__ import annotations

from pathlib import Path

from ops.load.bids import error_lines, server_errors


def test_the_error_lines_are_counted_and_shown_cut_short(tmp_path: Path) -> None:
    (tmp_path / "server-0.log").write_text(
        '{"level": "info", "msg": "request"}\n'
        '{"level": "error", "msg": "' + "x" * 500 + '"}\n'
        "Traceback (most recent call last):\n"
    )
    (tmp_path / "server-1.log").write_text('{"level": "warning", "msg": "slow"}\n')
    assert server_errors(tmp_path) == 2
    lines = error_lines(tmp_path)
    assert len(lines) == 2
    assert lines[0].startswith('{"level": "error"') and len(lines[0]) == 300
    assert lines[1] == "Traceback (most recent call last):"
