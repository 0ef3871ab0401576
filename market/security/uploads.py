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
- a PDF has a version in its header and a ``%%EOF`` near its end, and is then parsed with
  pypdf (a maintained parser: a regular expression over PDF syntax was fooled by a string
  holding the word ``stream``, and could not see into compressed object streams at all).
  Every object the cross-reference names, those inside object streams included, is looked
  at, and a file holding JavaScript, a launch action, embedded or attached files, an XFA
  form or Flash/multimedia is refused, as is one the parser cannot read or that asks for
  more work than a document needs (MAX_PDF_OBJECTS, MAX_PDF_DEPTH, MAX_PDF_VISITS,
  MAX_PDF_SECONDS). It is still served as application/pdf with nosniff and a CSP sandbox
  (market/security/headers.py), and downloaded rather than opened in the browser.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterable
from typing import Literal
from urllib.parse import quote

import pypdf
from litestar.response import Stream

from market.core.i18n import N_
from market.security.headers import upload_headers

# Only long or distinctive runs: a short one ("<a ", "<svg") turns up by chance in
# megabytes of compressed data. SVG and HTML without a script or handler run nothing.
# Searched in the lower-cased bytes as plain substrings and literal-prefixed patterns,
# which keeps 10 MB to a few tens of milliseconds.
MARKUP_WORDS = (
    b"<script",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<frameset",
    b"<!doctype html",
    b"<?php",
    b"javascript:",
    b"vbscript:",
)
MARKUP_PATTERNS = (re.compile(rb"<html[\s>]"), re.compile(rb"\bon(?:load|error|click|mouseover|focus)\s*="))
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
# Bounds on the work one upload may ask of the PDF check. Real documents of up to 10 MB
# have a few thousand objects nested a dozen deep; a hostile one gets a refusal, not a
# worker busy for minutes or a gigabyte of decompressed object streams.
MAX_PDF_OBJECTS = 10_000  # 2-4 s of parsing on this 2-core machine; a 200-page report has a few thousand
MAX_PDF_DEPTH = 64
MAX_PDF_VISITS = 1_000_000  # dictionary entries and array items looked at, all objects together
MAX_PDF_SECONDS = 5.0  # and whatever the shape, no more time than this
PDF_LIMITS = {
    "zlib_maximum_output_length": 20_000_000,
    "lzw_maximum_output_length": 20_000_000,
    "run_length_maximum_output_length": 20_000_000,
    "array_based_stream_maximum_output_length": 20_000_000,
    "brotli_maximum_output_length": 20_000_000,
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ACTIVE_CONTENT = N_("The file holds web-page markup or scripts, which a document may not.")
DAMAGED = N_("The file is damaged or incomplete: it is not a whole PDF, PNG or JPEG.")
PDF_UNREADABLE = N_("The PDF could not be read: it is damaged or not a valid PDF.")
PDF_TOO_COMPLEX = N_("The PDF has too many objects or too deep a structure to be checked.")
PDF_ENCRYPTED = N_("The PDF is protected by a password; upload it without one.")
PDF_SCRIPT = N_("The PDF holds JavaScript, which a document may not.")
PDF_LAUNCH = N_("The PDF holds an action that starts a program, which a document may not.")
PDF_EMBEDDED = N_("The PDF carries embedded or attached files, which a document may not.")
PDF_XFA = N_("The PDF holds an XFA form, which a document may not; save or print it as a plain PDF first.")
PDF_MEDIA = N_("The PDF holds Flash or other rich media, which a document may not.")


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


# The pages check an upload while reading the form (to show its error beside the other
# fields) and the service checks it again when it stores it; parsing a large PDF takes
# seconds, so the verdicts of the last few files are kept by their SHA-256.
# (Checks run in worker threads: each step is one dict operation, safe under the GIL.)
_RECENT_PDFS: OrderedDict[bytes, str | None] = OrderedDict()
RECENT_PDFS = 16
_UNSEEN = object()


def _pdf(content: bytes) -> str | None:
    digest = hashlib.sha256(content).digest()
    known = _RECENT_PDFS.get(digest, _UNSEEN)
    if known is not _UNSEEN:
        return known  # type: ignore[return-value]
    verdict = _parsed_pdf(content)
    _RECENT_PDFS[digest] = verdict
    while len(_RECENT_PDFS) > RECENT_PDFS:
        try:
            _RECENT_PDFS.popitem(last=False)
        except KeyError:  # emptied by another thread meanwhile
            break
    return verdict


def _parsed_pdf(content: bytes) -> str | None:
    if not PDF_HEADER.match(content) or b"%%EOF" not in content[-2048:]:
        return DAMAGED
    try:
        # pypdf's own limits on decompressed sizes and element counts apply throughout;
        # the decompression caps are lowered to what a 10 MB upload can honestly need.
        with pypdf.apply_configuration(None, **PDF_LIMITS):
            return _pdf_objects(pypdf.PdfReader(io.BytesIO(content), strict=False))
    except (_TooComplex, pypdf.errors.LimitReachedError):
        return PDF_TOO_COMPLEX
    except Exception:
        return PDF_UNREADABLE


class _TooComplex(Exception):
    """The file asks for more work than MAX_PDF_OBJECTS, MAX_PDF_DEPTH, MAX_PDF_VISITS or MAX_PDF_SECONDS."""


def _pdf_objects(reader: pypdf.PdfReader) -> str | None:
    """What active content the parsed document holds. Every object the cross-reference
    names is looked at, those inside compressed object streams included, so nothing a
    viewer can reach is skipped, whether or not it hangs from the catalogue."""
    if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
        return PDF_ENCRYPTED  # its strings and object streams cannot be read, so not checked
    if not isinstance(
        reader.root_object, pypdf.generic.DictionaryObject
    ):  # it raises when there is none at all
        return PDF_UNREADABLE
    references = [(number, generation) for generation, table in reader.xref.items() for number in table]
    references += [(number, 0) for number in reader.xref_objStm]
    if len(references) > MAX_PDF_OBJECTS:
        raise _TooComplex
    visits = [0]
    found = _active(reader.trailer, visits)
    deadline = time.monotonic() + MAX_PDF_SECONDS
    for number, generation in references:
        if found is not None:
            break
        if time.monotonic() > deadline:
            raise _TooComplex
        value = reader.get_object(pypdf.generic.IndirectObject(number, generation, reader))
        if (
            number in reader.xref_objStm
            and generation == 0
            and (value is None or isinstance(value, pypdf.generic.NullObject))
        ):
            # pypdf reads a damaged object stream as empty and goes on; what it could not
            # read it could not check, and another reader may recover more of it.
            return PDF_UNREADABLE
        found = _active(value, visits)
    return found


def _active(root: object, visits: list[int]) -> str | None:
    """The first active content in ``root`` and the objects written inside it. References
    are not followed: each indirect object is looked at once, from the list of them."""
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        visits[0] += 1
        if depth > MAX_PDF_DEPTH or visits[0] > MAX_PDF_VISITS:
            raise _TooComplex
        if isinstance(
            node, pypdf.generic.DictionaryObject
        ):  # stream dictionaries too; their data is not read
            found = _active_dictionary(node)
            if found is not None:
                return found
            stack.extend((node.raw_get(key), depth + 1) for key in node)
        elif isinstance(node, pypdf.generic.ArrayObject):
            stack.extend((item, depth + 1) for item in node)
    return None


def _active_dictionary(node: pypdf.generic.DictionaryObject) -> str | None:
    # pypdf has already decoded #xx escapes in names, so /J#61vaScript is /JavaScript here.
    keys = set(node.keys())
    action, subtype, kind = (_resolved(node, key) for key in ("/S", "/Subtype", "/Type"))
    if action == "/JavaScript" or keys & {"/JS", "/JavaScript"}:
        return PDF_SCRIPT
    if action == "/Launch":
        return PDF_LAUNCH
    if (
        keys & {"/EmbeddedFiles", "/EF"}
        or kind == "/EmbeddedFile"
        or subtype == "/FileAttachment"
        or action == "/GoToE"
    ):
        return PDF_EMBEDDED
    if "/XFA" in keys:
        return PDF_XFA
    if subtype == "/RichMedia":
        return PDF_MEDIA
    return None


def _resolved(node: pypdf.generic.DictionaryObject, key: str) -> object:
    """``node[key]`` with a reference followed: ``/S 9 0 R`` may name the action too."""
    value = node.raw_get(key) if key in node else None
    return value.get_object() if isinstance(value, pypdf.generic.IndirectObject) else value


def served_upload(chunks: AsyncIterable[bytes], *, size: int, filename: str, content_type: str) -> Stream:
    """An agency document or deliverable as the browser gets it, streamed chunk by chunk
    from the database (market/files/store.py) with its length said up front. Only the type
    it was recognised as, never sniffed; images open in the browser under a sandboxing
    policy that runs nothing; PDFs are downloaded (a PDF viewer is a program of its own)."""
    disposition: Literal["inline", "attachment"] = (
        "inline" if content_type.startswith("image/") else "attachment"
    )
    # As Litestar's File response names it: plain when the name is plain ASCII, RFC 5987 otherwise.
    quoted = quote(filename)
    named = f'filename="{filename}"' if quoted == filename else f"filename*=utf-8''{quoted}"
    return Stream(
        chunks,
        media_type=content_type,
        headers={
            **upload_headers(),
            "Content-Disposition": f"{disposition}; {named}",
            "Content-Length": str(size),
        },
    )
