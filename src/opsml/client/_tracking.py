"""Experiment tracking through the server: batches of metrics, parameters and hardware
samples, and artifacts added to a registered experiment (uploaded resumably)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from opsml.cards import CARD_FILE, HardwareMetrics, Metric, Parameter
from opsml.client._api import ApiClient
from opsml.client._transfer import PIECE_SIZE
from opsml.errors import IntegrityError, UploadOffsetError
from opsml.storage import FileEntry, Manifest, safe_relpath
from opsml.types import RegistryType

__all__ = ["HttpTracking"]


def _url(experiment_uid: str, what: str) -> str:
    return f"/opsml/api/experiment/cards/{experiment_uid}/{what}"


class HttpTracking:
    """Tracking operations of :class:`~opsml.client.HttpBackend` (mixed into it)."""

    api: ApiClient

    def log_metrics(self, experiment_uid: str, metrics: Sequence[Metric]) -> None:
        """Send a batch of metric points (one request)."""
        body = {"metrics": [m.model_dump() for m in metrics]}
        self.api.json("POST", _url(experiment_uid, "metrics"), json=body)

    def log_parameters(self, experiment_uid: str, parameters: Sequence[Parameter]) -> None:
        """Send parameters (one request)."""
        body = {"parameters": [p.model_dump() for p in parameters]}
        self.api.json("POST", _url(experiment_uid, "parameters"), json=body)

    def log_hardware(self, experiment_uid: str, samples: Sequence[HardwareMetrics]) -> None:
        """Send hardware samples (one request)."""
        body = {"samples": [s.model_dump(mode="json") for s in samples]}
        self.api.json("POST", _url(experiment_uid, "hardware"), json=body)

    def get_metrics(self, experiment_uid: str, names: Sequence[str] | None = None) -> list[Metric]:
        """Metric points in logging order."""
        params = {"names": list(names)} if names else None
        rows = self.api.json("GET", _url(experiment_uid, "metrics"), params=params)
        return [Metric.model_validate(r) for r in rows]

    def get_parameters(
        self, experiment_uid: str, names: Sequence[str] | None = None
    ) -> list[Parameter]:
        """Parameters in name order."""
        params = {"names": list(names)} if names else None
        rows = self.api.json("GET", _url(experiment_uid, "parameters"), params=params)
        return [Parameter.model_validate(r) for r in rows]

    def get_hardware_metrics(self, experiment_uid: str) -> list[HardwareMetrics]:
        """Hardware samples in time order."""
        rows = self.api.json("GET", _url(experiment_uid, "hardware"))
        return [HardwareMetrics.model_validate(r) for r in rows]

    def add_artifacts(self, registry: RegistryType, uid: str, folder: Path) -> Manifest:
        """Upload the files of ``folder`` (resuming where the server stands) and add them to
        the experiment; returns its new manifest."""
        manifest = Manifest.from_dir(folder, exclude=frozenset({CARD_FILE}))
        for rel, entry in manifest.files.items():
            self._send(uid, rel, entry, folder / safe_relpath(rel))
        card: dict[str, Any] = self.api.json(
            "POST", _url(uid, "artifacts"), json={"manifest": manifest.model_dump(mode="json")}
        )
        return Manifest.model_validate(card["manifest"])

    def _send(self, uid: str, rel: str, entry: FileEntry, path: Path) -> None:
        url = f"{_url(uid, 'artifacts/files')}/{quote(rel)}"
        offset = 0
        for _ in range(10):
            with path.open("rb") as fh:
                fh.seek(offset)
                params = {"size": entry.size, "sha256": entry.sha256, "offset": offset}
                try:
                    status = self.api.json(
                        "PUT",
                        url,
                        params=params,
                        content=iter(lambda: fh.read(PIECE_SIZE), b""),
                        headers={
                            "content-type": "application/octet-stream",
                            "content-length": str(entry.size - offset),
                        },
                        retry=False,
                        transfer=True,
                    )
                except UploadOffsetError as exc:  # the server holds another offset: go on there
                    if exc.busy:
                        time.sleep(0.05)
                        continue
                    offset = exc.offset
                    if offset >= entry.size:
                        return  # already all there (a retry of this upload)
                    continue
            if status["complete"]:
                return
            offset = int(status["received"])
        raise IntegrityError(f"artifact {rel!r} could not be uploaded completely")
