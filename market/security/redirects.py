"""Where a redirect taken from the request may go: only a path on this site.

Every ``next=`` (log-in, language switch) passes through ``local_path``. Refused, so that
the default is used instead: absolute and scheme-relative URLs (``https://evil``,
``//evil``), backslashes (browsers read ``/\\evil`` as ``//evil``), any scheme
(``javascript:``), the same once percent-decoded (``/%2F%2Fevil``, ``%5C``), and control
characters: CR/LF would split the Location header, and browsers silently drop tabs and
newlines, turning ``/<TAB>/evil`` into ``//evil``.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

MAX_LENGTH = 2000
# Kept as they are in the Location header; everything else (spaces, Chinese) is
# percent-encoded, so the header stays ASCII.
_SAFE_CHARS = "/?&=#%:@!$'()*+,;~-._"


def _is_local(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (pure)."""
    if not target or len(target) > MAX_LENGTH:
        return default
    decoded = unquote(target)
    if not _is_local(target) or not _is_local(decoded) or not _is_local(unquote(decoded)):
        return default
    return quote(target, safe=_SAFE_CHARS)
