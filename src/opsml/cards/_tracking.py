"""What an experiment records: metrics, parameters and hardware samples (SPEC §7).

Values are validated when they are logged, not when they are written, so a bad value fails
at the ``log_*`` call that made it and never at the end of a run. The bounds are what every
database (SQLite, PostgreSQL, MariaDB) stores alike:

- metric and parameter names: 1-255 characters of valid Unicode, no control characters;
  ``/``, spaces and dots are kept as given (``train/loss``, ``val acc``);
- metric values: finite numbers (``int``, ``float`` or NumPy scalars) within the range of a
  64-bit float; ``NaN`` and infinities are refused (MariaDB cannot store them, SQLite turns
  NaN into NULL), as are booleans and strings;
- steps: signed 64-bit integers; timestamps: milliseconds from 1970-01-01 to the end of
  9999-12-31 (UTC), the range of a Python ``datetime``;
- parameter values: ``int`` (signed 64 bits), ``float`` (finite), ``str`` (up to 64 Ki
  characters of valid Unicode) or ``bool``;
- hardware samples: non-negative finite numbers, byte counts within signed 64 bits, a time
  within the timestamp range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from opsml._validation import (
    INT64_MAX,
    check_int64,
    check_text,
    empty_list,
    translate_validation_error,
)
from opsml.errors import InvalidArgumentError

__all__ = [
    "EvalMetrics",
    "HardwareMetrics",
    "Metric",
    "Metrics",
    "Parameter",
    "Parameters",
    "check_metric_name",
    "check_metric_value",
    "check_step",
    "check_timestamp",
]

MAX_NAME = 255
MAX_TEXT = 65536
MAX_TIMESTAMP_MS = 253_402_300_799_999
"""The last millisecond of 9999-12-31 (UTC): the latest time a ``datetime`` can hold."""
MAX_CORES = 4096


def check_metric_name(name: object, what: str = "metric") -> str:
    """Return ``name`` if it is a valid metric/parameter name.

    Raises:
        InvalidArgumentError: Not a string, empty, longer than 255 characters, with control
            characters or not valid Unicode.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a {what} name needs 1 to {MAX_NAME} characters, got {name!r}")
    return check_text(name, f"{what} name", MAX_NAME)


