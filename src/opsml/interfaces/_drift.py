"""Drift profiles of data and model interfaces (OpsML 3's ``create_drift_profile``).

scouter-ml makes the profiles; this module is the boundary around it:

- :func:`create_drift_profile` takes what users hold (a pandas 2 or 3, polars or numpy
  frame, a pyarrow table, a data interface; custom or LLM metrics) and hands scouter what it
  accepts. pandas frames and arrow tables become polars frames: scouter-ml 0.10.0 refuses
  pandas 3 frames ("Data type not supported: unknown") and fails on boolean arrow columns.
  Numeric columns stay numeric; every other column (string, categorical, boolean) becomes a
  categorical feature, as scouter's own pandas path does. Missing values are refused with a
  clear error (scouter cannot profile them: PSI panics, SPC yields NaN statistics), and every
  scouter error becomes :class:`~opsml.errors.InvalidArgumentError`. The bins of numeric PSI
  features are computed with numpy (`_psi`: the same numbers, about ten times faster), and
  so are the SPC limits of numeric data (`_spc`: scouter's numbers to the rounding of its own
  sums, in row blocks with flat memory; a one-row last sample no longer makes them NaN).
  Both read a frame's numeric columns in place (`_numeric`); pandas frames are not copied
  into polars for them.
- :func:`save_drift_profiles` / :func:`load_drift_profiles`: one ``drift/<alias>.json`` per
  profile, recorded as :class:`~opsml.types.DriftProfileUri`. The files are ordinary card
  files: the manifest covers them, so they are verified like every other artifact.
- :class:`DriftProfiles`: the ``drift_profile`` map and ``create_drift_profile`` method that
  DataInterface and ModelInterface share.

A profile carries the space, name and version of the card it monitors (scouter keys its
records by them). The card writes its space and name (and its version, when the card asks
for a full one) into the profiles as it saves them, and :func:`stamp_drift_profiles` puts
the registered version on the profiles of a loaded card (``docs/monitoring.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsml._compat import require, scouter_required
from opsml.errors import InvalidArgumentError, OpsmlError, SerializationError
from opsml.interfaces._numeric import (
    NumericColumns,
    numpy_columns,
    pandas_columns,
    polars_columns,
)
from opsml.interfaces._psi import DECILE_BINS, numeric_psi_profile
from opsml.interfaces._spc import SPC_LIMITS, infinite_values_error, numeric_spc_profile
from opsml.types import DriftProfileMap, DriftProfileUri, SaveName, Suffix
from opsml.types._drift import drift_type_name

__all__ = [
    "DRIFT_DIR",
    "DriftProfiles",
    "create_drift_profile",
    "drift_profile_map",
    "load_drift_profiles",
    "read_missing_drift_profiles",
    "save_drift_profiles",
    "stamp_drift_profiles",
]

DRIFT_DIR = str(SaveName.Drift)
"""The folder of a card's drift profiles: ``drift/<alias>.json``."""

_FRAME_KINDS = ("Pandas", "Polars", "Numpy", "Arrow")
_PASSING_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


def _scouter_failed(what: str, exc: BaseException) -> InvalidArgumentError:
    return InvalidArgumentError(f"scouter could not {what}: {exc}")


def _call_scouter(what: str, call: Any, *args: Any) -> Any:
    """Run a scouter call; its errors (and the Rust panics pyo3 raises as BaseException)
    become InvalidArgumentError."""
    try:
        return call(*args)
    except _PASSING_THROUGH:
        raise
    except OpsmlError:
        raise
    except BaseException as exc:
        raise _scouter_failed(what, exc) from exc


def _library(data: Any) -> str:
    return type(data).__module__.partition(".")[0]


def _frame_kind(data: Any) -> str | None:
    """``"Pandas"``, ``"Polars"``, ``"Numpy"``, ``"Arrow"`` for the frames scouter profiles."""
    kind = {"pandas": "Pandas", "polars": "Polars", "numpy": "Numpy", "pyarrow": "Arrow"}.get(
        _library(data)
    )
    names = {"Pandas": "DataFrame", "Polars": "DataFrame", "Numpy": "ndarray", "Arrow": "Table"}
    return kind if kind is not None and type(data).__name__ == names[kind] else None


