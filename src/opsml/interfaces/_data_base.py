"""The data interface protocol and its metadata.

A card saves an interface in two steps, and loads it in two::

    save_metadata = interface.save(card_dir, save_kwargs)           # writes files
    metadata = interface.get_interface_metadata(save_metadata)      # stored in card.json
    ...
    interface = resolve_interface(metadata)   # or the user's own interface instance
    interface.load(card_dir, metadata.save_metadata, load_kwargs)

Every path in the metadata is relative to the card's folder, so the folder can be moved,
downloaded or served from object storage.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, ClassVar, final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from opsml.errors import InvalidArgumentError, OpsmlError, SerializationError
from opsml.interfaces._enums import DataType
from opsml.interfaces._kwargs import DataLoadKwargs, DataSaveKwargs
from opsml.interfaces._schema import FeatureSchema, WithSchema, generate_feature_schema
from opsml.types import SaveName, Suffix

__all__ = [
    "DataInterface",
    "DataInterfaceMetadata",
    "DataInterfaceSaveMetadata",
    "RelativePath",
    "translate_errors",
    "type_name",
]


def _relative_posix(value: object) -> object:
    """Normalise a path to a relative posix string; reject paths leaving the card folder."""
    if not isinstance(value, str | PurePosixPath | PureWindowsPath):
        return value  # let pydantic report the type error
    text = value.as_posix() if not isinstance(value, str) else value
    # Read as a Windows path too, so backslashes and drives are caught and normalised.
    windows = PureWindowsPath(text)
    if not text or PurePosixPath(text).is_absolute() or windows.anchor or ".." in windows.parts:
        raise ValueError(f"{text!r} must be a path relative to the card folder, without '..'")
    return windows.as_posix()


RelativePath = Annotated[str, BeforeValidator(_relative_posix)]
"""A file path relative to the card folder, stored as a posix string."""


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


class DataInterfaceSaveMetadata(BaseModel):
    """What a data interface's ``save`` wrote.

    Attributes:
        data_uri: The data file, relative to the card folder (e.g. ``"data.parquet"``).
        data_profile_uri: The data profile file, if one was saved.
        sql_uri: The folder of ``.sql`` files, if any were saved.
        extra: Anything else a (custom) interface needs to load its files back.
        save_kwargs: The save kwargs used.
    """

    model_config = ConfigDict(defer_build=True)

    data_uri: RelativePath
    data_profile_uri: RelativePath | None = None
    sql_uri: RelativePath | None = None
    extra: dict[str, Any] | None = None
    save_kwargs: DataSaveKwargs | None = None


class DataInterfaceMetadata(WithSchema):
    """Everything a DataCard records about its interface.

    Attributes:
        save_metadata: What ``save`` wrote.
        schema: The feature schema of the data at save time.
        extra_metadata: Interface-specific facts, e.g. the library versions that wrote the file.
        sql_queries: Named SQL queries that produced the data.
        interface_type: The interface's class name, e.g. ``"PandasData"``; used to rebuild it.
        data_type: The kind of data held.
    """

    save_metadata: DataInterfaceSaveMetadata
    extra_metadata: dict[str, Any] = Field(default_factory=dict)
    sql_queries: dict[str, str] = Field(default_factory=dict)
    interface_type: str
    data_type: DataType = DataType.NotProvided


def type_name(obj: object) -> str:
    """Return ``module.QualName`` of ``obj``'s type, for error messages."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class DataInterface:
    """Base class of every data interface: holds a dataset and knows how to save and load it.

    Built-in subclasses (``PandasData``, ``NumpyData``) need nothing more than their data.
    To support another type, subclass and implement :meth:`save` and :meth:`load` (and
    :meth:`_validate_data` to reject wrong objects early); see ``docs/interfaces.md``.

    Args:
        data: The dataset; validated immediately by :meth:`_validate_data`.
        data_splits: How to split the data; stored as given.
        dependent_vars: The dependent (target) variables; stored as given.
        sql_logic: The SQL that produced the data; stored as given.
        data_profile: A precomputed data profile; stored as given.

    Raises:
        InvalidArgumentError: ``data`` is not an object this interface can save.
    """

    data_type: ClassVar[DataType] = DataType.Base
    """The kind of data this interface holds."""

    _suffix: ClassVar[Suffix | None] = None
    """File suffix of the built-in file format; ``None`` for interfaces that override save/load."""

    def __init__(
        self,
        data: Any = None,
        data_splits: Any = None,
        dependent_vars: Any = None,
        sql_logic: Any = None,
        data_profile: Any = None,
    ) -> None:
        self.data_splits = data_splits
        self.dependent_vars = dependent_vars
        self.sql_logic = sql_logic
        self.data_profile = data_profile
        self._data: Any = None
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
        """The dataset, or ``None`` before it is set or loaded."""
        return self._data

    @data.setter
    def data(self, data: Any) -> None:
        if data is not None:
            self._validate_data(data)
        self._data = data

    @staticmethod
    def _accepts(data: Any) -> bool:
        """Whether ``data`` is the native type of this built-in interface (picks sample data)."""
        return False

    def _validate_data(self, data: Any) -> None:
        """Raise :class:`InvalidArgumentError` if ``data`` cannot be held; the base takes anything.

        Args:
            data: The candidate dataset (never ``None``).
        """

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema of the current data (empty without data)."""
        return generate_feature_schema(self._data)

    @property
    def interface_type(self) -> str:
        """The name recorded in the card to rebuild this interface: the class name."""
        return type(self).__name__

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        """Write the data into the folder ``path``.

        Args:
            path: The card's folder; created if missing.
            save_kwargs: ``save_kwargs.data`` is passed to the library's writer.

        Returns:
            The files written, relative to ``path``.

        Raises:
            SerializationError: There is no data, the interface does not implement saving,
                or the writer failed.
        """
        return self._save_as(Path(path), SaveName.Data, save_kwargs)

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        """Read the data saved by :meth:`save` back from the folder ``path`` into :attr:`data`.

        Args:
            path: The card's folder (its files already verified by the card).
            metadata: What ``save`` returned.
            load_kwargs: ``load_kwargs.data`` is passed to the library's reader.

        Raises:
            SerializationError: The interface does not implement loading, or reading failed.
        """
        self.data = self._load_from(Path(path) / metadata.data_uri, load_kwargs)

    @classmethod
    def from_metadata(cls, metadata: DataInterfaceMetadata) -> DataInterface:
        """Return an empty interface of this class, ready for :meth:`load`.

        Custom interfaces whose ``__init__`` needs arguments override this (a
        ``@staticmethod``, as in OpsML 3, works too).

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
        return cls()

    @final
    def get_interface_metadata(
        self, save_metadata: DataInterfaceSaveMetadata
    ) -> DataInterfaceMetadata:
        """Build the metadata the card stores, from what :meth:`save` returned.

        Not overridable: it records the class name and the schema of the data at save time.

        Args:
            save_metadata: The return value of :meth:`save`.

        Returns:
            The interface metadata.

        Raises:
            InvalidArgumentError: ``save_metadata`` is not a ``DataInterfaceSaveMetadata``.
        """
        if not isinstance(save_metadata, DataInterfaceSaveMetadata):
            raise InvalidArgumentError(
                f"{type(self).__name__}.save() must return DataInterfaceSaveMetadata, "
                f"got {type_name(save_metadata)}"
            )
        return DataInterfaceMetadata(
            save_metadata=save_metadata,
            schema=self.schema,
            extra_metadata=self._extra_metadata(),
            interface_type=self.interface_type,
            data_type=self.data_type,
        )

    def _extra_metadata(self) -> dict[str, Any]:
        """Facts recorded in ``DataInterfaceMetadata.extra_metadata``; built-ins add versions."""
        return {}

    def _require_data(self) -> Any:
        if self._data is None:
            name = type(self).__name__
            raise SerializationError(
                f"{name} has no data to save; pass it as {name}(data=...) or set .data first"
            )
        return self._data

    def _not_implemented(self, method: str) -> SerializationError:
        name = type(self).__name__
        return SerializationError(
            f"{name} cannot {method}: a DataInterface subclass must implement "
            "save(path, save_kwargs=None) -> DataInterfaceSaveMetadata (write files under path "
            "and return their paths relative to it) and load(path, metadata, load_kwargs=None) "
            "(read them back and set self.data)"
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
        """Write ``data`` to ``file`` with the library's writer (built-in formats only)."""
        raise self._not_implemented("save")

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        """Read ``file`` with the library's reader (built-in formats only)."""
        raise self._not_implemented("load")
