"""Documents are recognised by content: disguised files and polyglots are refused with a
message for the file field, real PDFs, PNGs and JPEGs are taken (pure, no server)."""

from __future__ import annotations

import pytest

from market.agencies.service import sniff
from market.core.errors import InvalidInput
from tests.uploads import DISGUISED, REAL


@pytest.mark.parametrize(("name", "content", "why"), DISGUISED, ids=[d[2] for d in DISGUISED])
def test_disguised_files_and_polyglots_are_refused(name: str, content: bytes, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        sniff(name, content)
    assert refused.value.status == 422 and [e.field for e in refused.value.errors] == ["file"]


@pytest.mark.parametrize(("name", "content", "content_type"), REAL, ids=[r[0] for r in REAL])
def test_real_documents_are_taken(name: str, content: bytes, content_type: str) -> None:
    assert sniff(name, content) == content_type
