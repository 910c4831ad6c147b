"""The client's cache of verified files: what a client registered or downloaded loads again
without a download; a changed cached file is caught and fetched again; the size limit."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from opsml import CardRegistry, DataCard, RegistryType
from opsml.client._cache import BlobCache
from opsml.data import NumpyData
from opsml.errors import InvalidArgumentError
from opsml.settings import CacheConfig, OpsmlConfig
from opsml.storage import FileEntry, HashedFiles, hash_file

pytestmark = pytest.mark.client

DATA = np.arange(50_000, dtype=np.float64)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    from opsml.mock import OpsmlTestServer

    with OpsmlTestServer(base_path=tmp_path / "server") as srv:
        monkeypatch.setenv("OPSML_TRACKING_URI", srv.server_uri)
        monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "cache"))
        yield tmp_path / "cache"


_FILE_GET = re.compile(r'"GET /opsml/api/\w+/cards/[^/]+/files/(\S+) HTTP')


@pytest.fixture
def downloads(tmp_path: Path) -> Callable[[], list[str]]:
    """The card files the server has sent so far, from its access log (a line is written
    as each answer starts)."""
    log = tmp_path / "server" / "server.log"
    return lambda: _FILE_GET.findall(log.read_text(errors="replace"))


def _register() -> DataCard:
    card = DataCard(interface=NumpyData(data=DATA), space="s", name="cached")
    CardRegistry(RegistryType.Data).register_card(card)
    return card


def _load(uid: str) -> np.ndarray:
    card = CardRegistry(RegistryType.Data).load_card(uid=uid)
    card.load()
    data: np.ndarray = card.interface.data
    return data


def test_a_card_this_client_registered_loads_without_a_download(
    server: Path, downloads: Callable[[], list[str]]
) -> None:
    card = _register()
    assert np.array_equal(_load(str(card.uid)), DATA)
    assert downloads() == []
    assert len([p for p in (server / "blobs").iterdir() if "." not in p.name]) == 1


def test_another_client_downloads_once(
    server: Path,
    downloads: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    card = _register()
    monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "other-machine"))
    assert np.array_equal(_load(str(card.uid)), DATA)
    assert np.array_equal(_load(str(card.uid)), DATA)
    assert len(downloads()) == 1, "the second load uses the file the first one downloaded"


def test_a_changed_cached_file_is_caught_and_fetched_again(
    server: Path, downloads: Callable[[], list[str]]
) -> None:
    card = _register()
    (blob,) = (p for p in (server / "blobs").iterdir() if not p.name.endswith(".used"))
    raw = bytearray(blob.read_bytes())
    raw[-1] ^= 0xFF
    blob.write_bytes(bytes(raw))
    assert np.array_equal(_load(str(card.uid)), DATA), "never the changed bytes"
    assert len(downloads()) == 1
    assert hash_file(blob).sha256 == blob.name, "the cache holds the right bytes again"


def test_download_artifacts_copies_from_the_cache(
    server: Path, downloads: Callable[[], list[str]], tmp_path: Path
) -> None:
    card = _register()
    loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
    folder = loaded.download_artifacts(tmp_path / "copy")
    assert downloads() == []
    (copied,) = folder.glob("*.npy")
    assert np.array_equal(np.load(copied), DATA)
    assert not copied.is_symlink()


def test_a_registry_created_with_the_cache_off_downloads_every_time(
    server: Path, downloads: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    card = _register()
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # read when a registry is created
    assert np.array_equal(_load(str(card.uid)), DATA)
    assert np.array_equal(_load(str(card.uid)), DATA)
    assert len(downloads()) == 2


def test_turned_off_or_misconfigured(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    off = CacheConfig.from_env({**env, "OPSML_CACHE_MAX_BYTES": "0"})
    assert BlobCache.from_config(off) is None
    assert BlobCache.from_config(CacheConfig()) is None, "a hand-built configuration: no cache"
    with pytest.raises(InvalidArgumentError, match="OPSML_CACHE_MAX_BYTES"):
        OpsmlConfig.from_env({**env, "OPSML_CACHE_MAX_BYTES": "ten"})
    default = BlobCache.from_config(CacheConfig.from_env(env))
    assert default is not None
    assert default.root == tmp_path / "xdg" / "opsml"
    moved = BlobCache.from_config(CacheConfig.from_env({**env, "OPSML_CACHE_DIR": "~/c"}))
    assert moved is not None
    assert moved.root == Path("~/c").expanduser()


def _file_in(cache: BlobCache, name: str, size: int, hashed: HashedFiles) -> tuple[Path, FileEntry]:
    cache.tmp.mkdir(parents=True, exist_ok=True)
    path = cache.tmp / name
    path.write_bytes(os.urandom(size))
    return path, hashed.hash(path)


def test_the_size_limit_removes_the_files_used_longest_ago(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", max_bytes=2500)
    hashed = HashedFiles()
    old_path, old = _file_in(cache, "old", 1000, hashed)
    assert cache.adopt(old_path, old, hashed) is not None
    mid_path, mid = _file_in(cache, "mid", 1000, hashed)
    assert cache.adopt(mid_path, mid, hashed) is not None
    long_ago = time.time() - 3600
    os.utime(cache.blobs / f"{old.sha256}.used", (long_ago, long_ago))
    os.utime(cache.blobs / f"{mid.sha256}.used", (long_ago + 60, long_ago + 60))

    new_path, new = _file_in(cache, "new", 1000, hashed)
    assert cache.adopt(new_path, new, hashed) is not None
    assert cache.lookup(old) is None, "the file used longest ago goes first"
    assert cache.lookup(mid) is not None
    assert cache.lookup(new) is not None

    recent_path, recent = _file_in(cache, "recent", 1000, hashed)
    assert cache.adopt(recent_path, recent, hashed) is not None
    assert cache.lookup(mid) is not None, "a file used in the last minutes is never removed"


def test_only_files_this_process_hashed_are_adopted(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    hashed = HashedFiles()
    path, entry = _file_in(cache, "f", 100, hashed)
    path.write_bytes(os.urandom(100))  # changed after hashing
    assert cache.adopt(path, entry, hashed) is None
    assert path.exists(), "a file that is not taken stays where it was"
    other, other_entry = _file_in(cache, "g", 100, hashed)
    assert cache.adopt(other, other_entry, HashedFiles()) is None, "hashed by someone else"
    assert cache.adopt(other, hash_file(other), hashed) is not None
