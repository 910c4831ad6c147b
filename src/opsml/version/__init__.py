"""Semantic versions of cards: parsing, precedence, queries and allocation (SPEC §4).

Pure code, no I/O: the metadata store turns queries into SQL with
``opsml.store._version_sql`` using the order keys defined here.
"""

from __future__ import annotations

from opsml.version._allocate import (
    RequestedVersion,
    allocate_version,
    latest,
    parse_requested_version,
    validate_tag,
)
from opsml.version._query import MAX_QUERY_LENGTH, Comparator, ComparatorOp, VersionQuery
from opsml.version._semver import (
    FINAL_PRE_KEY,
    MAX_NUMBER,
    MAX_VERSION_LENGTH,
    PrereleaseId,
    Version,
    compare,
)

__all__ = [
    "FINAL_PRE_KEY",
    "MAX_NUMBER",
    "MAX_QUERY_LENGTH",
    "MAX_VERSION_LENGTH",
    "Comparator",
    "ComparatorOp",
    "PrereleaseId",
    "RequestedVersion",
    "Version",
    "VersionQuery",
    "allocate_version",
    "compare",
    "latest",
    "parse_requested_version",
    "validate_tag",
]
