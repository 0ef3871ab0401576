"""Verifying a log again: what a passing verification found, kept in a file so that the
next one re-derives only the notices with new entries. Pure, as ``verifier``."""

from __future__ import annotations

import array
import hashlib
import importlib
import json
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from market import protocol
from market.protocol.notice_report import (
    TS,
    Claims,
    NoticeReport,
    drand_verify,
    is_id,
)
from market.protocol.verify_entries import _FAST_DECODE, _FAST_ENCODE, Told, _fast_decode
from market.protocol.verify_sealed import Sealed, _is_count

# -- remembering a verification ------------------------------------------------------------

STATE_FORMAT = "market-log-verify-state/2"


# The kit's modules that the rules are written in, in the order ops/build_verifier.py joins
# them into ops/verify_log.py (each after those it needs), where they are this one file.
RULES_MODULES = (
    "encoding",
    "draw",
    "merkle",
    "notes",
    "entry_types",
    "tlock",
    "notice_report",
    "notice_bidding",
    "notice_checks",
    "verify_sealed",
    "verify_entries",
    "verify_state",
    "verifier",
)


def rules_fingerprint() -> str | None:
    """SHA-256 of the source of the rules this verifier checks with (the protocol, the
    notice checks and the verifier: one file in ops/verify_log.py), None if it cannot be
    read. A state made under other rules is not used: they might judge an entry otherwise."""
    digest = hashlib.sha256()
    package, _, module = __name__.rpartition(".")
    names = [f"{package}.{name}" for name in RULES_MODULES] if module == "verify_state" else [__name__]
    for name in names:
        path = getattr(sys.modules.get(name) or importlib.import_module(name), "__file__", None)
        try:
            with open(str(path), "rb") as fh:
                digest.update(fh.read())
        except OSError:
            return None
    return digest.hexdigest()


