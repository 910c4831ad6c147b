"""A tiny ``pathlib``-like view of a bucket, so the registry tests that damage or inspect
stored files run unchanged against object storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class BucketPath:
    """``bucket/key`` on an fsspec filesystem, with the few ``Path`` methods tests use."""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs = fs
        self.path = path.rstrip("/")

    def __truediv__(self, other: str) -> BucketPath:
        return BucketPath(self.fs, f"{self.path}/{other.strip('/')}")

    def __repr__(self) -> str:
        return f"BucketPath({self.path!r})"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def read_bytes(self) -> bytes:
        data: bytes = self.fs.cat_file(self.path)
        return data

    def write_bytes(self, data: bytes) -> None:
        self.fs.pipe_file(self.path, data)
        self.fs.invalidate_cache()

    def exists(self) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self.path))

    def is_file(self) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.isfile(self.path))

    def iterdir(self) -> Iterator[BucketPath]:
        self.fs.invalidate_cache()
        for entry in self.fs.ls(self.path, detail=False):
            yield BucketPath(self.fs, entry)

    def rglob(self, pattern: str) -> Iterator[BucketPath]:
        assert pattern == "*", "only rglob('*') is supported"
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self.path)
        except FileNotFoundError:
            return
        for entry in found:
            yield BucketPath(self.fs, entry)
