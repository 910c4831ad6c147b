"""The local backend: SQL metadata store and artifact storage, in this process."""

from __future__ import annotations

import dataclasses
import functools
import getpass
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from opsml._uuid import uuid7
from opsml._version import __version__
from opsml.cards import (
    CARD_FILE,
    CardAlias,
    CardBase,
    CardRecord,
    card_class,
    check_new_card,
    keep_artifact_metadata,
)
from opsml.errors import (
    CardNotFoundError,
    CardStateError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidVersionError,
    VersionConflictError,
)
from opsml.monitoring import DriftProfileRegistration, ScouterProfileStatus
from opsml.registry._registration import Registered, Reservation
from opsml.registry._tracking import LocalTracking
from opsml.settings import OpsmlConfig, ScouterConfig
from opsml.storage import (
    ArtifactStorage,
    EncryptedLocalStorage,
    KeyTable,
    LocalStorage,
    Manifest,
    MasterKeys,
    VerifiedFiles,
    open_storage,
    owner_token,
    verify_tree,
)
from opsml.store import (
    PENDING,
    Actor,
    AliasStore,
    CardQuery,
    Event,
    KeyStore,
    LoopReads,
    SqlStore,
)
from opsml.store._runs import record_run, run_from_card_json
from opsml.types import RegistryMode, RegistryType, VersionType
from opsml.version import Version, allocate_version, parse_requested_version

if TYPE_CHECKING:
    from opsml.monitoring import ScouterServer

__all__ = [
    "LocalBackend",
    "StoredSource",
    "card_prefix",
    "card_record",
    "os_user",
    "record_fields",
]


def card_prefix(registry: RegistryType, space: str, name: str, version: Version | str) -> str:
    """Storage prefix of a card version: ``{table}/{space}/{name}/v{version}``."""
    return f"{registry.table_name}/{space}/{name}/v{version}"


class StoredSource:
    """A registered card's artifacts in storage, verified on every read."""

    def __init__(self, storage: ArtifactStorage, prefix: str, manifest: Manifest) -> None:
        self.storage = storage
        self.prefix = prefix
        self.manifest = manifest

    def materialize(self, dest: Path | None = None) -> Path:
        """Return a local folder with the verified files (see ArtifactStorage.materialize)."""
        return self.storage.materialize(self.prefix, self.manifest, dest)

    @contextmanager
    def local_folder(self, verify: bool = True) -> Iterator[Path]:
        """The files, in place when the storage is local (verified unless ``verify=False``),
        else in a verified temporary download."""
        with self.storage.local_copy(self.prefix, self.manifest, verify) as folder:
            yield folder

    def verify(self, folder: Path) -> None:
        """Check every manifest file in ``folder`` (through the storage's fingerprints of
        verified files)."""
        try:
            verify_tree(folder, self.manifest, self.storage.verified)
        except IntegrityError as exc:
            self.storage.diagnose(self.prefix, self.manifest, exc)
            raise


