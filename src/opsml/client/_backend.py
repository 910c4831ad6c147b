"""The registry backend over HTTP (client mode): same semantics, the server does the work."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from opsml._uuid import uuid7
from opsml.cards import CardAlias, CardBase, CardRecord, card_class, keep_artifact_metadata
from opsml.client._api import ApiClient
from opsml.client._cache import BlobCache
from opsml.client._credentials import CredentialStore
from opsml.client._resume import PendingRegistrations
from opsml.client._tracking import HttpTracking
from opsml.client._transfer import Transfer, download_files, transfers_from, upload_files
from opsml.errors import CardStateError, PermissionDeniedError, UploadsMissingError
from opsml.monitoring import DriftProfileRegistration, ScouterProfileStatus
from opsml.registry import Registered, Reservation
from opsml.settings import OpsmlConfig
from opsml.storage import FileEntry, HashedFiles, Manifest, VerifiedFiles, safe_relpath
from opsml.store import CardQuery
from opsml.types import RegistryMode, RegistryType, VersionType
from opsml.version import Version

__all__ = ["HttpBackend", "HttpSource"]

_log = logging.getLogger("opsml.client")

# Times a commit that finds files missing sends them again before giving up.
_RESENDS = 2


def _base(registry: RegistryType) -> str:
    return f"/opsml/api/{registry.value}"


def _alias_path(registry: RegistryType, space: str, name: str, alias: str) -> str:
    return f"{_base(registry)}/aliases/{quote(space)}/{quote(name)}/{quote(alias)}"


def _version_param(query: CardQuery) -> str | None:
    """The ``version`` query parameter of a query: an alias as ``@alias``."""
    if query.alias is not None:
        return f"@{query.alias}"
    return query.version.text if query.version is not None else None


def _link(cached: Path, path: Path) -> None:
    """Make ``path`` a symlink to a cached file (the cached file itself stays untouched)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(cached, path)


class HttpSource:
    """A registered card's artifacts on the server, downloaded and verified on demand.

    Args:
        api: The server's client.
        registry: The card's registry.
        uid: The card's uid.
        manifest: Its files.
        cache: This machine's cache of verified files (``None``: every file downloaded).
    """

    def __init__(
        self,
        api: ApiClient,
        registry: RegistryType,
        uid: str,
        manifest: Manifest,
        cache: BlobCache | None = None,
    ) -> None:
        self.api = api
        self.registry = registry
        self.uid = uid
        self.manifest = manifest
        self.cache = cache

    def _transfers(self, files: dict[str, FileEntry]) -> list[Transfer]:
        targets = self.api.json("GET", f"{_base(self.registry)}/cards/{quote(self.uid)}/downloads")
        wanted = {t["path"]: t for t in targets}
        return transfers_from([wanted[rel] for rel in files if rel in wanted], files)

    def materialize(self, dest: Path | None = None) -> Path:
        """Download every file into ``dest`` (a new temporary folder when ``None``); files
        in this machine's cache (:mod:`opsml.client._cache`) are copied from there."""
        folder = dest if dest is not None else Path(tempfile.mkdtemp(prefix="opsml-"))
        folder.mkdir(parents=True, exist_ok=True)
        cache = self.cache
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
        cache = self.cache
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
                downloaded = HashedFiles()
                download_files(self.api, self._transfers(missing), folder, downloaded)
                for rel, entry in missing.items():
                    path = folder / safe_relpath(rel)
                    cached = cache.adopt(path, entry, downloaded)
                    if cached is not None:
                        _link(cached, path)
            yield folder

    def verify(self, folder: Path) -> None:
        """Nothing to do for folders from :meth:`local_folder`: every download was hashed
        as it arrived and only files matching the manifest were kept."""
        del folder


