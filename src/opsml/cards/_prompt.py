"""PromptCard: an LLM prompt with its model and settings, and its LLM drift profiles."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import PrivateAttr, field_validator

from opsml.cards._artifact_card import read_card_file
from opsml.cards._base import CARD_FILE, CardBase
from opsml.cards._source import DirectorySource
from opsml.errors import InvalidArgumentError
from opsml.interfaces import (
    drift_profile_map,
    load_drift_profiles,
    save_drift_profiles,
    stamp_drift_profiles,
)
from opsml.llm import Prompt
from opsml.monitoring import DriftProfileRegistration, drift_profile_registrations
from opsml.storage import Manifest, hash_file
from opsml.types import DriftArgs, DriftProfileMap, DriftProfileUri, RegistryType
from opsml.version import parse_requested_version

__all__ = ["PromptCard"]


def _drift_args(save_kwargs: Any) -> DriftArgs | None:
    """``DriftArgs`` from ``save_kwargs``: ``{"drift": DriftArgs(...)}`` (OpsML 3's form) or
    an object with a ``drift`` attribute."""
    if isinstance(save_kwargs, Mapping):
        drift = save_kwargs.get("drift")
    else:
        drift = getattr(save_kwargs, "drift", None)
    if drift is not None and not isinstance(drift, DriftArgs):
        raise InvalidArgumentError(
            f"save_kwargs['drift'] must be a DriftArgs, got {type(drift).__name__}"
        )
    return drift


class PromptCard(CardBase):
    """A versioned prompt, with optional LLM drift profiles.

    The prompt lives in the card's metadata. Drift profiles (``create_drift_profile`` with an
    ``LLMDriftConfig``, or ``drift_profile={alias: LLMDriftProfile}``) are saved as
    ``drift/<alias>.json`` files, covered by the card's manifest like every artifact, and read
    back (verified) the first time a loaded card's :attr:`drift_profile` is used.

    Example:
        ```python
        card = PromptCard(prompt=Prompt(message="Hello ${name}", model="gpt-4o",
                                        provider="openai"),
                          space="team-a", name="greeting")
        CardRegistry(RegistryType.Prompt).register_card(card)
        ```
    """

    registry_type: ClassVar[RegistryType] = RegistryType.Prompt

    prompt: Prompt
    experimentcard_uid: str | None = None
    drift_profile_uri_map: dict[str, DriftProfileUri] | None = None

    _drift_profiles: DriftProfileMap | None = PrivateAttr(default=None)

    def __init__(
        self,
        prompt: Prompt,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        drift_profile: DriftProfileMap | Mapping[str, Any] | None = None,
        **data: Any,
    ) -> None:
        """Create a PromptCard.

        Args:
            prompt: The prompt.
            space: Space of the card.
            name: Name of the card.
            version: A version to request (partial or full).
            uid: Set by the registry.
            tags: Free-form tags.
            drift_profile: LLM drift profiles by alias (``{"quality": LLMDriftProfile(...)}``).

        Raises:
            InvalidArgumentError: ``prompt`` is not a ``Prompt``, or ``drift_profile`` holds
                something that is not a drift profile.
        """
        super().__init__(
            prompt=prompt, space=space, name=name, version=version, uid=uid, tags=tags or [], **data
        )
        if drift_profile is not None:
            self._drift_profiles = drift_profile_map(drift_profile)

    @field_validator("prompt", mode="before")
    @classmethod
    def _check_prompt(cls, value: object) -> object:
        if not isinstance(value, Prompt | dict):
            raise InvalidArgumentError(
                f"PromptCard prompt must be an opsml.llm.Prompt, got {type(value).__name__}"
            )
        return value

    @property
    def drift_profile(self) -> DriftProfileMap:
        """The LLM drift profiles by alias (a :class:`~opsml.types.DriftProfileMap`).

        A loaded card reads its saved profiles the first time this is used, each file checked
        against the card's manifest; they carry the card's space, name and version.

        Raises:
            IntegrityError: A saved profile differs from the manifest.
            MissingDependencyError: The card has profiles and scouter-ml is not installed
                (extra ``monitoring``).
        """
        if self._drift_profiles is None:
            profiles = DriftProfileMap()
            if self.drift_profile_uri_map and self._source is not None:
                with self._source.local_folder() as folder:
                    profiles = load_drift_profiles(folder, self.drift_profile_uri_map)
                if self.uid is not None:
                    stamp_drift_profiles(profiles, self.space, self.name, self.version)
            self._drift_profiles = profiles
        return self._drift_profiles

    @drift_profile.setter
    def drift_profile(self, value: DriftProfileMap | Mapping[str, Any] | None) -> None:
        self._drift_profiles = drift_profile_map(value)

    def create_drift_profile(
        self, alias: str, config: Any, metrics: Any, workflow: Any = None
    ) -> Any:
        """Make an LLM drift profile and add it to :attr:`drift_profile`.

        Example:
            ```python
            card.create_drift_profile(
                "quality",
                config=LLMDriftConfig(),
                metrics=[LLMMetric(name="relevance", prompt=judge, value=3.0,
                                   alert_threshold=AlertThreshold.Below)],
            )
            ```

        Args:
            alias: The profile's name (and file name: ``drift/<alias>.json``).
            config: An ``LLMDriftConfig`` (``opsml.scouter.drift``).
            metrics: An ``LLMMetric`` or a list of them.
            workflow: An :class:`opsml.llm.Workflow` whose tasks score the answers, for
                metrics without a prompt of their own.

        Returns:
            The ``LLMDriftProfile``.

        Raises:
            InvalidArgumentError: A bad alias, config, metrics or workflow.
            MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
        """
        from opsml.llm._drift import create_llm_drift_profile

        DriftProfileMap().add_profile(alias, None)  # a bad alias fails before the work
        profile = create_llm_drift_profile(config, metrics, workflow)
        self.drift_profile.add_profile(alias, profile)
        return profile

    def _write_drift_profiles(self, folder: Path) -> None:
        profiles = self.drift_profile
        if profiles.is_empty():
            self.drift_profile_uri_map = None
            return
        version = self.version
        full = version is not None and parse_requested_version(version).is_full
        stamp_drift_profiles(profiles, self.space, self.name, version if full else None)
        self.drift_profile_uri_map = save_drift_profiles(profiles, folder)

    def _save_artifacts(self, path: Path, save_kwargs: Any = None) -> None:
        _drift_args(save_kwargs)  # a wrong drift argument fails before anything is written
        self._write_drift_profiles(path)

    def _registered(self) -> None:
        if self._drift_profiles is not None:  # the profiles now monitor this very version
            stamp_drift_profiles(self._drift_profiles, self.space, self.name, self.version)

    def _drift_registrations(
        self, version: str, save_kwargs: Any = None
    ) -> list[DriftProfileRegistration]:
        if self.drift_profile.is_empty():
            return []
        return drift_profile_registrations(
            self.drift_profile, str(self.space), str(self.name), version, _drift_args(save_kwargs)
        )

    def save(self, path: Path | str) -> Path:
        """Write the card to ``path``: a ``.json``/``.yaml``/``.yml`` file, or a folder
        (written as ``<folder>/card.json``). Drift profiles go to ``drift/<alias>.json``
        beside it, recorded in the card's manifest.

        Returns:
            The file written.
        """
        target = Path(path)
        if target.suffix.lower() not in (".json", ".yaml", ".yml"):
            target = target / CARD_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        if not self.drift_profile.is_empty():
            self._write_drift_profiles(target.parent)
            files = [uri.uri.as_posix() for uri in (self.drift_profile_uri_map or {}).values()]
            self.manifest = Manifest(
                files={rel: hash_file(target.parent / rel) for rel in sorted(files)}
            )
        text = self.model_dump_json()
        if target.suffix.lower() in (".yaml", ".yml"):
            text = yaml.safe_dump(json.loads(text), sort_keys=False)
        target.write_text(text, encoding="utf-8")
        return target

    @classmethod
    def from_path(cls, path: Path | str) -> PromptCard:
        """Read a card written by :meth:`save` or ``download_artifacts`` (JSON or YAML, a file
        or a folder); its drift profiles are read from beside it, verified, when used.

        Raises:
            InvalidArgumentError: The file is missing or not a PromptCard.
        """
        target = Path(path)
        text = read_card_file(target)
        if target.suffix.lower() in (".yaml", ".yml"):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise InvalidArgumentError(f"{target} is not valid YAML: {exc}") from exc
            text = json.dumps(loaded)
        card = cls.model_validate_json(text)
        if card.manifest is not None:
            folder = target if target.is_dir() else target.parent
            card._attach_source(DirectorySource(folder, card.manifest))
        return card

    def download_artifacts(self, path: Path | str | None = None) -> Path:
        """Copy the card's verified files (its drift profiles) and ``card.json`` into ``path``.

        Args:
            path: Destination folder (default ``card_artifacts``).

        Returns:
            The destination folder; :meth:`from_path` reads it back.
        """
        dest = Path(path) if path is not None else Path("card_artifacts")
        if self.manifest is not None and self.manifest.files:
            self._require_source().materialize(dest)
        self._write_card_file(dest)
        return dest

    def _registry_columns(self) -> dict[str, Any]:
        return {"experimentcard_uid": self.experimentcard_uid}

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        if self.experimentcard_uid:
            return {RegistryType.Experiment: [self.experimentcard_uid]}
        return {}
