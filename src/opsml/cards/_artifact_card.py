"""Behaviour shared by cards whose artifacts come from an interface (Model and Data cards)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from opsml.cards._base import CARD_FILE, CardBase
from opsml.cards._source import ArtifactSource, DirectorySource
from opsml.errors import CardStateError, InvalidArgumentError, OpsmlError, SerializationError
from opsml.interfaces import stamp_drift_profiles
from opsml.monitoring import DriftProfileRegistration, drift_profile_registrations
from opsml.storage import Manifest
from opsml.types import DriftArgs, DriftProfileMap
from opsml.version import parse_requested_version

__all__ = ["InterfaceCard", "read_card_file"]


def read_card_file(path: Path) -> str:
    """Read ``card.json`` from a card folder (or the file itself).

    Raises:
        InvalidArgumentError: There is no card file there.
    """
    file = path / CARD_FILE if path.is_dir() else path
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgumentError(f"no card file at {file}: {exc}") from exc


class InterfaceCard(CardBase):
    """A card whose artifacts are written and read by an interface object.

    Subclasses narrow the types of ``interface`` and ``metadata`` (whose
    ``interface_metadata`` records which interface class wrote which files). The interface
    itself is never serialised into the card JSON, only its metadata.
    """

    interface: Any = Field(default=None, exclude=True)
    metadata: Any = None

    def _interface_obj(self) -> Any:
        return self.interface

    def _set_interface(self, interface: Any) -> None:
        self.interface = interface

    def _interface_metadata(self) -> Any:
        return self.metadata.interface_metadata

    def _set_interface_metadata(self, metadata: Any) -> None:
        self.metadata.interface_metadata = metadata

    @property
    def experimentcard_uid(self) -> str | None:
        """uid of the experiment that produced this card."""
        uid: str | None = self.metadata.experimentcard_uid
        return uid

    @experimentcard_uid.setter
    def experimentcard_uid(self, value: str | None) -> None:
        self.metadata.experimentcard_uid = value

    @classmethod
    def model_validate_json(  # type: ignore[override]
        cls, json_data: str | bytes, interface: Any = None, **kwargs: Any
    ) -> Any:
        """Rebuild a card from its JSON; ``interface`` (optional) receives the artifacts."""
        card = super().model_validate_json(json_data, **kwargs)
        if interface is not None:
            card._set_interface(interface)
        return card

    def _save_artifacts(self, path: Path, save_kwargs: Any = None) -> None:
        """Let the interface write its files into ``path`` and record its metadata.

        The drift profiles get the card's space and name (and its version, when a full one
        is asked for) first; a custom ``save`` that writes no drift profiles (nor, for data,
        SQL files and profile) has them written after it.
        """
        interface = self._interface_obj()
        if interface is None:
            raise CardStateError(
                f"{type(self).__name__} {self.space}/{self.name} has no interface to save"
            )
        version = self.version
        full = version is not None and parse_requested_version(version).is_full
        stamp_drift_profiles(
            interface.drift_profile, self.space, self.name, version if full else None
        )
        try:
            save_metadata = interface.save(path, save_kwargs)
            metadata = interface.get_interface_metadata(save_metadata)
        except OpsmlError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"{type(interface).__name__} failed to save {self.space}/{self.name}: {exc}"
            ) from exc
        metadata.save_metadata = interface._save_extras(path, metadata.save_metadata)
        self._set_interface_metadata(metadata)

    def _load_interface(self, folder: Path, load_kwargs: Any, interface: Any = None) -> None:
        from opsml.interfaces import resolve_interface

        metadata = self._interface_metadata()
        if metadata is None:
            raise CardStateError(f"{type(self).__name__} {self.space}/{self.name} has no artifacts")
        target = interface or self._interface_obj() or resolve_interface(metadata)
        try:
            target.load(folder, metadata.save_metadata, load_kwargs)
        except OpsmlError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"{type(target).__name__} failed to load {self.space}/{self.name}: {exc}"
            ) from exc
        # A custom load() may not read the drift profiles (nor, for data, SQL and profile).
        target._load_extras(folder, metadata.save_metadata)
        if self.uid is not None:  # a registered card: its profiles monitor this very version
            stamp_drift_profiles(target.drift_profile, self.space, self.name, self.version)
        self._set_interface(target)

    def _registered(self) -> None:
        interface = self._interface_obj()
        if interface is not None:  # the profiles now monitor this very version
            stamp_drift_profiles(interface.drift_profile, self.space, self.name, self.version)

    def _drift_registrations(
        self, version: str, save_kwargs: Any = None
    ) -> list[DriftProfileRegistration]:
        interface = self._interface_obj()
        if interface is None or interface.drift_profile.is_empty():
            return []
        drift = getattr(save_kwargs, "drift", None)
        return drift_profile_registrations(
            interface.drift_profile,
            str(self.space),
            str(self.name),
            version,
            drift if isinstance(drift, DriftArgs) else None,
        )

    @property
    def drift_profile(self) -> DriftProfileMap:
        """The interface's drift profiles by alias (empty without an interface).

        After ``load()`` of a registered card they carry its space, name and version.
        """
        interface = self._interface_obj()
        return DriftProfileMap() if interface is None else interface.drift_profile

    def drift_profile_path(self, alias: str) -> Path:
        """The file of the drift profile ``alias``, relative to the card's folder.

        Args:
            alias: The profile's alias.

        Returns:
            E.g. ``Path("drift/psi.json")``; join it to the folder of ``download_artifacts``.

        Raises:
            InvalidArgumentError: The card has no saved drift profile of that alias.
        """
        metadata = self._interface_metadata()
        uris = {} if metadata is None else metadata.save_metadata.drift_profile_uri_map or {}
        if alias not in uris:
            known = ", ".join(sorted(uris)) or "none"
            raise InvalidArgumentError(
                f"{type(self).__name__} {self.space}/{self.name} has no saved drift profile "
                f"{alias!r} (saved: {known})"
            )
        return Path(uris[alias].uri)

    def load(self, path: Path | None = None, load_kwargs: Any = None) -> None:
        """Fetch and deserialise the card's artifacts into its interface.

        Every file is checked against the card's manifest (size and SHA-256): before any of
        them is read for interfaces whose files can run code when read (pickles, torch), and
        at the same time as the read for plain data formats (Parquet, ``.npy`` without
        pickles, SQL text), whose result is discarded unless every file verifies. Either way
        nothing unverified is ever handed back.

        Args:
            path: Download the artifacts into this folder first (else read them in place
                where the storage allows it, or from a temporary download).
            load_kwargs: ``ModelLoadKwargs`` / ``DataLoadKwargs`` for the interface.

        Raises:
            CardStateError: The card has no stored artifacts.
            IntegrityError: A stored file differs from the manifest.
        """
        from opsml.interfaces import resolve_interface

        source = self._require_source()
        if path is not None:
            self._load_interface(source.materialize(Path(path)), load_kwargs)
            return
        target = self._interface_obj()
        metadata = self._interface_metadata()
        if target is None and metadata is not None:
            target = resolve_interface(metadata)
            if not getattr(target, "verify_before_read", True):
                self._load_verifying_alongside(source, load_kwargs, target)
                return
        with source.local_folder() as folder:
            self._load_interface(folder, load_kwargs, target)

    def _load_verifying_alongside(
        self, source: ArtifactSource, load_kwargs: Any, target: Any
    ) -> None:
        with (
            source.local_folder(verify=False) as folder,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):
            check = pool.submit(source.verify, folder)
            try:
                self._load_interface(folder, load_kwargs, target)
            except BaseException:
                check.result()  # a corrupt file explains a failed read best
                raise
            try:
                check.result()
            except BaseException:
                self._set_interface(None)
                raise

    def download_artifacts(self, path: Path | str | None = None) -> Path:
        """Copy the card's verified artifacts and its ``card.json`` into ``path``.

        Args:
            path: Destination folder (default ``card_artifacts``).

        Returns:
            The destination folder.
        """
        dest = Path(path) if path is not None else Path("card_artifacts")
        self._require_source().materialize(dest)
        self._write_card_file(dest)
        return dest

    def save(self, path: Path | str, save_kwargs: Any = None) -> None:
        """Write the card's artifacts and ``card.json`` into ``path`` without a registry."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_artifacts(folder, save_kwargs)
        self.manifest = Manifest.from_dir(folder, exclude=frozenset({CARD_FILE}))
        self._write_card_file(folder)
        self._attach_source(DirectorySource(folder, self.manifest))

    @classmethod
    def _from_folder(cls, path: Path, interface: Any = None) -> Any:
        card = cls.model_validate_json(read_card_file(path))
        folder = path if path.is_dir() else path.parent
        card._attach_source(DirectorySource(folder, card.manifest))
        if interface is not None:
            card._set_interface(interface)
        return card

    @classmethod
    def load_from_path(
        cls, path: Path | str, load_kwargs: Any = None, interface: Any = None
    ) -> Any:
        """Rebuild a card from a folder written by ``save`` or ``download_artifacts``.

        No registry or network is used. Files are verified against the manifest stored in
        ``card.json`` before they are deserialised.

        Args:
            path: The folder.
            load_kwargs: Passed to the interface's ``load``.
            interface: An interface instance to load into (needed for custom interfaces).

        Returns:
            The card, with its artifacts loaded.
        """
        card = cls._from_folder(Path(path), interface)
        card.load(load_kwargs=load_kwargs)
        return card

    def _interface_columns(self) -> dict[str, Any]:
        metadata = self._interface_metadata()
        if metadata is None:
            return {}
        dumped = json.loads(metadata.model_dump_json())
        return {
            "interface_type": dumped.get("interface_type"),
            "data_type": _as_str(dumped.get("data_type")),
            "model_type": _as_str(dumped.get("model_type")),
            "task_type": _as_str(dumped.get("task_type")),
        }


def _as_str(value: object) -> str | None:
    return None if value is None else str(value)
