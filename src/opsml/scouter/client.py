"""Scouter server client types (OpsML 3's ``opsml.scouter.client``, from scouter-ml)."""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.client import (
        Alert,
        BinnedMetric,
        BinnedMetrics,
        BinnedMetricStats,
        BinnedPsiFeatureMetrics,
        BinnedPsiMetric,
        BinnedSpcFeatureMetrics,
        DriftAlertRequest,
        DriftRequest,
        GetProfileRequest,
        HTTPConfig,
        ProfileStatusRequest,
        ScouterClient,
        SpcDriftFeature,
        TimeInterval,
    )

__all__ = [
    "Alert",
    "BinnedMetric",
    "BinnedMetricStats",
    "BinnedMetrics",
    "BinnedPsiFeatureMetrics",
    "BinnedPsiMetric",
    "BinnedSpcFeatureMetrics",
    "DriftAlertRequest",
    "DriftRequest",
    "GetProfileRequest",
    "HTTPConfig",
    "ProfileStatusRequest",
    "ScouterClient",
    "SpcDriftFeature",
    "TimeInterval",
]
