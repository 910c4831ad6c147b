"""What an experiment records: metrics, parameters and hardware samples (SPEC §7).

Values are validated when they are logged, not when they are written, so a bad value fails
at the ``log_*`` call that made it and never at the end of a run:

- metric names: 1-255 characters, no control characters; ``/``, spaces and dots are kept
  as given (``train/loss``, ``val acc``);
- metric values: finite numbers (``int``, ``float`` or NumPy scalars); ``NaN`` and
  infinities are refused (no SQL database stores them alike), as are booleans and strings;
- parameter values: ``int``, ``float`` (finite), ``str`` (up to 64 KiB) or ``bool``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from opsml._validation import translate_validation_error
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
]

MAX_NAME = 255
MAX_TEXT = 65536


def check_metric_name(name: object, what: str = "metric") -> str:
    """Return ``name`` if it is a valid metric/parameter name.

    Raises:
        InvalidArgumentError: Empty, longer than 255 characters, or with control characters.
    """
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise InvalidArgumentError(f"a {what} name needs 1 to {MAX_NAME} characters, got {name!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidArgumentError(f"{what} name {name!r} contains control characters")
    return name


def check_metric_value(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number.

    Raises:
        InvalidArgumentError: Not a number, a boolean, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(
            f"metric {name!r} needs a number, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"metric {name!r} must be finite, got {number}")
    return number


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

    @field_validator("step", "timestamp", mode="before")
    @classmethod
    def _check_int(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidArgumentError(f"step and timestamp must be integers, got {value!r}")
        return value

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
            InvalidArgumentError: Bad name, or a value that is not int/float/str/bool, a
                non-finite float or a string over 64 KiB.
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
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise InvalidArgumentError(f"a parameter is longer than {MAX_TEXT} characters")
        return value  # no coercion: True stays a bool, 1 stays an int


class HardwareMetrics(BaseModel):
    """One sample of the machine's load during an experiment."""

    created_at: datetime
    cpu_percent_utilization: float
    cpu_percent_per_core: list[float] = Field(default_factory=list)
    memory_used: int = 0
    memory_available: int = 0
    memory_percent: float = 0.0
    bytes_recv: int = 0
    bytes_sent: int = 0


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
