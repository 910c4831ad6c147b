"""Drift configurations and profiles (OpsML 3's ``opsml.scouter.drift``, from scouter-ml).

``Drifter().create_drift_profile`` is scouter-ml's own: it does not take pandas 3 frames.
The interfaces' ``create_drift_profile`` (``SklearnModel(...).create_drift_profile``) does,
converting at the boundary (``docs/monitoring.md``).
"""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.drift import (
        CustomDriftProfile,
        CustomMetric,
        CustomMetricDriftConfig,
        Drifter,
        FeatureMap,
        LLMDriftConfig,
        PsiDriftConfig,
        PsiDriftMap,
        PsiDriftProfile,
        SpcDriftConfig,
        SpcDriftMap,
        SpcDriftProfile,
        SpcFeatureDrift,
        SpcFeatureDriftProfile,
    )

# scouter-ml's LLMMetric / LLMDriftProfile take only its own Prompt and Workflow; these take
# opsml's (and return scouter-ml's objects): docs/prompts.md.
from opsml.llm._drift import LLMDriftProfile, LLMMetric

__all__ = [
    "CustomDriftProfile",
    "CustomMetric",
    "CustomMetricDriftConfig",
    "Drifter",
    "FeatureMap",
    "LLMDriftConfig",
    "LLMDriftProfile",
    "LLMMetric",
    "PsiDriftConfig",
    "PsiDriftMap",
    "PsiDriftProfile",
    "SpcDriftConfig",
    "SpcDriftMap",
    "SpcDriftProfile",
    "SpcFeatureDrift",
    "SpcFeatureDriftProfile",
]
