"""Importing from other registries: ``opsml import mlflow`` (docs/import-mlflow.md)."""

from __future__ import annotations

from opsml.importer._mlflow import (
    ImportProgress,
    ImportReport,
    Skipped,
    card_name,
    import_mlflow,
)

__all__ = ["ImportProgress", "ImportReport", "Skipped", "card_name", "import_mlflow"]
