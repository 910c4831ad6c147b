"""Prompts for LLM APIs: messages with ``${var}`` placeholders, model settings, output schema.

Binding rules (the same for ``Prompt.bind`` and ``Message.bind``):

* ``${name}`` placeholders (``name`` a Python identifier) are replaced; nothing else is
  touched, so ``$5`` or ``{json}`` stay as written.
* A value that is not a ``str`` is written as JSON (``3``, ``true``, ``["a", "b"]``).
* Substitution is a single pass: a bound value containing ``${x}`` is not expanded again.
* ``bind("var", value)`` (OpsML 3's positional form) and ``bind(var=value)`` are equivalent;
  the positional parameters are positional-only, so placeholders may be called ``name`` or
  ``value``.
* Binding a name that no message contains raises :class:`InvalidArgumentError` (a typo
  would otherwise go unnoticed); placeholders left unbound stay as they are, so a prompt can
  be bound in steps. ``Prompt.parameters`` lists the ones still open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opsml._validation import empty_list
from opsml.errors import InvalidArgumentError, SerializationError
from opsml.llm._content import AudioUrl, BinaryContent, DocumentUrl, ImageUrl

__all__ = ["Message", "ModelSettings", "Prompt"]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNDEFINED = "undefined"
_USER_ROLE = "user"
_SYSTEM_ROLE = "system"
_DEFAULT_FILE_NAME = "prompt.json"
_YAML_SUFFIXES = (".yaml", ".yml")
_CONTENT_TYPES = (ImageUrl, AudioUrl, DocumentUrl, BinaryContent)

Content = str | ImageUrl | AudioUrl | DocumentUrl | BinaryContent
"""What a message holds: text, or one piece of media or document."""
_StoredContent = (
    str | Annotated[ImageUrl | AudioUrl | DocumentUrl | BinaryContent, Field(discriminator="kind")]
)


def _render(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"cannot bind {name!r}: the value must be a str or JSON-serialisable, "
            f"got {type(value).__name__}"
        ) from exc


def _bind_values(name: str | None, value: Any, kwargs: dict[str, Any]) -> dict[str, str]:
    values = dict(kwargs)
    if name is not None:
        if value is None:
            raise InvalidArgumentError(f"bind({name!r}, value): the value is missing")
        if name in values:
            raise InvalidArgumentError(f"{name!r} is bound twice (positionally and as a keyword)")
        values[name] = value
    elif value is not None:
        raise InvalidArgumentError("bind(name, value): a value was given without a name")
    if not values:
        raise InvalidArgumentError("bind() needs at least one variable, e.g. bind(name='Ada')")
    return {key: _render(key, val) for key, val in values.items()}


def _placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def _substitute(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _unknown_names(values: dict[str, str], known: list[str], where: str) -> None:
    unknown = [name for name in values if name not in known]
    if unknown:
        listed = ", ".join(f"${{{name}}}" for name in known) or "none"
        raise InvalidArgumentError(
            f"{where} has no placeholder named {', '.join(map(repr, unknown))}; "
            f"its placeholders are: {listed}"
        )


class Message(BaseModel):
    """One message of a prompt.

    Args:
        content: The text, which may contain ``${var}`` placeholders; or an
            :class:`~opsml.llm.ImageUrl`, :class:`~opsml.llm.AudioUrl`,
            :class:`~opsml.llm.DocumentUrl` or :class:`~opsml.llm.BinaryContent` (no
            placeholders).
        role: Who speaks: ``"user"`` (default), ``"assistant"``, or ``"system"`` (system
            instructions of a :class:`Prompt` always get ``"system"``).

    Raises:
        InvalidArgumentError: ``content`` is none of these, or ``role`` is not a string.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    content: _StoredContent
    role: str = _USER_ROLE

    def __init__(self, content: Content, role: str = _USER_ROLE) -> None:
        # A dict is a saved content object (``{"kind": "image-url", ...}``) being read back.
        if not isinstance(content, (str, dict, *_CONTENT_TYPES)) or not isinstance(role, str):
            raise InvalidArgumentError(
                "Message content must be a str, ImageUrl, AudioUrl, DocumentUrl or "
                f"BinaryContent and its role a str, got {type(content).__name__} and "
                f"{type(role).__name__}"
            )
        super().__init__(content=content, role=role)

    @property
    def variables(self) -> list[str]:
        """The names of the ``${var}`` placeholders in the content, in order."""
        return _placeholders(self.content) if isinstance(self.content, str) else []

    def bind(self, name: str | None = None, value: Any = None, /, **kwargs: Any) -> Message:
        """Return a new message with placeholders filled; this one is unchanged.

        Args:
            name: A placeholder name (OpsML 3's positional form ``bind("name", "Ada")``).
            value: Its value.
            **kwargs: More placeholders and values, e.g. ``bind(name="Ada", n=3)``.

        Returns:
            The bound message.

        Raises:
            InvalidArgumentError: A name has no placeholder here, or a value is not
                JSON-serialisable.
        """
        values = _bind_values(name, value, kwargs)
        _unknown_names(values, self.variables, "this message")
        return self._substituted(values)

    def bind_mut(self, name: str | None = None, value: Any = None, /, **kwargs: Any) -> Message:
        """Like :meth:`bind`, but fills the placeholders of this message in place.

        Returns:
            This message.
        """
        self.content = self.bind(name, value, **kwargs).content
        return self

    def unwrap(self) -> Content:
        """Return the content (OpsML 3 compatible accessor)."""
        return self.content

    def _substituted(self, values: dict[str, str]) -> Message:
        if not isinstance(self.content, str):
            return self.model_copy()
        return self.model_copy(update={"content": _substitute(self.content, values)})


