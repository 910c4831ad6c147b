"""Encryption at rest: AES-256-GCM in chunks, one random data key per card.

File format (``OPSMLENC`` v1): a 16-byte header (``b"OPSMLENC"``, version byte, three
zero bytes, the plaintext chunk size 1 MiB as a 4-byte big-endian integer; readers accept
exactly these bytes, as the header is not authenticated otherwise), then one record
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

Manifest signatures: :meth:`MasterKeys.sign_manifest` is an HMAC-SHA256 over a card's uid and
manifest JSON, with a key derived from the master key for this purpose only; the signature
names the master key that made it, so verification keeps working during a rotation.

How storage and the server use this module (``EncryptedLocalStorage`` in
:mod:`opsml.storage._encrypted` is the reference):

- commit: make a data key with :func:`new_data_key`, store ``MasterKeys.wrap(key, prefix)``,
  then :func:`encrypt_file` every staged file (``rel`` = its POSIX path inside the card)
  before moving the folder into place;
- read: unwrap the card's key, :func:`decrypt_file` each file into a private folder, then
  check it against the manifest (the manifest hashes are of the plaintext);
- serve: :func:`plaintext_size` gives ``Content-Length`` without decrypting, and
  :func:`decrypt_range` the bytes of an HTTP ``Range`` request, decrypting only the chunks
  it touches. Start the response only after the first chunk has been yielded, so a tampered
  file is an error response and not a truncated body.
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
    "KEY_PREFIX",
    "MasterKeys",
    "WrappedKey",
    "decrypt_file",
    "decrypt_range",
    "encrypt_file",
    "generate_key",
    "is_encrypted",
    "new_data_key",
    "plaintext_size",
]

MAGIC = b"OPSMLENC"
VERSION = 1
CHUNK = 1024 * 1024
HEADER = 16
NONCE = 12
TAG = 16
_HEADER_V1 = MAGIC + bytes([VERSION, 0, 0, 0]) + struct.pack(">I", CHUNK)
KEY_PREFIX = "opsmlkey-"
_SIGNATURE_PREFIX = "opsmlsig1"


def _aesgcm(key: bytes) -> Any:
    aead = require("cryptography.hazmat.primitives.ciphers.aead", "encrypt")
    return aead.AESGCM(key)


def _invalid_tag() -> type[Exception]:
    exceptions = require("cryptography.exceptions", "encrypt")
    return exceptions.InvalidTag  # type: ignore[no-any-return]


def generate_key() -> str:
    """A new random master key, printable (set it as ``OPSML_ENCRYPT_SECRET``)."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _master_key(secret: str) -> bytes:
    secret = secret.strip()
    if secret.startswith(KEY_PREFIX):
        try:
            key = base64.urlsafe_b64decode(secret[len(KEY_PREFIX) :].encode("ascii"))
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
        try:
            raw = base64.urlsafe_b64decode(wrapped.blob.encode("ascii"))
            if len(raw) <= NONCE + TAG:
                raise ValueError("too short")
            return bytes(_aesgcm(key).decrypt(raw[:NONCE], raw[NONCE:], context.encode()))
        except (_invalid_tag(), ValueError) as exc:
            raise IntegrityError(f"the data key of {context} does not decrypt") from exc

    def sign_manifest(self, manifest_json: str | bytes, uid: str) -> str:
        """Sign a card's manifest with the current master key.

        Args:
            manifest_json: The manifest exactly as stored (the bytes that will be verified).
            uid: The card's uid, bound into the signature so it cannot be moved to another card.

        Returns:
            ``opsmlsig1:<key_id>:<hex HMAC-SHA256>`` (public: reveals nothing about the key).
        """
        digest = _manifest_mac(self._keys[self.current], manifest_json, uid)
        return f"{_SIGNATURE_PREFIX}:{self.current}:{digest}"

    def verify_manifest_signature(
        self, manifest_json: str | bytes, uid: str, signature: str
    ) -> None:
        """Check a signature made by :meth:`sign_manifest` with any of the held keys.

        Args:
            manifest_json: The manifest as read back from the metadata store.
            uid: The card's uid.
            signature: The stored signature.

        Raises:
            IntegrityError: Malformed, made by a master key not held, or the manifest or uid
                differ from what was signed.
        """
        prefix, _, rest = signature.partition(":")
        key_id, _, digest = rest.partition(":")
        if prefix != _SIGNATURE_PREFIX or not key_id or not digest:
            raise IntegrityError(f"the manifest signature of card {uid} is malformed")
        key = self._keys.get(key_id)
        if key is None:
            raise IntegrityError(
                f"the manifest of card {uid} is signed by master key {key_id}, which "
                "OPSML_ENCRYPT_SECRET does not hold"
            )
        if not hmac.compare_digest(digest, _manifest_mac(key, manifest_json, uid)):
            raise IntegrityError(f"the manifest of card {uid} does not match its signature")


def _manifest_mac(master: bytes, manifest_json: str | bytes, uid: str) -> str:
    # HKDF-Expand (RFC 5869, one block) of the uniformly random master key: a key used for
    # manifest signatures only, so a signature never helps to attack wrapping or encryption.
    signing_key = hmac.new(master, b"opsml manifest signature v1\x01", hashlib.sha256).digest()
    body = manifest_json.encode() if isinstance(manifest_json, str) else manifest_json
    uid_bytes = uid.encode()
    message = struct.pack(">I", len(uid_bytes)) + uid_bytes + body
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


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
            fout.write(_HEADER_V1)
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
    if header[: len(MAGIC)] != MAGIC:
        raise IntegrityError(f"{path.name} is not an opsml encrypted file")
    # The header is not covered by the tags: accept only the exact bytes format v1 writes,
    # so that no header byte can be changed unnoticed.
    if header != _HEADER_V1:
        raise IntegrityError(f"{path.name} has a malformed header")
    return CHUNK


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
    HTTP ``Range`` requests).

    Args:
        src: The encrypted file.
        data_key: The card's data key.
        rel: The file's path inside the card (as when it was encrypted).
        start: First byte (0-based).
        end: One past the last byte; ``None`` or past the end means to the end.

    Yields:
        Authenticated plaintext pieces, in order.

    Raises:
        InvalidArgumentError: ``start`` is negative.
        IntegrityError: A chunk in the range fails authentication.
    """
    if start < 0:
        raise InvalidArgumentError(f"a byte range cannot start at {start}")
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
