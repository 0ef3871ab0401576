"""The verifier reads entries with msgspec when it is installed: it must come to the same
verdict, on every input, as with the standard library alone (ops/verify_log.py may run
without msgspec)."""

from __future__ import annotations

from typing import Any

import pytest

from market.protocol import verify_entries

TS = "2026-11-27T09:00:00.000000Z"
HEAD = b'{"seq":0,"ts":"' + TS.encode() + b'","type":"t.e","v":1'

DOCUMENTS = [
    HEAD + b"}",
    HEAD + b',"n":123456789012345678901234567890}',  # beyond 64 bits
    HEAD + b',"n":-9223372036854775809}',
    HEAD + b',"n":18446744073709551616}',
    HEAD + b',"n":1.0,"m":1E2,"z":-0,"zf":-0.0,"tiny":1.5e-320,"big":12345678901234567890.5}',
    HEAD + b',"n":1e400}',  # msgspec refuses; json gives inf
    HEAD + b',"n":NaN}',
    HEAD + b',"n":Infinity}',
    HEAD + b',"n":01}',
    HEAD + b',"s":"\\ud800"}',  # a lone surrogate, escaped
    HEAD + b',"s":"\\udc00\\ud800"}',
    HEAD + b',"s":"\\ud83d\\ude00"}',  # a pair: one code point
    HEAD + b',"s":"\xed\xa0\x80"}',  # a surrogate spelled in UTF-8
    HEAD + b',"s":"\xff"}',
    HEAD + b',"s":"x\x01"}',  # a raw control character
    HEAD + b',"s":"\\u0000"}',
    HEAD + b',"\\u0061":1}',
    HEAD + b',"seq":7}',  # a duplicate key: the last one counts, in both
    HEAD + b',"v":1,"v":2}',
    HEAD + b',"b":true,"c":false,"d":null,"l":[1,[2,{"x":"y"}]]}',
    b'{"seq":true,"ts":"' + TS.encode() + b'","type":"t.e","v":1}',
    b'{"seq":0.0,"ts":"' + TS.encode() + b'","type":"t.e","v":1}',
    b" " + HEAD + b"}",  # whitespace around the object: raw_decode refuses it
    HEAD + b"} ",
    HEAD + b"}\n",
    HEAD + b"}{}",
    HEAD + b"}}",
    b"{}",
    b"[1]",
    b'"text"',
    b"{nope}",
    b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}",  # deeper than either parser goes
    b"",
    b"{",
    b"}",
]


def _both(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = verify_entries.parse_entry(raw, 0)
    with monkeypatch.context() as patch:
        patch.setattr(verify_entries, "_FAST_DECODE", None)
        slow = verify_entries.parse_entry(raw, 0)
    return fast, slow


def _typed(value: Any) -> Any:
    """The value with every scalar's type beside it: 1 == 1.0 == True must not pass."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


def test_msgspec_is_there_to_be_compared() -> None:
    assert verify_entries._FAST_DECODE is not None


@pytest.mark.parametrize("raw", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_the_fast_reading_gives_the_standard_librarys_verdict(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fast_entry, fast_problem), (slow_entry, slow_problem) = _both(raw, monkeypatch)
    assert fast_problem == slow_problem
    assert _typed(fast_entry) == _typed(slow_entry)
    if fast_entry is not None:  # the key order too: messages list keys in it
        assert list(fast_entry) == list(slow_entry)


def test_the_verdicts_differ_where_they_should() -> None:
    """A sanity check of the list above: it holds good entries and bad ones."""
    problems = [verify_entries.parse_entry(raw, 0)[1] for raw in DOCUMENTS]
    assert problems[0] is None and problems[1] is None
    assert "trailing data" in (problems[DOCUMENTS.index(HEAD + b"} ")] or "")
    assert "not JSON" in (problems[DOCUMENTS.index(b" " + HEAD + b"}")] or "")
    assert "seq is 7" in (problems[DOCUMENTS.index(HEAD + b',"seq":7}')] or "")
