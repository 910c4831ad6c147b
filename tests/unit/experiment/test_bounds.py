"""The bounds of what an experiment records: refused at the ``log_*`` call (never at the
end of the run), and the extreme values inside them stored exactly on every database and
through the server."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from opsml import CardRegistry, RegistryType
from opsml.cards._tracking import MAX_TIMESTAMP_MS, HardwareMetrics
from opsml.errors import InvalidArgumentError
from opsml.experiment import (
    Experiment,
    Metric,
    Parameter,
    get_experiment_metrics,
    get_experiment_parameters,
    start_experiment,
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

BAD_CALLS: list[tuple[str, Callable[[Experiment], Any], str]] = [
    ("step 2**70", lambda e: e.log_metric("loss", 1.0, step=2**70), "step must be between"),
    ("step -2**63-1", lambda e: e.log_metric("loss", 1.0, step=INT64_MIN - 1), "step"),
    ("step 1.5", lambda e: e.log_metric("loss", 1.0, step=1.5), "must be an integer"),  # type: ignore[arg-type]
    ("timestamp < 0", lambda e: e.log_metric("loss", 1.0, timestamp=-1), "timestamp"),
    (
        "timestamp after 9999",
        lambda e: e.log_metric("loss", 1.0, timestamp=MAX_TIMESTAMP_MS + 1),
        "timestamp",
    ),
    (
        "created_at before 1970",
        lambda e: e.log_metric("loss", 1.0, created_at=datetime(1969, 12, 31, tzinfo=UTC)),
        "timestamp",
    ),
    ("value 10**400", lambda e: e.log_metric("loss", 10**400), "beyond the range of a float"),
    ("value NaN", lambda e: e.log_metric("loss", math.nan), "must be finite"),
    ("value -inf", lambda e: e.log_metric("loss", -math.inf), "must be finite"),
    ("name surrogate", lambda e: e.log_metric("lo\ud800ss", 1.0), "not valid Unicode"),
    ("name 256 chars", lambda e: e.log_metric("x" * 256, 1.0), "1 to 255"),
    ("Metric step", lambda e: e.log_metrics([Metric("loss", 1.0, step=2**63)]), "step"),
    ("param 2**63", lambda e: e.log_parameter("seed", 2**63), "integer parameter"),
    ("param -2**63-1", lambda e: e.log_parameter("seed", INT64_MIN - 1), "integer parameter"),
    ("param inf", lambda e: e.log_parameter("lr", math.inf), "finite"),
    ("param surrogate", lambda e: e.log_parameter("note", "a\udfffb"), "not valid Unicode"),
    ("param too long", lambda e: e.log_parameter("note", "x" * 65537), "65536"),
    ("param name NUL", lambda e: e.log_parameters({"a\x00": 1}), "control characters"),
    ("eval NaN", lambda e: e.log_eval_metrics({"auc": math.nan}), "must be finite"),
]


@pytest.mark.parametrize(
    ("call", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_out_of_range_values_fail_at_the_call_and_the_run_completes(
    sqlite_registry_env: Path, call: Callable[[Experiment], Any], message: str
) -> None:
    with start_experiment(space="s", name="bounds") as exp:
        with pytest.raises(InvalidArgumentError, match=message):
            call(exp)
        exp.log_metric("loss", 0.5, step=1)
    card = CardRegistry(RegistryType.Experiment).load_card(uid=exp.uid)
    assert card.status == "completed", card.error  # nothing bad was buffered for the exit
    assert [(m.name, m.value, m.step) for m in get_experiment_metrics(exp.uid)] == [
        ("loss", 0.5, 1)
    ]


def test_reads_refuse_names_and_uids_no_record_can_have(sqlite_registry_env: Path) -> None:
    with start_experiment(space="s", name="reads") as exp:
        exp.log_metric("loss", 0.5)
    with pytest.raises(InvalidArgumentError, match="control characters"):
        get_experiment_metrics(exp.uid, names=["lo\x00ss"])
    with pytest.raises(InvalidArgumentError, match="not valid Unicode"):
        get_experiment_parameters(exp.uid, names=["\ud800"])
    with pytest.raises(InvalidArgumentError, match="experiment_uid must be a lowercase UUID"):
        get_experiment_metrics("é")


def test_the_extremes_inside_the_bounds_are_stored_exactly(registry_env: Path) -> None:
    """Local mode on SQLite, PostgreSQL and MariaDB, and client mode through a server."""
    text = "line 1\nline\t2 \x00 é 名前 😀 " + "x" * 65000
    with start_experiment(space="s", name="extremes") as exp:
        exp.log_metrics(
            [
                Metric("m", 1.7976931348623157e308, step=INT64_MAX, timestamp=MAX_TIMESTAMP_MS),
                Metric("m", -1.7976931348623157e308, step=INT64_MIN, timestamp=0),
                Metric("m", 2.2250738585072014e-308, step=0),
                Metric("m", np.int64(-(2**53)), step=np.int64(7)),  # type: ignore[arg-type]
            ]
        )
        exp.log_parameters(
            [
                Parameter("max", INT64_MAX),
                Parameter("min", INT64_MIN),
                Parameter("big float", 1e308),
                Parameter("text", text),
                Parameter("empty", ""),
            ]
        )
        exp.flush()
        backend = CardRegistry(RegistryType.Experiment).backend
        sample = HardwareMetrics(
            created_at=datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            cpu_percent_utilization=100.0,
            cpu_percent_per_core=[0.0, 100.0],
            memory_used=INT64_MAX,
            bytes_sent=INT64_MAX,
        )
        backend.log_hardware(exp.uid, [sample])
    points = [(m.value, m.step, m.timestamp) for m in get_experiment_metrics(exp.uid)]
    assert points[:3] == [
        (1.7976931348623157e308, INT64_MAX, MAX_TIMESTAMP_MS),
        (-1.7976931348623157e308, INT64_MIN, 0),
        (2.2250738585072014e-308, 0, points[2][2]),
    ]
    assert points[3][:2] == (-(2**53), 7)
    assert get_experiment_parameters(exp.uid).as_dict() == {
        "big float": 1e308,
        "empty": "",
        "max": INT64_MAX,
        "min": INT64_MIN,
        "text": text,
    }
    stored = backend.get_hardware_metrics(exp.uid)
    assert [(s.created_at, s.memory_used, s.bytes_sent) for s in stored] == [
        (sample.created_at, INT64_MAX, INT64_MAX)
    ]
    card = CardRegistry(RegistryType.Experiment).load_card(uid=exp.uid)
    assert card.status == "completed", card.error


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"memory_used": 2**63}, "memory_used"),
        ({"bytes_recv": -1}, "bytes_recv"),
        ({"cpu_percent_utilization": math.nan}, "cpu_percent_utilization"),
        ({"cpu_percent_per_core": [math.inf]}, "cpu_percent_per_core"),
        ({"created_at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC)}, "before 1970"),
    ],
)
def test_hardware_samples_out_of_range_are_refused(fields: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"created_at": datetime.now(UTC), "cpu_percent_utilization": 1.0}
    with pytest.raises(ValidationError, match=field):
        HardwareMetrics(**{**values, **fields})
