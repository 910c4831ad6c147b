"""Ours (``opsml`` from this repository): run with ``.bench-venvs/ours/bin/python``."""

from __future__ import annotations

from _common import parse_args
from _opsml_api import run

if __name__ == "__main__":
    run(
        "ours",
        parse_args(),
        ["opsml", "scikit-learn", "numpy", "pandas", "pyarrow", "sqlalchemy", "pydantic"],
    )
