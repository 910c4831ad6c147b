"""PromptCard: an LLM prompt with its model and settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import field_validator

from opsml.cards._artifact_card import read_card_file
from opsml.cards._base import CARD_FILE, CardBase
from opsml.errors import InvalidArgumentError
from opsml.llm import Prompt
from opsml.types import RegistryType

__all__ = ["PromptCard"]


class PromptCard(CardBase):
    """A versioned prompt. The whole prompt lives in the card's metadata (no artifact files).

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

    def __init__(
        self,
        prompt: Prompt,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
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

        Raises:
            InvalidArgumentError: ``prompt`` is not a ``Prompt``.
        """
        super().__init__(
            prompt=prompt, space=space, name=name, version=version, uid=uid, tags=tags or [], **data
        )

    @field_validator("prompt", mode="before")
    @classmethod
    def _check_prompt(cls, value: object) -> object:
        if not isinstance(value, Prompt | dict):
            raise InvalidArgumentError(
                f"PromptCard prompt must be an opsml.llm.Prompt, got {type(value).__name__}"
            )
        return value

    def save(self, path: Path | str) -> Path:
        """Write the card to ``path``: a ``.json``/``.yaml``/``.yml`` file, or a folder
        (written as ``<folder>/card.json``).

        Returns:
            The file written.
        """
        target = Path(path)
        if target.suffix.lower() not in (".json", ".yaml", ".yml"):
            target = target / CARD_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        text = self.model_dump_json()
        if target.suffix.lower() in (".yaml", ".yml"):
            text = yaml.safe_dump(json.loads(text), sort_keys=False)
        target.write_text(text, encoding="utf-8")
        return target

    @classmethod
    def from_path(cls, path: Path | str) -> PromptCard:
        """Read a card written by :meth:`save` (JSON or YAML, a file or a folder).

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
        return cls.model_validate_json(text)

    def _registry_columns(self) -> dict[str, Any]:
        return {"experimentcard_uid": self.experimentcard_uid}

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        if self.experimentcard_uid:
            return {RegistryType.Experiment: [self.experimentcard_uid]}
        return {}
