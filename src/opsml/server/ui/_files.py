"""A card's files for the UI: the tree, what kind of viewer each file gets, and verified reads.

Only paths listed in the card's manifest are reachable, and every byte shown or downloaded
comes from a file whose SHA-256 matched the manifest first (a mismatch is an
``IntegrityError``, never corrupt content).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from markupsafe import Markup

from opsml.errors import CardNotFoundError
from opsml.registry import LocalBackend, StoredSource
from opsml.storage import FileEntry, Manifest
from opsml.types import RegistryType

__all__ = [
    "PREVIEW_BYTES",
    "CardFile",
    "FileTree",
    "file_kind",
    "file_tree",
    "media_type",
    "open_verified",
    "render_markdown",
]

PREVIEW_BYTES = 1024 * 1024
"""Text files show at most this many bytes in the viewer (the download has everything)."""

_IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_TEXT = {
    ".txt", ".log", ".py", ".r", ".sql", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".csv",
    ".tsv", ".sh", ".js", ".ts", ".css", ".html", ".xml", ".jsonl", ".ipynb", ".rs", ".go",
    ".java", ".scala", ".c", ".h", ".cpp", ".lock", ".env", ".gitignore", ".dockerfile",
}  # fmt: skip


def file_kind(path: str) -> str:
    """How the viewer shows a file: ``markdown``, ``json``, ``image``, ``text`` or ``binary``."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".md":
        return "markdown"
    if suffix == ".json":
        return "json"
    if suffix in _IMAGES:
        return "image"
    if suffix in _TEXT or PurePosixPath(path).name.lower() in ("readme", "license", "dockerfile"):
        return "text"
    return "binary"


def media_type(path: str) -> str:
    """The content type an inline view of ``path`` may use (images only; else bytes)."""
    return _IMAGES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")


@dataclass
class CardFile:
    """One file of the tree."""

    path: str
    name: str
    size: int
    kind: str


@dataclass
class FileTree:
    """A folder of the tree: sub-folders and files, each sorted by name."""

    name: str = ""
    folders: dict[str, FileTree] = field(default_factory=dict)
    files: list[CardFile] = field(default_factory=list)


def file_tree(files: dict[str, Any]) -> FileTree:
    """Arrange a manifest's ``{path: {size, sha256}}`` as folders and files."""
    root = FileTree()
    for path in sorted(files):
        *parents, name = path.split("/")
        node = root
        for part in parents:
            node = node.folders.setdefault(part, FileTree(part))
        node.files.append(CardFile(path, name, int(files[path]["size"]), file_kind(path)))
    return root


def _source(backend: LocalBackend, registry: RegistryType, uid: str, path: str) -> StoredSource:
    row = backend.store.get(registry, uid)
    entry: FileEntry | None = Manifest.model_validate_json(row.manifest_json).files.get(path)
    if entry is None:
        raise CardNotFoundError(f"card {uid} has no file {path!r}")
    return StoredSource(backend.storage, row.storage_path, Manifest(files={path: entry}))


def open_verified(
    backend: LocalBackend, registry: RegistryType, uid: str, path: str, stack: ExitStack
) -> tuple[Path, int]:
    """A local copy of one card file, verified against the manifest, valid until ``stack``
    closes; and its size.

    Raises:
        CardNotFoundError: No such card, or the path is not in its manifest.
        IntegrityError: The stored file does not match the manifest.
    """
    source = _source(backend, registry, uid, path)
    folder = stack.enter_context(source.local_folder(verify=True))
    return folder / path, source.manifest.files[path].size


def iter_file(path: Path, stack: ExitStack, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
    """Stream a file in chunks, closing ``stack`` (e.g. a temporary download) at the end."""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
    finally:
        stack.close()


def read_preview(path: Path, limit: int = PREVIEW_BYTES) -> tuple[str, bool]:
    """The first ``limit`` bytes as text (undecodable bytes replaced) and whether it was cut."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def pretty_json(text: str) -> str:
    """Indented JSON, or the text as it is when it does not parse (e.g. cut short)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe link schemes dropped."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(md.render(text))
