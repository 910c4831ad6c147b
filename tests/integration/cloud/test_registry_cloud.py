"""The registry suite (tests/unit/registry/test_registry.py) on S3, GCS and Azure emulators,
in local and client mode: the same tests, with ``registry_env`` pointing at a bucket.

Tests that never touch artifacts (version-query parsing, registry names) are left out: the
database suite covers them and they would only repeat here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.cloud

_SOURCE = Path(__file__).parents[2] / "unit" / "registry" / "test_registry.py"
_SKIP = {
    "test_version_queries_never_crash",
    "test_malformed_queries_raise_invalid_version",
    "test_unknown_registry_type",
    "test_card_registries_share_configuration",
}

_spec = importlib.util.spec_from_file_location("_registry_suite", _SOURCE)
assert _spec is not None
assert _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)

trained = _suite.trained
for _name, _test in vars(_suite).items():
    if _name.startswith("test_") and _name not in _SKIP:
        globals()[_name] = _test
