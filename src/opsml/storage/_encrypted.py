"""Local storage whose card files are encrypted at rest (``OPSML_ENCRYPT_SECRET``).

Files are encrypted when a card is committed (from its plaintext staging folder) and
decrypted, chunk by chunk, into a private temporary folder or the caller's folder when read;
every decrypted file is then checked against the card's SHA-256 manifest like any other.
Deleting a card deletes its key too, so leftover bytes can no longer be read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from opsml.errors import IntegrityError, StorageError
from opsml.storage._encryption import (
    MasterKeys,
    WrappedKey,
    decrypt_file,
    decrypt_range,
    encrypt_file,
    new_data_key,
    plaintext_size,
)
from opsml.storage._local import LocalStorage
from opsml.storage._manifest import Manifest, safe_relpath, verify_file
from opsml.storage._plans import StoredFile
from opsml.storage._verified import VerifiedFiles

__all__ = ["EncryptedLocalStorage", "KeyTable"]


class KeyTable:
    """Where wrapped card keys live (the SQL key store), as callables: keeps storage free
    of database code."""

    def __init__(
        self,
        get: Callable[[str], tuple[str, str] | None],
        add: Callable[[str, str, str], bool],
        delete: Callable[[str], None],
    ) -> None:
        self.get = get
        self.add = add
        self.delete = delete


class EncryptedLocalStorage(LocalStorage):
    """:class:`LocalStorage` with AES-256-GCM encryption of every stored file."""

    def __init__(
        self,
        root: Path | str,
        master: MasterKeys,
        keys: KeyTable,
        verified: VerifiedFiles | None = None,
    ) -> None:
        """Open the folder ``root`` with the master key(s) ``master``.

        Args:
            root: The storage folder.
            master: The master keys that wrap each card's data key.
            keys: Where the wrapped data keys live.
            verified: Fingerprints of verified (decrypted) files (see :class:`LocalStorage`).
        """
        super().__init__(
            root, key_ids=lambda prefix: (keys.get(prefix) or (None,))[0], verified=verified
        )
        self.master = master
        self.keys = keys

    def note_written(self, prefix: str, manifest: Manifest) -> None:
        """Nothing to remember: the stored files are ciphertext, checked as they decrypt."""
        del prefix, manifest

    def data_key(self, prefix: str, create: bool = False) -> bytes:
        """The card's data key (made and stored on first commit when ``create``).

        Raises:
            IntegrityError: The card has no key, or it cannot be unwrapped.
        """
        found = self.keys.get(prefix)
        if found is None and create:
            wrapped = self.master.wrap(new_data_key(), prefix)
            self.keys.add(prefix, wrapped.key_id, wrapped.blob)
            found = self.keys.get(prefix)
        if found is None:
            raise IntegrityError(f"no encryption key for the artifacts of {prefix}")
        return self.master.unwrap(WrappedKey(*found), prefix)

    def commit(self, staging: Path, prefix: str) -> None:
        """Encrypt every staged file in place, then move the folder into place."""
        key = self.data_key(prefix, create=True)
        try:
            for file in sorted(p for p in staging.rglob("*") if p.is_file()):
                encrypt_file(file, file, key, file.relative_to(staging).as_posix())
        except OSError as exc:
            raise StorageError(f"cannot encrypt the artifacts of {prefix}: {exc}") from exc
        super().commit(staging, prefix)

    def materialize(self, prefix: str, manifest: Manifest, dest: Path | None = None) -> Path:
        """Decrypt the card's files into ``dest`` (a new private folder when ``None``),
        each authenticated and checked against the manifest."""
        target = dest if dest is not None else Path(tempfile.mkdtemp(prefix="opsml-"))
        target.mkdir(parents=True, exist_ok=True)
        key = self.data_key(prefix) if manifest.files else b""
        src = self._path(prefix)
        for rel, entry in manifest.files.items():
            out = target / safe_relpath(rel)
            out.parent.mkdir(parents=True, exist_ok=True)
            stored = src / safe_relpath(rel)
            if not stored.is_file():
                raise IntegrityError(f"artifact {rel!r} is missing from storage")
            decrypt_file(stored, out, key, rel)
            verify_file(out, entry, rel, self.verified)
        return target

    @contextmanager
    def local_copy(self, prefix: str, manifest: Manifest, verify: bool = True) -> Iterator[Path]:
        """A private temporary folder with the decrypted, verified files."""
        with tempfile.TemporaryDirectory(prefix="opsml-") as tmp:
            yield self.materialize(prefix, manifest, Path(tmp))

    def open_file(self, prefix: str, rel: str) -> StoredFile:
        """One file's plaintext, decrypted range by range (only the chunks a range
        touches; each authenticated); the client verifies the SHA-256 of what it receives.

        Raises:
            StorageError: The file is missing.
            IntegrityError: The card's key cannot be unwrapped (e.g. another master key).
        """
        stored = self.file_path(prefix, rel)
        if not stored.is_file():
            raise StorageError(f"file {rel!r} is missing from storage")
        key = self.data_key(prefix)
        return StoredFile(
            size=plaintext_size(stored),
            read=lambda start, end: decrypt_range(stored, key, rel, start, end),
        )

    def delete(self, prefix: str) -> None:
        """Remove the card's files and its key."""
        super().delete(prefix)
        self.keys.delete(prefix)
