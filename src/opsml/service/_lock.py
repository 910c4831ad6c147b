"""``opsml.lock``: the exact cards (uid, version) and artifact hashes a service runs with.

TOML, one ``[[artifact]]`` per card plus one for the service itself (``registry_type =
"service"``); each card lists its files as ``[[artifact.files]]`` with size and SHA-256. A
project with several services (``pyproject.toml``) locks them in one file: each service's
entry followed by its cards.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opsml._validation import empty_list, translate_validation_error
from opsml.cards import alias_in
from opsml.errors import LockfileError, OpsmlError
from opsml.service._spec import OpsmlServiceSpec
from opsml.storage import Manifest, safe_relpath
from opsml.types import RegistryType
from opsml.version import Version, VersionQuery

__all__ = ["LOCK_FILE", "LockArtifact", "LockFile", "LockedFile"]

LOCK_FILE = "opsml.lock"
LOCK_FORMAT = 1


class LockedFile(BaseModel):
    """One artifact file: its path inside the card folder, size and SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: int
    sha256: str


class LockArtifact(BaseModel):
    """One pinned card (or the service itself)."""

    model_config = ConfigDict(extra="forbid")

    alias: str
    registry_type: RegistryType
    space: str
    name: str
    version: str
    uid: str
    query: str | None = Field(default=None, description="the spec's version query")
    files: list[LockedFile] = Field(default_factory=empty_list)

    @classmethod
    def files_of(cls, manifest: Manifest | None) -> list[LockedFile]:
        """The locked files of a card's manifest, sorted by path."""
        if manifest is None:
            return []
        return [
            LockedFile(path=path, size=entry.size, sha256=entry.sha256)
            for path, entry in sorted(manifest.files.items())
        ]


class LockFile(BaseModel):
    """A parsed ``opsml.lock``."""

    model_config = ConfigDict(extra="forbid")

    version: int = LOCK_FORMAT
    artifact: list[LockArtifact] = Field(default_factory=empty_list)

    @property
    def service(self) -> LockArtifact:
        """The service's own entry.

        Raises:
            LockfileError: The lock has none.
        """
        for entry in self.artifact:
            if entry.registry_type is RegistryType.Service:
                return entry
        raise LockfileError(f"{LOCK_FILE} has no service entry; run `opsml lock` again")

    @property
    def cards(self) -> list[LockArtifact]:
        """The card entries, in the spec's order."""
        return [a for a in self.artifact if a.registry_type is not RegistryType.Service]

    def split(self) -> list[LockFile]:
        """One lock per service, for a project with several (``pyproject.toml``): the
        entries of a lock are each service's own entry followed by its cards."""
        parts: list[LockFile] = []
        for entry in self.artifact:
            if entry.registry_type is RegistryType.Service or not parts:
                parts.append(LockFile(version=self.version, artifact=[]))
            parts[-1].artifact.append(entry)
        return parts

    @classmethod
    def read(cls, path: Path) -> LockFile:
        """Read a lock file.

        Raises:
            LockfileError: It is missing or malformed.
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LockfileError(f"{path} not found; run `opsml lock` first") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LockfileError(f"{path} cannot be read: {exc}") from exc
        try:
            lock = cls.model_validate(data)
            for entry in lock.cards:
                for file in entry.files:
                    safe_relpath(file.path)
        except ValidationError as exc:
            error = translate_validation_error(exc, str(path))
            raise LockfileError(str(error)) from None
        except OpsmlError as exc:
            raise LockfileError(f"{path} is malformed: {exc}") from None
        if lock.version != LOCK_FORMAT:
            raise LockfileError(f"{path} has format {lock.version}; this opsml reads {LOCK_FORMAT}")
        lock.service  # noqa: B018 - raises when missing
        return lock

    def write(self, path: Path) -> None:
        """Write the lock atomically (a reader never sees half a file)."""
        fd, tmp = tempfile.mkstemp(prefix=".opsml.lock.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.to_toml())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def to_toml(self) -> str:
        """The lock as TOML text."""
        lines = [
            "# Written by `opsml lock`: the exact cards and artifact hashes of this service.",
            "# Do not edit; `opsml install service` verifies every file against it.",
            f"version = {self.version}",
        ]
        for entry in self.artifact:
            lines += ["", "[[artifact]]"]
            for key in ("alias", "registry_type", "space", "name", "version", "uid", "query"):
                value = getattr(entry, key)
                if value is not None:
                    lines.append(f"{key} = {_toml_string(str(value))}")
            for file in entry.files:
                lines += [
                    "",
                    "[[artifact.files]]",
                    f"path = {_toml_string(file.path)}",
                    f"size = {file.size}",
                    f"sha256 = {_toml_string(file.sha256)}",
                ]
        return "\n".join(lines) + "\n"

    def mismatch(self, spec: OpsmlServiceSpec) -> str | None:
        """Why this lock no longer describes ``spec`` (``None`` when it does).

        The lock matches when the service's space and name are the spec's, the aliases are
        the same, each card has the spec's type, space and name (or uid), and each locked
        version satisfies the spec's version query.
        """
        service = self.service
        if (service.space, service.name) != (spec.space, spec.name):
            return (
                f"the lock is for service {service.space}/{service.name}, the spec for "
                f"{spec.space}/{spec.name}"
            )
        if not _satisfies(service.version, spec.service.version):
            return f"the service version {service.version} does not match {spec.service.version!r}"
        locked = {entry.alias: entry for entry in self.cards}
        wanted = [card.alias for card in spec.service.cards]
        if sorted(locked) != sorted(wanted):
            return f"the spec's cards {sorted(wanted)} differ from the locked {sorted(locked)}"
        for card in spec.service.cards:
            entry = locked[card.alias]
            if entry.registry_type is not card.registry_type:
                return f"card {card.alias!r} is a {card.registry_type.value} card in the spec"
            if card.uid is not None:
                if entry.uid != card.uid:
                    return f"card {card.alias!r} has uid {card.uid} in the spec"
                continue
            if (entry.space, entry.name) != (spec.card_space(card), card.name):
                return f"card {card.alias!r} is {spec.card_space(card)}/{card.name} in the spec"
            if not _satisfies(entry.version, card.version):
                return (
                    f"card {card.alias!r}: locked version {entry.version} does not match "
                    f"{card.version!r}"
                )
        return None


def _satisfies(version: str, query: str | None) -> bool:
    if not query:
        return True
    if alias_in(query) is not None:  # the lock pins what the alias pointed at
        return True
    return VersionQuery.parse(query).matches(Version.parse(version))


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
