"""Witnessing a log: remember the last checkpoint seen, and on every run check that the
log's new checkpoint is signed by the same key and extends the remembered one (an RFC 9162
consistency proof from the server). A log that rewrites its history, shows one reader a
different tree than another, or shrinks is caught by any witness that saw the earlier
checkpoint.

The state directory holds two files: ``key`` (the verifier key line, trusted on first use
unless given) and ``checkpoint`` (the last verified signed note). Both are replaced
atomically (write a temporary file, then rename).

Only the standard library and ``protocol``: this can join the standalone verifier.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from market import protocol

# Exit codes of `market log witness` (and `market log cosign`).
EXIT_OK = 0
EXIT_INCONSISTENT = 1  # the log is not consistent with the stored checkpoint (rewritten, forked or shrunk)
EXIT_BAD_SIGNATURE = 3  # the checkpoint is malformed or its signature does not verify
EXIT_OTHER_LOG = 4  # the state directory belongs to another log (origin) or the log's key changed
EXIT_UNREACHABLE = 5  # the server could not be reached or answered with an error
EXIT_STATE = 6  # the state directory could not be read or written
EXIT_REFUSED = 7  # (cosign) the server refused the co-signature or the key registration

EXIT_CODES_HELP = """exit codes:
  0  consistent (or first run: checkpoint stored, trusted on first use)
  1  NOT consistent: the log's history was rewritten, forked or shrunk
  3  bad signature or malformed checkpoint or key
  4  the state directory belongs to another log (origin), or the log's key changed
  5  the server is unreachable or answered with an HTTP error
  6  the state directory cannot be read or written
  7  (cosign) the server refused the co-signature or the key registration"""

KEY_FILE = "key"
CHECKPOINT_FILE = "checkpoint"


class WitnessError(Exception):
    """A failed witness run: ``code`` is the exit code, the message says why."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Source(Protocol):
    name: str

    def key(self) -> str: ...
    def checkpoint(self) -> str: ...
    def consistency(self, first: int, second: int) -> list[bytes]: ...


