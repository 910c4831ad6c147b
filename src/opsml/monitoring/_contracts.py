"""The requests opsml sends a Scouter server, as scouter 0.10.0's server reads them.

They mirror ``scouter_types::contracts`` of scouter 0.10.0 (``ProfileRequest``,
``VersionRequest``, ``ProfileStatusRequest``), whose routes are ``POST /scouter/profile`` and
``PUT /scouter/profile/status``. Building them needs no scouter-ml: a profile travels as the
JSON scouter wrote (``profile.model_dump_json()``), with the card's space, name and version put
into its ``config``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from opsml.errors import InvalidArgumentError
from opsml.types import DriftArgs, DriftProfileMap
from opsml.types._drift import drift_type_name

__all__ = [
    "DriftProfileRegistration",
    "ScouterProfileRequest",
    "ScouterProfileStatus",
    "ScouterVersionRequest",
    "drift_profile_registrations",
]


class ScouterVersionRequest(BaseModel):
    """Which version the Scouter server gives the profile (``VersionRequest``).

    Attributes:
        version: The version to use as given; ``None`` lets Scouter allocate one.
        version_type: How Scouter bumps a version it allocates (``Minor``).
        pre_tag: Prerelease tag of an allocated version.
        build_tag: Build tag of an allocated version.
    """

    model_config = ConfigDict(extra="forbid")

    version: str | None = None
    version_type: str = "Minor"
    pre_tag: str | None = None
    build_tag: str | None = None


class ScouterProfileRequest(BaseModel):
    """A drift profile to insert (``ProfileRequest``, body of ``POST /scouter/profile``).

    Attributes:
        space: The profile's space.
        drift_type: ``"Spc"``, ``"Psi"``, ``"Custom"`` or ``"LLM"``.
        profile: The profile's JSON, as scouter writes it.
        version_request: The version it is stored under.
    """

    model_config = ConfigDict(extra="forbid")

    space: str
    drift_type: str
    profile: str
    version_request: ScouterVersionRequest


class ScouterProfileStatus(BaseModel):
    """Activate or deactivate a profile (``ProfileStatusRequest``, body of
    ``PUT /scouter/profile/status``).

    Attributes:
        name: The profile's (card's) name.
        space: Its space.
        version: Its version.
        active: Whether it is to be monitored.
        drift_type: Which of the version's profiles (``None``: all of them).
        deactivate_others: Deactivate the other versions' profiles of this space and name.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    space: str
    version: str
    active: bool
    drift_type: str | None = None
    deactivate_others: bool = False


class DriftProfileRegistration(BaseModel):
    """One profile of a card being registered: insert it, then (with ``DriftArgs``) set its
    status, as OpsML 3 does.

    Attributes:
        alias: The profile's alias in the card (for error messages).
        request: The insert.
        status: The status update, when the card was registered with ``DriftArgs``.
    """

    model_config = ConfigDict(extra="forbid")

    alias: str
    request: ScouterProfileRequest
    status: ScouterProfileStatus | None = None


def _stamped(alias: str, profile: Any, space: str, name: str, version: str) -> tuple[str, str]:
    """The profile's JSON with the card's identity in its config, and its drift type."""
    try:
        content = json.loads(profile.model_dump_json())
        config = content["config"]
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise InvalidArgumentError(f"drift profile {alias!r} is not a scouter profile") from exc
    config.update(space=space, name=name, version=version)
    return json.dumps(content), drift_type_name(config.get("drift_type", ""))


def drift_profile_registrations(
    profiles: DriftProfileMap,
    space: str,
    name: str,
    version: str,
    drift_args: DriftArgs | None,
) -> list[DriftProfileRegistration]:
    """What registering a card with these profiles asks of Scouter.

    Args:
        profiles: The card's drift profiles.
        space: The card's space.
        name: The card's name.
        version: The version the registration allocated.
        drift_args: ``ModelSaveKwargs(drift=...)``: the status to give each profile
            (``None``: insert only, as OpsML 3).

    Returns:
        One registration per profile, in the map's order.
    """
    registrations = []
    for alias, profile in profiles.items():
        body, drift_type = _stamped(alias, profile, space, name, version)
        status = (
            None
            if drift_args is None
            else ScouterProfileStatus(
                name=name,
                space=space,
                version=version,
                active=drift_args.active,
                drift_type=drift_type,
                deactivate_others=drift_args.deactivate_others,
            )
        )
        registrations.append(
            DriftProfileRegistration(
                alias=alias,
                request=ScouterProfileRequest(
                    space=space,
                    drift_type=drift_type,
                    profile=body,
                    version_request=ScouterVersionRequest(version=version),
                ),
                status=status,
            )
        )
    return registrations