class ModelSettings(BaseModel):
    """Settings sent to the LLM API with a prompt; unset fields are ``None``.

    Attributes:
        model: The model name, e.g. ``"gpt-4o"``.
        provider: The provider, e.g. ``"openai"``.
        max_tokens: Maximum number of tokens to generate.
        temperature: Sampling temperature.
        top_p: Nucleus sampling probability mass.
        top_k: Sample from the k most likely tokens (Gemini).
        frequency_penalty: Penalty on frequent tokens.
        presence_penalty: Penalty on tokens already present.
        timeout: Request timeout in seconds.
        parallel_tool_calls: Whether tools may be called in parallel.
        seed: Seed for reproducible sampling.
        logit_bias: Token id to bias.
        stop_sequences: Sequences that stop generation.
        logprobs: Whether to return log probabilities.
        extra_body: Provider-specific fields sent as they are.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    model: str | None = None
    provider: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    timeout: float | None = None
    parallel_tool_calls: bool | None = None
    seed: int | None = None
    logit_bias: dict[str, int] | None = None
    stop_sequences: list[str] | None = None
    logprobs: bool | None = None
    extra_body: dict[str, Any] | None = None


def _messages(value: Any, system: bool, argument: str) -> list[Message]:
    items = value if isinstance(value, list | tuple) else [value]
    messages: list[Message] = []
    for item in items:
        if isinstance(item, (str, *_CONTENT_TYPES)):
            message = Message(item)
        elif isinstance(item, Message):
            message = item.model_copy()
        elif isinstance(item, dict):
            try:
                message = Message.model_validate(item)
            except ValidationError as exc:
                raise InvalidArgumentError(f"invalid message in {argument}: {exc}") from exc
        else:
            raise InvalidArgumentError(
                f"{argument} must be a str, a Message, an ImageUrl, AudioUrl, DocumentUrl or "
                f"BinaryContent, or a list of them, got {type(item).__name__}"
            )
        if system:
            message.role = _SYSTEM_ROLE
        messages.append(message)
    return messages


def _settings(
    model: str | None,
    provider: str | None,
    model_settings: ModelSettings | dict[str, Any] | None,
) -> ModelSettings:
    if model_settings is None:
        settings = ModelSettings()
    elif isinstance(model_settings, ModelSettings):
        settings = model_settings.model_copy(deep=True)
    elif isinstance(model_settings, dict):
        try:
            settings = ModelSettings.model_validate(model_settings)
        except ValidationError as exc:
            raise InvalidArgumentError(f"invalid model_settings: {exc}") from exc
    else:
        raise InvalidArgumentError(
            f"model_settings must be a ModelSettings, got {type(model_settings).__name__}"
        )
    if model is not None and provider is None and ":" in model:
        provider, model = model.split(":", 1)
    if model is not None:
        if settings.model is not None and settings.model != model:
            raise InvalidArgumentError(
                f"model={model!r} conflicts with model_settings.model={settings.model!r}"
            )
        settings.model = model
    if provider is not None:
        if settings.provider is not None and settings.provider != provider:
            raise InvalidArgumentError(
                f"provider={provider!r} conflicts with "
                f"model_settings.provider={settings.provider!r}"
            )
        settings.provider = provider
    return settings


def _response_schema(response_format: Any) -> dict[str, Any] | None:
    if response_format is None:
        return None
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return response_format.model_json_schema()
    if isinstance(response_format, dict):
        try:
            json.dumps(response_format)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"response_format is not valid JSON: {exc}") from exc
        return dict(response_format)
    raise InvalidArgumentError(
        "response_format must be a pydantic model class or a JSON schema dict, "
        f"got {type(response_format).__name__}"
    )


class Prompt(BaseModel):
    """A prompt for an LLM API: user messages, system instructions, model and settings.

    Args:
        message: The user message(s): a str, a :class:`Message`, or a list of them (dicts
            with ``content`` and ``role`` are accepted too).
        model: The model name. ``"provider:model"`` with no ``provider`` is split at the
            first colon.
        provider: The provider name.
        system_instruction: System message(s), same forms as ``message``; their role is
            always ``"system"``.
        model_settings: Sampling and request settings (a :class:`ModelSettings` or a dict).
            ``model``/``provider`` given both here and as arguments must agree.
        response_format: A pydantic model class (its JSON schema is stored) or a JSON
            schema dict, for structured outputs.

    Raises:
        InvalidArgumentError: An argument has the wrong type, there is no message, or
            ``model``/``provider`` conflict with ``model_settings``.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    message: list[Message]
    system_instruction: list[Message] = Field(default_factory=empty_list)
    model_settings: ModelSettings = Field(default_factory=ModelSettings)
    response_format: dict[str, Any] | None = None

    def __init__(
        self,
        message: str | Message | Sequence[str | Message | dict[str, Any]],
        model: str | None = None,
        provider: str | None = None,
        system_instruction: str | Message | Sequence[str | Message | dict[str, Any]] | None = None,
        model_settings: ModelSettings | dict[str, Any] | None = None,
        response_format: type[BaseModel] | dict[str, Any] | None = None,
    ) -> None:
        messages = _messages(message, system=False, argument="message")
        if not messages:
            raise InvalidArgumentError("a Prompt needs at least one message")
        super().__init__(
            message=messages,
            system_instruction=(
                []
                if system_instruction is None
                else _messages(system_instruction, True, "system_instruction")
            ),
            model_settings=_settings(model, provider, model_settings),
            response_format=_response_schema(response_format),
        )

    @property
    def model(self) -> str:
        """The model name, or ``"undefined"``."""
        return self.model_settings.model or _UNDEFINED

    @property
    def provider(self) -> str:
        """The provider name, or ``"undefined"``."""
        return self.model_settings.provider or _UNDEFINED

    @property
    def model_identifier(self) -> str:
        """``"provider:model"``, e.g. ``"openai:gpt-4o"`` (the form pydantic-ai accepts)."""
        return f"{self.provider}:{self.model}"

    @property
    def parameters(self) -> list[str]:
        """Names of the placeholders still unbound, over all messages, in order."""
        names: dict[str, None] = {}
        for message in [*self.system_instruction, *self.message]:
            names.update(dict.fromkeys(message.variables))
        return list(names)

    @property
    def response_json_schema(self) -> str | None:
        """The response format as a JSON string, or ``None`` (OpsML 3 compatible)."""
        return None if self.response_format is None else json.dumps(self.response_format)

    def bind(self, name: str | None = None, value: Any = None, /, **kwargs: Any) -> Prompt:
        """Return a new prompt with placeholders filled in every message; this one is unchanged.

        Args:
            name: A placeholder name (OpsML 3's positional form ``bind("name", "Ada")``).
            value: Its value.
            **kwargs: More placeholders and values, e.g. ``bind(name="Ada", n=3)``.

        Returns:
            The bound prompt.

        Raises:
            InvalidArgumentError: A name has no placeholder in any message, or a value is
                not JSON-serialisable.
        """
        values = _bind_values(name, value, kwargs)
        _unknown_names(values, self.parameters, "this prompt")
        return self.model_copy(
            deep=True,
            update={
                "message": [m._substituted(values) for m in self.message],
                "system_instruction": [m._substituted(values) for m in self.system_instruction],
            },
        )

    def bind_mut(self, name: str | None = None, value: Any = None, /, **kwargs: Any) -> Prompt:
        """Like :meth:`bind`, but fills the placeholders of this prompt in place.

        Returns:
            This prompt.
        """
        bound = self.bind(name, value, **kwargs)
        self.message = bound.message
        self.system_instruction = bound.system_instruction
        return self

    def save_prompt(self, path: Path | str | None = None) -> Path:
        """Write the prompt as YAML (``.yaml``/``.yml``) or JSON (``.json``).

        Args:
            path: The file to write, or an existing folder (``prompt.json`` is written in
                it); default ``./prompt.json``.

        Returns:
            The file written.

        Raises:
            InvalidArgumentError: The suffix is neither YAML nor JSON.
            SerializationError: The file could not be written.
        """
        target = Path.cwd() / _DEFAULT_FILE_NAME if path is None else Path(path)
        if target.is_dir():
            target = target / _DEFAULT_FILE_NAME
        suffix = target.suffix.lower()
        data = self.model_dump(mode="json", exclude_none=True)
        if suffix in _YAML_SUFFIXES:
            import yaml

            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        elif suffix == ".json":
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            raise InvalidArgumentError(
                f"cannot save a prompt as {target.name!r}: use a .yaml, .yml or .json file"
            )
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SerializationError(f"could not write prompt {target}: {exc}") from exc
        return target

    @staticmethod
    def from_path(path: Path | str) -> Prompt:
        """Read a prompt from a YAML or JSON file.

        The file holds either what :meth:`save_prompt` writes or the constructor's
        arguments (``message``, ``model``, ``provider``, ``system_instruction``,
        ``model_settings``, ``response_format``), e.g. a hand-written YAML file.

        Args:
            path: A ``.yaml``, ``.yml`` or ``.json`` file.

        Returns:
            The prompt.

        Raises:
            InvalidArgumentError: The suffix is neither YAML nor JSON.
            SerializationError: The file cannot be read or does not describe a prompt.
        """
        source = Path(path)
        suffix = source.suffix.lower()
        if suffix not in (*_YAML_SUFFIXES, ".json"):
            raise InvalidArgumentError(
                f"cannot read a prompt from {source.name!r}: use a .yaml, .yml or .json file"
            )
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise SerializationError(f"could not read prompt {source}: {exc}") from exc
        if suffix == ".json":
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise SerializationError(f"{source} is not valid JSON: {exc}") from exc
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise SerializationError(f"{source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise SerializationError(f"{source} must hold a mapping, got {type(data).__name__}")
        try:
            return Prompt(**data)
        except (InvalidArgumentError, TypeError, ValidationError) as exc:
            raise SerializationError(f"{source} does not describe a prompt: {exc}") from exc
