"""Names people type, made safe to show to others (pure).

A name (an agency's, an organisation's, a person's, a project's, a notice's title) or an
uploaded file's name is shown to supervisors, owners and the public. Characters that are
invisible or turn text around (U+202E RIGHT-TO-LEFT OVERRIDE makes ``报告exe.pdf`` read as
``报告fdp.exe``; zero-width spaces make two names that look alike differ) are refused, with
with a message that says what to look for; the rest is put in Unicode NFC form, so that
one name has one spelling (a letter and its combining accent become the one character).

NFC, not NFKC as issue 19 suggested: NFKC folds full-width punctuation into ASCII, and a
Chinese enterprise name is registered, and printed on its business licence, with
full-width brackets (云南（昆明）...有限公司, as the enterprise-name registration rules
require): the platform must show the name the licence shows.
"""

from __future__ import annotations

import unicodedata

from market.core.i18n import N_

# Unicode categories refused in a name: Cc (control: NUL, line breaks, escape), Cf (format:
# the bidi embeddings, overrides and isolates, zero-width space and joiners, the BOM...),
# Co and Cn (private use and unassigned: no reader can tell what they show).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn"})
REFUSED = N_(
    "Remove the invisible or direction-changing characters (such as U+202E or a zero-width space) from this text."
)


def first_refused(text: str) -> str | None:
    """``U+XXXX`` of the first character a name may not hold, or None."""
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def clean_name(text: str) -> str:
    """``text`` in NFC form and stripped, or ValueError (a pydantic validator turns it
    into the field's message; ``first_refused`` says which character, for a log)."""
    normal = unicodedata.normalize("NFC", text).strip()
    if first_refused(normal) is not None:
        raise ValueError(REFUSED)
    return normal


def validate_name(value: object) -> object:
    """``clean_name`` as a pydantic field validator of the input models."""
    return clean_name(value) if isinstance(value, str) else value


def upload_name(filename: str, fallback: str) -> str:
    """The name an upload is kept and shown under: its last path part, NFC, at most 200
    characters (``fallback`` when nothing is left); an invisible or direction-changing
    character is refused beside the file field (422), so a ``.exe`` cannot pass as ``.pdf``."""
    from pathlib import PurePosixPath

    from market.core.errors import FieldError, InvalidInput

    try:
        name = clean_name(PurePosixPath(filename.replace("\\", "/")).name)
    except ValueError:
        raise InvalidInput(REFUSED, [FieldError("file", REFUSED)]) from None
    return name[:200] or fallback
