"""The metadata store knows its newest migration, so an up-to-date database is opened
without taking the migration lock."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

import opsml.store._engine as engine_module
from opsml.store._engine import HEAD_REVISION


def test_head_revision_is_the_newest_migration() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_heads() == [HEAD_REVISION]
