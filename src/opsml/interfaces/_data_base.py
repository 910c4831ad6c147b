"""The data interface protocol and its metadata.

A card saves an interface in two steps, and loads it in two::

    saved = interface.save(card_dir, save_kwargs)                   # writes files
    metadata = interface.get_interface_metadata(saved)              # stored in card.json
    ...
    interface = resolve_interface(metadata)   # or the user's own interface instance
    interface.load(card_dir, metadata.save_metadata, load_kwargs)

Built-in interfaces return the whole :class:`DataInterfaceMetadata` from ``save`` (as OpsML 3
does); a custom ``save`` may return it too, or only the :class:`DataInterfaceSaveMetadata`
(the files it wrote): ``get_interface_metadata`` completes either.

Every path in the metadata is relative to the card's folder, so the folder can be moved,
downloaded or served from object storage.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, ClassVar, Self, final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from opsml._compat import require
from opsml._validation import (
    keyword_names,
    reject_unknown_arguments,
    translate_validation_error,
)
from opsml.errors import InvalidArgumentError, OpsmlError, SerializationError
from opsml.interfaces._drift import (
    DriftProfiles,
    read_missing_drift_profiles,
    save_drift_profiles,
)
from opsml.interfaces._enums import DataType
from opsml.interfaces._kwargs import DataLoadKwargs, DataSaveKwargs
from opsml.interfaces._profile import DataProfile, create_data_profile
from opsml.interfaces._schema import FeatureSchema, WithSchema, generate_feature_schema
from opsml.interfaces._splits import (
    Data,
    DataSplit,
    DataSplits,
    DependentVars,
    check_splits,
)
from opsml.types import DriftProfileMap, DriftProfileUri, SaveName, Suffix

__all__ = [
    "DataInterface",
    "DataInterfaceMetadata",
    "DataInterfaceSaveMetadata",
    "ExtraMetadata",
    "RelativePath",
    "SqlLogic",
    "translate_errors",
    "type_name",
]


def _relative_posix(value: object) -> object:
    """Normalise a path to a relative posix path; reject paths leaving the card folder."""
    if not isinstance(value, str | PurePath):
        return value  # let pydantic report the type error
    text = value.as_posix() if isinstance(value, PurePath) else value
    # Read as a Windows path too, so backslashes and drives are caught and normalised.
    windows = PureWindowsPath(text)
    if not text or PurePosixPath(text).is_absolute() or windows.anchor or ".." in windows.parts:
        raise ValueError(f"{text!r} must be a path relative to the card folder, without '..'")
    return windows.as_posix()  # pydantic makes it a Path


RelativePath = Annotated[Path, BeforeValidator(_relative_posix)]
"""A file path relative to the card folder: a ``Path`` (as in OpsML 3), stored as a posix
string."""


class ExtraMetadata(BaseModel):
    """Extra facts a custom ``save`` records for its ``load`` (OpsML 3's wrapper of a dict).

    ``DataInterfaceSaveMetadata(extra=ExtraMetadata(metadata={...}))`` (and the same for
    ``ModelInterfaceSaveMetadata``) stores the dict itself as ``extra``.

    Attributes:
        metadata: The facts, JSON-serialisable.
    """

    model_config = ConfigDict(defer_build=True)

    metadata: dict[str, Any]


def _unwrap_extra(value: object) -> object:
    return value.metadata if isinstance(value, ExtraMetadata) else value


ExtraDict = Annotated[dict[str, Any] | None, BeforeValidator(_unwrap_extra)]
"""``save_metadata.extra``: a dict, also given as an :class:`ExtraMetadata`."""


@contextmanager
def translate_errors(action: str, target: Path | str) -> Iterator[None]:
    """Re-raise a library's I/O or (de)serialisation error as :class:`SerializationError`.

    Args:
        action: What was being done, e.g. ``"write"``.
        target: The file or object concerned, named in the message.

    Raises:
        SerializationError: The wrapped block failed; the original error is the cause.
    """
    try:
        yield
    except OpsmlError:
        raise
    except (
        OSError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        NotImplementedError,
        EOFError,
        ImportError,
        pickle.UnpicklingError,
    ) as exc:
        raise SerializationError(f"could not {action} {target}: {exc}") from exc


_SQL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SQL_DIR = str(SaveName.Sql)
_PROFILE_FILE = f"{SaveName.DataProfile}.{Suffix.Json}"


def _find_sql_file(name: str, text: str) -> Path:
    """The ``.sql`` file ``text`` names: that path, else (as OpsML 3 looks it up) the one
    file of that name under the current directory, hidden folders left out."""
    path = Path(text)
    if path.is_file():
        return path
    found: list[Path] = []
    for root, dirs, files in os.walk(Path.cwd()):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if path.name in files:
            found.append(Path(root) / path.name)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidArgumentError(
            f"SQL query {name!r} names the file {text!r}, which does not exist (nor does a "
            f"file {path.name!r} anywhere under {Path.cwd()})"
        )
    listed = ", ".join(str(p) for p in found[:5])
    raise InvalidArgumentError(
        f"SQL query {name!r} names the file {text!r}, which does not exist, and several files "
        f"{path.name!r} lie under {Path.cwd()} ({listed}); give the path of the one you mean"
    )


def _read_sql_file(name: str, text: str) -> str:
    file = _find_sql_file(name, text)
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(
            f"SQL query {name!r} names the file {text!r}, which cannot be read: {exc}"
        ) from exc


def _read_query(name: str, value: object) -> str:
    """Return ``value`` itself, or the content of the ``.sql`` file it names."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"SQL query {name!r} must be a non-empty string")
    text = value.strip()
    if text.lower().endswith(".sql") and not any(c.isspace() for c in text):
        return _read_sql_file(name, text)
    return value


class SqlLogic(BaseModel):
    """Named SQL queries that produced (or produce) a dataset.

    Saved with the card as ``sql/<name>.sql``, one file per query.

    Args:
        queries: Name to SQL text, or to the path of a ``.sql`` file whose content is read
            now (a path that does not exist is looked up by its file name under the current
            directory, as OpsML 3 does). Names are file names: letters, digits, ``_``,
            ``.``, ``-``.

    Raises:
        InvalidArgumentError: A bad name, an empty query or an unreadable ``.sql`` file.
    """

    model_config = ConfigDict(defer_build=True)

    queries: dict[str, str] = Field(default_factory=dict)

    def __init__(self, queries: dict[str, str] | None = None) -> None:
        if queries is not None and not isinstance(queries, dict):
            raise InvalidArgumentError(
                f"SqlLogic queries must be a dict of name to SQL, got {type_name(queries)}"
            )
        resolved = {name: _read_query(name, value) for name, value in (queries or {}).items()}
        try:
            super().__init__(queries=resolved)
        except ValidationError as exc:
            raise translate_validation_error(exc, "SqlLogic") from exc

    @model_validator(mode="after")
    def _check_names(self) -> SqlLogic:
        for name, query in self.queries.items():
            if not _SQL_NAME.fullmatch(name):
                raise InvalidArgumentError(
                    f"SQL query name {name!r} is not a valid file name: use 1-128 letters, "
                    "digits, '_', '.' or '-', starting with a letter or digit"
                )
            if not query.strip():
                raise InvalidArgumentError(f"SQL query {name!r} is empty")
        return self

    def add_sql_logic(
        self, name: str, query: str | None = None, filepath: str | None = None
    ) -> None:
        """Add (or replace) one query.

        Args:
            name: The query's name.
            query: The SQL text.
            filepath: A ``.sql`` file to read the SQL from, instead of ``query`` (looked up
                like the files of ``SqlLogic(queries=...)``).

        Raises:
            InvalidArgumentError: Not exactly one of ``query`` and ``filepath``, a bad name,
                or an unreadable file.
        """
        if (query is None) == (filepath is None):
            raise InvalidArgumentError("add_sql_logic takes exactly one of query or filepath")
        if filepath is not None:
            query = _read_sql_file(name, filepath)
        self.queries = SqlLogic({**self.queries, name: str(query)}).queries

    def __getitem__(self, key: str) -> str:
        try:
            return self.queries[key]
        except KeyError:
            raise InvalidArgumentError(
                f"no SQL query named {key!r}; known: {sorted(self.queries)}"
            ) from None

    def __len__(self) -> int:
        return len(self.queries)

    def _save(self, folder: Path) -> None:
        with translate_errors("write SQL files to", folder):
            folder.mkdir(parents=True, exist_ok=True)
            for name, query in self.queries.items():
                (folder / f"{name}.{Suffix.Sql}").write_text(query, encoding="utf-8")

    @classmethod
    def _load(cls, folder: Path) -> SqlLogic:
        with translate_errors("read SQL files from", folder):
            files = sorted(folder.glob(f"*.{Suffix.Sql}"))
            return cls(
                {file.name[: -len(Suffix.Sql) - 1]: file.read_text("utf-8") for file in files}
            )


class DataInterfaceSaveMetadata(BaseModel):
    """What a data interface's ``save`` wrote.

    Attributes:
        data_uri: The data file, relative to the card folder (e.g. ``"data.parquet"``).
        data_profile_uri: The data profile file, if one was saved.
        sql_uri: The folder of ``.sql`` files, if any were saved.
        drift_profile_uri_map: The drift profile files by alias (``drift/<alias>.json``),
            if any were saved.
        extra: Anything else a (custom) interface needs to load its files back.
        save_kwargs: The save kwargs used.
    """

    model_config = ConfigDict(defer_build=True)

    data_uri: RelativePath
    data_profile_uri: RelativePath | None = None
    sql_uri: RelativePath | None = None
    drift_profile_uri_map: dict[str, DriftProfileUri] | None = None
    extra: ExtraDict = None
    save_kwargs: DataSaveKwargs | None = None


class DataInterfaceMetadata(WithSchema):
    """Everything a DataCard records about its interface.

    Attributes:
        save_metadata: What ``save`` wrote.
        schema: The feature schema of the data at save time.
        extra_metadata: Interface-specific facts, e.g. the library versions that wrote the file.
        sql_logic: The SQL queries that produced the data.
        data_splits: How the data splits into labelled parts.
        dependent_vars: The dependent (target) variables.
        interface_type: The interface's class name, e.g. ``"PandasData"``; used to rebuild it.
            ``get_interface_metadata`` sets it (whatever a custom ``save`` put there, e.g.
            OpsML 3's ``DataInterfaceType.Base``).
        data_type: The kind of data held.
    """

    save_metadata: DataInterfaceSaveMetadata
    extra_metadata: dict[str, Any] = Field(default_factory=dict)
    sql_logic: SqlLogic = Field(default_factory=SqlLogic)
    data_splits: DataSplits = Field(default_factory=DataSplits)
    dependent_vars: DependentVars = Field(default_factory=DependentVars)
    interface_type: str = ""
    data_type: DataType = DataType.NotProvided


def type_name(obj: object) -> str:
    """Return ``module.QualName`` of ``obj``'s type, for error messages."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class DataInterface(DriftProfiles):
    """Base class of every data interface: holds a dataset and knows how to save and load it.

    Built-in subclasses (``PandasData``, ``PolarsData``, ...) need nothing more than their
    data. The base class itself holds any object and saves it with joblib as
    ``data.joblib`` (a pickle: see the security note in ``docs/interfaces.md``), as OpsML 3
    does. To support another type, subclass and implement :meth:`save` and :meth:`load` (and
    :meth:`_validate_data` to reject wrong objects early); see ``docs/interfaces.md``.

    Args:
        data: The dataset; validated immediately by :meth:`_validate_data`.
        data_splits: How to split the data: a ``DataSplits`` or a list of ``DataSplit``.
        dependent_vars: The target variables: a ``DependentVars``, or a list of column names
            or of column positions. They are checked against the data by :meth:`split_data`
            (a model's features may well lack its target column).
        sql_logic: The SQL that produced the data: a ``SqlLogic`` or a dict of name to SQL.
        data_profile: A precomputed ``DataProfile``.
        drift_profile: Drift profiles by alias (a dict or ``DriftProfileMap`` of scouter
            profiles); more can be made with :meth:`create_drift_profile`.

    Raises:
        UnsupportedTypeError: ``data`` is not an object this interface can hold.
        InvalidArgumentError: A split does not fit the data (e.g. a column that does not
            exist).
    """

    data_type: ClassVar[DataType] = DataType.Base
    """The kind of data this interface holds."""

    verify_before_read: ClassVar[bool] = True
    """Whether the card must verify the files before this interface reads them. Formats that
    can run code when read (pickles) need it; interfaces whose files are plain data set it
    to ``False`` so verification runs alongside the read (still before anything is
    returned)."""

    _suffix: ClassVar[Suffix | None] = Suffix.Joblib
    """File suffix of the built-in file format; ``None`` for interfaces that override save/load."""

    _sample_as_raw: ClassVar[bool] = False
    """As a model's sample data, whether ``ModelInterface.sample_data`` hands out the raw
    object (a list, tuple or dict of arrays...) rather than this interface (OpsML 3's rule)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        del args  # positional arguments are __init__'s business
        takes = keyword_names(cls.__init__)
        if takes is not None and kwargs:
            # Python's own TypeError names no valid argument; this one names the nearest.
            reject_unknown_arguments(cls.__name__, kwargs, takes)
        return super().__new__(cls)

    def __init__(
        self,
        data: Any = None,
        data_splits: DataSplits | list[DataSplit] | None = None,
        dependent_vars: DependentVars | list[str] | list[int] | None = None,
        sql_logic: SqlLogic | dict[str, str] | None = None,
        data_profile: DataProfile | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._data: Any = None
        self._data_splits = DataSplits()
        self._dependent_vars = DependentVars()
        self._sql_logic = SqlLogic()
        self._data_profile: DataProfile | None = None
        self._schema: FeatureSchema | None = None
        self.data_splits = data_splits
        self.dependent_vars = dependent_vars
        self.sql_logic = sql_logic
        self.data_profile = data_profile
        self.drift_profile = drift_profile
        self.data = data

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_interface_metadata" in vars(cls):
            raise TypeError(
                f"{cls.__name__} must not override get_interface_metadata(); "
                "implement save() and load() instead"
            )

    @property
    def data(self) -> Any:
        """The dataset, or ``None`` before it is set or loaded.

        Setting it checks the object's type and that the splits fit.
        """
        return self._data

    @data.setter
    def data(self, data: Any) -> None:
        if data is not None:
            self._validate_data(data)
            self._check_splits(data, self._data_splits, DependentVars())
        self._data = data
        self._schema = None

    @property
    def data_splits(self) -> DataSplits:
        """How the data splits into labelled parts (checked against the data when set)."""
        return self._data_splits

    @data_splits.setter
    def data_splits(self, data_splits: DataSplits | list[DataSplit] | None) -> None:
        if data_splits is None:
            splits = DataSplits()
        elif isinstance(data_splits, DataSplits):
            splits = data_splits
        elif isinstance(data_splits, list) and all(isinstance(s, DataSplit) for s in data_splits):
            splits = DataSplits(data_splits)
        else:
            raise InvalidArgumentError(
                f"data_splits must be a DataSplits or a list of DataSplit, got {data_splits!r:.200}"
            )
        if self._data is not None:
            self._check_splits(self._data, splits, DependentVars())
        self._data_splits = splits

    @property
    def dependent_vars(self) -> DependentVars:
        """The dependent (target) variables (checked against the data by :meth:`split_data`)."""
        return self._dependent_vars

    @dependent_vars.setter
    def dependent_vars(self, dependent_vars: DependentVars | list[str] | list[int] | None) -> None:
        if dependent_vars is None:
            variables = DependentVars()
        elif isinstance(dependent_vars, DependentVars):
            variables = dependent_vars
        elif isinstance(dependent_vars, list) and all(isinstance(v, str) for v in dependent_vars):
            variables = DependentVars(column_names=list(dependent_vars))  # type: ignore[arg-type]
        elif isinstance(dependent_vars, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in dependent_vars
        ):
            variables = DependentVars(column_indices=list(dependent_vars))  # type: ignore[arg-type]
        else:
            raise InvalidArgumentError(
                "dependent_vars must be a DependentVars, or a list of column names or of "
                f"column positions, got {dependent_vars!r:.200}"
            )
        self._dependent_vars = variables

    @property
    def sql_logic(self) -> SqlLogic:
        """The SQL queries that produced the data."""
        return self._sql_logic

    @sql_logic.setter
    def sql_logic(self, sql_logic: SqlLogic | dict[str, str] | None) -> None:
        if sql_logic is None:
            sql_logic = SqlLogic()
        elif isinstance(sql_logic, dict):
            sql_logic = SqlLogic(sql_logic)
        elif not isinstance(sql_logic, SqlLogic):
            raise InvalidArgumentError(
                f"sql_logic must be a SqlLogic or a dict of name to SQL, got {type_name(sql_logic)}"
            )
        self._sql_logic = sql_logic

    @property
    def data_profile(self) -> DataProfile | None:
        """The data profile, saved with the card as ``data-profile.json`` when set."""
        return self._data_profile

    @data_profile.setter
    def data_profile(self, data_profile: DataProfile | None) -> None:
        if data_profile is not None and not isinstance(data_profile, DataProfile):
            raise InvalidArgumentError(
                f"data_profile must be a DataProfile, got {type_name(data_profile)}"
            )
        self._data_profile = data_profile

    @staticmethod
    def _accepts(data: Any) -> bool:
        """Whether ``data`` is the native type of this built-in interface (picks sample data)."""
        return False

    @classmethod
    def _first_rows(cls, data: Any) -> Any:
        """The first row of ``data`` (what a model keeps as sample data), same type."""
        return data[0:1]

    def _validate_data(self, data: Any) -> None:
        """Raise :class:`InvalidArgumentError` if ``data`` cannot be held; the base takes anything.

        Args:
            data: The candidate dataset (never ``None``).
        """

    def _check_splits(
        self, data: Any, data_splits: DataSplits, dependent_vars: DependentVars
    ) -> None:
        """Raise :class:`InvalidArgumentError` if the splits or dependent vars do not fit ``data``.

        Override together with :meth:`split_data` to split data of another type.
        """
        check_splits(data, data_splits, dependent_vars)

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema of the current data (empty without data).

        Generated from the data unless one was set; setting new data drops a set schema.
        """
        if self._schema is not None:
            return self._schema
        return self._generate_schema()

    @schema.setter
    def schema(self, schema: FeatureSchema | None) -> None:
        if schema is not None and not isinstance(schema, FeatureSchema):
            raise InvalidArgumentError(f"schema must be a FeatureSchema, got {type_name(schema)}")
        self._schema = schema

    def _generate_schema(self) -> FeatureSchema:
        """Describe the current data; interfaces of other kinds of data override this."""
        return generate_feature_schema(self._data)

    @property
    def interface_type(self) -> str:
        """The name recorded in the card to rebuild this interface: the class name."""
        return type(self).__name__

    def add_sql_logic(
        self, name: str, query: str | None = None, filepath: str | None = None
    ) -> None:
        """Add a named SQL query (or the content of a ``.sql`` file) to :attr:`sql_logic`.

        Args:
            name: The query's name (its file is ``sql/<name>.sql``).
            query: The SQL text.
            filepath: A ``.sql`` file to read instead of ``query``.

        Raises:
            InvalidArgumentError: Not exactly one of ``query`` and ``filepath``, a bad name,
                or an unreadable file.
        """
        self._sql_logic.add_sql_logic(name, query=query, filepath=filepath)

    def split_data(self) -> dict[str, Data]:
        """Split the data by :attr:`data_splits` into ``{label: Data(x, y)}``.

        ``y`` holds the :attr:`dependent_vars` columns (``None`` when there are none) and
        ``x`` the other columns; both keep the data's type.

        Returns:
            One :class:`Data` per split, in the order of the splits.

        Raises:
            InvalidArgumentError: There is no data or no split, or a split does not fit.
        """
        data = self._require_data("split")
        if not len(self._data_splits):
            raise InvalidArgumentError(
                f"{type(self).__name__} has no data_splits; pass data_splits=[DataSplit(...)]"
            )
        return self._data_splits.split_data(data, self.data_type, self._dependent_vars)

    def create_data_profile(
        self, bin_size: int = 20, compute_correlations: bool = False, top_k: int = 10
    ) -> DataProfile:
        """Profile the data with its own library and keep the result in :attr:`data_profile`.

        Args:
            bin_size: Number of histogram bins of numeric columns.
            compute_correlations: Also compute Pearson correlations between numeric columns.
            top_k: How many most-frequent values to keep for non-numeric columns.

        Returns:
            The profile (also saved with the card as ``data-profile.json``).

        Raises:
            InvalidArgumentError: There is no data, or it is of a type that cannot be profiled.
        """
        self.data_profile = create_data_profile(
            self._require_data("profile"),
            self.data_type,
            bin_size=bin_size,
            compute_correlations=compute_correlations,
            top_k=top_k,
        )
        return self.data_profile

    def save(self, path: Path, save_kwargs: DataSaveKwargs | None = None) -> DataInterfaceMetadata:
        """Write the data into the folder ``path``, with the SQL files and the profile.

        Args:
            path: The card's folder; created if missing.
            save_kwargs: ``save_kwargs.data`` is passed to the library's writer.

        Returns:
            The interface metadata: ``.save_metadata`` names the files written, relative to
            ``path``; ``.schema``, ``.data_type``... describe the data.

        Raises:
            SerializationError: There is no data, the interface does not implement saving,
                or the writer failed.
        """
        path = Path(path)
        saved = self._save_extras(path, self._save_as(path, SaveName.Data, save_kwargs))
        return self.get_interface_metadata(saved)

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata | DataInterfaceMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        """Read the data saved by :meth:`save` back from the folder ``path`` into :attr:`data`.

        The profile and SQL files come back too. Splits are not re-checked against the
        loaded data (``load_kwargs`` may select fewer columns); ``split_data`` checks them.

        Args:
            path: The card's folder (its files already verified by the card).
            metadata: What ``save`` returned, or its ``save_metadata``.
            load_kwargs: ``load_kwargs.data`` is passed to the library's reader.

        Raises:
            SerializationError: The interface does not implement loading, or reading failed.
        """
        path = Path(path)
        if isinstance(metadata, DataInterfaceMetadata):
            metadata = metadata.save_metadata
        data = self._load_from(path / metadata.data_uri, load_kwargs)
        self._validate_data(data)
        self._load_extras(path, metadata)
        self._data = data
        self._schema = None

    @classmethod
    def from_metadata(cls, metadata: DataInterfaceMetadata) -> DataInterface:
        """Return an interface of this class without data, ready for :meth:`load`.

        Its splits, dependent variables and SQL come from the metadata. Custom interfaces
        whose ``__init__`` needs arguments override this (a ``@staticmethod``, as in
        OpsML 3, works too).

        Args:
            metadata: The interface metadata stored in the card.

        Returns:
            An instance without data.

        Raises:
            SerializationError: The metadata was written by another interface class.
        """
        if metadata.interface_type != cls.__name__:
            raise SerializationError(
                f"this card's data was saved by {metadata.interface_type!r}, not {cls.__name__!r}; "
                "use opsml.interfaces.resolve_interface(metadata), or pass interface= to load"
            )
        interface = cls()
        interface._restore(metadata)
        return interface

    @final
    def get_interface_metadata(
        self, save_metadata: DataInterfaceSaveMetadata | DataInterfaceMetadata
    ) -> DataInterfaceMetadata:
        """Build the metadata the card stores, from what :meth:`save` returned.

        Not overridable: it records the class name, the schema of the data at save time,
        the splits, dependent variables and SQL. A ``DataInterfaceMetadata`` (what OpsML 3's
        custom ``save`` returns) is kept as it is, with this class's name as
        ``interface_type`` and the data's schema where it has none.

        Args:
            save_metadata: The return value of :meth:`save`.

        Returns:
            The interface metadata.

        Raises:
            InvalidArgumentError: ``save_metadata`` is neither a ``DataInterfaceSaveMetadata``
                nor a ``DataInterfaceMetadata``.
        """
        if isinstance(save_metadata, DataInterfaceMetadata):
            update: dict[str, Any] = {"interface_type": self.interface_type}
            if not len(save_metadata.schema):
                update["schema"] = self.schema
            return save_metadata.model_copy(update=update)
        if not isinstance(save_metadata, DataInterfaceSaveMetadata):
            raise InvalidArgumentError(
                f"{type(self).__name__}.save() must return DataInterfaceMetadata or "
                f"DataInterfaceSaveMetadata, got {type_name(save_metadata)}"
            )
        return DataInterfaceMetadata(
            save_metadata=save_metadata,
            schema=self.schema,
            extra_metadata=self._extra_metadata(),
            sql_logic=self._sql_logic,
            data_splits=self._data_splits,
            dependent_vars=self._dependent_vars,
            interface_type=self.interface_type,
            data_type=self.data_type,
        )

    def _restore(self, metadata: DataInterfaceMetadata) -> None:
        """Take the splits, dependent variables and SQL from ``metadata`` where none are set.

        They were checked against the data when it was saved, so they are not re-checked.
        """
        if not len(self._data_splits):
            self._data_splits = metadata.data_splits
        if self._dependent_vars.is_empty:
            self._dependent_vars = metadata.dependent_vars
        if not len(self._sql_logic):
            self._sql_logic = metadata.sql_logic

    def _save_extras(
        self, path: Path, metadata: DataInterfaceSaveMetadata
    ) -> DataInterfaceSaveMetadata:
        """Write the SQL files, the profile and the drift profiles, unless ``metadata``
        shows they are written."""
        written: dict[str, Any] = {}
        if metadata.sql_uri is None and len(self._sql_logic):
            self._sql_logic._save(path / _SQL_DIR)
            written["sql_uri"] = Path(_SQL_DIR)
        if metadata.data_profile_uri is None and self._data_profile is not None:
            with translate_errors("write", path / _PROFILE_FILE):
                (path / _PROFILE_FILE).write_text(
                    self._data_profile.model_dump_json(), encoding="utf-8"
                )
            written["data_profile_uri"] = Path(_PROFILE_FILE)
        if metadata.drift_profile_uri_map is None and not self.drift_profile.is_empty():
            written["drift_profile_uri_map"] = save_drift_profiles(self.drift_profile, path)
        return metadata.model_copy(update=written) if written else metadata

    def _load_extras(self, path: Path, metadata: DataInterfaceSaveMetadata) -> None:
        """Read the profile, the SQL files and the drift profiles, where the interface has
        none (the drift profiles it lacks)."""
        drift = read_missing_drift_profiles(
            self.drift_profile, path, metadata.drift_profile_uri_map
        )
        if metadata.data_profile_uri is not None and self._data_profile is None:
            file = path / metadata.data_profile_uri
            with translate_errors("read", file):
                self._data_profile = DataProfile.model_validate_json(file.read_bytes())
        if metadata.sql_uri is not None and not len(self._sql_logic):
            self._sql_logic = SqlLogic._load(path / metadata.sql_uri)
        for alias, profile in drift.items():
            self.drift_profile.add_profile(alias, profile)

    def _extra_metadata(self) -> dict[str, Any]:
        """Facts recorded in ``DataInterfaceMetadata.extra_metadata``; built-ins add versions."""
        return {}

    def _require_data(self, action: str = "save") -> Any:
        """The data; without it, saving is a SerializationError, other actions bad input."""
        if self._data is None:
            if action == "save":  # OpsML 3's words, which its users' code may compare
                raise SerializationError("No data detected in interface for saving")
            name = type(self).__name__
            raise InvalidArgumentError(
                f"{name} has no data to {action}; pass it as {name}(data=...), set .data or "
                "load the card first"
            )
        return self._data

    def _not_implemented(self, method: str) -> SerializationError:
        name = type(self).__name__
        return SerializationError(
            f"{name} cannot {method}: a DataInterface subclass must implement "
            "save(path, save_kwargs=None) -> DataInterfaceSaveMetadata (write files under path "
            "and return their paths relative to it; or a DataInterfaceMetadata holding it) and "
            "load(path, metadata, load_kwargs=None) (read them back and set self.data)"
        )

    def _save_as(
        self, path: Path, stem: str, save_kwargs: DataSaveKwargs | None
    ) -> DataInterfaceSaveMetadata:
        """Write the data in the built-in format as ``path/<stem>.<suffix>``."""
        if self._suffix is None:
            raise self._not_implemented("save")
        data = self._require_data()
        file_name = f"{stem}.{self._suffix}"
        with translate_errors("create", path):
            path.mkdir(parents=True, exist_ok=True)
        kwargs = dict(save_kwargs.data or {}) if save_kwargs is not None else {}
        self._write(data, path / file_name, kwargs)
        return DataInterfaceSaveMetadata(data_uri=file_name, save_kwargs=save_kwargs)

    def _load_from(self, file: Path, load_kwargs: DataLoadKwargs | None) -> Any:
        """Read a file written by :meth:`_save_as` and return the data (not yet assigned)."""
        if self._suffix is None:
            raise self._not_implemented("load")
        kwargs = dict(load_kwargs.data or {}) if load_kwargs is not None else {}
        return self._read(file, kwargs)

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        """Write ``data`` to ``file`` with the library's writer; the base uses joblib."""
        joblib = require("joblib", "sklearn")
        with translate_errors("write", file):
            joblib.dump(data, file, **kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        """Read ``file`` with the library's reader; the base uses joblib."""
        joblib = require("joblib", "sklearn")
        with translate_errors("read", file):
            # The card verified the file against its manifest before calling load.
            return joblib.load(file, **kwargs)
