"""The encrypted file format and key wrapping: round trips and every kind of tampering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    WrappedKey,
    decrypt_file,
    decrypt_range,
    encrypt_file,
    generate_key,
    new_data_key,
    plaintext_size,
)

pytestmark = pytest.mark.needs("cryptography")

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
    assert size < 16 or data[:64] not in enc.read_bytes()  # 1-byte plaintexts can occur by chance
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


def test_header_and_range_tampering_are_refused(tmp_path: Path) -> None:
    data = os.urandom(CHUNK + 10)
    enc = _encrypted(tmp_path, data)
    original = enc.read_bytes()
    # every header byte matters, even those the chunk tags do not cover
    for offset in (8, 9, 12, 13):
        forged = bytearray(original)
        forged[offset] ^= 1
        enc.write_bytes(bytes(forged))
        with pytest.raises(IntegrityError, match="header"):
            decrypt_file(enc, tmp_path / "out", KEY, "model.bin")
    # a range inside a tampered chunk fails, ranges elsewhere still serve authentic bytes
    forged = bytearray(original)
    forged[HEADER + RECORD + NONCE] ^= 1
    enc.write_bytes(bytes(forged))
    assert b"".join(decrypt_range(enc, KEY, "model.bin", 0, 100)) == data[:100]
    with pytest.raises(IntegrityError, match="chunk 1"):
        b"".join(decrypt_range(enc, KEY, "model.bin", CHUNK, CHUNK + 5))
    enc.write_bytes(original)
    with pytest.raises(InvalidArgumentError, match="cannot start"):
        b"".join(decrypt_range(enc, KEY, "model.bin", -1, 10))
    assert b"".join(decrypt_range(enc, KEY, "model.bin", CHUNK + 10, None)) == b""
    assert b"".join(decrypt_range(enc, KEY, "model.bin", 5, 10**9)) == data[5:]


def test_malformed_wrapped_keys_are_integrity_errors() -> None:
    keys = MasterKeys(generate_key())
    good = keys.wrap(KEY, "ctx")
    for blob in ("", "!!!", "AAAA", good.blob[:-8]):
        with pytest.raises(IntegrityError, match="does not decrypt"):
            keys.unwrap(WrappedKey(keys.current, blob), "ctx")


MANIFEST = '{"files":{"model.joblib":{"size":3,"sha256":"' + "ab" * 32 + '"}}}'


def test_manifest_signatures_bind_manifest_uid_and_key() -> None:
    old, new = generate_key(), generate_key()
    signer = MasterKeys(old)
    signature = signer.sign_manifest(MANIFEST, "uid-1")
    assert signature.startswith(f"opsmlsig1:{signer.current}:")
    assert old.removeprefix("opsmlkey-") not in signature
    signer.verify_manifest_signature(MANIFEST, "uid-1", signature)
    signer.verify_manifest_signature(MANIFEST.encode(), "uid-1", signature)
    with pytest.raises(IntegrityError, match="does not match"):
        signer.verify_manifest_signature(
            MANIFEST.replace('"size":3', '"size":4'), "uid-1", signature
        )
    with pytest.raises(IntegrityError, match="does not match"):
        signer.verify_manifest_signature(MANIFEST, "uid-2", signature)
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    with pytest.raises(IntegrityError, match="does not match"):
        signer.verify_manifest_signature(MANIFEST, "uid-1", forged)
    for bad in ("", "opsmlsig1:", "sig:abc:def", "opsmlsig1:abc"):
        with pytest.raises(IntegrityError, match="malformed"):
            signer.verify_manifest_signature(MANIFEST, "uid-1", bad)
    # during a rotation old signatures still verify; afterwards they are refused
    MasterKeys(f"{new},{old}").verify_manifest_signature(MANIFEST, "uid-1", signature)
    assert MasterKeys(f"{new},{old}").sign_manifest(MANIFEST, "uid-1") != signature
    with pytest.raises(IntegrityError, match="does not hold"):
        MasterKeys(new).verify_manifest_signature(MANIFEST, "uid-1", signature)


_MEMORY_SCRIPT = """
import json, resource, sys
from pathlib import Path
from opsml.storage._encryption import decrypt_file, decrypt_range, encrypt_file, new_data_key

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

folder = Path(sys.argv[1])
key = new_data_key()
small = folder / "small"
small.write_bytes(b"warm up")
encrypt_file(small, folder / "small.enc", key, "small")
base = peak_mb()
encrypt_file(folder / "plain", folder / "enc", key, "big.bin")
after_encrypt = peak_mb()
(folder / "plain").unlink()
decrypt_file(folder / "enc", folder / "dec", key, "big.bin")
after_decrypt = peak_mb()
total = sum(len(piece) for piece in decrypt_range(folder / "enc", key, "big.bin", 1, None))
print(json.dumps({"encrypt": after_encrypt - base, "decrypt": after_decrypt - base,
                  "range": peak_mb() - base, "range_bytes": total,
                  "size": (folder / "dec").stat().st_size}))
(folder / "enc").unlink()
(folder / "dec").unlink()
"""


@pytest.mark.slow
def test_memory_stays_flat_on_a_200_mb_file(tmp_path: Path) -> None:
    size = 200 * CHUNK
    block = os.urandom(CHUNK)
    with (tmp_path / "plain").open("wb") as fh:
        for index in range(200):
            fh.write(index.to_bytes(4, "big") + block[4:])
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    growth = json.loads(result.stdout)
    assert growth["size"] == size
    assert growth["range_bytes"] == size - 1
    assert growth["encrypt"] < 50, growth
    assert growth["decrypt"] < 50, growth
    assert growth["range"] < 50, growth
