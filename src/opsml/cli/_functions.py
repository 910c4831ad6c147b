"""Python entry points of CLI commands, under OpsML 3's names and signatures."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from opsml._validation import translate_validation_error
from opsml.errors import InvalidArgumentError
from opsml.monitoring import ScouterProfileStatus
from opsml.service import LockFile, lock_service, read_project
from opsml.service import download_card as _download_card
from opsml.types import RegistryType
from opsml.types._drift import drift_type_name

__all__ = [
    "DownloadCard",
    "ScouterArgs",
    "download_card",
    "generate_key",
    "lock_project",
    "run_opsml_cli",
    "update_drift_profile_status",
    "validate_project",
]

_DRIFT_TYPES = ("Spc", "Psi", "Custom", "LLM")

_SALT_BYTES = 16


class DownloadCard(BaseModel):
    """Which card ``download_card`` fetches and where it writes it."""

    space: str | None = None
    name: str | None = None
    version: str | None = None
    uid: str | None = None
    write_dir: str = "artifacts"


def download_card(args: DownloadCard, registry_type: RegistryType | str) -> Path:
    """Download a card's ``card.json`` and artifacts (``opsml get <registry>``).

    Returns:
        The folder written.
    """
    return _download_card(
        registry_type,
        write_dir=args.write_dir,
        space=args.space,
        name=args.name,
        version=args.version,
        uid=args.uid,
    )


class ScouterArgs(BaseModel):
    """Which drift profile ``update_drift_profile_status`` changes, and how (OpsML 3's
    ``ScouterArgs``).

    Args:
        space: The card's space.
        name: The card's name.
        version: The card's version.
        drift_type: ``DriftType`` (``opsml.scouter.types``) or its name: ``Spc``, ``Psi``,
            ``Custom``, ``LLM``.
        active: Monitor the profile (``True``) or stop (``False``).
        deactivate_others: Also deactivate the profiles of the other versions.
    """

    model_config = ConfigDict(frozen=True)

    space: str
    name: str
    version: str
    drift_type: str
    active: bool
    deactivate_others: bool = False

    def __init__(
        self,
        space: str,
        name: str,
        version: str,
        drift_type: Any,
        active: bool,
        deactivate_others: bool = False,
    ) -> None:
        kind = drift_type_name(drift_type)
        if kind not in _DRIFT_TYPES:
            raise InvalidArgumentError(
                f"drift_type must be one of {', '.join(_DRIFT_TYPES)}, got {drift_type!r}"
            )
        try:
            super().__init__(
                space=space,
                name=name,
                version=version,
                drift_type=kind,
                active=active,
                deactivate_others=deactivate_others,
            )
        except ValidationError as exc:
            raise translate_validation_error(exc, "ScouterArgs") from exc


def update_drift_profile_status(args: ScouterArgs) -> None:
    """Activate or deactivate a card version's drift profile on the Scouter server
    (``opsml scouter update-profile-status``).

    In local mode the registry's own Scouter settings are used (``SCOUTER_SERVER_URI``...);
    in client mode the opsml server's.

    Raises:
        MonitoringError: No Scouter server is configured, or it refused the request.
    """
    from opsml.registry import backend_for
    from opsml.settings import OpsmlConfig

    status = ScouterProfileStatus(
        name=args.name.lower(),
        space=args.space.lower(),
        version=args.version,
        active=args.active,
        drift_type=args.drift_type,
        deactivate_others=args.deactivate_others,
    )
    backend_for(OpsmlConfig.from_env()).update_drift_profile_status(status)


def _spec_path(path: Path | str | None, toml_name: str | None) -> Path:
    folder = Path(path) if path is not None else Path.cwd()
    return folder / toml_name if toml_name is not None else folder


def lock_project(path: Path | str | None = None, toml_name: str | None = None) -> LockFile:
    """Lock a service project: OpsML 3's name of :func:`opsml.service.lock_service`.

    Args:
        path: The folder holding the spec (default: the current directory), or the spec file.
        toml_name: The spec's file name inside ``path``, when it is not ``opsmlspec.yaml``.

    Returns:
        The lock that was written next to the spec.
    """
    return lock_service(_spec_path(path, toml_name))


def validate_project(path: Path | str | None = None, toml_name: str | None = None) -> None:
    """Check a service project's spec without contacting a registry, as ``opsml lock`` would
    read it, and print that it is valid.

    Args:
        path: The folder holding the spec (default: the current directory), or the spec file.
        toml_name: The spec's file name inside ``path``, when it is not ``opsmlspec.yaml``.

    Raises:
        InvalidArgumentError: No spec file, or a spec that is malformed (the message names the
            field).
    """
    specs = read_project(_spec_path(path, toml_name))
    names = ", ".join(f"{spec.space}/{spec.name}" for spec in specs)
    print(f"Opsml project is valid: {specs[0].path} ({names})")


def generate_key(password: str, rounds: int = 100_000) -> str:
    """Derive a master key for encryption at rest from ``password`` and print it.

    The key is PBKDF2-HMAC-SHA256 of the password with a fresh random salt and ``rounds``
    iterations, so two calls never print the same key; it is printed (and returned) in the
    form ``OPSML_ENCRYPT_SECRET`` accepts. It is not stored anywhere.

    Args:
        password: The password to derive the key from (not empty).
        rounds: PBKDF2 iterations (at least 1).

    Returns:
        The key, as printed.

    Raises:
        InvalidArgumentError: An empty password or fewer than one round.
    """
    from opsml.storage import KEY_PREFIX

    if not isinstance(password, str) or not password:
        raise InvalidArgumentError("generate_key needs a non-empty password")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidArgumentError(f"generate_key needs rounds >= 1, got {rounds!r}")
    salt = secrets.token_bytes(_SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds, dklen=32)
    key = KEY_PREFIX + base64.urlsafe_b64encode(derived).decode("ascii")
    print(
        "Generated key (it is not saved anywhere: keep it in a secure place, e.g. as "
        f"OPSML_ENCRYPT_SECRET):\n{key}"
    )
    return key


def run_opsml_cli(args: Sequence[str] | None = None) -> None:
    """Run the ``opsml`` command line in this process, as the ``opsml`` script does.

    Args:
        args: The command's arguments (default: ``sys.argv[1:]``), e.g.
            ``["list", "model", "--space", "team-a"]``.

    Raises:
        SystemExit: The command failed (its one-line error is printed on stderr) or the
            arguments are invalid; ``code`` is its non-zero exit status.
    """
    from opsml.cli.main import app

    argv = list(sys.argv[1:] if args is None else args)
    try:
        app(args=argv, prog_name="opsml")
    except SystemExit as exc:  # the command line always ends with one
        if exc.code not in (0, None):
            raise
