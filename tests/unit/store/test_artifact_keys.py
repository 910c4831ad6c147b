"""Wrapped card keys on SQLite, PostgreSQL and MariaDB, and master key rotation over them."""

from __future__ import annotations

import pytest

from opsml.cli._keys import rotate_keys
from opsml.errors import IntegrityError
from opsml.storage._encryption import MasterKeys, WrappedKey, generate_key, new_data_key
from opsml.store import SqlStore
from opsml.store._artifact_keys import KeyStore

pytestmark = pytest.mark.needs("cryptography")  # the encrypt extra

PREFIX = "opsml_model_registry/team-a/ranker/v1.0.0"


def test_keys_are_stored_once_per_card_and_deleted(db_url: str) -> None:
    keys = KeyStore(SqlStore.from_url(db_url))
    master = MasterKeys(generate_key())
    wrapped = master.wrap(new_data_key(), PREFIX)
    assert keys.get(PREFIX) is None
    assert keys.add(PREFIX, wrapped.key_id, wrapped.blob) is True
    # a second writer racing on the same card keeps the first key (files use that one)
    other = master.wrap(new_data_key(), PREFIX)
    assert keys.add(PREFIX, other.key_id, other.blob) is False
    assert keys.get(PREFIX) == (wrapped.key_id, wrapped.blob)
    keys.delete(PREFIX)
    assert keys.get(PREFIX) is None


def _add_cards(db_url: str, master: MasterKeys, *names: str) -> dict[str, bytes]:
    keys = KeyStore(SqlStore.from_url(db_url))
    plain = {f"opsml_data_registry/s/{name}/v1.0.0": new_data_key() for name in names}
    for prefix, data_key in plain.items():
        wrapped = master.wrap(data_key, prefix)
        assert keys.add(prefix, wrapped.key_id, wrapped.blob)
    return plain


def _unwrapped(db_url: str, master: MasterKeys, prefixes: list[str]) -> dict[str, bytes]:
    keys = KeyStore(SqlStore.from_url(db_url))
    result = {}
    for prefix in prefixes:
        found = keys.get(prefix)
        assert found is not None
        result[prefix] = master.unwrap(WrappedKey(*found), prefix)
    return result


def test_rotation_rewraps_in_batches_and_the_old_key_is_no_longer_needed(db_url: str) -> None:
    old, new = generate_key(), generate_key()
    plain = _add_cards(db_url, MasterKeys(old), *(f"card-{i}" for i in range(7)))
    assert rotate_keys(db_url, f"{new},{old}", batch=3) == 7
    assert rotate_keys(db_url, f"{new},{old}", batch=3) == 0
    assert _unwrapped(db_url, MasterKeys(new), list(plain)) == plain
    with pytest.raises(IntegrityError, match="does not hold"):
        _unwrapped(db_url, MasterKeys(old), list(plain)[:1])


def test_rotation_stops_on_a_key_it_cannot_unwrap_and_resumes(db_url: str) -> None:
    old, lost, new = generate_key(), generate_key(), generate_key()
    plain = _add_cards(db_url, MasterKeys(old), "a", "b") | _add_cards(
        db_url, MasterKeys(lost), "orphan"
    )
    with pytest.raises(IntegrityError, match="does not hold") as info:
        rotate_keys(db_url, f"{new},{old}")
    for secret in (new, old, lost):
        assert secret not in str(info.value)
    # an interrupted rotation damages nothing: every key unwraps with the keys held before
    assert _unwrapped(db_url, MasterKeys(f"{new},{old},{lost}"), list(plain)) == plain
    rotate_keys(db_url, f"{new},{old},{lost}")
    assert _unwrapped(db_url, MasterKeys(new), list(plain)) == plain