def _missing_value_error(columns: list[str]) -> InvalidArgumentError:
    return InvalidArgumentError(
        "a drift profile cannot be made from missing values (null/NaN), found in "
        f"{', '.join(columns[:10])}; drop or fill them first"
    )


def _check_column_names(frame: Any) -> None:
    """Refuse a pandas frame whose columns are not named by distinct strings."""
    bad = [repr(c) for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise InvalidArgumentError(
            f"drift profile columns must be named by strings, got {', '.join(bad[:10])}"
        )
    if len(set(frame.columns)) != len(frame.columns):
        raise InvalidArgumentError("drift profile columns must have distinct names")


def _as_polars(data: Any, kind: str) -> Any:
    """A pandas frame or arrow table as a polars frame scouter profiles: numeric columns as
    they are, every other column as strings (a categorical feature)."""
    pl = require("polars", "monitoring")
    if kind == "Pandas":
        _check_column_names(data)
    try:
        frame = pl.from_pandas(data) if kind == "Pandas" else pl.from_arrow(data)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InvalidArgumentError(
            f"cannot read this {kind.lower()} data for a drift profile: {exc}"
        ) from exc
    if not isinstance(frame, pl.DataFrame):
        raise InvalidArgumentError("a drift profile needs a table, not a single column")
    categorical = [
        name
        for name, dtype in frame.schema.items()
        if not (dtype.is_numeric() and not dtype.is_decimal())
    ]
    return frame.with_columns(pl.col(categorical).cast(pl.String)) if categorical else frame


def _numpy_missing(array: Any) -> bool:
    """Whether a numeric array holds a NaN. Its minimum is NaN exactly when a value is
    (infinities do not make it NaN): one pass without the array-sized temporary that
    ``isnan(array).any()`` would allocate."""
    np = require("numpy", "monitoring")
    return bool(array.dtype.kind == "f" and array.size and np.isnan(array.min()))


def _check_complete(frame: Any) -> None:
    """Refuse a polars frame with nulls or NaN values."""
    pl = require("polars", "monitoring")
    nulls = frame.null_count().row(0)
    missing = [name for name, count in zip(frame.columns, nulls, strict=True) if count]
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if floats:
        nans = frame.select(pl.col(floats).is_nan().any()).row(0)
        missing += [name for name, has_nan in zip(floats, nans, strict=True) if has_nan]
    if missing:
        raise _missing_value_error(sorted(set(missing)))


def _check_spc_statistics(profile: Any, array: Any) -> None:
    """Refuse an SPC profile of a numpy array whose statistics are not finite numbers.

    A NaN anywhere in a column makes its mean NaN, so checking the ten-odd numbers of the
    profile replaces a pass over the data; only then is the array searched, to say why.
    """
    broken = sorted(
        name
        for name, feature in profile.features.items()
        if not all(math.isfinite(getattr(feature, limit)) for limit in SPC_LIMITS)
    )
    if not broken:
        return
    if _numpy_missing(array):
        raise _missing_value_error(["the array"])
    raise infinite_values_error(broken)


def _data_type_name(data_type: Any) -> str | None:
    return None if data_type is None else drift_type_name(data_type)


def _profile_frame(data: Any, config: Any, data_type: Any) -> Any:
    """Profile a frame with scouter's Drifter (SPC or PSI)."""
    with scouter_required():
        from scouter.drift import (
            Drifter,
            PsiDriftConfig,
            PsiDriftProfile,
            SpcDriftConfig,
            SpcDriftProfile,
        )
        from scouter.types import DataType as ScouterDataType
    frame = data.data if _is_data_interface(data) else data
    kind = _frame_kind(frame)
    if kind is None:
        raise InvalidArgumentError(
            "a drift profile is made from a pandas, polars or numpy frame, a pyarrow table or "
            f"a data interface holding one, got {type(frame).__module__}.{type(frame).__name__}"
        )
    wanted = _data_type_name(data_type)
    if wanted is not None and wanted != kind:
        raise InvalidArgumentError(
            f"data_type={wanted} does not match the data given, a {kind} frame"
        )
    if kind == "Numpy" and (frame.ndim != 2 or frame.dtype.kind not in "iuf"):
        raise InvalidArgumentError(
            "a numpy array for a drift profile must be 2-dimensional and numeric (one column "
            f"per feature), got {frame.ndim} dimension(s) of {frame.dtype}"
        )
    scouter_type = ScouterDataType.Numpy if kind == "Numpy" else ScouterDataType.Polars
    what = f"create a {type(config).__name__.removesuffix('Config')} profile"

    def scouter_profile(data: Any, config: Any) -> Any:
        return _call_scouter(what, Drifter().create_drift_profile, data, config, scouter_type)

    def numeric(columns: NumericColumns | None) -> Any:
        """The profile with opsml's numbers, or ``None`` where scouter must make it."""
        if columns is None:
            return None
        if psi and columns.rows >= DECILE_BINS:
            return numeric_psi_profile(
                columns, config, scouter_profile, PsiDriftProfile, _missing_value_error
            )
        if spc and columns.rows and columns.names:
            return numeric_spc_profile(columns, config, SpcDriftProfile, _missing_value_error)
        return None

    psi = isinstance(config, PsiDriftConfig) and not config.categorical_features
    spc = isinstance(config, SpcDriftConfig)
    if (psi or spc) and kind == "Pandas":  # its numeric columns as they are, no polars copy
        _check_column_names(frame)
        profile = numeric(pandas_columns(frame, lambda head: _as_polars(head, kind)))
        if profile is not None:
            return profile
    if kind in ("Pandas", "Arrow"):
        frame = _as_polars(frame, kind)
    if kind != "Numpy":
        _check_complete(frame)
    if psi or spc:
        profile = numeric(numpy_columns(frame) if kind == "Numpy" else polars_columns(frame))
        if profile is not None:
            return profile
    if kind == "Numpy" and isinstance(config, PsiDriftConfig) and _numpy_missing(frame):
        raise _missing_value_error(["the array"])  # scouter's PSI would panic on it
    profile = scouter_profile(frame, config)
    if kind == "Numpy" and spc:
        _check_spc_statistics(profile, frame)
    return profile


def _is_data_interface(data: Any) -> bool:
    from opsml.interfaces._data_base import DataInterface

    return isinstance(data, DataInterface)


def _metrics(data: Any, metric_type: type, config_name: str) -> list[Any]:
    metrics = list(data) if isinstance(data, list | tuple) else [data]
    if not metrics or not all(isinstance(m, metric_type) for m in metrics):
        raise InvalidArgumentError(
            f"a {config_name} profile is made from a {metric_type.__name__} or a list of them, "
            f"got {data!r:.200}"
        )
    return metrics


def create_drift_profile(data: Any, config: Any = None, data_type: Any = None) -> Any:
    """Make a drift profile with scouter-ml.

    Args:
        data: For SPC and PSI configs, a pandas (2 or 3), polars or numpy frame, a pyarrow
            table, or a data interface holding one, without missing values. For a
            ``CustomMetricDriftConfig``, a ``CustomMetric`` or a list of them; for an
            ``LLMDriftConfig``, an ``LLMMetric`` or a list of them.
        config: ``SpcDriftConfig`` (the default), ``PsiDriftConfig``,
            ``CustomMetricDriftConfig`` or ``LLMDriftConfig``.
        data_type: The kind of frame (``opsml.data.DataType`` or scouter's ``DataType``);
            inferred when omitted, and checked against the data when given.

    Returns:
        The profile: ``SpcDriftProfile``, ``PsiDriftProfile``, ``CustomDriftProfile`` or
        ``LLMDriftProfile``.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        InvalidArgumentError: The config or data is not one scouter profiles, the data has
            missing values, or scouter refused it.
    """
    with scouter_required():
        from scouter.drift import (
            CustomMetric,
            CustomMetricDriftConfig,
            Drifter,
            LLMDriftConfig,
            LLMMetric,
            PsiDriftConfig,
            SpcDriftConfig,
        )
    if config is None:
        config = SpcDriftConfig()
    if isinstance(config, CustomMetricDriftConfig):
        metrics = _metrics(data, CustomMetric, "custom metric")
        return _call_scouter(
            "create a custom metric profile", Drifter().create_drift_profile, metrics, config
        )
    if isinstance(config, LLMDriftConfig):
        metrics = _metrics(data, LLMMetric, "LLM")
        return _call_scouter(
            "create an LLM profile", Drifter().create_llm_drift_profile, config, metrics
        )
    if isinstance(config, SpcDriftConfig | PsiDriftConfig):
        return _profile_frame(data, config, data_type)
    raise InvalidArgumentError(
        "config must be an SpcDriftConfig, PsiDriftConfig, CustomMetricDriftConfig or "
        f"LLMDriftConfig (opsml.scouter.drift), got {type(config).__name__}"
    )


def _profile_classes() -> dict[str, Any]:
    with scouter_required():
        from scouter.drift import (
            CustomDriftProfile,
            LLMDriftProfile,
            PsiDriftProfile,
            SpcDriftProfile,
        )
    return {
        "Spc": SpcDriftProfile,
        "Psi": PsiDriftProfile,
        "Custom": CustomDriftProfile,
        "LLM": LLMDriftProfile,
    }


def profile_drift_type(profile: Any) -> str:
    """The drift type of a profile: ``"Spc"``, ``"Psi"``, ``"Custom"`` or ``"LLM"``."""
    return drift_type_name(profile.config.drift_type)


def drift_profile_map(value: Any) -> DriftProfileMap:
    """A :class:`DriftProfileMap` from what users pass as ``drift_profile``.

    Args:
        value: ``None``, a ``DriftProfileMap``, or a dict of alias to drift profile.

    Raises:
        InvalidArgumentError: Not one of those, an alias is not a file name, or a value is
            not a scouter drift profile.
        MissingDependencyError: Profiles were given but scouter-ml is not installed.
    """
    if value is None:
        return DriftProfileMap()
    if isinstance(value, DriftProfileMap):
        items = value.items()
    elif isinstance(value, Mapping):
        items = list(value.items())
    else:
        raise InvalidArgumentError(
            f"drift_profile must be a dict of alias to drift profile or a DriftProfileMap, "
            f"got {type(value).__name__}"
        )
    profiles = DriftProfileMap()
    if items:
        classes = tuple(_profile_classes().values())
        for alias, profile in items:
            if not isinstance(profile, classes):
                raise InvalidArgumentError(
                    f"drift profile {alias!r} must be an SpcDriftProfile, PsiDriftProfile, "
                    f"CustomDriftProfile or LLMDriftProfile, got {type(profile).__name__}"
                )
            profiles.add_profile(alias, profile)
    return profiles


def stamp_drift_profiles(
    profiles: DriftProfileMap, space: str | None, name: str | None, version: str | None
) -> None:
    """Write a card's space, name and version into its profiles (those given; in place).

    Args:
        profiles: The card's profiles.
        space: The card's space, or ``None`` to leave it.
        name: The card's name, or ``None`` to leave it.
        version: The card's full version, or ``None`` to leave it.
    """
    args = {"space": space, "name": name, "version": version}
    args = {key: value for key, value in args.items() if value is not None}
    if not args:
        return
    for alias, profile in profiles.items():
        _call_scouter(f"update drift profile {alias!r}", _update_config_args, profile, args)


def _update_config_args(profile: Any, args: dict[str, str]) -> None:
    profile.update_config_args(**args)


def save_drift_profiles(profiles: DriftProfileMap, path: Path) -> dict[str, DriftProfileUri]:
    """Write each profile as ``path/drift/<alias>.json``.

    Args:
        profiles: The profiles to write.
        path: The card's folder.

    Returns:
        Where each profile went, by alias (relative to ``path``).

    Raises:
        SerializationError: A file could not be written.
    """
    uris: dict[str, DriftProfileUri] = {}
    folder = path / DRIFT_DIR
    for alias, profile in profiles.items():
        relative = Path(DRIFT_DIR, f"{alias}.{Suffix.Json}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (path / relative).write_text(profile.model_dump_json(), encoding="utf-8")
        except OSError as exc:
            raise SerializationError(f"could not write drift profile {alias!r}: {exc}") from exc
        uris[alias] = DriftProfileUri(
            uri=relative, drift_type=profile_drift_type(profile), root_dir=DRIFT_DIR
        )
    return uris


def load_drift_profiles(path: Path, uris: Mapping[str, DriftProfileUri]) -> DriftProfileMap:
    """Read the profiles :func:`save_drift_profiles` wrote (the card verified the files).

    Args:
        path: The card's folder.
        uris: Where each profile is, by alias.

    Returns:
        The profiles, by alias.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        SerializationError: A file is missing, is not a profile of its recorded type, or
            the drift type is unknown.
    """
    classes = _profile_classes()
    profiles = DriftProfileMap()
    for alias, uri in uris.items():
        file = path / uri.uri
        cls = classes.get(uri.drift_type)
        if cls is None:
            raise SerializationError(
                f"drift profile {alias!r} has an unknown drift type {uri.drift_type!r} "
                f"(expected one of {sorted(classes)})"
            )
        try:
            text = file.read_text(encoding="utf-8")
            content = json.loads(text)  # scouter panics on text that is not JSON
        except (OSError, ValueError) as exc:
            raise SerializationError(f"could not read drift profile {alias!r}: {exc}") from exc
        if not isinstance(content, dict) or "config" not in content:
            raise SerializationError(f"{file.name} is not a drift profile")
        try:
            profile = _call_scouter(f"read drift profile {alias!r}", cls.model_validate_json, text)
        except InvalidArgumentError as exc:
            raise SerializationError(str(exc)) from exc.__cause__
        profiles.add_profile(alias, profile)
    return profiles


def read_missing_drift_profiles(
    held: DriftProfileMap, path: Path, uris: Mapping[str, DriftProfileUri] | None
) -> DriftProfileMap:
    """The stored profiles that ``held`` lacks, read from the card's folder ``path``.

    Raises:
        MissingDependencyError: There are profiles to read and scouter-ml is not installed.
        SerializationError: A profile file could not be read.
    """
    missing = {alias: uri for alias, uri in (uris or {}).items() if alias not in held}
    return load_drift_profiles(path, missing) if missing else DriftProfileMap()


class DriftProfiles:
    """The drift profiles of an interface (a mixin of DataInterface and ModelInterface).

    Profiles are made by :meth:`create_drift_profile` (or passed as ``drift_profile=``),
    saved with the card as ``drift/<alias>.json`` and loaded back by ``card.load()``.
    """

    _drift_profiles: DriftProfileMap

    @property
    def drift_profile(self) -> DriftProfileMap:
        """The drift profiles by alias (a :class:`~opsml.types.DriftProfileMap`)."""
        profiles = self.__dict__.get("_drift_profiles")
        if profiles is None:
            profiles = self.__dict__["_drift_profiles"] = DriftProfileMap()
        return profiles

    @drift_profile.setter
    def drift_profile(self, value: DriftProfileMap | Mapping[str, Any] | None) -> None:
        self.__dict__["_drift_profiles"] = drift_profile_map(value)

    def create_drift_profile(
        self, alias: str, data: Any, config: Any = None, data_type: Any = None
    ) -> Any:
        """Make a drift profile with scouter-ml and add it to :attr:`drift_profile`.

        Example:
            ```python
            from opsml.scouter.drift import PsiDriftConfig

            interface.create_drift_profile("psi", X_train, PsiDriftConfig())
            ```

        Args:
            alias: The profile's name (and file name: ``drift/<alias>.json``).
            data: For SPC and PSI configs, a pandas (2 or 3), polars or numpy frame, a
                pyarrow table, or a data interface holding one, without missing values. For
                a ``CustomMetricDriftConfig``, a ``CustomMetric`` or a list of them; for an
                ``LLMDriftConfig``, an ``LLMMetric`` or a list of them.
            config: ``SpcDriftConfig`` (the default), ``PsiDriftConfig``,
                ``CustomMetricDriftConfig`` or ``LLMDriftConfig``.
            data_type: The kind of frame (``opsml.data.DataType`` or scouter's); inferred
                when omitted, checked against the data when given.

        Returns:
            The profile (``SpcDriftProfile``, ``PsiDriftProfile``, ``CustomDriftProfile``
            or ``LLMDriftProfile``).

        Raises:
            MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
            InvalidArgumentError: A bad alias, config or data (see
                :func:`create_drift_profile`).
        """
        DriftProfileMap().add_profile(alias, None)  # a bad alias fails before the work
        profile = create_drift_profile(data, config, data_type)
        self.drift_profile.add_profile(alias, profile)
        return profile
