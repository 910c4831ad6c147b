from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.storage import LocalStorage, Manifest, safe_relpath


def _stage(storage: LocalStorage, files: dict[str, bytes]) -> tuple[Path, Manifest]:
    staging = storage.new_staging()
    for rel, data in files.items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return staging, Manifest.from_dir(staging)


def test_commit_moves_the_whole_card_into_place(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging, manifest = _stage(storage, {"model.joblib": b"abc", "sub/data.parquet": b"xyz"})
    storage.commit(staging, "opsml_model_registry/space/name/v1.0.0")

    card_dir = tmp_path / "root/opsml_model_registry/space/name/v1.0.0"
    assert sorted(
        p.relative_to(card_dir).as_posix() for p in card_dir.rglob("*") if p.is_file()
    ) == [
        "model.joblib",
        "sub/data.parquet",
    ]
    assert not staging.exists()
    assert manifest.files["model.joblib"].size == 3
    assert storage.materialize("opsml_model_registry/space/name/v1.0.0", manifest) == card_dir


def test_a_flipped_byte_is_detected_in_place_and_on_copy(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging, manifest = _stage(storage, {"model.joblib": b"0123456789"})
    prefix = "opsml_model_registry/s/n/v0.1.0"
    storage.commit(staging, prefix)
    stored = tmp_path / "root" / prefix / "model.joblib"
    data = bytearray(stored.read_bytes())
    data[4] ^= 0x01
    stored.write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match=r"model\.joblib"):
        storage.materialize(prefix, manifest)
    dest = tmp_path / "download"
    with pytest.raises(IntegrityError):
        storage.materialize(prefix, manifest, dest)
    assert not (dest / "model.joblib").exists(), "a corrupt file must not be left behind"


def test_missing_file_is_an_integrity_error(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging, manifest = _stage(storage, {"a.txt": b"a"})
    storage.commit(staging, "t/s/n/v1.0.0")
    (tmp_path / "root/t/s/n/v1.0.0/a.txt").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        storage.materialize("t/s/n/v1.0.0", manifest)


def test_delete_removes_card_and_empty_parents(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging, _ = _stage(storage, {"a.txt": b"a"})
    storage.commit(staging, "t/s/n/v1.0.0")
    storage.delete("t/s/n/v1.0.0")
    assert not (tmp_path / "root/t/s").exists()
    assert list(storage.iter_card_prefixes("t")) == []


def test_symlinks_are_refused_in_card_artifacts(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("secret")
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(IntegrityError, match="symlink"):
        Manifest.from_dir(folder)


@pytest.mark.parametrize(
    "rel", ["../x", "a/../../x", "/etc/passwd", "a\\..\\b", "a\x00b", "", "./a", "a//b"]
)
def test_paths_that_could_escape_the_card_are_rejected(rel: str) -> None:
    with pytest.raises(InvalidArgumentError):
        safe_relpath(rel)


def test_staging_of_a_dead_process_is_cleaned(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    code = (
        "import sys; from opsml.storage import LocalStorage; "
        "p = LocalStorage(sys.argv[1]).new_staging(); (p / 'x').write_text('x'); print(p)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "root")],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = Path(out.stdout.strip())
    alive = storage.new_staging()
    assert dead.exists()

    assert storage.clean_staging(older_than_seconds=3600) == 1
    assert not dead.exists()
    assert alive.exists(), "a live process's staging folder must survive"
    assert storage.clean_staging(older_than_seconds=0) == 1
    assert not alive.exists()


def test_staging_folder_is_private(tmp_path: Path) -> None:
    staging = LocalStorage(tmp_path / "root").new_staging()
    assert os.stat(staging).st_mode & 0o077 == 0


def test_a_file_changed_after_a_successful_read_is_caught_on_the_next(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    staging, manifest = _stage(storage, {"data.bin": b"0123456789" * 1000})
    storage.commit(staging, "t/s/n/v1.0.0")
    storage.materialize("t/s/n/v1.0.0", manifest)  # verified, and remembered as verified
    storage.materialize("t/s/n/v1.0.0", manifest)

    stored = tmp_path / "root/t/s/n/v1.0.0/data.bin"
    data = bytearray(stored.read_bytes())
    data[5] ^= 0x01
    stored.write_bytes(bytes(data))  # same size, same inode
    with pytest.raises(IntegrityError, match=r"data\.bin"):
        storage.materialize("t/s/n/v1.0.0", manifest)


def test_temporary_and_partial_files_are_private(tmp_path: Path) -> None:
    from opsml.storage._manifest import open_private

    for mode in ("wb", "ab"):
        target = tmp_path / f"part-{mode}"
        with open_private(target, mode) as fh:
            fh.write(b"secret bytes")
        assert target.stat().st_mode & 0o777 == 0o600
    storage = LocalStorage(tmp_path / "root")
    assert storage.new_staging().stat().st_mode & 0o777 == 0o700
