"""``opsml.scouter`` exports exactly OpsML 3.0.0-rc.16's names, as scouter-ml's own classes."""

from __future__ import annotations

import importlib
import sys

import pytest
import scouter  # noqa: F401  (the monitoring extra: the core-only run leaves this file out)

from opsml.errors import MissingDependencyError

# OpsML 3.0.0-rc.16's ``__all__`` of each module (``util`` has none: its public functions).
RC16_NAMES: dict[str, set[str]] = {
    "opsml.scouter": {
        "Drifter", "SpcDriftConfig", "SpcDriftProfile", "PsiDriftConfig", "PsiDriftProfile",
        "CustomMetric", "CustomDriftProfile", "CustomMetricDriftConfig", "DataProfiler",
        "DataProfile", "ScouterQueue", "Queue", "KafkaConfig", "RabbitMQConfig", "Feature",
        "Features", "Metric", "Metrics", "CommonCrons", "PsiAlertConfig", "SpcAlertConfig",
        "CustomMetricAlertConfig", "HTTPConfig", "ScouterClient",
    },
    "opsml.scouter.alert": {
        "AlertZone", "SpcAlertType", "SpcAlertRule", "PsiAlertConfig", "SpcAlertConfig",
        "SpcAlert", "AlertThreshold", "CustomMetricAlertCondition", "CustomMetricAlertConfig",
        "SlackDispatchConfig", "OpsGenieDispatchConfig", "ConsoleDispatchConfig",
        "AlertDispatchType", "PsiNormalThreshold", "PsiChiSquareThreshold", "PsiFixedThreshold",
        "LLMMetricAlertCondition", "LLMAlertConfig",
    },
    "opsml.scouter.client": {
        "TimeInterval", "DriftRequest", "ScouterClient", "BinnedMetricStats", "BinnedMetric",
        "BinnedMetrics", "BinnedPsiMetric", "BinnedPsiFeatureMetrics", "SpcDriftFeature",
        "BinnedSpcFeatureMetrics", "HTTPConfig", "ProfileStatusRequest", "Alert",
        "DriftAlertRequest", "GetProfileRequest",
    },
    "opsml.scouter.drift": {
        "FeatureMap", "SpcFeatureDriftProfile", "SpcDriftConfig", "SpcDriftProfile",
        "SpcFeatureDrift", "SpcDriftMap", "PsiDriftConfig", "PsiDriftProfile", "PsiDriftMap",
        "CustomMetricDriftConfig", "CustomMetric", "CustomDriftProfile", "LLMMetric",
        "LLMDriftConfig", "LLMDriftProfile", "Drifter",
    },
    "opsml.scouter.observe": {"LatencyMetrics", "RouteMetrics", "ObservabilityMetrics", "Observer"},
    "opsml.scouter.profile": {
        "Distinct", "Quantiles", "Histogram", "NumericStats", "CharStats", "WordStats",
        "StringStats", "FeatureProfile", "DataProfile", "DataProfiler",
    },
    "opsml.scouter.queue": {
        "ScouterQueue", "Queue", "KafkaConfig", "RabbitMQConfig", "RedisConfig",
        "SpcServerRecord", "PsiServerRecord", "CustomMetricServerRecord", "ServerRecord",
        "ServerRecords", "Feature", "Features", "RecordType", "Metric", "Metrics", "LLMRecord",
        "EntityType",
    },
    "opsml.scouter.types": {"DriftType", "CommonCrons", "DataType"},
    "opsml.scouter.util": {"get_base_type", "convert_to_features", "FeatureMixin"},
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(RC16_NAMES))
def test_each_module_exports_exactly_opsml_rc16_names(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == RC16_NAMES[module]
    assert all(getattr(imported, name) is not None for name in imported.__all__)


def test_the_names_are_scouter_ml_classes_not_copies() -> None:
    from scouter.drift import PsiDriftConfig as ScouterPsiDriftConfig

    from opsml.scouter import PsiDriftConfig
    from opsml.scouter.drift import PsiDriftConfig as DriftPsiDriftConfig

    assert PsiDriftConfig is ScouterPsiDriftConfig is DriftPsiDriftConfig


def test_observe_classes_work_despite_scouter_own_observe_package() -> None:
    from opsml.scouter.observe import Observer, RouteMetrics

    assert Observer.__name__ == "Observer"
    assert RouteMetrics.__name__ == "RouteMetrics"


def test_feature_mixin_turns_annotated_fields_into_features() -> None:
    from opsml.scouter.queue import Features
    from opsml.scouter.util import FeatureMixin

    class Request(FeatureMixin):
        age: int
        score: float
        city: str

        def __init__(self) -> None:
            self.age, self.score, self.city = 3, 0.5, "x"

    features = Request().to_features()
    assert isinstance(features, Features)
    kinds = [type(feature).__name__ for feature in features.features]
    assert kinds == ["Feature_Int", "Feature_Float", "Feature_String"]


@pytest.mark.parametrize("module", sorted(RC16_NAMES))
def test_without_scouter_every_module_names_the_monitoring_extra(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m.startswith(("scouter.", "opsml.scouter"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scouter", None)  # import scouter now fails, as uninstalled
    with pytest.raises(MissingDependencyError, match=r"pip install 'opsml\[monitoring\]'"):
        importlib.import_module(module)
