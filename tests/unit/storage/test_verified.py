"""Verified files remembered across processes: a card registered or verified once loads
without a re-hash on the same machine, and any change to a file brings the check back."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.settings import CacheConfig, OpsmlConfig
from opsml.storage import (
    FileEntry,
    Fingerprint,
    LocalStorage,
    Manifest,
    VerifiedFiles,
    fingerprint,
    hash_file,
)

_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from opsml import CardRegistry, DataCard, RegistryType
    from opsml.data import NumpyData
    from opsml.settings import OpsmlConfig
    from opsml.storage import VerifiedFiles, fingerprint
    config = OpsmlConfig.from_env()
    registry = CardRegistry(RegistryType.Data, config)
    if sys.argv[1] == "register":
        card = DataCard(interface=NumpyData(data=np.arange(100_000.0)), space="s", name="n")
        registry.register_card(card)
        print(json.dumps(sorted(card.manifest.files)))
    else:
        card = registry.load_card(space="s", name="n")
        # What this new process finds verified (the file a registry opens): the rest it hashes.
        known = VerifiedFiles(config.cache.verified_db)
        folder = Path(config.storage_uri) / "opsml_data_registry/s/n" / f"v{card.version}"
        to_hash = []
        for rel, entry in card.manifest.files.items():
            key = fingerprint(folder / rel, (folder / rel).stat())
            if key is None or not known.known(key, entry.sha256):
                to_hash.append(Path(rel).name)
        card.load()
        assert float(card.interface.data.sum()) == 4999950000.0
        print(json.dumps(to_hash))
    """
)


def _run(action: str, env: dict[str, str]) -> list[str]:
    import json

    out = subprocess.run(
        [sys.executable, "-c", _CHILD, action],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    calls: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return calls


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPSML_TRACKING_URI": f"sqlite:///{tmp_path / 'opsml.db'}",
        "OPSML_STORAGE_URI": str(tmp_path / "artifacts"),
        **extra,
    }