class LocalBackend(LocalTracking):
    """Registry operations against a SQL store and an artifact storage, in-process."""

    mode = RegistryMode.Server

    def __init__(
        self,
        store: SqlStore,
        storage: ArtifactStorage,
        app_env: str,
        scouter: ScouterConfig | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.app_env = app_env
        self.scouter = scouter if scouter is not None else ScouterConfig()
        self.aliases = AliasStore(store)

    @classmethod
    def from_config(
        cls,
        config: OpsmlConfig,
        *,
        store: SqlStore | None = None,
        verified: VerifiedFiles | None = None,
    ) -> LocalBackend:
        """Open the store and storage named by ``config``.

        Args:
            config: The database, storage, encryption and cache settings.
            store: The store of ``config.tracking_uri`` to use (a new one when omitted).
            verified: The fingerprints of verified files to read local storage through
                (new, from ``config.cache``, when omitted).
        """
        store = store if store is not None else SqlStore.from_url(config.tracking_uri)
        if verified is None:
            verified = VerifiedFiles(config.cache.verified_db)
        storage = open_storage(config.storage_uri, cloud=config.cloud, verified=verified)
        if config.encrypt_secret:
            storage = _encrypted(storage, store, config.encrypt_secret)
        elif isinstance(storage, LocalStorage):  # to name the key if the files are encrypted
            keys = KeyStore(store)
            storage = LocalStorage(
                storage.root, key_ids=lambda p: (keys.get(p) or (None,))[0], verified=verified
            )
        return cls(store, storage, config.app_env, config.scouter)

    # -- registration (the protocol of opsml.registry._registration) -----------------------

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A private staging folder in the storage (for local storage on its filesystem,
        so finishing is one rename); removed afterwards unless the commit consumed it."""
        folder = self.storage.new_staging()
        try:
            yield folder
        finally:
            self.storage.discard(folder)

    def begin(
        self,
        card: CardBase,
        version_type: VersionType,
        pre_tag: str | None,
        build_tag: str | None,
        manifest: Manifest,
        *,
        uid: str | None = None,
        owner: str | None = None,
        readable: Callable[[str], bool] | None = None,
    ) -> Reservation:
        """Validate the card, allocate its version and record it as ``pending``.

        The card object is not changed: the JSON stored with the reservation is that of a
        copy carrying the new uid, version, creation time, ``app_env`` and manifest.

        Args:
            card: A card whose artifacts are saved and hashed into ``manifest``.
            version_type: How to bump the version.
            pre_tag: Prerelease tag.
            build_tag: Build tag.
            manifest: The card's artifact files.
            uid: The uid to use (a client chooses it, so retries are idempotent).
            owner: Who may continue this registration (a server passes its user; the
                default is this process, ``host:pid``, so ``opsml gc`` can tell it died).
            readable: Whether the author may read a space (references to cards elsewhere
                are reported as missing; see :meth:`check_links`).

        Raises:
            CardStateError: The card is registered already.
            InvalidNameError: No space or name.
            CardNotFoundError: A referenced card is not registered (or not readable).
            VersionConflictError: The card asks for a full version that exists.
        """
        check_new_card(card)
        self.check_links(card, readable)
        registry = card.registry_type
        if card.space is None or card.name is None:
            raise InvalidNameError(f"{type(card).__name__} needs a space and a name to register")
        space, name = card.space, card.name
        requested = parse_requested_version(card.version) if card.version else None
        explicit = requested is not None and requested.is_full
        new_uid = uid or uuid7()
        now = datetime.now(UTC)
        owner = owner or owner_token()
        columns = card._registry_columns()
        stored: dict[Version, str] = {}

        def row(version: Version) -> dict[str, Any]:
            final = card.model_copy(
                update={
                    "uid": new_uid,
                    "version": str(version),
                    "created_at": now,
                    "app_env": self.app_env,
                    "manifest": manifest,
                }
            )
            stored[version] = final.model_dump_json()
            return {
                "uid": new_uid,
                "status": PENDING,
                "owner": owner,
                "created_at": now,
                "updated_at": now,
                "app_env": self.app_env,
                "storage_path": card_prefix(registry, space, name, version),
                "opsml_version": __version__,
                "tags": json.dumps(list(dict.fromkeys(card.tags))),
                "card_json": stored[version],
                "manifest_json": manifest.model_dump_json(),
                **columns,
            }

        def allocate(existing: list[Version]) -> Version:
            try:
                return allocate_version(
                    existing,
                    version_type,
                    requested=requested,
                    pre_tag=pre_tag,
                    build_tag=build_tag,
                )
            except VersionConflictError as exc:
                raise VersionConflictError(
                    f"{registry.value} card {space}/{name}: {exc}; leave the version out to "
                    "register the next one"
                ) from None

        version = self.store.reserve(
            registry, space, name, allocate, row, card.tags, explicit=explicit
        )
        prefix = card_prefix(registry, space, name, version)
        # A new version owns its prefix: whatever is there is left over from a deleted card
        # or a crash, and must never count as this registration's files.
        self.storage.delete(prefix)
        return Reservation(
            registry=registry,
            registered=Registered(new_uid, str(version), now, self.app_env, manifest),
            card_json=stored[version],
            prefix=prefix,
            owner=owner,
        )

    def register_drift_profiles(
        self, reservation: Reservation, registrations: Sequence[DriftProfileRegistration]
    ) -> None:
        """Register the reserved card's drift profiles with Scouter (``SCOUTER_SERVER_URI``;
        nothing without one), under the card's space, name and allocated version.

        Raises:
            InvalidArgumentError: A profile names another card or version than the reserved one.
            MonitoringError: The Scouter server refused a profile or cannot be reached.
        """
        card = json.loads(reservation.card_json)
        owner = (card.get("space"), card.get("name"), reservation.registered.version)
        for registration in registrations:
            try:
                stated = dict(json.loads(registration.request.profile)["config"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidArgumentError(
                    f"drift profile {registration.alias!r} is not a scouter profile's JSON"
                ) from exc
            named = [(stated.get("space"), stated.get("name"), stated.get("version"))]
            if registration.status is not None:
                status = registration.status
                named.append((status.space, status.name, status.version))
            if registration.request.space != owner[0] or any(n != owner for n in named):
                raise InvalidArgumentError(
                    f"drift profile {registration.alias!r} is not for card "
                    f"{owner[0]}/{owner[1]} v{owner[2]}, the one being registered"
                )
        if registrations and self.scouter.enabled:
            self._scouter_server().register(list(registrations))

    def update_drift_profile_status(self, status: ScouterProfileStatus) -> None:
        """Activate or deactivate drift profiles on the Scouter server.

        Raises:
            MonitoringError: No Scouter server is configured, or it refused the request.
        """
        self._scouter_server().update_profile_status(status)

    def _scouter_server(self) -> ScouterServer:
        from opsml.monitoring import ScouterServer  # httpx, imported when first needed

        return ScouterServer(self.scouter)

    def pending(self, registry: RegistryType, uid: str) -> Reservation:
        """The pending registration ``uid`` (for a server continuing it).

        Raises:
            CardNotFoundError: No such reservation.
            CardStateError: The card is registered already.
        """
        row = self.store.get(registry, uid, include_pending=True)
        if row.status != PENDING:
            raise CardStateError(f"card {uid} is already registered; its files are immutable")
        created: datetime = row.created_at
        registered = Registered(
            uid=str(row.uid),
            version=str(row.version),
            created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
            app_env=str(row.app_env),
            manifest=Manifest.model_validate_json(row.manifest_json),
        )
        return Reservation(
            registry=registry,
            registered=registered,
            card_json=str(row.card_json),
            prefix=str(row.storage_path),
            owner=row.owner,
        )

    def transfer(self, reservation: Reservation, folder: Path) -> None:
        """Nothing to move: the files were saved into this storage's staging folder."""
        del reservation, folder

    def finish(self, reservation: Reservation, folder: Path) -> Registered:
        """Write ``card.json``, move the staged files into place and mark the card ``ok``.

        Raises:
            CardStateError: The reservation is gone (withdrawn, or removed by ``opsml gc``).
        """
        (folder / CARD_FILE).write_text(reservation.card_json, encoding="utf-8")
        self.pending(reservation.registry, reservation.uid)  # still ours, right before
        self.storage.commit(folder, reservation.prefix)
        also = None
        if reservation.registry is RegistryType.Experiment:
            run = run_from_card_json(reservation.card_json, _username(reservation.owner))
            also = functools.partial(record_run, row=run)
        _, space, name, _ = reservation.prefix.split("/")
        registered = Event(
            "card.registered",
            reservation.registry,
            space,
            name,
            reservation.registered.version,
            reservation.uid,
        )
        self.store.finalize(reservation.registry, reservation.uid, {}, also, events=[registered])
        self.storage.note_written(reservation.prefix, reservation.registered.manifest)
        return reservation.registered

    def abort(self, reservation: Reservation) -> None:
        """Remove a pending registration: its record, its files and its uploads."""
        try:
            row = self.store.get(reservation.registry, reservation.uid, include_pending=True)
        except CardNotFoundError:
            return
        if row.status != PENDING:
            raise CardStateError(f"card {reservation.uid} is registered; use delete_card")
        self.store.remove(reservation.registry, reservation.uid)
        self.storage.delete(row.storage_path)
        area = self.storage.upload_area()
        if area is not None:
            area.for_card(reservation.registry.value, reservation.uid).discard()

    def attach(self, card: CardBase) -> None:
        """Let a registered card read its artifacts from this storage."""
        if card.space is None or card.name is None or card.version is None:
            raise CardStateError(f"{card} is not registered")
        prefix = card_prefix(card.registry_type, card.space, card.name, card.version)
        card._attach_source(StoredSource(self.storage, prefix, card.manifest or Manifest()))

    def check_links(self, card: CardBase, readable: Callable[[str], bool] | None = None) -> None:
        """Raise :class:`CardNotFoundError` unless every card ``card`` references exists
        (and, given ``readable``, lies in a space the author may read).

        Args:
            card: The card about to be registered or updated.
            readable: Whether the author may read a space; a card they may not read is
                reported exactly like a missing one, so the answer reveals nothing.
        """
        for registry, uids in card._linked_uids().items():
            for linked in uids:
                space = self.store.space_of(registry, linked)
                if space is None or (readable is not None and not readable(space)):
                    raise CardNotFoundError(
                        f"{type(card).__name__} {card.space}/{card.name} references "
                        f"{registry.value} card {linked!r}, which is not registered"
                    )

    # -- reads ----------------------------------------------------------------------------

    def list_cards(self, registry: RegistryType, query: CardQuery) -> list[CardRecord]:
        """Records matching ``query`` (see :meth:`SqlStore.query`)."""
        return [CardRecord(**fields) for fields in self.list_card_fields(registry, query)]

    def list_card_fields(self, registry: RegistryType, query: CardQuery) -> list[dict[str, Any]]:
        """The records :meth:`list_cards` returns, as plain dicts of their fields (for the
        server, which answers them as JSON without building the models)."""
        return [
            record_fields(registry, row) for row in self.store.query(registry, query, summary=True)
        ]

    def load_card(self, registry: RegistryType, query: CardQuery) -> CardBase:
        """The best match for ``query``, metadata only, with its artifact source attached."""
        return self._card_from_row(registry, self._best(registry, query))

    def load_card_json(self, registry: RegistryType, query: CardQuery) -> str:
        """The stored JSON (``card.json``) of the card :meth:`load_card` would return,
        unparsed (for the server, which answers it as it is)."""
        return str(self._best(registry, query).card_json)

    async def list_card_fields_on_loop(
        self, reads: LoopReads, registry: RegistryType, query: CardQuery
    ) -> list[dict[str, Any]]:
        """:meth:`list_card_fields`, its read awaited on the event loop with ``reads``'
        connections (a server on PostgreSQL)."""
        rows = await self.store.query_on_loop(reads, registry, query, summary=True)
        return [record_fields(registry, row) for row in rows]

    async def load_card_json_on_loop(
        self, reads: LoopReads, registry: RegistryType, query: CardQuery
    ) -> str:
        """:meth:`load_card_json`, its read awaited on the event loop with ``reads``'
        connections (a server on PostgreSQL)."""
        rows = await self.store.query_on_loop(reads, registry, _single(query))
        return str(_first(rows, registry, query).card_json)

    def _best(self, registry: RegistryType, query: CardQuery) -> Any:
        return _first(self.store.query(registry, _single(query)), registry, query)

    def _card_from_row(self, registry: RegistryType, row: Row[Any]) -> CardBase:
        card = card_class(registry).model_validate_json(row.card_json)
        manifest = Manifest.model_validate_json(row.manifest_json)
        card._attach_source(StoredSource(self.storage, row.storage_path, manifest))
        return card

    # -- updates --------------------------------------------------------------------------

    def update_card(self, card: CardBase, readable: Callable[[str], bool] | None = None) -> None:
        """Update metadata and tags; a new (space, name, version) must be free.

        Artifacts are immutable: the stored manifest and interface metadata are kept.

        Args:
            card: The registered card with its new metadata.
            readable: Whether the author may read a space (see :meth:`check_links`).
        """
        registry = card.registry_type
        if card.uid is None:
            raise CardStateError(f"{card} is not registered; use register_card")
        row = self.store.get(registry, card.uid)
        if card.space is None or card.name is None:
            raise InvalidNameError("space and name cannot be removed from a registered card")
        if card.version is None:
            raise InvalidVersionError("version cannot be removed from a registered card")
        requested = parse_requested_version(card.version)
        if not requested.is_full:
            raise InvalidVersionError(f"update_card needs a full version, got {card.version!r}")
        stored = card_class(registry).model_validate_json(row.card_json)
        card.manifest = stored.manifest
        card.created_at = stored.created_at
        card.app_env = stored.app_env
        keep_artifact_metadata(card, stored)
        values: dict[str, Any] = {
            "space": card.space,
            "name": card.name,
            "version": card.version,
            "card_json": card.model_dump_json(),
            **card._registry_columns(),
        }
        self.check_links(card, readable)
        also = None
        if registry is RegistryType.Experiment:
            also = functools.partial(record_run, row=run_from_card_json(values["card_json"]))
        events = [Event("card.updated", registry, card.space, card.name, card.version, card.uid)]
        status = getattr(card, "status", None)
        if getattr(stored, "status", None) == "running" and status in ("completed", "failed"):
            events.append(
                Event(
                    "experiment.finished",
                    registry,
                    card.space,
                    card.name,
                    card.version,
                    card.uid,
                    {"status": status},
                )
            )
        self.store.update(registry, card.uid, values, card.tags, also, events=events)

    def delete_card(self, card: CardBase) -> None:
        """Delete the record, then the artifacts (``opsml gc`` sweeps files left by a crash)."""
        registry = card.registry_type
        if card.uid is None:
            raise CardStateError(f"{card} is not registered")
        row = self.store.get(registry, card.uid)
        deleted = Event("card.deleted", registry, row.space, row.name, row.version, card.uid)
        self.store.remove(registry, card.uid, events=[deleted])
        self.storage.delete(row.storage_path)
        if registry is RegistryType.Experiment:
            self.tracking.delete(card.uid)
        card._attach_source(None)

    # -- aliases --------------------------------------------------------------------------

    def set_alias(
        self,
        registry: RegistryType,
        space: str,
        name: str,
        alias: str,
        version: Version,
        actor: Actor | None = None,
    ) -> CardAlias:
        """Point an alias at a registered version, atomically, with an audit line.

        Args:
            registry: The registry.
            space: The card's space (validated).
            name: The card's name (validated).
            alias: The alias (validated).
            version: The full version to point at.
            actor: Who moves it (a server passes its user; default: this OS user).

        Raises:
            CardNotFoundError: No such card version.
        """
        row = self.aliases.set(registry, space, name, alias, version, actor or _local_actor())
        return CardAlias(**row.fields())

    def delete_alias(
        self,
        registry: RegistryType,
        space: str,
        name: str,
        alias: str,
        actor: Actor | None = None,
    ) -> None:
        """Remove an alias, with an audit line.

        Raises:
            CardNotFoundError: No such alias.
        """
        self.aliases.delete(registry, space, name, alias, actor or _local_actor())

    def list_aliases(
        self,
        registry: RegistryType,
        space: str | None = None,
        name: str | None = None,
        spaces: Sequence[str] | None = None,
    ) -> list[CardAlias]:
        """Aliases and the versions they point at, by space, name and alias (``spaces``:
        only those spaces)."""
        return [
            CardAlias(**row.fields())
            for row in self.aliases.list(registry, space, name, spaces=spaces)
        ]


