"""Scouter's data profiles (OpsML 3's ``opsml.scouter.profile``, from scouter-ml)."""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.profile import (
        CharStats,
        DataProfile,
        DataProfiler,
        Distinct,
        FeatureProfile,
        Histogram,
        NumericStats,
        Quantiles,
        StringStats,
        WordStats,
    )

__all__ = [
    "CharStats",
    "DataProfile",
    "DataProfiler",
    "Distinct",
    "FeatureProfile",
    "Histogram",
    "NumericStats",
    "Quantiles",
    "StringStats",
    "WordStats",
]
