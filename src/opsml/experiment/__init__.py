"""Experiments: track training runs and link the cards they produce (SPEC §7)."""

from __future__ import annotations

from opsml.cards import (
    EvalMetrics,
    HardwareMetrics,
    Metric,
    Metrics,
    Parameter,
    Parameters,
)
from opsml.experiment._download import download_artifact
from opsml.experiment._experiment import (
    Experiment,
    get_experiment_metrics,
    get_experiment_parameters,
    start_experiment,
)

__all__ = [
    "EvalMetrics",
    "Experiment",
    "HardwareMetrics",
    "Metric",
    "Metrics",
    "Parameter",
    "Parameters",
    "download_artifact",
    "get_experiment_metrics",
    "get_experiment_parameters",
    "start_experiment",
]
