"""OpsML 3 (``opsml==3.0.0rc16``): run with ``.bench-venvs/opsml3/bin/python``."""

from __future__ import annotations

from _common import parse_args
from _opsml_api import run

if __name__ == "__main__":
    run("opsml3", parse_args(), ["opsml", "scikit-learn", "numpy", "pandas", "pyarrow"])