def check_metric_value(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number.

    Raises:
        InvalidArgumentError: Not a number, a boolean, NaN, infinite or beyond a 64-bit float.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(
            f"metric {name!r} needs a number, got {type(value).__name__} {value!r}"
        )
    try:
        number = float(value)
    except OverflowError:
        raise InvalidArgumentError(f"metric {name!r} is beyond the range of a float") from None
    if not math.isfinite(number):
        raise InvalidArgumentError(f"metric {name!r} must be finite, got {number}")
    return number + 0.0  # -0.0 becomes 0.0, as MariaDB and SQLite would store it


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{what} must be an integer, got {value!r}")
    return int(value)


def check_step(value: object) -> int | None:
    """Return ``value`` if it is ``None`` or a signed 64-bit integer.

    Raises:
        InvalidArgumentError: Not an integer, or out of range.
    """
    return None if value is None else check_int64(_integer(value, "step"), "step")


def check_timestamp(value: object) -> int:
    """Return ``value`` if it is milliseconds between 1970-01-01 and the end of 9999 (UTC).

    Raises:
        InvalidArgumentError: Not an integer, or out of range.
    """
    return check_int64(_integer(value, "timestamp"), "timestamp (ms)", 0, MAX_TIMESTAMP_MS)


def _check_time(value: datetime) -> datetime:
    """A time within the timestamp range, in UTC (a naive time is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise InvalidArgumentError(f"time {value.isoformat()} is out of range") from None
    if value.year < 1970:
        raise InvalidArgumentError(f"time {value.isoformat()} is before 1970")
    return value


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


class Metric(BaseModel):
    """One metric point.

    Attributes:
        name: The metric's name (``/`` and spaces allowed).
        value: A finite number.
        step: The training step, if any.
        timestamp: Milliseconds since the epoch (set when logged when omitted).
        is_eval: Logged with ``log_eval_metrics``.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    step: int | None = None
    timestamp: int = Field(default_factory=_now_ms)
    is_eval: bool = False

    def __init__(
        self,
        name: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
        is_eval: bool = False,
        **data: Any,
    ) -> None:
        """Create a metric point (OpsML 3's argument order).

        Raises:
            InvalidArgumentError: Bad name, value, step or timestamp.
        """
        if timestamp is not None:
            data["timestamp"] = timestamp
        try:
            super().__init__(name=name, value=value, step=step, is_eval=is_eval, **data)
        except ValidationError as exc:
            raise translate_validation_error(exc, "Metric") from None

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> str:
        return check_metric_name(value)

    @model_validator(mode="before")
    @classmethod
    def _check_value(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value" in data:
            data = {**data, "value": check_metric_value(str(data.get("name")), data["value"])}
        return data

    @field_validator("step", mode="before")
    @classmethod
    def _check_step(cls, value: object) -> int | None:
        return check_step(value)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _check_timestamp(cls, value: object) -> int:
        return check_timestamp(value)

    @property
    def created_at(self) -> datetime:
        """When the point was logged (from ``timestamp``)."""
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)


class Parameter(BaseModel):
    """One parameter: a name and an int, float, str or bool value."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: bool | int | float | str

    def __init__(self, name: str, value: bool | int | float | str, **data: Any) -> None:
        """Create a parameter.

        Raises:
            InvalidArgumentError: Bad name, or a value that is not int/float/str/bool, an
                integer beyond 64 bits, a non-finite float, or a string over 64 Ki
                characters or not valid Unicode.
        """
        try:
            super().__init__(name=name, value=value, **data)
        except ValidationError as exc:
            raise translate_validation_error(exc, "Parameter") from None

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> str:
        return check_metric_name(value, "parameter")

    @field_validator("value", mode="plain")
    @classmethod
    def _check_value(cls, value: object) -> object:
        if not isinstance(value, bool | int | float | str):
            raise InvalidArgumentError(
                f"a parameter needs an int, float, str or bool, got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgumentError(f"a parameter must be finite, got {value}")
        if isinstance(value, int) and not isinstance(value, bool):
            check_int64(value, "an integer parameter")
        if isinstance(value, str):
            check_text(value, "a parameter", MAX_TEXT, controls=True, empty=True)
        return value  # no coercion: True stays a bool, 1 stays an int


_Percent = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_Bytes = Annotated[int, Field(ge=0, le=INT64_MAX)]


class HardwareMetrics(BaseModel):
    """One sample of the machine's load during an experiment (non-negative finite
    numbers, byte counts within signed 64 bits, a time from 1970 to 9999)."""

    created_at: datetime
    cpu_percent_utilization: _Percent
    cpu_percent_per_core: list[_Percent] = Field(default_factory=empty_list, max_length=MAX_CORES)
    memory_used: _Bytes = 0
    memory_available: _Bytes = 0
    memory_percent: _Percent = 0.0
    bytes_recv: _Bytes = 0
    bytes_sent: _Bytes = 0

    @field_validator("created_at", mode="after")
    @classmethod
    def _check_created_at(cls, value: datetime) -> datetime:
        return _check_time(value)


class _Sequence(Sequence[Any]):
    def __init__(self, items: Sequence[Any]) -> None:
        self._items = list(items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Metrics(_Sequence):
    """Metric points in logging order; ``by_name()`` groups them per metric."""

    def by_name(self) -> dict[str, list[Metric]]:
        """The points grouped by metric name, each in step (then time) order."""
        grouped: dict[str, list[Metric]] = {}
        for metric in self._items:
            grouped.setdefault(metric.name, []).append(metric)
        for points in grouped.values():
            points.sort(key=lambda m: (m.step if m.step is not None else -1, m.timestamp))
        return grouped


class Parameters(_Sequence):
    """Parameters of an experiment; ``as_dict()`` maps names to values."""

    def as_dict(self) -> dict[str, bool | int | float | str]:
        """``{name: value}``."""
        return {p.name: p.value for p in self._items}


class EvalMetrics:
    """Evaluation results: ``{name: value}`` logged with ``log_eval_metrics``."""

    def __init__(self, metrics: dict[str, float]) -> None:
        """Validate the values (finite numbers).

        Raises:
            InvalidArgumentError: A bad name or value.
        """
        if not isinstance(metrics, dict):
            raise InvalidArgumentError("EvalMetrics needs a dict of {name: value}")
        self.metrics = {check_metric_name(k): check_metric_value(k, v) for k, v in metrics.items()}

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def __repr__(self) -> str:
        return f"EvalMetrics({self.metrics!r})"
