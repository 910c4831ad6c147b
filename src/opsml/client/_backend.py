"""The registry backend over HTTP (client mode): same semantics, the server does the work."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from opsml._uuid import uuid7
from opsml.cards import CARD_FILE, CardBase, CardRecord, card_class
from opsml.cards._lifecycle import (
    card_snapshot,
    check_new_card,
    keep_artifact_metadata,
    restore_card,
)
from opsml.client._api import ApiClient
from opsml.client._cache import BlobCache
from opsml.client._resume import PendingRegistrations
from opsml.client._tracking import HttpTracking
from opsml.client._transfer import Transfer, download_files, transfers_from, upload_files
from opsml.errors import CardStateError
from opsml.settings import OpsmlConfig
from opsml.storage import FileEntry, Manifest, safe_relpath
from opsml.store import CardQuery
from opsml.types import RegistryMode, RegistryType, VersionType

__all__ = ["HttpBackend", "HttpSource"]


def _base(registry: RegistryType) -> str:
    return f"/opsml/api/{registry.value}"


def _link(cached: Path, path: Path) -> None:
    """Make ``path`` a symlink to a cached file (the cached file itself stays untouched)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(cached, path)


class HttpSource:
    """A registered card's artifacts on the server, downloaded and verified on demand."""

    def __init__(
        self, api: ApiClient, registry: RegistryType, uid: str, manifest: Manifest
    ) -> None:
        self.api = api
        self.registry = registry
        self.uid = uid
        self.manifest = manifest

    def _transfers(self, files: dict[str, FileEntry]) -> list[Transfer]:
        targets = self.api.json("GET", f"{_base(self.registry)}/cards/{quote(self.uid)}/downloads")
        wanted = {t["path"]: t for t in targets}
        return transfers_from([wanted[rel] for rel in files if rel in wanted], files)

    def materialize(self, dest: Path | None = None) -> Path:
        """Download every file into ``dest`` (a new temporary folder when ``None``); files
        in this machine's cache (:mod:`opsml.client._cache`) are copied from there."""
        folder = dest if dest is not None else Path(tempfile.mkdtemp(prefix="opsml-"))
        folder.mkdir(parents=True, exist_ok=True)
        cache = BlobCache.default()
        missing = {
            rel: entry
            for rel, entry in self.manifest.files.items()
            if cache is None or not cache.copy_to(entry, folder / safe_relpath(rel), rel)
        }
        if missing:
            download_files(self.api, self._transfers(missing), folder)
        return folder

    @contextmanager
    def local_folder(self, verify: bool = True) -> Iterator[Path]:
        """The files in a temporary folder, removed after the ``with`` block.

        Downloads are always verified as they arrive, whatever ``verify`` says. With the
        cache on, files already in it are not downloaded (the folder holds links to them)
        and downloaded ones join it.
        """
        cache = BlobCache.default()
        if cache is None:
            with tempfile.TemporaryDirectory(prefix="opsml-") as tmp:
                yield self.materialize(Path(tmp))
            return
        with cache.workspace("load-") as folder:
            missing: dict[str, FileEntry] = {}
            for rel, entry in self.manifest.files.items():
                cached = cache.lookup(entry)
                if cached is None:
                    missing[rel] = entry
                else:
                    _link(cached, folder / safe_relpath(rel))
            if missing:
                download_files(self.api, self._transfers(missing), folder)
                for rel, entry in missing.items():
                    path = folder / safe_relpath(rel)
                    cached = cache.adopt(path, entry)
                    if cached is not None:
                        _link(cached, path)
            yield folder

    def verify(self, folder: Path) -> None:
        """Nothing to do for folders from :meth:`local_folder`: every download was hashed
        as it arrived and only files matching the manifest were kept."""
        del folder


