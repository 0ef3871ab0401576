"""Running libcoveocds (the OCDS Data Review Tool's library) offline: the standard's
schemas and codelists come from the local copy (MARKET_OCDS_SCHEMAS, default
/work/shared/data/ocds-1.1.5), handed over as the bytes of a ZIP laid out like the
standard's repository; the extension is served from market/ocds/extension by a server on
127.0.0.1 that this module starts. Nothing is fetched from the internet."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from market.ocds.api import EXTENSION_DIR
from tests.unit.ocds.schemas import SCHEMAS

TAG = "1__1__5"
STANDARD = f"https://standard.open-contracting.org/schema/{TAG}/"


@lru_cache(maxsize=1)
def versioned_release_schema() -> dict[str, Any]:
    """The one standard file the local copy lacks, derived from the local release schema
    the way the standard derives it (ocdsextensionregistry, installed with libcoveocds)."""
    from ocdsextensionregistry.versioned_release_schema import get_versioned_release_schema

    release = json.loads((SCHEMAS / "release-schema.json").read_text(encoding="utf-8"))
    return get_versioned_release_schema(release, TAG)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def standard_zip() -> bytes:
    """The local schemas as libcoveocds's ``standard_zip``: ``<root>/schema/<file>``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(f"standard-{TAG}/", "")
        for path in sorted(SCHEMAS.rglob("*")):
            if path.is_file():
                z.write(path, f"standard-{TAG}/schema/{path.relative_to(SCHEMAS).as_posix()}")
        z.writestr(
            f"standard-{TAG}/schema/versioned-release-validation-schema.json",
            json.dumps(versioned_release_schema()),
        )
    return out.getvalue()


class _Extension(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the http.server API names it
        name = self.path.rsplit("/", 1)[-1]
        path = EXTENSION_DIR / name
        if not self.path.startswith("/ocds/") or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def extension_server() -> Iterator[str]:
    """The extension's files on 127.0.0.1; yields the extension.json URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Extension)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocds/extension.json"
    finally:
        server.shutdown()
        server.server_close()


class _LocalStandard:
    """Stands in for ``requests`` inside jsonref, which libcoveocds lets fetch the
    ``$ref`` of a record's ``versionedRelease`` from the standard's site: the standard's
    schema URLs answer from the local copy, any other URL fails (nothing goes online)."""

    class _Answer:
        def __init__(self, body: Any) -> None:
            self.body = body

        def raise_for_status(self) -> None:
            pass

        def json(self, **kwargs: Any) -> Any:
            return self.body

    def get(self, uri: str, **kwargs: Any) -> _Answer:
        if not uri.startswith(STANDARD):
            raise OSError(f"offline: {uri} is not fetched")
        name = uri[len(STANDARD) :]
        if name == "versioned-release-validation-schema.json":
            return self._Answer(versioned_release_schema())
        return self._Answer(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


@contextmanager
def offline_refs() -> Iterator[None]:
    import jsonref

    saved = jsonref.requests
    jsonref.requests = _LocalStandard()
    try:
        yield
    finally:
        jsonref.requests = saved


def review(package: dict[str, Any], workdir: Path, *, convert: bool = True) -> dict[str, Any]:
    """libcoveocds's results for ``package`` (API context), with its spreadsheet conversion."""
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig({"standard_zip": standard_zip(), "context": "api"})
    # The codelist URLs are only reported beside unknown codes, never fetched.
    config.config["schema_codelists"] = {"1.1": (SCHEMAS / "codelists").as_uri() + "/"}
    with extension_server() as url, offline_refs():
        data = {**package, "extensions": [url]}
        path = workdir / "package.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        (workdir / "out").mkdir(exist_ok=True)
        return ocds_json_output(  # type: ignore[no-any-return]
            str(workdir / "out"),
            str(path),
            schema_version="1.1",
            convert=convert,
            lib_cove_ocds_config=config,
        )
