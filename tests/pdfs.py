"""Hostile and harmless PDFs for the upload tests, written byte by byte so each one holds
exactly the trick it is named for: active content hidden where a pattern match over the
raw file cannot see it (inside a string, inside a compressed object stream)."""

from __future__ import annotations

import io
import zlib

import pypdf


def classic(catalog_extra: bytes = b"", page_extra: bytes = b"", objects: tuple[bytes, ...] = ()) -> bytes:
    """A one-page PDF 1.4 with a cross-reference table; ``objects`` are numbered from 4."""
    bodies = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]" + page_extra + b">>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)


def with_object_stream(catalog_extra: bytes, hidden: bytes, page_extra: bytes = b"") -> bytes:
    """A PDF 1.5 whose object 4, ``hidden``, lies inside a Flate-compressed object stream
    (object 5) named by a cross-reference stream (object 6): in the file's bytes it is
    only compressed noise. The catalogue and page may refer to it as ``4 0 R``."""
    header = b"4 0 "
    objstm_data = zlib.compress(header + hidden)
    plain = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]" + page_extra + b">>",
    ]
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in enumerate(plain, start=1):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets[5] = len(out)
    out += b"5 0 obj\n<</Type/ObjStm/N 1/First %d/Filter/FlateDecode/Length %d>>\nstream\n" % (
        len(header),
        len(objstm_data),
    )
    out += objstm_data + b"\nendstream\nendobj\n"
    offsets[6] = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    for number in (1, 2, 3):
        rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00")
    rows.append(b"\x02" + (5).to_bytes(4, "big") + b"\x00\x00")  # object 4: first in stream 5
    for number in (5, 6):
        rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00")
    table = b"".join(rows)
    out += b"6 0 obj\n<</Type/XRef/Size 7/W[1 4 2]/Root 1 0 R/Length %d>>\nstream\n" % len(table)
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[6]
    return bytes(out)


def written_by_pypdf() -> bytes:
    """A clean document as a real producer writes it (compressed content stream, info)."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "营业执照 licence", "/Author": "某某咨询有限公司"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# The reported bypass: the old filter dropped everything from "stream" to "endstream" before
# looking for names, and here both words sit in strings around the real OpenAction.
JS_AFTER_A_STRING = classic(
    b"/Lang(stream\n)/OpenAction<</S/JavaScript/JS(app.alert(1))>>/PageLabels(endstream)"
)
JS_IN_OBJECT_STREAM = with_object_stream(b"/OpenAction 4 0 R", b"<</S/JavaScript/JS(app.alert(1))>>")
JS_IN_ANNOTATION = with_object_stream(
    b"",
    b"<</Type/Annot/Subtype/Link/Rect[0 0 99 99]/A<</S/JavaScript/JS(this.exportDataObject())>>>>",
    page_extra=b"/Annots[4 0 R]",
)
JS_IN_NAME_TREE = with_object_stream(
    b"/Names<</JavaScript 4 0 R>>", b"<</Names[(a)<</S/JavaScript/JS(app.alert(1))>>]>>"
)
LAUNCH = with_object_stream(b"/OpenAction 4 0 R", b"<</S/Launch/Win<</F(cmd.exe)/P(/c calc)>>>>")
LAUNCH_INDIRECT_NAME = classic(b"/OpenAction<</S 4 0 R/F(cmd.exe)>>", objects=(b"/Launch",))
EMBEDDED_FILE = with_object_stream(
    b"/Names<</EmbeddedFiles 4 0 R>>",
    b"<</Names[(invoice.exe)<</Type/Filespec/F(invoice.exe)/EF<</F 3 0 R>>>>]>>",
)
ATTACHED_FILE = with_object_stream(
    b"",
    b"<</Type/Annot/Subtype/FileAttachment/Rect[0 0 9 9]/FS<</Type/Filespec/F(a.exe)>>>>",
    page_extra=b"/Annots[4 0 R]",
)
XFA = with_object_stream(b"/AcroForm 4 0 R", b"<</Fields[]/XFA[(template)(<template/>)]>>")
CLEAN_OBJECT_STREAM = with_object_stream(b"/PageLabels 4 0 R", b"<</Nums[0<</S/D>>]>>")
NOT_A_PDF_BODY = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
# Nesting that pypdf reads but the check will not walk, and nesting pypdf itself gives up on.
TOO_DEEP = classic(b"/Extra " + b"[" * 200 + b"]" * 200)
FAR_TOO_DEEP = classic(b"/Extra " + b"[" * 5000 + b"]" * 5000)
# Broken: the object stream's compressed data is overwritten, so what it holds cannot be read
# (pypdf alone would read it as empty and carry on).
_start = JS_IN_OBJECT_STREAM.index(b"stream\n") + len(b"stream\n")
BROKEN_OBJECT_STREAM = JS_IN_OBJECT_STREAM[:_start] + b"\0" * 20 + JS_IN_OBJECT_STREAM[_start + 20 :]


def many_objects(count: int) -> bytes:
    """A PDF 1.5 whose cross-reference stream names ``count`` small objects, all inside one
    compressed object stream: a few kilobytes that would cost seconds to parse."""
    numbers = range(4, 4 + count)
    offsets, body = [], bytearray()
    for number in numbers:
        offsets.append(len(body))
        body += b"%d " % number
    header = b" ".join(b"%d %d" % (n, o) for n, o in zip(numbers, offsets)) + b" "
    objstm_data = zlib.compress(header + bytes(body))
    out = bytearray(b"%PDF-1.5\n")
    plain = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
    ]
    positions = {}
    for number, text in enumerate(plain, start=1):
        positions[number] = len(out)
        out += b"%d 0 obj\n" % number + text + b"\nendobj\n"
    stream_number, xref_number = 4 + count, 5 + count
    positions[stream_number] = len(out)
    out += b"%d 0 obj\n<</Type/ObjStm/N %d/First %d/Filter/FlateDecode/Length %d>>\nstream\n" % (
        stream_number,
        count,
        len(header),
        len(objstm_data),
    )
    out += objstm_data + b"\nendstream\nendobj\n"
    positions[xref_number] = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    rows += [b"\x01" + positions[n].to_bytes(4, "big") + b"\x00\x00" for n in (1, 2, 3)]
    rows += [b"\x02" + stream_number.to_bytes(4, "big") + index.to_bytes(2, "big") for index in range(count)]
    rows += [b"\x01" + positions[n].to_bytes(4, "big") + b"\x00\x00" for n in (stream_number, xref_number)]
    table = zlib.compress(b"".join(rows))
    out += b"%d 0 obj\n<</Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Filter/FlateDecode/Length %d>>\nstream\n" % (
        xref_number,
        xref_number + 1,
        len(table),
    )
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % positions[xref_number]
    return bytes(out)


TOO_MANY_OBJECTS = many_objects(12_000)


def encrypted(user_password: str) -> bytes:
    """A clean page encrypted with AES-256; an empty user password opens it for anyone
    (only the owner's permissions are protected), as many issued certificates are."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
