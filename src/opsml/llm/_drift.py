"""``LLMMetric`` and ``LLMDriftProfile`` that take opsml prompts and workflows.

scouter-ml's own classes accept only scouter-ml's ``Prompt`` and ``Workflow``; these are the
names ``opsml.scouter.drift`` exports instead. Calling one converts the opsml prompt or
workflow (``opsml.llm._convert``) and returns scouter-ml's object, so
``isinstance(metric, LLMMetric)`` holds, the profile saves and loads as scouter's, and
every other attribute (``LLMDriftProfile.model_validate_json``, ...) is scouter-ml's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsml._compat import MONITORING_EXTRA, scouter_required
from opsml.errors import InvalidArgumentError, OpsmlError
from opsml.llm._agent import engine_workflow
from opsml.llm._convert import to_scouter

__all__ = ["LLMDriftProfile", "LLMMetric", "create_llm_drift_profile"]


def _scouter_drift() -> Any:
    with scouter_required(MONITORING_EXTRA):
        import scouter.drift

    return scouter.drift


def _call(what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except OpsmlError:
        raise
    except Exception as exc:
        raise InvalidArgumentError(f"scouter could not {what}: {exc}") from exc


class _ScouterFacade(type):
    """A class standing for scouter-ml's class ``_target``: instances and attributes are
    scouter's."""

    _target: str

    def _scouter_class(cls) -> Any:
        return getattr(_scouter_drift(), cls._target)

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls._scouter_class())

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._scouter_class(), name)


class LLMMetric(metaclass=_ScouterFacade):
    """A metric of LLM answers, scored by an evaluation prompt (scouter-ml's ``LLMMetric``).

    Args:
        name: The metric's name.
        value: Its baseline value.
        alert_threshold: ``AlertThreshold.Below``, ``Above`` or ``Outside``.
        alert_threshold_value: How far from ``value`` an observation may be.
        prompt: The evaluation prompt (an opsml :class:`~opsml.llm.Prompt`, typically with
            ``response_format=Score`` and the variables ``${input}`` / ``${response}``).

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        InvalidArgumentError: scouter-ml refused the metric.
    """

    _target = "LLMMetric"

    def __new__(
        cls,
        name: str,
        value: float,
        alert_threshold: Any,
        alert_threshold_value: float | None = None,
        prompt: Any = None,
    ) -> Any:
        engine = _scouter_drift().LLMMetric
        converted = None if prompt is None else to_scouter(prompt)
        return _call(
            f"create LLM metric {name!r}",
            engine,
            name=name,
            value=value,
            alert_threshold=alert_threshold,
            alert_threshold_value=alert_threshold_value,
            prompt=converted,
        )


class LLMDriftProfile(metaclass=_ScouterFacade):
    """The drift profile of LLM answers (scouter-ml's ``LLMDriftProfile``).

    Args:
        config: An ``LLMDriftConfig``.
        metrics: The ``LLMMetric`` list.
        workflow: An opsml :class:`~opsml.llm.Workflow` whose tasks score the answers
            (optional when every metric has its own prompt).

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        InvalidArgumentError: scouter-ml refused the profile.
    """

    _target = "LLMDriftProfile"

    def __new__(cls, config: Any, metrics: Sequence[Any], workflow: Any = None) -> Any:
        engine = _scouter_drift().LLMDriftProfile
        return _call(
            "create an LLM profile",
            engine,
            config=config,
            metrics=list(metrics),
            workflow=None if workflow is None else engine_workflow(workflow),
        )


def create_llm_drift_profile(config: Any, metrics: Any, workflow: Any = None) -> Any:
    """An ``LLMDriftProfile`` from a config, metrics and an optional workflow.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        InvalidArgumentError: The metrics are not ``LLMMetric``s, or scouter-ml refused them.
    """
    drift = _scouter_drift()
    if not isinstance(config, drift.LLMDriftConfig):
        raise InvalidArgumentError(
            f"an LLM drift profile needs an LLMDriftConfig, got {type(config).__name__}"
        )
    items = list(metrics) if isinstance(metrics, list | tuple) else [metrics]
    if not items or not all(isinstance(m, drift.LLMMetric) for m in items):
        raise InvalidArgumentError(
            "an LLM drift profile is made from an LLMMetric or a list of them, "
            f"got {metrics!r:.200}"
        )
    return LLMDriftProfile(config, items, workflow)