@dataclass
class State:
    """What a verification that passed found, kept in a file for the next one.

    Each notice's verdict depends on its entries alone, and the next verification proves
    the first ``size`` entries unchanged (the log it reads is consistent with ``root``). So
    a notice with no new entry keeps its verdict, and only the notices that new entries
    name are re-derived, from all their entries (``seqs`` says which). Every entry is still
    read and hashed, and the tree and checkpoint checked, as without a state.

    The file is trusted as the verifier itself is: keep it where nobody else writes.
    It is used only under the same key, the same rules (``rules_fingerprint``), the same
    ``--canonical`` and the same BLS checking as when it was made."""

    size: int
    root: bytes
    made: str  # when the verification that made it ran (MSP/1 time)
    notices: dict[str, Told]
    rows: dict[str, list[Any]] = field(default_factory=dict)  # each notice as the file has it
    # MSP/2: the sealed entries no opening had claimed yet (within the bid window then),
    # and the log's time then. With each notice's claimed seqs (Told.claims) that is what
    # the next verification needs to join new openings with old sealed entries.
    pending: Sealed = field(default_factory=Sealed)
    log_time: str = ""

    def entries_of(self, notice_ids: Iterable[str]) -> set[int]:
        """The indexes of the known entries of these notices, and of the sealed entries
        their openings claimed (re-read to join them again)."""
        seqs: set[int] = set()
        for notice_id in notice_ids:
            told = self.notices.get(notice_id)
            if told is not None and told.seqs is not None:
                seqs.update(told.seqs)
            if told is not None and told.claims is not None:
                seqs.update(told.claims.seqs)
        return seqs

    def told_except(self, notice_ids: Collection[str]) -> list[Told]:
        return [told for notice_id, told in self.notices.items() if notice_id not in notice_ids]

    @staticmethod
    def _settings(key: str, canonical: bool) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "rules": rules_fingerprint(),
            "key": key,
            "canonical": canonical,
            "bls": drand_verify is not None,
        }

    @classmethod
    def load(cls, path: str, *, key: str, canonical: bool) -> tuple[State | None, str | None]:
        """The state in ``path`` if it may be used here, else None and why not."""
        unused = "every notice re-derived, and the state written afresh if the log verifies"
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None, f"no state in {path} yet: {unused}"
        except OSError as exc:
            return None, f"the state {path} cannot be read ({exc}): {unused}"
        try:
            # A state of 1,000,000 entries is some 17 MB of JSON: msgspec reads it in a
            # fraction of json's time, and anything it refuses is json's to judge.
            data = (_fast_decode(raw) if _FAST_DECODE is not None else None) or json.loads(raw)
            settings = cls._settings(key, canonical)
            if settings["rules"] is None:
                return (
                    None,
                    f"this verifier cannot read its own source, so it cannot tell whether {path} was made under its rules: {unused}",
                )
            for name, wanted in settings.items():
                if data.get(name) != wanted:
                    what = {
                        "key": "another log's key",
                        "rules": "other rules (another version of the verifier)",
                        "canonical": "a different --canonical",
                        "bls": "different BLS checking (drand-verify)",
                    }.get(name, "another format")
                    return None, f"the state {path} was made with {what}: {unused}"
            size, made, log_time = data["size"], data["made"], data["log_time"]
            if not (
                _is_count(size)
                and isinstance(made, str)
                and isinstance(log_time, str)
                and (not log_time or TS.fullmatch(log_time))
            ):
                raise ValueError("size, made or log_time")
            pending = Sealed.from_rows(data["pending"])
            if len(pending) and max(pending.seqs) >= size:
                raise ValueError("a pending sealed entry beyond the log")
            root = bytes.fromhex(data["root"])
            notices: dict[str, Told] = {}
            rows: dict[str, list[Any]] = {}
            for row in data["notices"]:
                notice_id, seqs, told, claimed = row
                # (the types of a million seqs checked at C speed: set(map(type)), then the range)
                if not (
                    is_id(notice_id)
                    and type(seqs) is list
                    and set(map(type, seqs)) == {int}
                    and min(seqs) >= 0
                    and max(seqs) < size
                ):
                    raise ValueError(f"notice {notice_id!r}")
                claims = None
                if claimed is not None:  # [opening seq, [claimed seqs]]
                    opening_seq, claimed_seqs = claimed
                    if not (
                        _is_count(opening_seq)
                        and opening_seq < size
                        and type(claimed_seqs) is list
                        and set(map(type, claimed_seqs)) <= {int}
                        and (not claimed_seqs or (min(claimed_seqs) >= 0 and max(claimed_seqs) < size))
                    ):
                        raise ValueError(f"claims of notice {notice_id!r}")
                    # (only the opening and the seqs: they were joined when the state was made)
                    claims = Claims(
                        notice_id, opening_seq, "", False, array.array("q", claimed_seqs), b"", ""
                    )
                report = NoticeReport(
                    notice_id=notice_id,
                    status=str(told["status"]),
                    method=told["method"],
                    summary=str(told["summary"]),
                    entries=int(told["entries"]),
                    problems=[],
                    notes=[str(n) for n in told["notes"]],
                    version={"MSP/1": 1, "MSP/2": 2}.get(told.get("rules")),
                )
                notices[notice_id] = Told(seqs[0], report, seqs, claims)
                rows[notice_id] = row
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return None, f"the state {path} is not a verifier state ({type(exc).__name__}: {exc}): {unused}"
        return cls(
            size=size, root=root, made=made, notices=notices, rows=rows, pending=pending, log_time=log_time
        ), None

    @classmethod
    def save(
        cls,
        path: str,
        *,
        key: str,
        canonical: bool,
        size: int,
        root: bytes,
        told: list[Told],
        kept: State | None = None,
        pending: Sealed | None = None,
        log_time: str = "",
    ) -> None:
        """Write the state of a verification that passed (atomically: a verifier stopped
        half-way leaves the old state, never half of a new one). ``kept``: the state it
        started from, whose notices not re-derived are written as they were read;
        ``pending``: the sealed entries no opening claims yet; ``log_time``: the log's time."""
        import os
        import tempfile
        from datetime import UTC, datetime

        kept_notices, rows = (kept.notices, kept.rows) if kept is not None else ({}, {})
        data = {
            **cls._settings(key, canonical),
            "made": protocol.format_ts(datetime.now(UTC)),
            "size": size,
            "root": root.hex(),
            "log_time": log_time,
            "pending": (pending or Sealed()).rows(),
            "notices": [
                rows[t.report.notice_id]
                if kept_notices.get(t.report.notice_id) is t
                else [
                    t.report.notice_id,
                    list(t.seqs or ()),
                    {k: v for k, v in t.report.as_dict().items() if k != "problems"},
                    [t.claims.opening_seq, t.claims.seqs.tolist()] if t.claims is not None else None,
                ]
                for t in told
            ],
        }
        folder = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".verify-state-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as fh:
                # dumps, not dump: dump encodes in Python; msgspec writes the same JSON faster
                fh.write(
                    _FAST_ENCODE(data)
                    if _FAST_ENCODE is not None
                    else json.dumps(data, separators=(",", ":")).encode("utf-8")
                )
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
