"""Artifact storage in an object store (S3, GCS, Azure Blob) through fsspec.

One class holds everything the three clouds share: card files under
``{bucket}/{root}/{prefix}/{rel}``, parallel transfers, verification, listing and garbage
collection. Each cloud adds a small subclass (``_s3.py``, ``_gcs.py``, ``_azure.py``) that
builds its fsspec filesystem and does what fsspec cannot: presigned URLs and multipart
uploads in parts that a client sends straight to the bucket.

Writes: a registration writes every object of its card and checks each one's size before
the database record turns ``ok``, so a reader (who only finds cards through their record)
never sees a card with missing files; a single object is never visible half written (object
PUTs are atomic). Reads: every file is hashed as it is downloaded and kept only if its
SHA-256 matches the manifest.

In client mode the server hands out presigned URLs for exactly the object keys of the
reserved card's files: the bytes go straight from the client to their final place, large
files in parts that the server assembles at commit (after checking every part is there).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import secrets
import tempfile
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from opsml._parallel import run_parallel
from opsml.errors import IntegrityError, InvalidArgumentError, StorageError, UploadsMissingError
from opsml.storage._base import ArtifactStorage, owner_token, remove_stale_folders
from opsml.storage._manifest import FileEntry, Manifest, hash_file, rmtree_quiet, safe_relpath
from opsml.storage._plans import PartPlan, StoredFile, UploadPlan
from opsml.storage._uploads import UploadArea

__all__ = ["ObjectStorage", "split_uri"]

MIB = 1024 * 1024
PART_SIZE = 16 * MIB
"""Parts of a multipart upload, eight in flight (grown for files the cloud's part limit
cannot hold): 16 MiB parts measured faster than 64 MiB ones and keep little in flight."""
SINGLE_PUT_LIMIT = PART_SIZE
"""Files up to this size go up in one request; larger ones in parts."""
PARALLEL = 8
_STAGING_PREFIX = "opsml-staging-"


def split_uri(uri: str) -> tuple[str, str, str]:
    """Split ``scheme://bucket/some/prefix`` into scheme, bucket and root prefix.

    Raises:
        InvalidArgumentError: No bucket, or a prefix that could escape it.
    """
    scheme, _, rest = uri.partition("://")
    bucket, _, root = rest.rstrip("/").partition("/")
    if not bucket:
        raise InvalidArgumentError(
            f"storage URI {uri!r} names no bucket: use {scheme}://bucket/prefix"
        )
    root = root.strip("/")
    if root:
        safe_relpath(root)
    return scheme.lower(), bucket, root


def _run_parallel(jobs: Sequence[Callable[[], None]], workers: int = PARALLEL) -> None:
    run_parallel(jobs, workers)


class ObjectStorage(ArtifactStorage):
    """Card files in a bucket, read and written through an fsspec filesystem.

    Args:
        uri: ``scheme://bucket/prefix``.
    """

    max_parts = 10_000

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.scheme, self.bucket, self.root = split_uri(uri)
        self._fs: Any = None

    # -- what each cloud provides ---------------------------------------------------------

    @abstractmethod
    def _make_fs(self) -> Any:
        """Build the fsspec filesystem (credentials from the cloud's usual places)."""

    @abstractmethod
    def _presign(self, key: str, method: str, ttl: int) -> tuple[str, dict[str, str]]:
        """A URL (and headers to send) allowing ``method`` on exactly ``key`` for ``ttl`` s."""

    @abstractmethod
    def _parts_stored(self, key: str, part_size: int, create: bool) -> tuple[str, dict[int, int]]:
        """The multipart upload of ``key`` (started when ``create``): a handle and the sizes
        of the parts already stored, by part number (1-based)."""

    @abstractmethod
    def _part_url(self, key: str, handle: str, number: int, ttl: int) -> str:
        """Presigned URL to ``PUT`` part ``number`` of the upload ``handle``."""

    @abstractmethod
    def _complete_parts(self, key: str, handle: str, count: int) -> None:
        """Assemble parts ``1..count`` into the object ``key``."""

    def _abort_parts(self, prefix_key: str) -> None:
        """Drop unfinished multipart uploads under ``prefix_key`` (clouds with sessions)."""
        del prefix_key

    def _abort_stale_parts(self, older_than_seconds: float) -> int:
        """Drop multipart uploads older than the threshold (clouds with upload sessions)."""
        del older_than_seconds
        return 0

    # -- paths ------------------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (built on first use)."""
        if self._fs is None:
            self._fs = self._make_fs()
        return self._fs

    def key(self, prefix: str, rel: str | None = None) -> str:
        """Object key (without the bucket) of ``prefix`` or of one file under it."""
        parts = [self.root] if self.root else []
        parts.append(safe_relpath(prefix))
        if rel is not None:
            parts.append(safe_relpath(rel))
        return "/".join(parts)

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def _translate(self, exc: Exception, what: str) -> StorageError:
        return StorageError(f"{what} in {self.uri} failed: {type(exc).__name__}: {exc}")

    def _size(self, key: str) -> int | None:
        try:
            info = self.fs.info(self._path(key))
        except FileNotFoundError:
            return None
        if info.get("type") == "directory":
            return None
        return int(info["size"])

    # -- ArtifactStorage ------------------------------------------------------------------

    def new_staging(self) -> Path:
        """A private local folder (``opsml-staging-<host>~<pid>~<random>`` in the temp dir)."""
        token = owner_token().replace(":", "~")
        path = Path(tempfile.gettempdir()) / f"{_STAGING_PREFIX}{token}~{secrets.token_hex(8)}"
        try:
            path.mkdir(mode=0o700)
        except OSError as exc:
            raise StorageError(f"cannot create a staging folder {path}: {exc}") from exc
        return path

    def commit(self, staging: Path, prefix: str) -> None:
        """Upload every staged file under ``prefix`` in parallel, check each object's size,
        then remove the staging folder (files a client already sent straight to the bucket
        are not in it)."""
        files = sorted(p for p in staging.rglob("*") if p.is_file())

        def put(file: Path) -> None:
            key = self.key(prefix, file.relative_to(staging).as_posix())
            size = file.stat().st_size
            try:
                self._put_file(file, key, size)
            except Exception as exc:
                raise self._translate(exc, f"uploading {key}") from exc
            self._check_size(key, size)

        _run_parallel([functools.partial(put, f) for f in files], workers=4)
        rmtree_quiet(staging)

    def _put_file(self, file: Path, key: str, size: int) -> None:
        """Upload one local file to ``key`` (the cloud's fsspec ``put_file``)."""
        del size
        self.fs.put_file(str(file), self._path(key))

    def _check_size(self, key: str, size: int) -> None:
        self.fs.invalidate_cache()
        stored = self._size(key)
        if stored != size:
            raise StorageError(f"object {key} holds {stored} bytes after upload, expected {size}")

    def discard(self, staging: Path) -> None:
        """Remove a staging folder."""
        rmtree_quiet(staging)

    def materialize(self, prefix: str, manifest: Manifest, dest: Path | None = None) -> Path:
        """Download the card's files into ``dest`` (a new temporary folder when ``None``),
        each written to a temporary name and kept only if it matches the manifest."""
        target = dest if dest is not None else Path(tempfile.mkdtemp(prefix="opsml-"))
        target.mkdir(parents=True, exist_ok=True)
        jobs = [
            functools.partial(
                self._download,
                self.key(prefix, rel),
                target / safe_relpath(rel),
                entry.size,
                entry.sha256,
                rel,
            )
            for rel, entry in manifest.files.items()
        ]
        _run_parallel(jobs, workers=4)
        return target

    def _download(self, key: str, out: Path, size: int, sha256: str, rel: str) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            try:
                actual = self._get_file(key, tmp)
            except FileNotFoundError as exc:
                raise IntegrityError(f"artifact {rel!r} is missing from storage") from exc
            except Exception as exc:
                raise self._translate(exc, f"downloading {rel!r}") from exc
            if actual.size != size or actual.sha256 != sha256:
                raise IntegrityError(
                    f"artifact {rel!r} does not match its manifest "
                    f"(expected {size} bytes sha256={sha256[:12]}…, "
                    f"found {actual.size} bytes sha256={actual.sha256[:12]}…)"
                )
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)

    def _get_file(self, key: str, out: Path) -> FileEntry:
        """Download ``key`` into ``out`` (the cloud's fsspec ``get_file``); its size and
        SHA-256.

        Raises:
            FileNotFoundError: No such object.
        """
        self.fs.get_file(self._path(key), str(out))
        return hash_file(out)

    def delete(self, prefix: str) -> None:
        """Remove every object under ``prefix``, and unfinished uploads (no error if there
        is none)."""
        path = self._path(self.key(prefix))
        try:
            self._abort_parts(self.key(prefix) + "/")
            self.fs.invalidate_cache()
            found = self.fs.find(path)
            if found:
                self.fs.rm(found)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._translate(exc, f"deleting {prefix}") from exc
        finally:
            self.fs.invalidate_cache()

    def probe(self) -> None:
        """The bucket exists and the server's credentials may see it (one request).

        Raises:
            StorageError: The bucket is missing or cannot be reached.
        """
        try:
            self.fs.invalidate_cache(self.bucket)
            self.fs.info(self.bucket)
        except FileNotFoundError:
            raise StorageError(f"bucket {self.bucket!r} of {self.uri} does not exist") from None
        except Exception as exc:  # the cloud library's own errors, whatever they are
            raise self._translate(exc, "reaching the bucket") from exc

    def iter_card_prefixes(self, top: str) -> Iterator[str]:
        """Yield ``top/<space>/<name>/v<version>`` prefixes holding at least one object."""
        base = self.key(top)
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self._path(base))
        except FileNotFoundError:
            return
        seen: set[str] = set()
        for path in found:
            rest = path.removeprefix(f"{self.bucket}/{base}/").split("/")
            if len(rest) >= 4 and rest[2].startswith("v"):
                seen.add(f"{top}/{rest[0]}/{rest[1]}/{rest[2]}")
        yield from sorted(seen)

    def clean_staging(self, older_than_seconds: float) -> int:
        """Remove this host's staging folders of dead processes (or older than the
        threshold) and multipart uploads older than that."""
        folders = Path(tempfile.gettempdir()).glob(f"{_STAGING_PREFIX}*")
        removed = remove_stale_folders(folders, _STAGING_PREFIX, older_than_seconds)
        return removed + self._abort_stale_parts(older_than_seconds)

    # -- transfers that bypass the server ------------------------------------------------

    def part_size(self, size: int) -> int:
        """Part size for a file of ``size`` bytes (16 MiB, larger to stay within the
        cloud's part count)."""
        return max(PART_SIZE, math.ceil(size / self.max_parts / MIB) * MIB)

    def plan_upload(self, key: str, size: int, ttl: int) -> UploadPlan:
        """Presigned URLs to upload ``key`` (``size`` bytes), skipping what is stored.

        Args:
            key: The object key (a file of a reserved card, from :meth:`key`).
            size: The file's size (from the card's manifest).
            ttl: Seconds the URLs stay valid.
        """
        self.fs.invalidate_cache()
        if self._size(key) == size:
            return UploadPlan(received=size, complete=True)
        if size <= SINGLE_PUT_LIMIT:
            url, headers = self._presign(key, "PUT", ttl)
            return UploadPlan(url=url, headers=headers)
        part_size = self.part_size(size)
        handle, stored = self._parts_stored(key, part_size, create=True)
        parts = []
        received = 0
        for index in range(math.ceil(size / part_size)):
            number = index + 1
            offset = index * part_size
            length = min(part_size, size - offset)
            done = stored.get(number) == length
            received += length if done else 0
            parts.append(
                PartPlan(
                    number=number,
                    offset=offset,
                    size=length,
                    url="" if done else self._part_url(key, handle, number, ttl),
                    complete=done,
                )
            )
        return UploadPlan(parts=tuple(parts), received=received)

    def finish_upload(self, key: str, size: int) -> bool:
        """Assemble a multipart upload whose parts are all stored; whether ``key`` now
        holds ``size`` bytes."""
        self.fs.invalidate_cache()
        if self._size(key) == size:
            return True
        if size <= SINGLE_PUT_LIMIT:
            return False
        part_size = self.part_size(size)
        count = math.ceil(size / part_size)
        handle, stored = self._parts_stored(key, part_size, create=False)
        expected = {n: min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1)}
        if not handle or any(stored.get(n) != length for n, length in expected.items()):
            return False
        try:
            self._complete_parts(key, handle, count)
        except Exception as exc:
            raise self._translate(exc, f"assembling the parts of {key}") from exc
        self.fs.invalidate_cache()
        return self._size(key) == size

    def presign_download(self, prefix: str, rel: str, ttl: int) -> str:
        """A presigned ``GET`` URL for one card file (``Range`` requests allowed)."""
        url, _ = self._presign(self.key(prefix, rel), "GET", ttl)
        return url

    # -- the transfer answers of ArtifactStorage -------------------------------------------

    def plan_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, ttl: int
    ) -> dict[str, UploadPlan]:
        """Presigned URLs for exactly the objects of the pending card under ``prefix``
        (``area`` is not used: the bytes go straight to the bucket)."""
        del area
        return {
            rel: self.plan_upload(self.key(prefix, rel), entry.size, ttl)
            for rel, entry in manifest.files.items()
        }

    def collect_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, staging: Path
    ) -> None:
        """Assemble every file the client sent to the bucket and check each object's size
        (the SHA-256 is checked on every download).

        Raises:
            UploadsMissingError: A file (or a part of one) is not in the bucket.
        """
        del area, staging
        missing = [
            rel
            for rel, entry in manifest.files.items()
            if not self.finish_upload(self.key(prefix, rel), entry.size)
        ]
        if missing:
            raise UploadsMissingError(missing)

    def download_url(self, prefix: str, rel: str, ttl: int) -> str | None:
        """A presigned ``GET`` URL: clients fetch card files straight from the bucket."""
        return self.presign_download(prefix, rel, ttl)

    def open_file(self, prefix: str, rel: str) -> StoredFile:
        """Read one object in ranges (for tools; clients use :meth:`download_url`)."""
        key = self.key(prefix, rel)
        size = self._size(key)
        if size is None:
            raise StorageError(f"file {rel!r} is missing from storage")

        def read(start: int, end: int) -> Iterator[bytes]:
            with self.fs.open(self._path(key), "rb") as fh:
                fh.seek(start)
                left = end - start
                while left > 0:
                    block = fh.read(min(8 * MIB, left))
                    if not block:
                        return
                    left -= len(block)
                    yield block

        return StoredFile(size=size, read=read)

    def sha256_of(self, prefix: str, rel: str) -> str:
        """Hash one stored object by streaming it (tests and tools)."""
        digest = hashlib.sha256()
        with self.fs.open(self._path(self.key(prefix, rel)), "rb") as fh:
            while block := fh.read(8 * MIB):
                digest.update(block)
        return digest.hexdigest()
