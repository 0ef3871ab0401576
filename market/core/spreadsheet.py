"""The one CSV writer of every export (the statistics tables, the open data's notices,
awards and contracts), pure: what a spreadsheet opens, with no cell it would run.

Text from people (titles, agency names) reaches spreadsheets through these files. A cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel and LibreOffice (``=HYPERLINK(...)`` phones home when clicked), so such
text is prefixed with an apostrophe, as OWASP advises; numbers, negative ones included,
are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A cell as text, defused if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _numeric(text):
        return "'" + text
    return text


def _numeric(text: str) -> bool:
    candidate = text.rstrip("%")
    try:
        float(candidate)
    except ValueError:
        return False
    return True


def to_csv(header: Sequence[object], body: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads Chinese correctly), CRLF line ends, and
    quotes, commas and line breaks escaped the RFC 4180 way."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell(h) for h in header])
    for row in body:
        writer.writerow([cell(c) for c in row])
    return (BOM + buffer.getvalue()).encode("utf-8")
