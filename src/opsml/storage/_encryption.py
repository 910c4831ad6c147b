"""Encryption at rest: AES-256-GCM in chunks, one random data key per card.

File format (``OPSMLENC`` v1): an 16-byte header (``b"OPSMLENC"``, version byte, three
reserved bytes, the plaintext chunk size as a 4-byte big-endian integer), then one record
per chunk of the plaintext: ``nonce (12) || ciphertext || tag (16)``. The associated data of
each chunk binds the file's path inside the card, the chunk's index and whether it is the
last one, so chunks cannot be reordered, dropped, appended or moved to another file without
the tag failing. An empty file is one empty last chunk.

Data keys are 32 random bytes per card (never derived from the uid or any other public
value), stored wrapped (AES-256-GCM under the master key, with the card's storage prefix as
associated data, so a wrapped key cannot be moved to another card) together with the id of
the master key that wrapped them. The master key comes from ``OPSML_ENCRYPT_SECRET``: a key
made by ``opsml generate key`` or a passphrase of at least 32 characters (stretched with
HKDF-SHA256). A comma-separated list rotates keys: the first wraps, all unwrap; ``opsml keys
rotate`` re-wraps every data key under the first without touching the artifacts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsml._compat import require
from opsml.errors import IntegrityError, InvalidArgumentError

__all__ = [
    "CHUNK",
    "MasterKeys",
    "WrappedKey",
    "decrypt_file",
    "decrypt_range",
    "encrypt_file",
    "generate_key",
    "is_encrypted",
    "plaintext_size",
]

MAGIC = b"OPSMLENC"
VERSION = 1
CHUNK = 1024 * 1024
HEADER = 16
NONCE = 12
TAG = 16
_KEY_PREFIX = "opsmlkey-"


def _aesgcm(key: bytes) -> Any:
    aead = require("cryptography.hazmat.primitives.ciphers.aead", "encrypt")
    return aead.AESGCM(key)


def _invalid_tag() -> type[Exception]:
    exceptions = require("cryptography.exceptions", "encrypt")
    return exceptions.InvalidTag  # type: ignore[no-any-return]


def generate_key() -> str:
    """A new random master key, printable (set it as ``OPSML_ENCRYPT_SECRET``)."""
    return _KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _master_key(secret: str) -> bytes:
    secret = secret.strip()
    if secret.startswith(_KEY_PREFIX):
        try:
            key = base64.urlsafe_b64decode(secret[len(_KEY_PREFIX) :].encode("ascii"))
        except ValueError as exc:
            raise InvalidArgumentError("OPSML_ENCRYPT_SECRET is not a valid opsml key") from exc
        if len(key) != 32:
            raise InvalidArgumentError("OPSML_ENCRYPT_SECRET is not a valid opsml key")
        return key
    if len(secret) < 32:
        raise InvalidArgumentError(
            "OPSML_ENCRYPT_SECRET needs a key from `opsml generate key` or a passphrase of at "
            "least 32 characters"
        )
    hkdf = require("cryptography.hazmat.primitives.kdf.hkdf", "encrypt")
    hashes = require("cryptography.hazmat.primitives.hashes", "encrypt")
    derive = hkdf.HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"opsml-master-key", info=b"opsml v1"
    )
    return bytes(derive.derive(secret.encode()))


@dataclass(frozen=True)
class WrappedKey:
    """A card's data key, encrypted under a master key."""

    key_id: str
    blob: str  # base64url(nonce || ciphertext || tag)


class MasterKeys:
    """The master keys of ``OPSML_ENCRYPT_SECRET`` (the first wraps, all unwrap)."""

    def __init__(self, secret: str) -> None:
        """Parse a comma-separated list of keys or passphrases.

        Raises:
            InvalidArgumentError: Empty, or a key too short to be safe.
        """
        keys = [_master_key(part) for part in secret.split(",") if part.strip()]
        if not keys:
            raise InvalidArgumentError("OPSML_ENCRYPT_SECRET is empty")
        self._keys = {self.key_id_of(key): key for key in keys}
        self.current = self.key_id_of(keys[0])

    @staticmethod
    def key_id_of(key: bytes) -> str:
        """A public fingerprint of a master key (reveals nothing about the key)."""
        return hmac.new(key, b"opsml-key-id", hashlib.sha256).hexdigest()[:16]

    def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        """Encrypt a data key under the current master key, bound to ``context``."""
        nonce = secrets.token_bytes(NONCE)
        sealed = _aesgcm(self._keys[self.current]).encrypt(nonce, data_key, context.encode())
        return WrappedKey(self.current, base64.urlsafe_b64encode(nonce + sealed).decode())

    def unwrap(self, wrapped: WrappedKey, context: str) -> bytes:
        """The data key.

        Raises:
            IntegrityError: Unknown master key, a wrong context, or a tampered wrapping.
        """
        key = self._keys.get(wrapped.key_id)
        if key is None:
            raise IntegrityError(
                f"the data key of {context} is wrapped by master key {wrapped.key_id}, which "
                "OPSML_ENCRYPT_SECRET does not hold"
            )
        raw = base64.urlsafe_b64decode(wrapped.blob.encode())
        try:
            return bytes(_aesgcm(key).decrypt(raw[:NONCE], raw[NONCE:], context.encode()))
        except _invalid_tag() as exc:
            raise IntegrityError(f"the data key of {context} does not decrypt") from exc


