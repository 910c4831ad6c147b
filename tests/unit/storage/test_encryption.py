"""The encrypted file format and key wrapping: round trips and every kind of tampering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.storage._encryption import (
    CHUNK,
    HEADER,
    NONCE,
    TAG,
    MasterKeys,
    decrypt_file,
    decrypt_range,
    encrypt_file,
    generate_key,
    new_data_key,
    plaintext_size,
)

pytest.importorskip("cryptography", reason="the encrypt extra is not installed")

KEY = new_data_key()
RECORD = CHUNK + NONCE + TAG


def _encrypted(tmp_path: Path, data: bytes, rel: str = "model.bin") -> Path:
    plain = tmp_path / f"plain-{len(data)}"
    plain.write_bytes(data)
    out = tmp_path / f"enc-{len(data)}"
    encrypt_file(plain, out, KEY, rel)
    return out


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + CHUNK // 2])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    enc = _encrypted(tmp_path, data)
    assert enc.stat().st_mode & 0o777 == 0o600
    assert data[:64] not in enc.read_bytes() or size == 0
    assert plaintext_size(enc) == size
    out = tmp_path / "out"
    decrypt_file(enc, out, KEY, "model.bin")
    assert out.read_bytes() == data
    assert out.stat().st_mode & 0o777 == 0o600


def _rewrite(path: Path, body: bytes) -> None:
    path.write_bytes(path.read_bytes()[:HEADER] + body)


def test_every_kind_of_tampering_is_refused(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK)
    enc = _encrypted(tmp_path, data)
    body = enc.read_bytes()[HEADER:]
    chunks = [body[i : i + RECORD] for i in range(0, len(body), RECORD)]
    other = _encrypted(tmp_path, os.urandom(3 * CHUNK), "other.bin").read_bytes()[HEADER:]
    attacks = {
        "flipped byte": body[:100] + bytes([body[100] ^ 1]) + body[101:],
        "swapped chunks": chunks[1] + chunks[0] + chunks[2],
        "dropped last chunk": chunks[0] + chunks[1],
        "appended chunk": body + chunks[2],
        "chunk from another file": other[:RECORD] + chunks[1] + chunks[2],
        "truncated tag": body[:-3],
    }
    for name, forged in attacks.items():
        _rewrite(enc, forged)
        with pytest.raises(IntegrityError):
            decrypt_file(enc, tmp_path / "out", KEY, "model.bin")
        assert not (tmp_path / "out").exists(), name
    _rewrite(enc, body)
    with pytest.raises(IntegrityError, match="fails authentication"):
        decrypt_file(enc, tmp_path / "out", new_data_key(), "model.bin")
    with pytest.raises(IntegrityError, match="fails authentication"):
        decrypt_file(enc, tmp_path / "out", KEY, "renamed.bin")
    (tmp_path / "plain.txt").write_bytes(b"not encrypted")
    with pytest.raises(IntegrityError, match="not an opsml encrypted file"):
        plaintext_size(tmp_path / "plain.txt")


@settings(max_examples=40, deadline=None)
@given(start=st.integers(0, 3 * CHUNK), length=st.integers(0, 2 * CHUNK))
def test_ranges_equal_plaintext_slices(
    tmp_path_factory: pytest.TempPathFactory, start: int, length: int
) -> None:
    folder = tmp_path_factory.mktemp("range")
    data = bytes(range(256)) * (3 * CHUNK // 256 - 7)
    enc = folder / "enc"
    if not enc.exists():
        enc = _encrypted(folder, data)
    assert (
        b"".join(decrypt_range(enc, KEY, "model.bin", start, start + length))
        == data[start : start + length]
    )


def test_master_keys_wrap_bound_to_the_card(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    keys = MasterKeys(old)
    wrapped = keys.wrap(KEY, "opsml_model_registry/s/m/v1.0.0")
    assert KEY.hex() not in wrapped.blob
    assert keys.unwrap(wrapped, "opsml_model_registry/s/m/v1.0.0") == KEY
    with pytest.raises(IntegrityError, match="does not decrypt"):
        keys.unwrap(wrapped, "opsml_model_registry/s/m/v2.0.0")
    rotated = MasterKeys(f"{new},{old}")
    assert rotated.current != keys.current
    assert rotated.unwrap(wrapped, "opsml_model_registry/s/m/v1.0.0") == KEY
    with pytest.raises(IntegrityError, match="does not hold"):
        MasterKeys(new).unwrap(wrapped, "opsml_model_registry/s/m/v1.0.0")
    assert MasterKeys("a long enough passphrase for the demo!").current
    for bad in ("", "short", "opsmlkey-abc"):
        with pytest.raises(InvalidArgumentError):
            MasterKeys(bad)