class HttpBackend(HttpTracking):
    """Registry operations through an opsml server's HTTP API."""

    mode = RegistryMode.Client

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    @classmethod
    def from_config(cls, config: OpsmlConfig) -> HttpBackend:
        """Connect to the server named by ``config.tracking_uri``."""
        return cls(
            ApiClient(
                config.tracking_uri,
                username=config.username,
                password=config.password,
                api_token=config.api_token,
                retries=config.client_retries,
            )
        )

    def _attach(self, card: CardBase) -> None:
        card._attach_source(
            HttpSource(self.api, card.registry_type, str(card.uid), card.manifest or Manifest())
        )

    def register_card(
        self,
        card: CardBase,
        version_type: VersionType,
        pre_tag: str | None,
        build_tag: str | None,
        save_kwargs: Any,
    ) -> None:
        """Save locally, reserve on the server, upload, commit (all-or-nothing).

        A registration of identical content that a killed process left pending is continued
        (same reservation, only missing bytes are sent); see :mod:`opsml.client._resume`.
        """
        check_new_card(card)
        registry = card.registry_type
        base = f"{_base(registry)}/cards"
        cache = BlobCache.default()
        with (
            cache.workspace("upload-")
            if cache is not None
            else tempfile.TemporaryDirectory(prefix="opsml-upload-")
        ) as tmp:
            folder = Path(tmp)
            card._save_artifacts(folder, save_kwargs)
            manifest = Manifest.from_dir(folder, exclude=frozenset({CARD_FILE}))
            pending = PendingRegistrations.default()
            note = pending.key(
                self.api.base_url,
                registry.value,
                {
                    "space": card.space,
                    "name": card.name,
                    "version": card.version,
                    "version_type": version_type.value,
                    "pre_tag": pre_tag,
                    "build_tag": build_tag,
                },
                manifest,
            )
            body = {
                "card": json.loads(card.model_dump_json()),
                "version_type": version_type.value,
                "pre_tag": pre_tag,
                "build_tag": build_tag,
                "manifest": manifest.model_dump(mode="json"),
            }
            claimed = pending.claim(note)
            uid = claimed or uuid7()
            try:
                reservation = self.api.json("POST", f"{base}/reserve", json={"uid": uid, **body})
            except CardStateError:
                if claimed is None:
                    raise
                # The noted registration finished after all: this one is new.
                pending.forget(note)
                uid = uuid7()
                reservation = self.api.json("POST", f"{base}/reserve", json={"uid": uid, **body})
            pending.remember(note, uid)
            snapshot = card_snapshot(card)
            try:
                final = self._upload_and_commit(base, uid, reservation, folder, manifest)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.api.request("DELETE", f"{base}/{uid}/reservation")
                pending.forget(note)
                restore_card(card, snapshot)
                raise
            pending.forget(note)
            if cache is not None:  # the files just sent: loading this card needs no download
                for rel, entry in manifest.files.items():
                    cache.adopt(folder / safe_relpath(rel), entry)
        registered = type(card).model_validate(final)
        card.uid = registered.uid
        card.version = registered.version
        card.created_at = registered.created_at
        card.app_env = registered.app_env
        card.manifest = registered.manifest
        self._attach(card)

    def _upload_and_commit(
        self,
        base: str,
        uid: str,
        reservation: dict[str, Any],
        folder: Path,
        manifest: Manifest,
    ) -> dict[str, Any]:
        status_url = f"{base}/{uid}/uploads"
        targets_url = f"{base}/{uid}/upload-targets"
        upload_files(
            self.api,
            transfers_from(reservation["uploads"], manifest.files),
            folder,
            status_url,
            targets_url,
        )
        final: dict[str, Any] = self.api.json("POST", f"{base}/{uid}/commit")
        return final

    def list_cards(self, registry: RegistryType, query: CardQuery) -> list[CardRecord]:
        """Records matching ``query``, from the server."""
        params: dict[str, Any] = {
            "uid": query.uid,
            "space": query.space,
            "name": query.name,
            "version": query.version.text if query.version is not None else None,
            "max_date": query.max_date.isoformat() if query.max_date is not None else None,
            "tags": list(query.tags) or None,
            "sort_by_timestamp": query.sort_by_timestamp,
            "limit": query.limit,
        }
        rows = self.api.json(
            "GET",
            f"{_base(registry)}/cards",
            params={k: v for k, v in params.items() if v is not None},
        )
        return [CardRecord.model_validate(row) for row in rows]

    def load_card(self, registry: RegistryType, query: CardQuery) -> CardBase:
        """The best match for ``query``, metadata only; artifacts download on ``load()``."""
        params: dict[str, Any] = {
            "uid": query.uid,
            "space": query.space,
            "name": query.name,
            "version": query.version.text if query.version is not None else None,
        }
        data = self.api.json(
            "GET",
            f"{_base(registry)}/card",
            params={k: v for k, v in params.items() if v is not None},
        )
        card = card_class(registry).model_validate(data)
        self._attach(card)
        return card

    def update_card(self, card: CardBase) -> None:
        """Send the card's metadata; the server keeps artifacts and their metadata."""
        if card.uid is None:
            raise CardStateError(f"{card} is not registered; use register_card")
        data = self.api.json(
            "PUT",
            f"{_base(card.registry_type)}/cards/{quote(card.uid)}",
            json={"card": json.loads(card.model_dump_json())},
        )
        stored = type(card).model_validate(data)
        card.manifest = stored.manifest
        card.created_at = stored.created_at
        card.app_env = stored.app_env
        keep_artifact_metadata(card, stored)

    def delete_card(self, card: CardBase) -> None:
        """Delete the card on the server."""
        if card.uid is None:
            raise CardStateError(f"{card} is not registered")
        self.api.request("DELETE", f"{_base(card.registry_type)}/cards/{quote(card.uid)}")
        card._attach_source(None)
