"""Experiment tracking tables keep what was logged on every database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from opsml import CardRegistry, RegistryType
from opsml.experiment import (
    Metric,
    get_experiment_metrics,
    get_experiment_parameters,
    start_experiment,
)


def test_names_and_values_round_trip_exactly(local_registry_env: Path) -> None:
    long_name = "é" * 255
    hardware = importlib.util.find_spec("psutil") is not None  # the experiment extra
    with start_experiment(space="s", name="exact", log_hardware=hardware) as exp:
        exp.log_metrics(
            [
                Metric("loss", 0.1 + 1e-12, step=2**40),
                Metric("Loss", -1e300),
                Metric("loss ", 5e-324),
                Metric("résumé/acc", 0.5),
                Metric(long_name, 1.0),
            ]
        )
        exp.log_parameters({"lr": 0.1, "LR": 2, "lr ": "x" * 65536, "flag": False, "ü": "u"})
        exp.log_parameters({"lr": 0.25})  # replaces, does not duplicate
        uid = exp.uid

    points = {m.name: m for m in get_experiment_metrics(uid)}
    assert set(points) == {"loss", "Loss", "loss ", "résumé/acc", long_name}
    assert points["loss"].value == 0.1 + 1e-12  # double precision, not FLOAT
    assert points["loss"].step == 2**40
    assert points["Loss"].value == -1e300
    assert points["loss "].value == 5e-324
    # Name filters match exactly: no case, accent or trailing-space folding.
    assert [m.name for m in get_experiment_metrics(uid, names=["loss"])] == ["loss"]
    assert [m.name for m in get_experiment_metrics(uid, names=["resume/acc"])] == []

    params = get_experiment_parameters(uid).as_dict()
    assert params == {"LR": 2, "flag": False, "lr": 0.25, "lr ": "x" * 65536, "ü": "u"}
    assert get_experiment_parameters(uid, names=["lr"]).as_dict() == {"lr": 0.25}

    card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
    assert card.status == "completed"
    samples = CardRegistry(RegistryType.Experiment).backend.get_hardware_metrics(uid)
    if hardware:
        assert samples
        assert samples[0].created_at.tzinfo is not None
