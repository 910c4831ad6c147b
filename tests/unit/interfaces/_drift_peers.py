"""The two profiles the drift tests compare: scouter's own and opsml's (import after
``pytest.importorskip("scouter")``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scouter.drift import Drifter
from scouter.types import DataType

from opsml import SklearnModel


def scouter_profile(data: Any, config: Any) -> Any:
    """scouter's own profile (a pandas frame as the polars frame scouter takes)."""
    if isinstance(data, pd.DataFrame):
        data = pl.from_pandas(data)
    kind = DataType.Numpy if isinstance(data, np.ndarray) else DataType.Polars
    return Drifter().create_drift_profile(data, config, kind)


def opsml_profile(alias: str, data: Any, config: Any) -> Any:
    """The profile opsml makes, through a model interface as users make it."""
    return SklearnModel().create_drift_profile(alias, data, config)
