"""A stored file as an HTTP answer: the same for the JSON API and the pages, for agency
documents and deliverables (the handler has checked who may see it)."""

from __future__ import annotations

from litestar.response import Stream

from market.core.db import Database
from market.files import store
from market.files.models import StoredFile
from market.security.uploads import served_upload


def download(db: Database, stored: StoredFile, *, filename: str, content_type: str) -> Stream:
    """Streamed from the database one chunk per query, after the request's transaction has
    ended (market/files/store.py); headers as market/security/uploads.py says."""
    return served_upload(
        store.chunks(db, stored), size=stored.size, filename=filename, content_type=content_type
    )
