"""What an uploaded document must be beyond its first bytes (pure).

market/agencies/service.py's ``sniff`` recognises PDF, PNG and JPEG by their signatures
and refuses a name that disagrees. That alone admits polyglots: a file that starts like a
PDF or PNG but also carries an HTML page or script, which a browser, an old plug-in or a
careless download tool may run. So each document is also checked here:

- no web markup or script anywhere in the file (``<script``, ``<iframe``, ``<html>``,
  ``javascript:``, ``onerror=`` ...). Inside compressed image or PDF data such a run of
  bytes is practically impossible by chance (below 10⁻⁵ for a 10 MB file);
- a PNG is a well-formed chunk sequence, IHDR first, with nothing after IEND;
- a JPEG ends with its end-of-image marker (a few padding bytes allowed);
- a PDF has a version in its header and a ``%%EOF`` near its end, and names no active
  content (``/JavaScript``, ``/JS``, ``/Launch``, ``/EmbeddedFile``, ``/RichMedia``,
  including ``#xx``-escaped spellings) outside its streams. Names inside compressed object
  streams are not seen; the file is still served as application/pdf with nosniff and a CSP sandbox
  (market/security/headers.py), so a browser never runs it as a page.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from litestar.response import File

from market.i18n import N_
from market.security.headers import upload_headers

# Only long or distinctive runs: a short one ("<a ", "<svg") turns up by chance in
# megabytes of compressed data. SVG and HTML without a script or handler run nothing.
# Searched in the lower-cased bytes as plain substrings and literal-prefixed patterns,
# which keeps 10 MB to a few tens of milliseconds.
MARKUP_WORDS = (b"<script", b"<iframe", b"<object", b"<embed", b"<frameset", b"<!doctype html", b"<?php", b"javascript:", b"vbscript:")
MARKUP_PATTERNS = (re.compile(rb"<html[\s>]"), re.compile(rb"\bon(?:load|error|click|mouseover|focus)\s*="))
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
# Stream bodies (content, images, fonts: mostly compressed) are skipped: names there are
# data, and short ones like /JS would match binary noise.
PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)
PDF_NAME = re.compile(rb"/([A-Za-z0-9#]{1,127})(?=[\s/<>\[\]()%])")  # a name ends at a delimiter
PDF_ACTIVE = {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ACTIVE_CONTENT = N_("The file holds web-page markup or scripts, which a document may not.")
DAMAGED = N_("The file is damaged or incomplete: it is not a whole PDF, PNG or JPEG.")


def problem(content_type: str, content: bytes) -> str | None:
    """The message id of what is wrong with ``content`` as ``content_type``, or None."""
    lowered = content.lower()
    if any(word in lowered for word in MARKUP_WORDS) or any(p.search(lowered) for p in MARKUP_PATTERNS):
        return ACTIVE_CONTENT
    if content_type == "image/png":
        return _png(content)
    if content_type == "image/jpeg":
        return None if content.rstrip(b"\0\r\n ").endswith(b"\xff\xd9") else DAMAGED
    if content_type == "application/pdf":
        return _pdf(content)
    return DAMAGED


def _png(content: bytes) -> str | None:
    pos, first = len(PNG_SIGNATURE), True
    while pos + 12 <= len(content):
        (length,) = struct.unpack(">I", content[pos : pos + 4])
        kind = content[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(content) or (first and kind != b"IHDR"):
            return DAMAGED
        (crc,) = struct.unpack(">I", content[end - 4 : end])
        if zlib.crc32(content[pos + 4 : end - 4]) != crc:
            return DAMAGED
        if kind == b"IEND":
            return None if end == len(content) else DAMAGED  # anything after IEND: a polyglot
        pos, first = end, False
    return DAMAGED


def _pdf(content: bytes) -> str | None:
    if not PDF_HEADER.match(content) or b"%%EOF" not in content[-2048:]:
        return DAMAGED
    for match in PDF_NAME.finditer(PDF_STREAM.sub(b"", content)):
        name = match.group(1)
        if b"#" in name:
            name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), name)
        if name in PDF_ACTIVE:  # PDF names are case-sensitive
            return ACTIVE_CONTENT
    return None


def served_upload(path: Path, *, filename: str, content_type: str) -> File:
    """An agency document or deliverable as the browser gets it. Only the type it was
    recognised as, never sniffed; images open in the browser under a sandboxing policy
    that runs nothing; PDFs are downloaded (a PDF viewer is a program of its own)."""
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    return File(path=path, filename=filename, media_type=content_type, content_disposition_type=disposition, headers=upload_headers())
