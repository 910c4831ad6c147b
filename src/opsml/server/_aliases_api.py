"""The alias routes: list the aliases of a registry, set (create or move) and delete one.

Setting or deleting needs write permission on the space in the URL; listing shows only
aliases in spaces the caller may read. The store writes the audit line of a move in the
transaction of the move itself (with the caller's name and address), so the audit
middleware does not add a second line for a successful one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from opsml.cards import CardAlias, validate_alias, validate_name
from opsml.registry import alias_target
from opsml.server._authz import Scope, access, caller
from opsml.server._cards_api import NameQuery, SpaceQuery
from opsml.server._models import RegistryName
from opsml.server._security import Permission, Principal
from opsml.server._state import ERRORS, StateDep, registry_type, state
from opsml.store import Actor

__all__ = ["aliases"]

aliases = APIRouter(prefix="/opsml/api", responses=ERRORS)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
SpacePath = Annotated[str, Path(pattern=_NAME, description="space (lowercased)")]
NamePath = Annotated[str, Path(pattern=_NAME, description="name (lowercased)")]
AliasPath = Annotated[
    str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="alias (lowercased)")
]


class AliasRequest(BaseModel):
    """The version an alias should point at."""

    version: str = Field(max_length=256, description="a full version, e.g. 1.2.0")


class AliasDeleted(BaseModel):
    """The alias that was removed."""

    registry_type: str
    space: str
    name: str
    alias: str


def _actor(request: Request, user: Principal) -> Actor:
    client = request.client.host if request.client is not None else ""
    return Actor(username=user.username, client_address=client)


@aliases.get(
    "/{registry}/aliases",
    response_model=list[CardAlias],
    tags=["aliases"],
    dependencies=[access(Permission.Read, Scope.Query)],
)
async def list_aliases(
    request: Request,
    registry: RegistryName,
    space: SpaceQuery = None,
    name: NameQuery = None,
) -> list[CardAlias]:
    """Aliases and the versions they point at (in spaces the caller may read)."""
    st, user = state(request), caller(request)
    readable = user.readable_spaces()
    return await st.run(
        st.backend.list_aliases,
        registry_type(registry),
        validate_name(space, "space") if space else None,
        validate_name(name, "name") if name else None,
        None if readable is None else sorted(readable),
    )


@aliases.put(
    "/{registry}/aliases/{space}/{name}/{alias}",
    response_model=CardAlias,
    tags=["aliases"],
    dependencies=[access(Permission.Write, Scope.Path)],
)
def set_alias(
    request: Request,
    st: StateDep,
    registry: RegistryName,
    space: SpacePath,
    name: NamePath,
    alias: AliasPath,
    body: AliasRequest,
) -> CardAlias:
    """Point the alias at a registered version (created or moved atomically, audited)."""
    target = alias_target(body.version)
    moved = st.backend.set_alias(
        registry_type(registry),
        validate_name(space, "space"),
        validate_name(name, "name"),
        validate_alias(alias),
        target,
        _actor(request, caller(request)),
    )
    request.state.audit_recorded = True  # the store wrote the move's audit line
    return moved


@aliases.delete(
    "/{registry}/aliases/{space}/{name}/{alias}",
    response_model=AliasDeleted,
    tags=["aliases"],
    dependencies=[access(Permission.Write, Scope.Path)],
)
def delete_alias(
    request: Request,
    st: StateDep,
    registry: RegistryName,
    space: SpacePath,
    name: NamePath,
    alias: AliasPath,
) -> AliasDeleted:
    """Remove the alias (audited)."""
    deleted = AliasDeleted(
        registry_type=registry.value,
        space=validate_name(space, "space"),
        name=validate_name(name, "name"),
        alias=validate_alias(alias),
    )
    st.backend.delete_alias(
        registry_type(registry),
        deleted.space,
        deleted.name,
        deleted.alias,
        _actor(request, caller(request)),
    )
    request.state.audit_recorded = True
    return deleted
