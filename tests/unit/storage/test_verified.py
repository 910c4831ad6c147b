"""Verified files remembered across processes: a card registered or verified once loads
without a re-hash on the same machine, and any change to a file brings the check back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opsml.errors import IntegrityError
from opsml.storage import FileEntry, LocalStorage, Manifest
from opsml.storage._manifest import remember_written, verify_file
from opsml.storage._verified import VerifiedFiles, fingerprint

_HASH_COUNTER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import opsml.storage._manifest as m
    calls = []
    real = m.hash_file
    m.hash_file = lambda p: calls.append(Path(p).name) or real(p)
    from opsml import CardRegistry, DataCard, RegistryType
    from opsml.data import NumpyData
    import numpy as np
    registry = CardRegistry(RegistryType.Data)
    if sys.argv[1] == "register":
        card = DataCard(interface=NumpyData(data=np.arange(100_000.0)), space="s", name="n")
        registry.register_card(card)
    else:
        card = registry.load_card(space="s", name="n")
        card.load()
        assert float(card.interface.data.sum()) == 4999950000.0
    print(json.dumps(calls))
    """
)


def _run(action: str, env: dict[str, str]) -> list[str]:
    import json

    out = subprocess.run(
        [sys.executable, "-c", _HASH_COUNTER, action],
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


def test_remember_written_skips_files_it_did_not_hash(tmp_path: Path) -> None:
    from opsml.storage._verified import verified_files

    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    entry = FileEntry(size=1, sha256="0" * 64)
    remember_written(folder, Manifest(files={"a.bin": entry}))
    key = fingerprint(folder / "a.bin", (folder / "a.bin").stat())
    assert key is not None
    assert not verified_files().known(key, entry.sha256)
    with pytest.raises(IntegrityError):
        verify_file(folder / "a.bin", entry, "a.bin")
