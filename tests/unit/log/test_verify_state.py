"""``verify(..., state=FILE)``: a verification that passes keeps every notice's verdict, and
the next one re-derives only the notices that new entries name, with the same verdicts as
a verification from scratch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from market import protocol
from market.protocol import verifier, verify_entries
from market.protocol.verifier import verify
from tests.unit.log.test_notice_checks import Story
from tests.unit.log.test_verifier import MemorySource, entry, signer


def grown_log(extra: str = "final") -> tuple[list[bytes], list[bytes]]:
    """A log of four notices, drawn; then what comes after: the winner of N-000002 made
    final and a new notice published (``extra`` "late_bid": N-000003 also gets a bid after
    its closing, which its checks must find)."""
    stories = [Story(f"N-{n:06d}", secret=bytes([n]) * 32) for n in range(1, 5)]
    log: list[bytes] = []

    def write(story: Story, step: Any) -> None:
        story.seq = len(log)
        before = len(story.entries)
        step()
        log.extend(protocol.canonical_json(e) for _, e in story.entries[before:])
        log.append(entry(len(log), agency_id="AG-1"))  # something else happens in between

    for story in stories:
        write(story, story.publish)
    for agency in ("AG-1", "AG-2", "AG-3", "AG-4"):
        for story in stories:
            write(story, lambda story=story, agency=agency: story.bid(agency))
    for story in stories:
        write(story, story.close)
        write(story, story.draw)
    old = list(log)
    second = stories[1]
    write(second, lambda: second.final([second.of_type("selection.drawn")["winners"][0]]))
    new = Story("N-000005", secret=bytes([5]) * 32)
    write(new, new.publish)
    if extra == "late_bid":
        write(stories[2], lambda: stories[2].bid("AG-9"))
    return old, log


def without_state_notes(report: verify_entries.Report) -> dict[str, Any]:
    data = report.as_dict()
    data["checks"] = [
        c for c in data["checks"] if "verified on" not in c and not c.startswith(("all ", "entries "))
    ]
    data["notes"] = [n for n in data["notes"] if "state" not in n]
    return data


def test_a_second_verification_re_derives_only_the_notices_with_new_entries(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    old, log = grown_log()
    first = verify(MemorySource(old, s), state=state)
    assert first.ok, first.human()
    assert any(f"no state in {state} yet" in n for n in first.notes)
    kept = json.loads(Path(state).read_text())
    assert kept["size"] == len(old) and [n[0] for n in kept["notices"]] == [
        "N-000001",
        "N-000002",
        "N-000003",
        "N-000004",
    ]

    second = verify(MemorySource(log, s), state=state)
    scratch = verify(MemorySource(log, s))
    assert second.ok, second.human()
    assert without_state_notes(second) == without_state_notes(scratch)
    assert second.notices["N-000002"].status == "awarded" and second.notices["N-000005"].status == "open"
    assert "2 re-derived" in " ".join(
        second.notes
    ) and "3 notice(s) with no new entry keep the verdict" in " ".join(second.notes)
    assert any(c.startswith(f"the first {len(old)} entries are the ones verified on ") for c in second.checks)
    assert json.loads(Path(state).read_text())["size"] == len(log)

    # Nothing new: every verdict is kept, and the state stays as good.
    third = verify(MemorySource(log, s), state=state)
    assert third.ok and without_state_notes(third) == without_state_notes(scratch)
    assert "0 re-derived" in " ".join(third.notes)


def test_a_new_entry_that_breaks_an_old_notice_is_found(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    old, log = grown_log("late_bid")
    assert verify(MemorySource(old, s), state=state).ok
    before = Path(state).read_bytes()
    report = verify(MemorySource(log, s), state=state)
    assert not report.ok
    assert (
        "bid" in report.notices["N-000003"].problems[0].message
        and "after bidding.closed" in report.notices["N-000003"].problems[0].message
    )
    assert without_state_notes(report) == without_state_notes(verify(MemorySource(log, s)))
    assert Path(state).read_bytes() == before  # a failing verification keeps the old state
    assert any("left as it was" in n for n in report.notes)


def test_rewritten_history_is_found_and_every_notice_re_derived(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    old, log = grown_log()
    assert verify(MemorySource(old, s), state=state).ok
    # The operator rewrites an old entry that belongs to no notice and signs the new tree.
    rewritten = list(log)
    rewritten[1] = entry(1, agency_id="AG-2")
    before = Path(state).read_bytes()
    report = verify(MemorySource(rewritten, s), state=state)
    assert Path(state).read_bytes() == before  # kept, the evidence of what was verified
    assert not report.ok
    assert report.problems[-1].message.startswith(
        f"the log is not consistent with the {len(old)} entries verified on "
    )
    assert "history was rewritten" in report.problems[-1].message
    # Every notice was re-derived, none kept.
    assert not any("keep the verdict" in n for n in report.notes)
    assert list(report.notices) == list(verify(MemorySource(rewritten, s)).notices)


def test_a_cut_log_is_a_problem(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    s = signer()
    old, log = grown_log()
    assert verify(MemorySource(log, s), state=state).ok
    report = verify(MemorySource(old, s), state=state)
    assert not report.ok
    assert report.problems[0].message.startswith(
        f"the log has {len(old)} entries, fewer than the {len(log)} verified on "
    )


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda data: {**data, "key": "other+abcd+AAAA"}, "another log's key"),
        (lambda data: {**data, "rules": "0" * 64}, "other rules"),
        (lambda data: {**data, "canonical": True}, "a different --canonical"),
        (lambda data: {**data, "notices": [["N-000001", [10**9], {}]]}, "is not a verifier state"),
        (lambda data: {**data, "root": "zz"}, "is not a verifier state"),
        (lambda data: [], "is not a verifier state"),
    ],
)
def test_a_state_that_does_not_fit_is_not_used(tmp_path: Path, spoil: Any, why: str) -> None:
    state = tmp_path / "state.json"
    s = signer()
    old, log = grown_log()
    assert verify(MemorySource(old, s), state=str(state)).ok
    state.write_text(json.dumps(spoil(json.loads(state.read_text()))))
    report = verify(MemorySource(log, s), state=str(state))
    assert report.ok, report.human()
    assert any(why in n and "every notice re-derived" in n for n in report.notes)
    assert json.loads(state.read_text())["size"] == len(log)  # written afresh


def test_a_state_file_that_is_not_json_is_not_used(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(b"\x00not json")
    old, _ = grown_log()
    report = verify(MemorySource(old, signer()), state=str(state))
    assert report.ok and any("is not a verifier state" in n for n in report.notes)


@pytest.mark.parametrize("shards", [1, 3])
def test_worker_processes_keep_and_use_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shards: int
) -> None:
    s = signer()
    old, log = grown_log("late_bid")
    inline_state, parallel_state = str(tmp_path / "inline.json"), str(tmp_path / "parallel.json")
    assert verify(MemorySource(old, s), state=inline_state).ok
    inline = verify(MemorySource(log, s), state=inline_state)
    monkeypatch.setattr(verify_entries.EntryChecker, "PARALLEL_FROM", 10)
    monkeypatch.setattr(verify_entries.EntryChecker, "BATCH", 7)
    monkeypatch.setattr(verify_entries.EntryChecker, "MAX_WORKERS", shards)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert verify(MemorySource(old, s), state=parallel_state).ok
    assert (
        json.loads(Path(parallel_state).read_text())["notices"]
        == json.loads(Path(inline_state).read_text())["notices"]
    )
    parallel = verify(MemorySource(log, s), state=parallel_state)
    assert without_state_notes(parallel) == without_state_notes(inline) and not parallel.ok


def test_a_state_needs_every_notice() -> None:
    old, _ = grown_log()
    with pytest.raises(ValueError, match="state file"):
        verify(MemorySource(old, signer()), state="x.json", notice="N-000001")
    with pytest.raises(ValueError, match="state file"):
        verify(MemorySource(old, signer()), state="x.json", notices=False)
    parser = __import__("argparse").ArgumentParser()
    verifier.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--state", "x.json", "--log-only"])