class HttpBackend(HttpTracking):
    """Registry operations through an opsml server's HTTP API.

    Args:
        api: The server's client.
        cache: This machine's cache of verified files (``None``: off).
        pending: Notes of unfinished registrations, to continue one a killed process left
            (none kept when omitted).
    """

    mode = RegistryMode.Client

    def __init__(
        self,
        api: ApiClient,
        cache: BlobCache | None = None,
        pending: PendingRegistrations | None = None,
    ) -> None:
        self.api = api
        self.cache = cache
        self.pending = pending if pending is not None else PendingRegistrations(None)

    @classmethod
    def from_config(
        cls, config: OpsmlConfig, *, verified: VerifiedFiles | None = None
    ) -> HttpBackend:
        """Connect to the server named by ``config.tracking_uri``, with the cache and the
        notes ``config.cache`` asks for.

        Args:
            config: The server, credentials, retries and cache settings.
            verified: The fingerprints of verified files the cache shares (new, from
                ``config.cache``, when omitted).
        """
        api = ApiClient(
            config.tracking_uri,
            username=config.username,
            password=config.password,
            api_token=config.api_token,
            retries=config.client_retries,
            timeout=config.client_read_timeout,
            connect_timeout=config.client_connect_timeout,
            total_timeout=config.client_timeout,
            credentials=CredentialStore(config.credentials_file)
            if config.credentials_file is not None
            else None,
        )
        return cls(
            api,
            cache=BlobCache.from_config(config.cache, verified),
            pending=PendingRegistrations(config.cache.pending_dir),
        )

    def attach(self, card: CardBase) -> None:
        """Let a registered card download its artifacts from the server on ``load()``."""
        card._attach_source(
            HttpSource(
                self.api,
                card.registry_type,
                str(card.uid),
                card.manifest or Manifest(),
                self.cache,
            )
        )

    # -- registration (the protocol of opsml.registry._registration) -----------------------

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder in this machine's cache (so the files sent can join the cache
        with a rename), or a temporary one with the cache off."""
        cache = self.cache
        with (
            cache.workspace("upload-")
            if cache is not None
            else tempfile.TemporaryDirectory(prefix="opsml-upload-")
        ) as tmp:
            yield Path(tmp)

    def begin(
        self,
        card: CardBase,
        version_type: VersionType,
        pre_tag: str | None,
        build_tag: str | None,
        manifest: Manifest,
    ) -> Reservation:
        """Reserve the card on the server (which validates it and allocates the version).

        A registration of identical content that a killed process left pending is
        continued: same reservation, so only missing bytes are sent (see
        :mod:`opsml.client._resume`).
        """
        registry = card.registry_type
        base = f"{_base(registry)}/cards"
        pending = self.pending
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
            answer = self.api.json("POST", f"{base}/reserve", json={"uid": uid, **body})
        except (CardStateError, PermissionDeniedError):
            if claimed is None:
                raise
            # The noted registration finished after all (or is another user's): a new one.
            pending.forget(note)
            uid = uuid7()
            answer = self.api.json("POST", f"{base}/reserve", json={"uid": uid, **body})
        pending.remember(note, uid)
        return _HttpReservation(
            registry=registry,
            registered=Registered(
                uid=str(answer["uid"]),
                version=str(answer["version"]),
                created_at=datetime.fromisoformat(str(answer["created_at"])),
                app_env=str(answer["app_env"]),
                manifest=manifest,
            ),
            targets=tuple(answer["uploads"]),
            note=note,
        )

    def transfer(self, reservation: Reservation, folder: Path) -> None:
        """Send every file the server does not hold yet (resumable, in parallel)."""
        held = _held(reservation)
        base = f"{_base(held.registry)}/cards/{held.uid}"
        upload_files(
            self.api,
            transfers_from(list(held.targets), held.registered.manifest.files),
            folder,
            f"{base}/uploads",
            f"{base}/upload-targets",
        )

    def finish(self, reservation: Reservation, folder: Path) -> Registered:
        """Ask the server to commit; the files just sent join this machine's cache (so
        loading the card downloads nothing)."""
        held = _held(reservation)
        base = f"{_base(held.registry)}/cards/{held.uid}"
        for attempt in range(_RESENDS + 1):
            try:
                # The server moves (and may re-verify) every file before it answers: a
                # transfer's wait.
                final = self.api.json("POST", f"{base}/commit", transfer=True)
                break
            except UploadsMissingError as exc:
                # A file (or a part) sent is not where the server looks: a stray writer
                # (an earlier, killed attempt still finishing a part) or a storage that lost
                # it. Ask what is missing and send that again, a bounded number of times.
                if attempt == _RESENDS:
                    raise
                _log.warning(
                    "the server is missing %s of card %s; sending it again",
                    ", ".join(exc.paths) or "files",
                    held.uid,
                )
                targets = self.api.json("GET", f"{base}/upload-targets")
                upload_files(
                    self.api,
                    transfers_from(targets, held.registered.manifest.files),
                    folder,
                    f"{base}/uploads",
                    f"{base}/upload-targets",
                )
        self.pending.forget(held.note)
        cache = self.cache
        manifest = Manifest.model_validate(final["manifest"])
        if cache is not None:
            hashed = held.registered.manifest.hashed  # the files registered, as hashed
            for rel, entry in manifest.files.items():
                cache.adopt(folder / safe_relpath(rel), entry, hashed)
        return Registered(
            uid=str(final["uid"]),
            version=str(final["version"]),
            created_at=datetime.fromisoformat(str(final["created_at"])),
            app_env=str(final["app_env"]),
            manifest=manifest,
        )

    def abort(self, reservation: Reservation) -> None:
        """Withdraw the reservation on the server (its uploads go with it)."""
        held = _held(reservation)
        self.pending.forget(held.note)
        self.api.request("DELETE", f"{_base(held.registry)}/cards/{held.uid}/reservation")

    def register_drift_profiles(
        self, reservation: Reservation, registrations: Sequence[DriftProfileRegistration]
    ) -> None:
        """Have the server register the reserved card's drift profiles with its Scouter
        server (the server's ``SCOUTER_SERVER_URI``; nothing when it has none)."""
        held = _held(reservation)
        body = {"registrations": [r.model_dump(mode="json") for r in registrations]}
        self.api.json("POST", f"{_base(held.registry)}/cards/{held.uid}/drift-profiles", json=body)

    def update_drift_profile_status(self, status: ScouterProfileStatus) -> None:
        """Have the server change drift profiles' status on its Scouter server."""
        self.api.json(
            "PUT",
            "/opsml/api/scouter/profile/status",
            params={"space": status.space},
            json=status.model_dump(mode="json"),
        )

    def list_cards(self, registry: RegistryType, query: CardQuery) -> list[CardRecord]:
        """Records matching ``query``, from the server."""
        params: dict[str, Any] = {
            "uid": query.uid,
            "space": query.space,
            "name": query.name,
            "version": _version_param(query),
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
            "version": _version_param(query),
        }
        data = self.api.json(
            "GET",
            f"{_base(registry)}/card",
            params={k: v for k, v in params.items() if v is not None},
        )
        card = card_class(registry).model_validate(data)
        self.attach(card)
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

    def set_alias(
        self, registry: RegistryType, space: str, name: str, alias: str, version: Version
    ) -> CardAlias:
        """Point an alias at a version, on the server (which audits the move)."""
        data = self.api.json(
            "PUT", _alias_path(registry, space, name, alias), json={"version": str(version)}
        )
        return CardAlias.model_validate(data)

    def delete_alias(self, registry: RegistryType, space: str, name: str, alias: str) -> None:
        """Remove an alias on the server."""
        self.api.request("DELETE", _alias_path(registry, space, name, alias))

    def list_aliases(
        self, registry: RegistryType, space: str | None = None, name: str | None = None
    ) -> list[CardAlias]:
        """The aliases the server lets this user read."""
        params = {k: v for k, v in (("space", space), ("name", name)) if v is not None}
        rows = self.api.json("GET", f"{_base(registry)}/aliases", params=params)
        return [CardAlias.model_validate(row) for row in rows]


@dataclass(frozen=True)
class _HttpReservation(Reservation):
    """A reservation on the server, with where to send each file and this machine's note
    of it (for resuming after a crash)."""

    targets: tuple[dict[str, Any], ...] = ()
    note: str = ""


def _held(reservation: Reservation) -> _HttpReservation:
    if not isinstance(reservation, _HttpReservation):
        raise CardStateError("this reservation was not made through this server")
    return reservation
