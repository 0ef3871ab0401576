"""Which entries a reconnecting reader of the draw page's stream is sent (market/selection/web.py):
all of them after its Last-Event-ID while the timeline holds them, none (the panel's list
instead) when it fell further behind than the timeline reaches."""

from __future__ import annotations

from market.selection.queries import TimelineEntry
from market.selection.web import TIMELINE_LIMIT, Snapshot


def snap(seqs: list[int]) -> Snapshot:
    return Snapshot(html="", deadline=None, timeline=[TimelineEntry(seq=s, type="t", ts="") for s in seqs])


def test_a_short_timeline_is_whole_so_every_later_entry_is_sent() -> None:
    s = snap([3, 9, 40])
    assert [e.seq for e in s.entries_after(0)] == [3, 9, 40]
    assert [e.seq for e in s.entries_after(9)] == [40]
    assert s.entries_after(40) == [] and s.entries_after(1000) == []
    assert s.seq == 40 and snap([]).seq is None


def test_a_full_timeline_sends_entries_only_when_it_reaches_back_to_the_reader() -> None:
    full = snap(list(range(100, 100 + TIMELINE_LIMIT)))
    assert [e.seq for e in full.entries_after(100 + TIMELINE_LIMIT - 3)] == [
        100 + TIMELINE_LIMIT - 2,
        100 + TIMELINE_LIMIT - 1,
    ]
    assert len(full.entries_after(99)) == TIMELINE_LIMIT  # nothing older can be missing
    # The reader is further behind than the list reaches: an entry before it may be
    # missing, so none is sent one by one and the panel's list replaces the page's.
    assert full.entries_after(98) == []
    assert full.entries_after(0) == []
