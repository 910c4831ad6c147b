"""Drift monitoring routes: the server talks to its Scouter server for its clients.

A client registering a card with drift profiles sends them here before it commits the card
(the registration's step 4, see ``registry/_registration.py``); the server registers them
with the Scouter server of its own configuration (``SCOUTER_SERVER_URI``), as OpsML 3's
server does, so clients need no Scouter settings. Both routes call the local backend.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from opsml.errors import InvalidArgumentError, MonitoringError
from opsml.monitoring import DriftProfileRegistration, ScouterProfileStatus
from opsml.server._authz import Scope, access, current_user
from opsml.server._errors import status_for
from opsml.server._models import ErrorResponse, RegistryName
from opsml.server._security import Permission
from opsml.server._state import ERRORS, StateDep, Uid, UserDep, registry_type
from opsml.server._transfer_api import own_pending

__all__ = ["monitoring"]

monitoring = APIRouter(
    prefix="/opsml/api",
    responses={**ERRORS, status_for(MonitoringError("")): {"model": ErrorResponse}},
    dependencies=[Depends(current_user)],
)


class DriftProfilesBody(BaseModel):
    """The drift profiles of a pending card, as the client built them."""

    registrations: list[DriftProfileRegistration] = Field(max_length=1000)


@monitoring.post(
    "/{registry}/cards/{uid}/drift-profiles",
    tags=["monitoring"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def register_drift_profiles(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid, body: DriftProfilesBody
) -> dict[str, int]:
    """Register the caller's pending card's drift profiles with this server's Scouter server
    (none configured: nothing is sent). Each must name the card and its allocated version."""
    reservation = own_pending(st, registry_type(registry), uid, user)
    st.backend.register_drift_profiles(reservation, body.registrations)
    sent = len(body.registrations) if st.backend.scouter.enabled else 0
    return {"registered": sent}


@monitoring.put(
    "/scouter/profile/status",
    tags=["monitoring"],
    dependencies=[access(Permission.Write, Scope.Query)],
)
def update_drift_profile_status(
    st: StateDep,
    space: Annotated[str, Query(min_length=1, max_length=128)],
    body: ScouterProfileStatus,
) -> dict[str, str]:
    """Activate or deactivate drift profiles on this server's Scouter server (write
    permission on the profiles' space, given as ``?space=``)."""
    if space.lower() != body.space.lower():
        raise InvalidArgumentError(f"?space={space} does not match the body's space {body.space}")
    st.backend.update_drift_profile_status(body)
    return {"status": "updated"}
