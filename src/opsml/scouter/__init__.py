"""Drift monitoring: OpsML 3's ``opsml.scouter``, built on scouter-ml 0.10.0.

The names, here and in the submodules ``alert``, ``client``, ``drift``, ``observe``,
``profile``, ``queue``, ``types`` and ``util``, are exactly those OpsML 3.0.0-rc.16 exports,
and they are scouter-ml's own classes (re-exported, not wrapped): a profile made with
``opsml.scouter`` is a scouter profile. scouter-ml is the optional extra ``monitoring``;
without it, importing any of these raises :class:`~opsml.errors.MissingDependencyError`
naming that extra. Why 0.10.0 and not a newer release: ``docs/monitoring.md``.
"""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.alert import CustomMetricAlertConfig, PsiAlertConfig, SpcAlertConfig
    from scouter.client import HTTPConfig, ScouterClient
    from scouter.drift import (
        CustomDriftProfile,
        CustomMetric,
        CustomMetricDriftConfig,
        Drifter,
        PsiDriftConfig,
        PsiDriftProfile,
        SpcDriftConfig,
        SpcDriftProfile,
    )
    from scouter.profile import DataProfile, DataProfiler
    from scouter.queue import (
        Feature,
        Features,
        KafkaConfig,
        Metric,
        Metrics,
        Queue,
        RabbitMQConfig,
        ScouterQueue,
    )
    from scouter.types import CommonCrons

__all__ = [
    "CommonCrons",
    "CustomDriftProfile",
    "CustomMetric",
    "CustomMetricAlertConfig",
    "CustomMetricDriftConfig",
    "DataProfile",
    "DataProfiler",
    "Drifter",
    "Feature",
    "Features",
    "HTTPConfig",
    "KafkaConfig",
    "Metric",
    "Metrics",
    "PsiAlertConfig",
    "PsiDriftConfig",
    "PsiDriftProfile",
    "Queue",
    "RabbitMQConfig",
    "ScouterClient",
    "ScouterQueue",
    "SpcAlertConfig",
    "SpcDriftConfig",
    "SpcDriftProfile",
]
