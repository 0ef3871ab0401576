"""Validating against the OCDS 1.1.5 schemas kept in /work/shared/data (or MARKET_OCDS_SCHEMAS),
offline: the package schema's $ref to the release schema resolves to the local file."""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from market.ocds.api import EXTENSION_DIR

SCHEMAS = Path(os.environ.get("MARKET_OCDS_SCHEMAS", "/work/shared/data/ocds-1.1.5"))


def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, how OCDS applies an extension's release-schema.json."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@lru_cache(maxsize=1)
def release_schema() -> dict[str, Any]:
    """The core release schema with our extension patched in, so the selection object is
    checked too."""
    patch = json.loads((EXTENSION_DIR / "release-schema.json").read_text(encoding="utf-8"))
    return merge_patch(copy.deepcopy(_load("release-schema.json")), patch)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def package_validator() -> Draft4Validator:
    package = _load("release-package-schema.json")
    release = release_schema()
    registry = Registry().with_resource(release["id"], Resource(contents=release, specification=DRAFT4))
    return Draft4Validator(package, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


@lru_cache(maxsize=1)
def release_validator() -> Draft4Validator:
    return Draft4Validator(release_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)


def release_errors(release: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in release_validator().iter_errors(release)
    ]


def package_errors(package: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in package_validator().iter_errors(package)
    ]


def codelist(name: str) -> set[str]:
    lines = (SCHEMAS / "codelists" / name).read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",", 1)[0] for line in lines if line}


@lru_cache(maxsize=1)
def record_package_validator() -> Draft4Validator:
    """The record package schema, its release references resolved to our patched release schema."""
    package = copy.deepcopy(_load("record-package-schema.json"))
    release = release_schema()
    registry = Registry().with_resource(release["id"], Resource(contents=release, specification=DRAFT4))
    return Draft4Validator(package, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def record_package_errors(package: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in record_package_validator().iter_errors(package)
    ]
