"""``opsml generate key`` and ``opsml keys rotate`` against a real SQLite metadata store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml.cli.main import app
from opsml.storage._encryption import MasterKeys, WrappedKey, new_data_key
from opsml.store import SqlStore
from opsml.store._artifact_keys import KeyStore

pytestmark = pytest.mark.needs("cryptography")  # the encrypt extra

runner = CliRunner()


def _new_key() -> str:
    result = runner.invoke(app, ["generate", "key"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_generate_key_prints_a_new_usable_key_each_time() -> None:
    first, second = _new_key(), _new_key()
    assert first != second
    assert "\n" not in first
    assert MasterKeys(first).current != MasterKeys(second).current


def test_keys_rotate_rewraps_the_cards_of_the_tracking_database(
    sqlite_registry_env: Path,
) -> None:
    old, new = _new_key(), _new_key()
    keys = KeyStore(SqlStore.from_url(os.environ["OPSML_TRACKING_URI"]))
    plain = {f"opsml_model_registry/s/m{i}/v1.0.0": new_data_key() for i in range(3)}
    for prefix, data_key in plain.items():
        wrapped = MasterKeys(old).wrap(data_key, prefix)
        keys.add(prefix, wrapped.key_id, wrapped.blob)

    rotating = {"OPSML_ENCRYPT_SECRET": f"{new},{old}"}
    result = runner.invoke(app, ["keys", "rotate", "--dry-run"], env=rotating)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "would re-wrap 3 card keys"
    result = runner.invoke(app, ["keys", "rotate"], env=rotating)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "re-wrapped 3 card keys"
    assert runner.invoke(app, ["keys", "rotate"], env=rotating).stdout.strip() == (
        "re-wrapped 0 card keys"
    )
    for prefix, data_key in plain.items():
        found = keys.get(prefix)
        assert found is not None
        assert MasterKeys(new).unwrap(WrappedKey(*found), prefix) == data_key


def test_keys_rotate_fails_in_one_line_without_revealing_secrets(
    sqlite_registry_env: Path,
) -> None:
    held, lost = _new_key(), _new_key()
    wrapped = MasterKeys(lost).wrap(new_data_key(), "opsml_data_registry/s/d/v1.0.0")
    KeyStore(SqlStore.from_url(os.environ["OPSML_TRACKING_URI"])).add(
        "opsml_data_registry/s/d/v1.0.0", wrapped.key_id, wrapped.blob
    )
    for secret, message in (
        (held, "IntegrityError: the data key of opsml_data_registry/s/d/v1.0.0 is wrapped by"),
        ("too short to be a key", "InvalidArgumentError: OPSML_ENCRYPT_SECRET needs a key"),
    ):
        result = runner.invoke(app, ["keys", "rotate"], env={"OPSML_ENCRYPT_SECRET": secret})
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {message}")
        assert result.stderr.count("\n") == 1
        assert secret not in result.output
        assert "Traceback" not in result.output
