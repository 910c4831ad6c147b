"""ExperimentCard: a training run, the cards it produced, and read access to what it
tracked (metrics, parameters, artifacts). Recording happens in :mod:`opsml.experiment`."""

from __future__ import annotations

import os
import platform
import shutil
import socket
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, Field, PrivateAttr

from opsml._validation import empty_list
from opsml.cards._base import CardBase
from opsml.cards._tracking import Metric, Parameter, Parameters
from opsml.errors import CardNotFoundError, CardStateError, InvalidArgumentError
from opsml.storage import safe_relpath
from opsml.types import RegistryType

__all__ = ["ComputeEnvironment", "ExperimentCard", "TrackingSource", "UidMetadata"]


class TrackingSource(Protocol):
    """Where a loaded ExperimentCard reads its metrics and parameters (the registry)."""

    def get_metrics(self, experiment_uid: str, names: Sequence[str] | None = None) -> list[Metric]:
        """Metric points in logging order."""
        ...

    def get_parameters(
        self, experiment_uid: str, names: Sequence[str] | None = None
    ) -> list[Parameter]:
        """Parameters in name order."""
        ...


class UidMetadata(BaseModel):
    """uids of the cards an experiment produced or contains."""

    datacard_uids: list[str] = Field(default_factory=empty_list)
    modelcard_uids: list[str] = Field(default_factory=empty_list)
    promptcard_uids: list[str] = Field(default_factory=empty_list)
    service_card_uids: list[str] = Field(default_factory=empty_list)
    experimentcard_uids: list[str] = Field(default_factory=empty_list)


def _total_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


class ComputeEnvironment(BaseModel):
    """Where an experiment ran: cpu count, memory, OS, hostname, Python version."""

    cpu_count: int = Field(default_factory=lambda: os.cpu_count() or 0)
    total_memory: int = Field(default_factory=_total_memory)
    system: str = Field(default_factory=platform.system)
    os_version: str = Field(default_factory=platform.release)
    hostname: str = Field(default_factory=socket.gethostname)
    python_version: str = Field(default_factory=platform.python_version)


class ExperimentCard(CardBase):
    """A versioned record of one training run and the cards it produced."""

    registry_type: ClassVar[RegistryType] = RegistryType.Experiment

    uids: UidMetadata = Field(default_factory=UidMetadata)
    compute_environment: ComputeEnvironment = Field(default_factory=ComputeEnvironment)
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    """Evaluation results logged with ``Experiment.log_eval_metrics`` (``{name: value}``)."""
    status: str = "created"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None

    _tracking: TrackingSource | None = PrivateAttr(default=None)

    def __init__(
        self,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        **data: Any,
    ) -> None:
        """Create an ExperimentCard.

        Args:
            space: Space of the card.
            name: Name of the card.
            version: A version to request (partial or full).
            uid: Set by the registry.
            tags: Free-form tags.
        """
        super().__init__(space=space, name=name, version=version, uid=uid, tags=tags or [], **data)

    def _attach_tracking(self, source: TrackingSource | None) -> None:
        self._tracking = source

    def _require_tracking(self) -> TrackingSource:
        if self._tracking is None or self.uid is None:
            raise CardStateError(
                f"ExperimentCard {self.space}/{self.name} is not loaded from a registry"
            )
        return self._tracking

    def get_metrics(self, names: list[str] | None = None) -> dict[str, list[Metric]]:
        """The metric points, grouped by metric name, each in step order.

        Args:
            names: Only these metrics (all when omitted).
        """
        points = self._require_tracking().get_metrics(str(self.uid), names)
        grouped: dict[str, list[Metric]] = {}
        for point in points:
            grouped.setdefault(point.name, []).append(point)
        for series in grouped.values():
            series.sort(key=lambda m: (m.step if m.step is not None else -1, m.timestamp))
        return grouped

    def get_parameters(self, names: list[str] | None = None) -> Parameters:
        """The parameters (``.as_dict()`` for ``{name: value}``)."""
        return Parameters(self._require_tracking().get_parameters(str(self.uid), names))

    def list_artifacts(self, path: str | None = None) -> list[str]:
        """Paths of the logged files (under ``path`` when given), sorted."""
        files = sorted(self.manifest.files) if self.manifest else []
        if path:
            prefix = path.strip("/") + "/"
            files = [f for f in files if f.startswith(prefix) or f == path.strip("/")]
        return files

    def download_artifacts(self, path: str | None = None, lpath: Path | str | None = None) -> Path:
        """Copy the logged files (under ``path`` when given) into ``lpath`` (default
        ``artifacts``), each verified against the card's manifest.

        Returns:
            The folder written.
        """
        wanted = self.list_artifacts(path)
        dest = Path(lpath) if lpath is not None else Path("artifacts")
        with self._require_source().local_folder() as folder:
            for rel in wanted:
                target = dest / safe_relpath(rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / safe_relpath(rel), target)
        return dest

    def _artifact_path(self, path: str) -> str:
        """The logged file ``path`` names: its full path among the card's files, or (as
        OpsML 3 accepts) its path relative to ``artifacts/`` or just its file name."""
        files = sorted(self.manifest.files) if self.manifest else []
        wanted = path.strip().strip("/")
        if wanted in files:
            return wanted
        matches = [f for f in files if wanted and f.endswith("/" + wanted)]
        if len(matches) > 1:
            raise InvalidArgumentError(
                f"experiment {self.uid} has several artifacts ending in {path!r}: "
                f"{', '.join(matches)}; give the full path"
            )
        if not matches:
            raise CardNotFoundError(f"experiment {self.uid} has no artifact {path!r}")
        return matches[0]

    def download_artifact(self, path: str, lpath: Path | str | None = None) -> Path:
        """Copy one logged file into the folder ``lpath`` (default ``artifacts``, as
        OpsML 3's), verified against the card's manifest.

        Args:
            path: The file's path among the artifacts (as ``list_artifacts`` shows it), or the
                end of it, e.g. its file name (``"data_0.pkl"``) when that names one file.
            lpath: The folder to copy it into.

        Returns:
            The copied file (``lpath/<file name>``).

        Raises:
            CardNotFoundError: No such file was logged.
            InvalidArgumentError: ``path`` is the end of several files' paths.
        """
        rel = self._artifact_path(path)
        dest = Path(lpath) if lpath is not None else Path("artifacts")
        with self._require_source().local_folder() as folder:
            target = dest / Path(safe_relpath(rel)).name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / safe_relpath(rel), target)
        return target

    def add_child_experiment(self, uid: str) -> None:
        """Record ``uid`` as a child experiment of this one."""
        if uid not in self.uids.experimentcard_uids:
            self.uids.experimentcard_uids.append(uid)

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        links = {
            RegistryType.Data: self.uids.datacard_uids,
            RegistryType.Model: self.uids.modelcard_uids,
            RegistryType.Prompt: self.uids.promptcard_uids,
            RegistryType.Service: self.uids.service_card_uids,
            RegistryType.Experiment: self.uids.experimentcard_uids,
        }
        return {registry: list(uids) for registry, uids in links.items() if uids}
