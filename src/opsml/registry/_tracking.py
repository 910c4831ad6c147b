"""Experiment tracking in the local backend: metrics, parameters, hardware samples and
artifacts added to a registered ExperimentCard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opsml.cards import CARD_FILE, HardwareMetrics, Metric, Parameter, card_class
from opsml.errors import CardTypeError, InvalidArgumentError
from opsml.storage import ArtifactStorage, Manifest, ObjectStorage, copy_verified
from opsml.store import ExperimentStore, SqlStore
from opsml.types import RegistryType

__all__ = ["LocalTracking"]


class LocalTracking:
    """Tracking operations of :class:`~opsml.registry.LocalBackend` (mixed into it)."""

    store: SqlStore
    storage: ArtifactStorage

    @property
    def tracking(self) -> ExperimentStore:
        """The tracking tables."""
        return ExperimentStore(self.store)

    def _experiment(self, experiment_uid: str) -> None:
        self.store.get(RegistryType.Experiment, experiment_uid)  # CardNotFoundError if absent

    def log_metrics(self, experiment_uid: str, metrics: Sequence[Metric]) -> None:
        """Store a batch of metric points of a registered experiment."""
        self._experiment(experiment_uid)
        self.tracking.add_metrics(
            experiment_uid,
            [
                {
                    "name": m.name,
                    "value": m.value,
                    "step": m.step,
                    "timestamp": m.timestamp,
                    "is_eval": m.is_eval,
                }
                for m in metrics
            ],
        )

    def log_parameters(self, experiment_uid: str, parameters: Sequence[Parameter]) -> None:
        """Store (or replace) parameters of a registered experiment."""
        self._experiment(experiment_uid)
        self.tracking.set_parameters(experiment_uid, {p.name: p.value for p in parameters})

    def log_hardware(self, experiment_uid: str, samples: Sequence[HardwareMetrics]) -> None:
        """Store hardware samples of a registered experiment."""
        self._experiment(experiment_uid)
        self.tracking.add_hardware(experiment_uid, [s.model_dump(mode="json") for s in samples])

    def get_metrics(self, experiment_uid: str, names: Sequence[str] | None = None) -> list[Metric]:
        """Metric points of an experiment in logging order (only ``names`` when given)."""
        return [
            Metric(r.name, r.value, r.step, int(r.timestamp), bool(r.is_eval))
            for r in self.tracking.metrics(experiment_uid, names)
        ]

    def get_parameters(
        self, experiment_uid: str, names: Sequence[str] | None = None
    ) -> list[Parameter]:
        """Parameters of an experiment in name order."""
        return [Parameter(k, v) for k, v in self.tracking.parameters(experiment_uid, names).items()]

    def get_hardware_metrics(self, experiment_uid: str) -> list[HardwareMetrics]:
        """Hardware samples of an experiment in time order."""
        return [HardwareMetrics.model_validate(s) for s in self.tracking.hardware(experiment_uid)]

    def add_artifacts(self, registry: RegistryType, uid: str, folder: Path) -> Manifest:
        """Add the files of ``folder`` to a registered experiment's artifacts.

        Files already stored keep their content: the same path with the same bytes is
        skipped, with other bytes it is refused. The card folder is rewritten in a staging
        folder and swapped in; the new manifest is recorded last, so readers never see a
        file that is not complete and verified.

        Returns:
            The card's new manifest.

        Raises:
            CardTypeError: Not an experiment card.
            InvalidArgumentError: A path was already logged with other content.
        """
        if registry is not RegistryType.Experiment:
            raise CardTypeError("only experiment cards take files after registration")
        row = self.store.get(registry, uid)
        old = Manifest.model_validate_json(row.manifest_json)
        new = Manifest.from_dir(folder, exclude=frozenset({CARD_FILE}))
        for rel, entry in new.files.items():
            if rel in old.files and old.files[rel] != entry:
                raise InvalidArgumentError(
                    f"artifact {rel!r} is already logged with other content; log it under "
                    "another path"
                )
        added = {rel: e for rel, e in new.files.items() if rel not in old.files}
        if not added:
            return old
        merged = Manifest(files={**old.files, **added})
        card = card_class(registry).model_validate_json(row.card_json)
        card.manifest = merged
        staging = self.storage.new_staging()
        try:
            if not isinstance(self.storage, ObjectStorage):
                # A local card folder is replaced whole; objects are added one by one.
                self.storage.materialize(row.storage_path, old, staging)
            for rel, entry in added.items():
                copy_verified(folder / rel, staging / rel, entry, rel)
            (staging / CARD_FILE).write_text(card.model_dump_json(), encoding="utf-8")
            self.storage.commit(staging, row.storage_path)
        except BaseException:
            self.storage.discard(staging)
            raise
        self.store.update_manifest(registry, uid, merged.model_dump_json(), card.model_dump_json())
        return merged