def new_data_key() -> bytes:
    """32 random bytes."""
    return secrets.token_bytes(32)


def _aad(rel: str, index: int, last: bool) -> bytes:
    return b"%s\x00%d\x00%d" % (rel.encode(), index, int(last))


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` starts with the encrypted file header."""
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def encrypt_file(src: Path, dst: Path, data_key: bytes, rel: str) -> None:
    """Encrypt ``src`` into ``dst`` (written 0600 under a temporary name, then renamed)."""
    aes = _aesgcm(data_key)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.enc")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with src.open("rb") as fin, os.fdopen(fd, "wb") as fout:
            fout.write(MAGIC + bytes([VERSION, 0, 0, 0]) + struct.pack(">I", CHUNK))
            index = 0
            chunk = fin.read(CHUNK)
            while True:
                following = fin.read(CHUNK) if len(chunk) == CHUNK else b""
                last = not following
                nonce = secrets.token_bytes(NONCE)
                fout.write(nonce + aes.encrypt(nonce, chunk, _aad(rel, index, last)))
                if last:
                    break
                chunk, index = following, index + 1
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _chunk_size(fh: Any, path: Path) -> int:
    header = fh.read(HEADER)
    if len(header) != HEADER or header[: len(MAGIC)] != MAGIC or header[8] != VERSION:
        raise IntegrityError(f"{path.name} is not an opsml encrypted file")
    size: int = struct.unpack(">I", header[12:16])[0]
    if size <= 0 or size > 64 * CHUNK:
        raise IntegrityError(f"{path.name} has a malformed header")
    return size


def plaintext_size(path: Path) -> int:
    """The size of the decrypted content (from the file size alone).

    Raises:
        IntegrityError: Not an encrypted file, or truncated.
    """
    with path.open("rb") as fh:
        chunk = _chunk_size(fh, path)
    body = path.stat().st_size - HEADER
    record = chunk + NONCE + TAG
    full, rest = divmod(body, record)
    if rest and rest < NONCE + TAG:
        raise IntegrityError(f"{path.name} is truncated")
    if not rest and full == 0:
        raise IntegrityError(f"{path.name} is truncated")
    return full * chunk + (rest - NONCE - TAG if rest else 0)


def _chunks(path: Path, data_key: bytes, rel: str, first: int = 0) -> Iterator[bytes]:
    """Decrypted chunks of ``path`` from chunk index ``first``, each authenticated."""
    aes = _aesgcm(data_key)
    invalid = _invalid_tag()
    total = plaintext_size(path)
    with path.open("rb") as fh:
        size = _chunk_size(fh, path)
        count = max(1, -(-total // size))
        fh.seek(HEADER + first * (size + NONCE + TAG))
        for index in range(first, count):
            record = fh.read(size + NONCE + TAG)
            last = index == count - 1
            try:
                yield aes.decrypt(record[:NONCE], record[NONCE:], _aad(rel, index, last))
            except invalid as exc:
                raise IntegrityError(
                    f"artifact {rel!r} fails authentication at chunk {index} (tampered, "
                    "truncated, or another key)"
                ) from exc


def decrypt_file(src: Path, dst: Path, data_key: bytes, rel: str) -> None:
    """Decrypt ``src`` into ``dst`` (0600 temporary name, renamed when every chunk verified).

    Raises:
        IntegrityError: Any chunk fails authentication; nothing is left at ``dst``.
    """
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.dec")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fout:
            for chunk in _chunks(src, data_key, rel):
                fout.write(chunk)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def decrypt_range(
    src: Path, data_key: bytes, rel: str, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Plaintext bytes ``[start, end)`` of ``src``, decrypting only the chunks needed (for
    HTTP ``Range`` requests)."""
    total = plaintext_size(src)
    stop = total if end is None else min(end, total)
    if start >= stop:
        return
    with src.open("rb") as fh:
        size = _chunk_size(fh, src)
    position = (start // size) * size
    for chunk in _chunks(src, data_key, rel, start // size):
        lo, hi = max(start - position, 0), min(stop - position, len(chunk))
        if lo < hi:
            yield chunk[lo:hi]
        position += len(chunk)
        if position >= stop:
            return