class HttpSource:
    """The log's public endpoints (MSP/1 section 4) that a witness needs."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.name = self.base
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        url = f"{self.base}{path}"
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                problem = json.loads(exc.read() or b"{}")
                detail = str(problem.get("detail") or "")
                errors = problem.get("errors") or []
                if errors:
                    detail += " (" + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors) + ")"
            except (ValueError, AttributeError, OSError):
                pass
            raise WitnessError(
                f"{method} {url}: HTTP {exc.code}" + (f": {detail}" if detail else ""), EXIT_UNREACHABLE
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"{method} {url}: {getattr(exc, 'reason', exc)}", EXIT_UNREACHABLE) from None

    def _get_text(self, path: str) -> str:
        try:
            return self.request("GET", path).decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessError(f"GET {self.base}{path}: not UTF-8 text", EXIT_BAD_SIGNATURE) from None

    def key(self) -> str:
        return self._get_text("/api/v1/log/key")

    def checkpoint(self) -> str:
        return self._get_text("/api/v1/log/checkpoint")

    def consistency(self, first: int, second: int) -> list[bytes]:
        query = urllib.parse.urlencode({"first": first, "second": second})
        raw = self.request("GET", f"/api/v1/log/proof/consistency?{query}")
        try:
            body = json.loads(raw)
            return [bytes.fromhex(h) for h in body["hashes"]]
        except (ValueError, KeyError, TypeError):
            raise WitnessError("the consistency proof is not the expected JSON", EXIT_INCONSISTENT) from None


@dataclass(frozen=True)
class Result:
    origin: str
    old_size: int | None  # None on the first run
    new_size: int
    root: bytes
    note: str
    key: str

    @property
    def first_run(self) -> bool:
        return self.old_size is None

    def summary(self, state: Path | None = None) -> str:
        if self.old_size is None:
            where = f" in {state}" if state is not None else ""
            return (
                f"trusted on first use: stored the checkpoint of {self.origin} at {self.new_size} entries{where}; "
                f"key {self.key}"
            )
        return f"consistent: {self.old_size} \u2192 {self.new_size} entries"


@dataclass(frozen=True)
class State:
    key: str
    note: str
    origin: str
    size: int
    root: bytes


def read_state(directory: Path) -> State | None:
    """The stored key and checkpoint, verified; None when the directory holds neither."""
    key_path, note_path = directory / KEY_FILE, directory / CHECKPOINT_FILE
    if not key_path.exists() and not note_path.exists():
        return None
    try:
        key = key_path.read_text(encoding="utf-8").strip()
        note = note_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WitnessError(f"the state directory {directory} cannot be read: {exc}", EXIT_STATE) from None
    try:
        origin, size, root = protocol.open_checkpoint(note, key)
    except (protocol.NoteError, ValueError) as exc:
        raise WitnessError(
            f"the stored checkpoint in {directory} does not verify under the stored key: {exc}", EXIT_STATE
        ) from None
    return State(key=key, note=note, origin=origin, size=size, root=root)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_state(directory: Path, key: str, note: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if (
            not (directory / KEY_FILE).exists()
            or (directory / KEY_FILE).read_text(encoding="utf-8").strip() != key
        ):
            _write_atomic(directory / KEY_FILE, key + "\n")
        _write_atomic(directory / CHECKPOINT_FILE, note)
    except OSError as exc:
        raise WitnessError(f"the state directory {directory} cannot be written: {exc}", EXIT_STATE) from None


def _parse_key(line: str, what: str) -> tuple[str, bytes, bytes]:
    try:
        return protocol.parse_verifier_key(line.strip())
    except (protocol.NoteError, ValueError) as exc:
        raise WitnessError(f"{what} is not a valid verifier key: {exc}", EXIT_BAD_SIGNATURE) from None


def check(source: Source, state: State | None, *, pinned_key: str | None = None) -> Result:
    """Fetch the log's key and checkpoint, verify the signature, and check the checkpoint
    against ``state`` (the last one seen): same origin and key, no shrinking, and a
    consistency proof from the old root to the new. Raises WitnessError."""
    served_key = source.key().strip()
    served_origin, _, served_public = _parse_key(served_key, "the server's key")
    trusted = state.key if state is not None else (pinned_key.strip() if pinned_key else served_key)
    trusted_origin, _, trusted_public = _parse_key(trusted, "the trusted key")
    if served_origin != trusted_origin:
        if state is not None:
            raise WitnessError(
                f"the state directory holds a checkpoint of origin {trusted_origin}, this log is {served_origin}",
                EXIT_OTHER_LOG,
            )
        raise WitnessError(
            f"the given key is of origin {trusted_origin}, this log is {served_origin}", EXIT_OTHER_LOG
        )
    if served_public != trusted_public:
        raise WitnessError(
            f"the log {served_origin} now serves another key ({served_key}) than the trusted one ({trusted}); "
            "a changed key is a new log, not a continuation",
            EXIT_OTHER_LOG,
        )

    note = source.checkpoint()
    try:
        origin, size, root = protocol.open_checkpoint(note, trusted)
    except (protocol.NoteError, ValueError) as exc:
        raise WitnessError(f"the checkpoint does not verify: {exc}", EXIT_BAD_SIGNATURE) from None

    if state is None:
        return Result(origin=origin, old_size=None, new_size=size, root=root, note=note, key=trusted)
    if size < state.size:
        raise WitnessError(
            f"not consistent: the log shrank from {state.size} to {size} entries (stored checkpoint root "
            f"{state.root.hex()}, served root {root.hex()})",
            EXIT_INCONSISTENT,
        )
    proof = source.consistency(state.size, size) if state.size < size else []
    if not protocol.verify_consistency(state.size, size, state.root, root, proof):
        raise WitnessError(
            f"not consistent: the checkpoint at {size} entries (root {root.hex()}) does not extend the stored one at "
            f"{state.size} entries (root {state.root.hex()}); the log's history was rewritten or forked",
            EXIT_INCONSISTENT,
        )
    return Result(origin=origin, old_size=state.size, new_size=size, root=root, note=note, key=trusted)


def witness(source: Source, directory: Path, *, pinned_key: str | None = None) -> Result:
    """One witness run: check, then remember the new checkpoint."""
    state = read_state(directory)
    result = check(source, state, pinned_key=pinned_key)
    if state is None or result.new_size != state.size or result.note != state.note:
        write_state(directory, result.key, result.note)
    return result


def read_key_argument(value: str | None) -> str | None:
    """``--key``: a verifier key line, or a file holding one."""
    if value is None:
        return None
    if "+" in value and not os.path.exists(value):
        return value.strip()
    try:
        return Path(value).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise WitnessError(f"cannot read the key file {value}: {exc}", EXIT_STATE) from None


def run(
    url: str, state_dir: str, *, key: str | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`market log witness`: print one line, return the exit code."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        result = witness(HttpSource(url), Path(state_dir), pinned_key=read_key_argument(key))
    except WitnessError as exc:
        print(f"market log witness: {exc}", file=err)
        return exc.code
    print(result.summary(Path(state_dir)), file=out)
    return EXIT_OK