@pytest.mark.needs("numpy")  # the card in the child process is a NumpyData
def test_a_card_registered_by_one_process_loads_in_the_next_without_a_rehash(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    assert _run("register", env), "registration hashes the files into the manifest"
    assert _run("load", env) == [], "the files this user registered, unchanged, are trusted"

    (stored,) = (tmp_path / "artifacts").rglob("*.npy")
    stored.write_bytes(stored.read_bytes())  # same bytes, but written: fingerprint changes
    assert _run("load", env) == [stored.name], "a written file is hashed again"
    assert _run("load", env) == [], "and remembered once it verified"


@pytest.mark.needs("numpy")
def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    env = _env(tmp_path, OPSML_VERIFY_CACHE="false")
    _run("register", env)
    (stored,) = (tmp_path / "artifacts").rglob("*.npy")
    assert _run("load", env) == [stored.name]
    assert _run("load", env) == [stored.name]
    key = fingerprint(stored, stored.stat())
    assert key is not None
    usual_place = CacheConfig.from_env({**env, "OPSML_VERIFY_CACHE": ""}).verified_db
    assert not VerifiedFiles(usual_place).known(key, hash_file(stored).sha256), (
        "nothing was written where the fingerprints usually go"
    )


def test_a_file_corrupted_after_registration_is_caught(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging = storage.new_staging()
    (staging / "data.bin").write_bytes(b"0123456789" * 1000)
    manifest = Manifest.from_dir(staging)
    storage.commit(staging, "t/s/n/v1.0.0")
    storage.note_written("t/s/n/v1.0.0", manifest)
    stored = tmp_path / "root/t/s/n/v1.0.0/data.bin"
    data = bytearray(stored.read_bytes())
    data[3] ^= 0x01
    with stored.open("r+b") as fh:  # same size, same inode, mtime put back
        fh.write(bytes(data))
    os.utime(stored, ns=(stored.stat().st_atime_ns, stored.stat().st_mtime_ns - 10**9))
    with pytest.raises(IntegrityError, match=r"data\.bin"):
        storage.materialize("t/s/n/v1.0.0", manifest)


def test_a_file_changed_between_hashing_and_commit_is_not_trusted(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging = storage.new_staging()
    (staging / "data.bin").write_bytes(b"a" * 1000)
    manifest = Manifest.from_dir(staging)
    (staging / "data.bin").write_bytes(b"b" * 1000)
    storage.commit(staging, "t/s/n/v1.0.0")
    storage.note_written("t/s/n/v1.0.0", manifest)
    with pytest.raises(IntegrityError):
        storage.materialize("t/s/n/v1.0.0", manifest)


def test_fingerprints_persist_and_must_match_exactly(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    key = fingerprint(path, path.stat())
    assert key is not None
    db = tmp_path / "cache" / "verified.sqlite3"
    VerifiedFiles(db).remember([(key, "a" * 64)])
    assert db.stat().st_mode & 0o077 == 0, "the cache file is private"
    other_process = VerifiedFiles(db)
    assert other_process.known(key, "a" * 64)
    assert not other_process.known(key, "b" * 64), "another expected hash is not vouched for"
    moved = (key[0], key[1], key[2] + 1, *key[3:])
    assert not other_process.known(moved, "a" * 64), "another inode is another file"
    assert not VerifiedFiles(None).known(key, "a" * 64)


def test_a_broken_cache_file_only_means_hashing_again(tmp_path: Path) -> None:
    db = tmp_path / "verified.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    cache = VerifiedFiles(db)
    path = tmp_path / "f.bin"
    path.write_bytes(b"y" * 10)
    key = fingerprint(path, path.stat())
    assert key is not None
    cache.remember([(key, "c" * 64)])
    assert cache.known(key, "c" * 64), "still remembered in memory"


def test_note_written_skips_files_it_did_not_hash(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    folder = tmp_path / "root" / "t/s/n/v1.0.0"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a")
    entry = FileEntry(size=1, sha256="0" * 64)
    manifest = Manifest(files={"a.bin": entry})  # read from JSON: it hashed nothing
    storage.note_written("t/s/n/v1.0.0", manifest)
    key = fingerprint(folder / "a.bin", (folder / "a.bin").stat())
    assert key is not None
    assert not storage.verified.known(key, entry.sha256)
    with pytest.raises(IntegrityError):
        storage.materialize("t/s/n/v1.0.0", manifest)


class _Recording(VerifiedFiles):
    """Fingerprints as usual, noting every file they did not know (which is then hashed)."""

    def __init__(self, db_path: Path | None) -> None:
        super().__init__(db_path)
        self.hashed: list[str] = []

    def known(self, key: Fingerprint, sha256: str) -> bool:
        found = super().known(key, sha256)
        if not found:
            self.hashed.append(Path(key[0]).name)
        return found


def _written(storage: LocalStorage, data: bytes) -> Manifest:
    staging = storage.new_staging()
    (staging / "data.bin").write_bytes(data)
    manifest = Manifest.from_dir(staging)
    storage.commit(staging, "t/s/n/v1.0.0")
    storage.note_written("t/s/n/v1.0.0", manifest)
    return manifest


def test_what_a_storage_verified_belongs_to_that_storage(tmp_path: Path) -> None:
    registering = _Recording(None)
    first = LocalStorage(tmp_path / "root", verified=registering)
    manifest = _written(first, b"z" * 5000)
    first.materialize("t/s/n/v1.0.0", manifest)
    assert registering.hashed == [], "the registering storage knows the files it wrote"

    other = _Recording(None)
    second = LocalStorage(tmp_path / "root", verified=other)
    second.materialize("t/s/n/v1.0.0", manifest)
    second.materialize("t/s/n/v1.0.0", manifest)
    assert other.hashed == ["data.bin"], "other fingerprints (memory only): hashed once"


def test_storages_sharing_a_file_share_what_they_verified(tmp_path: Path) -> None:
    db = tmp_path / "cache" / "verified.sqlite3"
    manifest = _written(LocalStorage(tmp_path / "root", verified=VerifiedFiles(db)), b"w" * 5000)
    other_process = _Recording(db)
    LocalStorage(tmp_path / "root", verified=other_process).materialize("t/s/n/v1.0.0", manifest)
    assert other_process.hashed == [], "a storage on the same cache file trusts the file"


def test_the_cache_settings_come_from_the_configuration(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    cache = OpsmlConfig.from_env(env, cwd=tmp_path).cache
    assert cache.verified_db == tmp_path / "xdg" / "opsml" / "verified.sqlite3"
    assert CacheConfig.from_env({"HOME": str(tmp_path / "home")}).verified_db == (
        tmp_path / "home" / ".cache" / "opsml" / "verified.sqlite3"
    )
    off = CacheConfig.from_env({**env, "OPSML_VERIFY_CACHE": "false"})
    assert off.verified_db is None
    assert CacheConfig().verified_db is None, "a configuration built by hand keeps no file"
    with pytest.raises(InvalidArgumentError, match="OPSML_VERIFY_CACHE"):
        CacheConfig.from_env({**env, "OPSML_VERIFY_CACHE": "sometimes"})


def test_copies_of_a_storage_share_its_fingerprints(tmp_path: Path) -> None:
    db = tmp_path / "cache" / "verified.sqlite3"
    storage = LocalStorage(tmp_path / "root", verified=VerifiedFiles(db))
    manifest = _written(storage, b"c" * 100)
    storage.materialize("t/s/n/v1.0.0", manifest)  # the cache file is open now
    copied = copy.deepcopy(storage)  # as when a loaded card is copied
    assert copied.verified is storage.verified
    copied.materialize("t/s/n/v1.0.0", manifest)
