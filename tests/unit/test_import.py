"""`import opsml` stays cheap: no heavy library is imported until used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["pandas", "numpy", "sklearn", "sqlalchemy", "fastapi", "pydantic", "alembic", "torch"]


def test_import_opsml_imports_nothing_heavy() -> None:
    code = (
        "import json, sys; import opsml; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names_resolve_lazily() -> None:
    import opsml

    for name in opsml.__all__:
        assert getattr(opsml, name) is not None, name
