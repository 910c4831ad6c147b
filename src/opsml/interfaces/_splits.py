"""Data splits and dependent variables: how a dataset is cut into labelled ``Data(x, y)`` parts.

A :class:`DataSplit` selects rows in one of three ways: by comparing a column with a value
(:class:`ColumnSplit`), by a half-open row range (:class:`StartStopSplit`) or by a list of
row positions (:class:`IndiceSplit`). :class:`DependentVars` names the target columns that
go to ``y``; every other column stays in ``x``.

What a split means lives here: which rows and columns it selects, how it is checked
against the data, how timestamps are aligned. Selecting them is done by the data's own
library (pandas, polars, pyarrow, numpy, torch) through its
:class:`~opsml.interfaces._library.DataLibrary`, implemented next to its interface; no
library is imported here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from opsml._validation import empty_list, translate_validation_error
from opsml.errors import InvalidArgumentError, OpsmlError
from opsml.interfaces._enums import DataType
from opsml.interfaces._library import DataLibrary, library_for, supported_kinds
from opsml.types import NamedStrEnum

__all__ = [
    "ColType",
    "ColumnKind",
    "ColumnSplit",
    "Data",
    "DataSplit",
    "DataSplits",
    "DataSplitter",
    "DependentVars",
    "IndiceSplit",
    "Inequality",
    "StartStopSplit",
    "aligned_timestamp",
    "check_splits",
]

SplitValue = bool | int | float | str
"""A value a column is compared with."""

ColumnKind = Literal["numeric", "string", "bool", "timestamp", "date", "other"]
"""What a column holds, as a :class:`ColumnSplit` compares it (a library tells)."""


class Inequality(NamedStrEnum):
    """How a :class:`ColumnSplit` compares a column with its value.

    Built from a member name (``"GreaterThan"``, any case) or a symbol: ``"=="``, ``">"``,
    ``">="``, ``"<"``, ``"<="``.
    """

    Equal = "Equal"
    GreaterThan = "GreaterThan"
    GreaterThanEqual = "GreaterThanEqual"
    LesserThan = "LesserThan"
    LesserThanEqual = "LesserThanEqual"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str) and value.strip() in _SYMBOLS:
            return cls(_SYMBOLS[value.strip()])
        return super()._missing_(value)

    @property
    def symbol(self) -> str:
        """The comparison as a symbol, e.g. ``">="``."""
        return _SYMBOL_OF[self.value]

    @property
    def compare(self) -> Callable[[Any, Any], Any]:
        """The Python operator (``operator.ge`` ...), which pandas, polars, numpy overload."""
        return _OPERATORS[self.value]


_SYMBOLS = {
    "==": "Equal",
    ">": "GreaterThan",
    ">=": "GreaterThanEqual",
    "<": "LesserThan",
    "<=": "LesserThanEqual",
}
_SYMBOL_OF = {name: symbol for symbol, name in _SYMBOLS.items()}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "Equal": operator.eq,
    "GreaterThan": operator.gt,
    "GreaterThanEqual": operator.ge,
    "LesserThan": operator.lt,
    "LesserThanEqual": operator.le,
}


class ColType(NamedStrEnum):
    """Whether a :class:`ColumnSplit` compares plain values or timestamps."""

    Builtin = "Builtin"
    Timestamp = "Timestamp"


def _enum(enum: type[NamedStrEnum], value: object, field: str) -> Any:
    try:
        if isinstance(value, str):
            return enum(value)
    except ValueError:
        pass
    allowed = ", ".join(repr(m.value) for m in enum)
    if enum is Inequality:
        allowed += ", " + ", ".join(repr(s) for s in _SYMBOLS)
    raise InvalidArgumentError(f"{field} must be one of {allowed}; got {value!r}")


def _parse_timestamp(value: SplitValue) -> datetime:
    """Epoch seconds (UTC) or an ISO 8601 string, as a datetime (naive if the string is)."""
    if isinstance(value, bool):
        raise InvalidArgumentError("a timestamp split value cannot be a bool")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidArgumentError(f"{value!r} is not a valid epoch timestamp") from exc
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"timestamp split value {value!r} is not an ISO 8601 date/time "
            "(e.g. '2024-01-31' or '2024-01-31T12:00:00+00:00') nor epoch seconds"
        ) from exc


class ColumnSplit(BaseModel):
    """Select the rows where ``column <inequality> value``.

    Args:
        column_name: The column compared.
        column_value: The value compared with. For ``ColType.Timestamp``: epoch seconds
            (UTC), an ISO 8601 string, or a ``datetime``/``date`` (stored as ISO 8601).
        column_type: ``ColType.Builtin`` (plain values) or ``ColType.Timestamp``.
        inequality: An :class:`Inequality` or its symbol; default ``"=="``.

    Raises:
        InvalidArgumentError: An unknown inequality, a NaN value, or a timestamp value that
            cannot be read as one.

    Timestamps are compared as instants. A naive value is read in the column's time zone
    (UTC for epoch seconds); against a naive column, an aware value is converted to UTC.
    """

    model_config = ConfigDict(defer_build=True)

    column_name: str
    column_value: SplitValue
    column_type: ColType = ColType.Builtin
    inequality: Inequality = Inequality.Equal

    def __init__(
        self,
        column_name: str,
        column_value: SplitValue | datetime | date,
        column_type: ColType | str = ColType.Builtin,
        inequality: Inequality | str | None = None,
    ) -> None:
        if isinstance(column_value, date):  # datetime is a date too
            column_value = column_value.isoformat()
            if column_type == ColType.Builtin:
                column_type = ColType.Timestamp
        try:
            super().__init__(
                column_name=column_name,
                column_value=column_value,
                column_type=_enum(ColType, column_type, "column_type"),
                inequality=(
                    Inequality.Equal
                    if inequality is None
                    else _enum(Inequality, inequality, "inequality")
                ),
            )
        except ValidationError as exc:
            raise translate_validation_error(exc, "ColumnSplit") from exc

    @model_validator(mode="after")
    def _check(self) -> ColumnSplit:
        if not self.column_name:
            raise InvalidArgumentError("ColumnSplit needs a column_name")
        if isinstance(self.column_value, float) and self.column_value != self.column_value:
            raise InvalidArgumentError("ColumnSplit value cannot be NaN (it never compares)")
        if self.column_type is ColType.Timestamp:
            _parse_timestamp(self.column_value)
        return self

    def timestamp(self) -> datetime:
        """The value as a ``datetime`` (only meaningful for ``ColType.Timestamp``)."""
        return _parse_timestamp(self.column_value)


class StartStopSplit(BaseModel):
    """Select rows ``start`` (included) to ``stop`` (excluded), like ``rows[start:stop]``.

    Args:
        start: First row position, from 0.
        stop: Row position after the last row selected.

    Raises:
        InvalidArgumentError: A negative position, or ``start > stop``.
    """

    model_config = ConfigDict(defer_build=True)

    start: int
    stop: int

    def __init__(self, start: int, stop: int) -> None:
        try:
            super().__init__(start=start, stop=stop)
        except ValidationError as exc:
            raise translate_validation_error(exc, "StartStopSplit") from exc

    @model_validator(mode="after")
    def _check(self) -> StartStopSplit:
        if self.start < 0 or self.stop < self.start:
            raise InvalidArgumentError(
                f"StartStopSplit needs 0 <= start <= stop, got start={self.start}, stop={self.stop}"
            )
        return self


class IndiceSplit(BaseModel):
    """Select the rows at the given positions, in the given order.

    Args:
        indices: Row positions, from 0.

    Raises:
        InvalidArgumentError: A negative position.
    """

    model_config = ConfigDict(defer_build=True)

    indices: list[int]

    def __init__(self, indices: list[int]) -> None:
        try:
            super().__init__(indices=indices)
        except ValidationError as exc:
            raise translate_validation_error(exc, "IndiceSplit") from exc

    @model_validator(mode="after")
    def _check(self) -> IndiceSplit:
        if any(i < 0 for i in self.indices):
            raise InvalidArgumentError("IndiceSplit indices must be row positions >= 0")
        return self


class DataSplit(BaseModel):
    """One labelled split: exactly one of a column, start/stop or indices selection.

    Args:
        label: The split's name, the key in ``split_data()``'s result (e.g. ``"train"``).
        column_split: Select rows by comparing a column with a value.
        start_stop_split: Select a range of rows.
        indice_split: Select rows by position.

    Raises:
        InvalidArgumentError: No label, or not exactly one selection.
    """

    model_config = ConfigDict(defer_build=True)

    label: str
    column_split: ColumnSplit | None = None
    start_stop_split: StartStopSplit | None = None
    indice_split: IndiceSplit | None = None

    def __init__(
        self,
        label: str,
        column_split: ColumnSplit | None = None,
        start_stop_split: StartStopSplit | None = None,
        indice_split: IndiceSplit | None = None,
    ) -> None:
        try:
            super().__init__(
                label=label,
                column_split=column_split,
                start_stop_split=start_stop_split,
                indice_split=indice_split,
            )
        except ValidationError as exc:
            raise translate_validation_error(exc, "DataSplit") from exc

    @model_validator(mode="after")
    def _check(self) -> DataSplit:
        if not self.label:
            raise InvalidArgumentError("DataSplit needs a label")
        given = [s for s in (self.column_split, self.start_stop_split, self.indice_split) if s]
        if len(given) != 1:
            raise InvalidArgumentError(
                f"DataSplit {self.label!r} needs exactly one of column_split, "
                f"start_stop_split or indice_split (got {len(given)})"
            )
        return self


class DependentVars(BaseModel):
    """The dependent (target) variables: they go to ``y`` when the data is split.

    Give column names (frames) or column positions (frames, 2-D arrays and tensors).

    Args:
        column_names: Names of the target columns.
        column_indices: Positions of the target columns, from 0.

    Raises:
        InvalidArgumentError: Both names and positions, duplicates, or a negative position.
    """

    model_config = ConfigDict(defer_build=True)

    column_names: list[str] = Field(default_factory=empty_list)
    column_indices: list[int] = Field(default_factory=empty_list)

    def __init__(
        self, column_names: list[str] | None = None, column_indices: list[int] | None = None
    ) -> None:
        try:
            super().__init__(column_names=column_names or [], column_indices=column_indices or [])
        except ValidationError as exc:
            raise translate_validation_error(exc, "DependentVars") from exc

    @model_validator(mode="after")
    def _check(self) -> DependentVars:
        if self.column_names and self.column_indices:
            raise InvalidArgumentError(
                "DependentVars takes column_names or column_indices, not both"
            )
        chosen: list[Any] = self.column_names or self.column_indices
        if len(set(chosen)) != len(chosen):
            raise InvalidArgumentError(f"DependentVars has duplicates: {chosen}")
        if any(i < 0 for i in self.column_indices):
            raise InvalidArgumentError("DependentVars column_indices must be >= 0")
        return self

    @property
    def is_idx(self) -> bool:
        """Whether the variables are given by position."""
        return bool(self.column_indices)

    @property
    def is_empty(self) -> bool:
        """Whether no dependent variable is set (then ``y`` is ``None``)."""
        return not self.column_names and not self.column_indices


@dataclass
class Data:
    """One split of a dataset.

    Attributes:
        x: The rows of the split without the dependent variables (the same type as the data).
        y: The dependent variables of those rows, or ``None`` when none are set.
    """

    x: Any
    y: Any = None


class DataSplits(BaseModel):
    """An ordered list of :class:`DataSplit` with unique labels.

    Args:
        splits: The splits.

    Raises:
        InvalidArgumentError: Two splits share a label.
    """

    model_config = ConfigDict(defer_build=True)

    splits: list[DataSplit] = Field(default_factory=empty_list)

    def __init__(self, splits: list[DataSplit] | None = None) -> None:
        try:
            super().__init__(splits=splits or [])
        except ValidationError as exc:
            raise translate_validation_error(exc, "DataSplits") from exc

    @model_validator(mode="after")
    def _check(self) -> DataSplits:
        labels = [s.label for s in self.splits]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise InvalidArgumentError(f"DataSplits labels must be unique; repeated: {duplicates}")
        return self

    def __len__(self) -> int:
        return len(self.splits)

    # Iterate over the splits (BaseModel iterates over (field, value) pairs).
    def __iter__(self) -> Iterator[DataSplit]:  # type: ignore[override]
        return iter(self.splits)

    def split_data(
        self,
        data: Any,
        data_type: DataType | None = None,
        dependent_vars: DependentVars | None = None,
    ) -> dict[str, Data]:
        """Split ``data`` into ``{label: Data(x, y)}``, in the order of the splits.

        Args:
            data: A pandas/polars DataFrame, a pyarrow Table, a numpy array or a torch tensor.
            data_type: Accepted for OpsML 3 compatibility; the object's type decides.
            dependent_vars: The columns that go to ``y``.

        Returns:
            One :class:`Data` per split.

        Raises:
            InvalidArgumentError: ``data`` cannot be split, or a split does not fit it.
        """
        del data_type
        dependent_vars = dependent_vars or DependentVars()
        library = _library(data)
        check_splits(data, self, dependent_vars)
        return {
            split.label: _xy(library, data, _select(library, data, split), dependent_vars)
            for split in self
        }


class DataSplitter:
    """Apply a single :class:`DataSplit` (OpsML 3's helper; ``DataSplits`` applies several)."""

    @staticmethod
    def split_data(
        split: DataSplit,
        data: Any,
        data_type: DataType | None = None,
        dependent_vars: DependentVars | None = None,
    ) -> Data:
        """Return the rows ``split`` selects from ``data``, as ``Data(x, y)``.

        Args:
            split: The split.
            data: A pandas/polars DataFrame, a pyarrow Table, a numpy array or a torch tensor.
            data_type: Accepted for OpsML 3 compatibility; the object's type decides.
            dependent_vars: The columns that go to ``y``.

        Returns:
            The split's rows.

        Raises:
            InvalidArgumentError: ``data`` cannot be split, or the split does not fit it.
        """
        return DataSplits([split]).split_data(data, data_type, dependent_vars)[split.label]


def _library(data: Any) -> DataLibrary:
    library = library_for(data)
    if library is None:
        raise InvalidArgumentError(
            f"cannot split a {type(data).__module__}.{type(data).__qualname__}: splits and "
            f"dependent_vars work on {supported_kinds()}"
        )
    return library


def _select(library: DataLibrary, data: Any, split: DataSplit) -> Any:
    try:
        if split.column_split is not None:
            return library.where(data, split.column_split)
        if split.start_stop_split is not None:
            return library.rows(data, split.start_stop_split.start, split.start_stop_split.stop)
        assert split.indice_split is not None  # guaranteed by DataSplit's validator
        return library.take(data, split.indice_split.indices)
    except OpsmlError:
        raise
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as exc:
        # e.g. ">" on an unordered categorical, or indexing a sparse tensor
        raise InvalidArgumentError(f"DataSplit {split.label!r} failed: {exc}") from exc


def _xy(library: DataLibrary, data: Any, rows: Any, dependent_vars: DependentVars) -> Data:
    """``rows`` as ``Data(x, y)``: the dependent variables (checked to exist) go to ``y``."""
    if dependent_vars.is_empty:
        return Data(x=rows)
    if dependent_vars.is_idx:
        positions = dependent_vars.column_indices
    else:
        columns = library.columns(data) or []
        positions = [columns.index(name) for name in dependent_vars.column_names]
    x, y = library.split_columns(rows, positions)
    return Data(x=x, y=y)


def check_splits(data: Any, splits: DataSplits, dependent_vars: DependentVars) -> None:
    """Check that every split and dependent variable fits ``data``.

    Args:
        data: The dataset.
        splits: The splits to check.
        dependent_vars: The dependent variables to check.

    Raises:
        InvalidArgumentError: ``data`` cannot be split, a column is missing or has the wrong
            type for its split, or a row position is out of range.
    """
    if not len(splits) and dependent_vars.is_empty:
        return
    library = _library(data)
    n_rows = library.n_rows(data)
    columns = library.columns(data)
    for split in splits:
        where = f"DataSplit {split.label!r}"
        if split.column_split is not None:
            name = split.column_split.column_name
            if columns is None:
                raise InvalidArgumentError(
                    f"{where} splits on column {name!r}, but {library.name} data has no named "
                    "columns; use start_stop_split or indice_split"
                )
            if name not in columns:
                raise InvalidArgumentError(
                    f"column {name!r} not found in the data's columns {columns}"
                )
            _check_column_split(library.column_kind(data, name), split.column_split, where)
        elif split.start_stop_split is not None and split.start_stop_split.stop > n_rows:
            raise InvalidArgumentError(
                f"{where}: stop={split.start_stop_split.stop} is past the last row "
                f"(the data has {n_rows} rows)"
            )
        elif split.indice_split is not None and any(
            i >= n_rows for i in split.indice_split.indices
        ):
            raise InvalidArgumentError(
                f"{where}: index {max(split.indice_split.indices)} is out of range "
                f"(the data has {n_rows} rows)"
            )
    _check_dependent_vars(library, data, columns, dependent_vars)


# The split values each kind of column is compared with; date/time columns only as timestamps.
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "numeric": (int, float),
    "string": (str,),
    "bool": (bool, int),
}


