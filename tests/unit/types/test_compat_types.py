"""OpsML 3's small value types in ``opsml.types``: SaverPath, the drift plumbing, and how
VersionType prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml.errors import InvalidArgumentError
from opsml.types import (
    DriftArgs,
    DriftProfileMap,
    DriftProfileUri,
    SaveName,
    SaverPath,
    Suffix,
    VersionType,
)


def test_saver_path_joins_parent_name_and_suffix(tmp_path: Path) -> None:
    assert SaverPath(tmp_path, None, SaveName.Data, Suffix.Joblib).path == tmp_path / "data.joblib"
    assert SaverPath(tmp_path, None, "model", "onnx").path == tmp_path / "model.onnx"
    assert SaverPath(tmp_path, None, SaveName.Tokenizer, None).path == tmp_path / "tokenizer"
    assert SaverPath(tmp_path).path == tmp_path


def test_saver_path_creates_the_child_folder_so_the_caller_can_write(tmp_path: Path) -> None:
    path = SaverPath(tmp_path, Path("nested/deeper"), SaveName.Model, Suffix.Json).path
    assert path == tmp_path / "nested" / "deeper" / "model.json"
    path.write_text("{}")  # the folder exists
    assert SaverPath(tmp_path, "other").path.is_dir()
    assert Path(SaverPath(tmp_path, None, SaveName.Data, Suffix.Parquet)).name == "data.parquet"


def test_drift_args_defaults_and_validation() -> None:
    args = DriftArgs()
    assert (args.active, args.deactivate_others) == (True, False)
    args = DriftArgs(active=False, deactivate_others=True)
    assert (args.active, args.deactivate_others) == (False, True)
    with pytest.raises(ValueError, match="active"):
        DriftArgs(active="yes")  # type: ignore[arg-type]


def test_model_save_kwargs_carry_drift_args_through_json() -> None:
    from opsml.model import ModelSaveKwargs

    kwargs = ModelSaveKwargs(drift=DriftArgs(active=True, deactivate_others=True))
    again = ModelSaveKwargs.model_validate_json(kwargs.model_dump_json())
    assert again.drift == DriftArgs(active=True, deactivate_others=True)
    assert ModelSaveKwargs().drift is None


def test_drift_profile_uri_records_path_and_type() -> None:
    uri = DriftProfileUri(uri=Path("drift/psi.json"), drift_type="Psi")
    assert uri.uri == Path("drift/psi.json")
    assert uri.drift_type == "Psi"
    assert uri.root_dir == Path()
    assert DriftProfileUri.model_validate_json(uri.model_dump_json()) == uri


def test_drift_profile_map_holds_profiles_by_alias() -> None:
    profiles = DriftProfileMap()
    assert profiles.is_empty()
    assert len(profiles) == 0
    profiles.add_profile("psi", {"kind": "psi"})
    profiles.add_profile("custom", ["metric"])
    assert not profiles.is_empty()
    assert profiles["psi"] == {"kind": "psi"}
    assert "custom" in profiles
    assert list(profiles) == ["psi", "custom"]
    assert profiles.values() == [{"kind": "psi"}, ["metric"]]


def test_drift_profile_map_refuses_unknown_aliases_and_bad_names() -> None:
    profiles = DriftProfileMap()
    profiles.add_profile("psi", 1)
    with pytest.raises(InvalidArgumentError, match=r"no drift profile called 'spc'.*psi"):
        profiles["spc"]
    for bad in ("", "../escape", "a/b", ".hidden", 3):
        with pytest.raises(InvalidArgumentError, match="names the profile's file"):
            profiles.add_profile(bad, 1)  # type: ignore[arg-type]
    assert profiles.items() == [("psi", 1)]


def test_drift_profile_uri_stays_inside_the_card_and_names_the_type_plainly() -> None:
    uri = DriftProfileUri(uri="drift/psi.json", drift_type="DriftType.Psi", root_dir="drift")
    assert (uri.uri, uri.drift_type, uri.root_dir) == (Path("drift/psi.json"), "Psi", Path("drift"))
    for bad in ("../psi.json", "/etc/passwd", "drift/../../x.json", "C:\\x.json"):
        with pytest.raises(ValueError, match="inside the card"):
            DriftProfileUri(uri=bad, drift_type="Psi")


def test_version_type_prints_as_opsml_does_and_keeps_its_value() -> None:
    assert str(VersionType.Major) == "VersionType.Major"
    assert str(VersionType.PreBuild) == "VersionType.PreBuild"
    assert VersionType.Minor.value == "minor"
    assert VersionType.Minor == "minor"
    assert VersionType("pre_build") is VersionType.PreBuild