def os_user() -> str | None:
    """This process's operating-system user (``None`` when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (containers)
        return None


def _local_actor() -> Actor:
    """This process's OS user, as the audit log names a local-mode alias move."""
    return Actor(username=os_user() or "unknown", client_address="local")


def _username(owner: str | None) -> str:
    """Who registered a card: the server's user (``user:<name>``), else this process's
    login name."""
    if owner and owner.startswith("user:"):
        return owner[len("user:") :]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _encrypted(storage: ArtifactStorage, store: SqlStore, secret: str) -> ArtifactStorage:
    if not isinstance(storage, LocalStorage):
        raise InvalidArgumentError(
            "OPSML_ENCRYPT_SECRET (encryption at rest) works on a local storage folder; with "
            "object storage use the bucket's server-side encryption (see docs/encryption.md)"
        )
    keys = KeyStore(store)
    return EncryptedLocalStorage(
        storage.root,
        MasterKeys(secret),
        KeyTable(keys.get, keys.add, keys.delete),
        verified=storage.verified,
    )


def _single(query: CardQuery) -> CardQuery:
    return dataclasses.replace(query, sort_by_timestamp=False, limit=1, latest_first=True)


def _first(rows: Sequence[Any], registry: RegistryType, query: CardQuery) -> Any:
    if not rows:
        raise CardNotFoundError(f"no {registry.value} card matches {_describe(query)}")
    return rows[0]


