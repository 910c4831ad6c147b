"""Scouter's enumerations (OpsML 3's ``opsml.scouter.types``, from scouter-ml).

``DataType`` here is scouter's (Pandas, Polars, Numpy, Arrow); ``opsml.data.DataType`` is
opsml's, and both are accepted by ``create_drift_profile``.
"""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.types import CommonCrons, DataType, DriftType

__all__ = ["CommonCrons", "DataType", "DriftType"]
