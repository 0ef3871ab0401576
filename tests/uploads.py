"""Real and disguised documents for upload tests: real PDF, PNG and JPEG files, and the
tricks a hostile upload tries (wrong content behind a good name, and polyglots)."""

from __future__ import annotations

import base64
import struct
import zlib


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width: int = 2, height: int = 2) -> bytes:
    raw = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))  # red RGB rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


PNG = make_png()
# A 16×16 JPEG (CPython's test data, Lib/test/imghdrdata/python.jpg, PSF licence).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDREN"
    "Dg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAA"
    "AAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQME"
    "BQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXm"
    "m3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5"
    "SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27f"
    "lGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z"
)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\0" * 48
    + b"This program cannot be run in DOS mode.\r\n"
    + b"\0" * 64
)
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/me').then(r=>r.text()).then(alert)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'

# (file name, content, why it must be refused)
DISGUISED = [
    ("licence.pdf", b"just some text, not a PDF\n", "text named .pdf"),
    ("photo.png", EXE, "Windows executable named .png"),
    ("photo.jpg", b"\x7fELF\x02\x01\x01" + b"\0" * 100, "ELF executable named .jpg"),
    ("cert.pdf", HTML, "HTML page with a script named .pdf"),
    ("cert.pdf", SVG, "SVG with a script named .pdf"),
    ("cert.png", SVG, "SVG named .png"),
    ("cert.pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF\n", "PDF header on an HTML page"),
    (
        "cert.pdf",
        PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>"),
        "PDF with JavaScript",
    ),
    (
        "cert.pdf",
        PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/J#61vaScript/J#53(x)>>"),
        "PDF with #-escaped JavaScript",
    ),
    (
        "cert.pdf",
        PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/Launch/F(cmd.exe)>>"),
        "PDF launching a program",
    ),
    ("cert.pdf", PDF[:-7], "PDF cut short (no %%EOF)"),
    ("cert.png", PNG + HTML, "PNG with an HTML page after IEND"),
    ("cert.png", PNG + b"PK\x03\x04" + b"\0" * 40, "PNG with a ZIP after IEND"),
    ("cert.png", PNG[:40], "PNG cut short"),
    ("cert.png", PNG[:17] + bytes([PNG[17] ^ 1]) + PNG[18:], "PNG with a bad chunk checksum"),
    (
        "cert.jpg",
        JPEG[:2] + b"\xff\xfe\x00\x2a<script>alert(document.cookie)</script>....." + JPEG[2:],
        "JPEG with a script in a comment",
    ),
    ("cert.jpg", JPEG[:-2], "JPEG cut short"),
    ("cert.jpg", JPEG + b"<html><body onload=alert(1)>", "JPEG with HTML appended"),
    ("cert.pdf", PNG, "PNG named .pdf"),
    ("cert.pdf", b"", "empty file"),
]
REAL = [
    ("licence.pdf", PDF, "application/pdf"),
    ("licence.png", PNG, "image/png"),
    ("licence.jpg", JPEG, "image/jpeg"),
    ("licence.JPEG", JPEG, "image/jpeg"),
]