def _check_column_split(kind: ColumnKind, split: ColumnSplit, where: str) -> None:
    value = split.column_value
    if split.column_type is ColType.Timestamp:
        if kind not in ("timestamp", "date"):
            raise InvalidArgumentError(
                f"{where}: column {split.column_name!r} is not a date/time column "
                f"({kind}); use ColType.Builtin"
            )
        return
    if kind in ("timestamp", "date"):
        raise InvalidArgumentError(
            f"{where}: column {split.column_name!r} holds dates/times; use "
            "column_type=ColType.Timestamp to compare it"
        )
    types = _VALUE_TYPES.get(kind)
    if types is not None and (
        not isinstance(value, types) or (kind == "numeric" and isinstance(value, bool))
    ):
        raise InvalidArgumentError(
            f"{where}: column {split.column_name!r} is {kind} but the split value "
            f"{value!r} is a {type(value).__name__}"
        )


def _check_dependent_vars(
    library: DataLibrary, data: Any, columns: list[str] | None, dependent_vars: DependentVars
) -> None:
    if dependent_vars.column_names:
        if columns is None:
            raise InvalidArgumentError(
                f"dependent_vars names columns, but {library.name} data has no named columns; "
                "use DependentVars(column_indices=[...])"
            )
        missing = [name for name in dependent_vars.column_names if name not in columns]
        if missing:
            raise InvalidArgumentError(
                f"dependent_vars {missing} not found in the data's columns {columns}"
            )
    if dependent_vars.column_indices:
        n_columns = library.n_columns(data)
        if n_columns is None:
            raise InvalidArgumentError(
                f"dependent_vars need columns, but this {library.name} data is not 2-D"
            )
        if max(dependent_vars.column_indices) >= n_columns:
            raise InvalidArgumentError(
                f"dependent_vars column index {max(dependent_vars.column_indices)} is out of "
                f"range (the data has {n_columns} columns)"
            )


def _tzinfo(tz: Any) -> tzinfo | None:
    """A time zone given as a tzinfo, an IANA name or a fixed offset like ``"+05:30"``."""
    if tz is None or isinstance(tz, tzinfo):
        return tz
    name = str(tz)
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgumentError(f"unknown time zone {name!r} in the data") from exc


def aligned_timestamp(split: ColumnSplit, column_tz: Any) -> datetime:
    """The timestamp of ``split`` made comparable with a column in the time zone ``column_tz``.

    Args:
        split: A ``ColType.Timestamp`` split.
        column_tz: The column's time zone (a tzinfo, an IANA name or an offset such as
            ``"+05:30"``), or ``None`` for a naive column.

    Returns:
        The same instant in the column's zone; for a naive column, a naive value as given,
        or an aware one converted to UTC.

    Raises:
        InvalidArgumentError: The column's time zone is unknown.
    """
    value = split.timestamp()
    tz = _tzinfo(column_tz)
    if tz is None:
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
