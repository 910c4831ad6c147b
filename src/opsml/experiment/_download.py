"""``download_artifact``: one file of a registered experiment, by the experiment's uid."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from opsml._validation import check_uid
from opsml.cards import ExperimentCard
from opsml.registry import CardRegistry
from opsml.types import RegistryType

__all__ = ["download_artifact"]


def download_artifact(experiment_uid: str, path: str, lpath: Path | str | None = None) -> Path:
    """Copy one file logged by an experiment into the folder ``lpath`` (OpsML 3's function;
    the same as ``load_card(uid=...).download_artifact(path, lpath)``).

    Args:
        experiment_uid: The experiment's uid.
        path: The file's path among the experiment's artifacts, or its end (e.g. its file
            name) when that names one file.
        lpath: The folder to copy it into (default ``artifacts``).

    Returns:
        The copied file.

    Raises:
        InvalidArgumentError: ``experiment_uid`` is not a card uid, or ``path`` is the end of
            several files' paths.
        CardNotFoundError: No such experiment, or it logged no such file.
    """
    check_uid(experiment_uid, "experiment_uid")
    registry = CardRegistry(RegistryType.Experiment)
    card = cast(ExperimentCard, registry.load_card(uid=experiment_uid))
    return card.download_artifact(path, lpath)