def _describe(query: CardQuery) -> str:
    if query.uid is not None:
        return f"uid {query.uid!r}"
    parts = [
        f"{key}={value!r}" for key, value in (("space", query.space), ("name", query.name)) if value
    ]
    if query.version is not None:
        parts.append(f"version={query.version.text!r}")
    if query.alias is not None:
        parts.append(f"version='@{query.alias}'")
    return ", ".join(parts) or "the query"


def card_record(registry: RegistryType, row: Row[Any]) -> CardRecord:
    """The :class:`CardRecord` of a summary row."""
    return CardRecord(**record_fields(registry, row))


def record_fields(registry: RegistryType, row: Row[Any]) -> dict[str, Any]:
    """The fields of a summary row's :class:`CardRecord`, in its order, with its defaults
    (``CardRecord(**fields).model_dump() == fields``)."""
    created: datetime = row.created_at
    # A naive time is UTC (SQLite keeps no offset): the same text as with tzinfo=UTC.
    when = created.isoformat() + "+00:00" if created.tzinfo is None else created.isoformat()
    datacards = [row.datacard_uid] if row.datacard_uid else []
    experiments = [row.experimentcard_uid] if row.experimentcard_uid else []
    models: list[str] = []
    if registry is _EXPERIMENT:  # an experiment's links are in its card JSON
        linked = json.loads(row.card_json).get("uids", {})
        datacards = linked.get("datacard_uids", datacards)
        models = linked.get("modelcard_uids", models)
        experiments = linked.get("experimentcard_uids", experiments)
    return {
        "uid": row.uid,
        "created_at": when,
        "app_env": row.app_env,
        "space": row.space,
        "name": row.name,
        "version": row.version,
        "registry_type": registry.value,
        "tags": [] if row.tags == "[]" else json.loads(row.tags),
        "datacard_uids": datacards,
        "modelcard_uids": models,
        "experimentcard_uids": experiments,
        "auditcard_uid": None,
        "interface_type": row.interface_type,
        "data_type": row.data_type,
        "model_type": row.model_type,
        "task_type": row.task_type,
    }


_EXPERIMENT = RegistryType.Experiment
