"""Where a card reads its artifacts from: the "artifact source" handed over by the registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

from opsml.storage import Manifest, copy_tree_verified, safe_relpath, verify_file, verify_tree

__all__ = ["ArtifactSource", "DirectorySource"]


@runtime_checkable
class ArtifactSource(Protocol):
    """Hands a card a local folder with its verified artifact files."""

    def materialize(self, dest: Path | None = None) -> Path:
        """Return a local folder holding every manifest file, each verified.

        Args:
            dest: Copy the files into this folder. When ``None``, the source may return a
                folder it owns; callers must not modify it.

        Raises:
            IntegrityError: A file is missing or does not match the manifest.
        """
        ...

    def local_folder(self, verify: bool = True) -> AbstractContextManager[Path]:
        """A local folder with the files for the duration of the ``with`` block.

        Args:
            verify: Check every file against the manifest before handing the folder over.
                With ``False`` the caller must call :meth:`verify` itself before trusting
                anything it read (sources that verify while downloading always verify).

        Sources that must download first use a temporary folder, removed afterwards.
        """
        ...

    def verify(self, folder: Path) -> None:
        """Check every manifest file in ``folder``.

        Raises:
            IntegrityError: A file is missing or differs from the manifest.
        """
        ...


class DirectorySource:
    """Artifacts in a local folder (a download, or ``ModelCard.load_from_path``)."""

    def __init__(self, root: Path, manifest: Manifest | None) -> None:
        self.root = root
        self.manifest = manifest

    def materialize(self, dest: Path | None = None) -> Path:
        """Verify the folder against the manifest (when there is one), copying if asked."""
        if self.manifest is None:
            return self.root
        if dest is None or dest.resolve() == self.root.resolve():
            for rel, entry in self.manifest.files.items():
                verify_file(self.root / safe_relpath(rel), entry, rel)
            return self.root
        dest.mkdir(parents=True, exist_ok=True)
        copy_tree_verified(self.root, dest, self.manifest)
        return dest

    @contextmanager
    def local_folder(self, verify: bool = True) -> Iterator[Path]:
        """The folder itself, verified in place (unless ``verify=False``)."""
        yield self.materialize() if verify else self.root

    def verify(self, folder: Path) -> None:
        """Check every manifest file in ``folder``."""
        if self.manifest is not None:
            verify_tree(folder, self.manifest)
