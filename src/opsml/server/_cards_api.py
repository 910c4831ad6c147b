"""The card routes: list, load, update and delete card metadata (the files of a card move
through the transfer routes)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from opsml.cards import parse_card
from opsml.errors import CardNotFoundError, InvalidArgumentError
from opsml.registry import card_query
from opsml.server._authz import Scope, access, caller, shared_card
from opsml.server._direct import direct_get
from opsml.server._models import UID_PATTERN, DeletedResponse, RegistryName, UpdateRequest
from opsml.server._security import Permission, Principal
from opsml.server._state import (
    ERRORS,
    JsonBytes,
    StateDep,
    Uid,
    UserDep,
    card_json,
    json_bytes,
    registered_row,
    registry_type,
    state,
)
from opsml.store import CardQuery, parse_max_date

__all__ = ["cards"]

cards = APIRouter(prefix="/opsml/api", responses=ERRORS)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
SpaceQuery = Annotated[
    str | None, Query(pattern=_NAME, description="space (lowercased before matching)")
]
NameQuery = Annotated[str | None, Query(pattern=_NAME, description="name (lowercased)")]
UidQuery = Annotated[str | None, Query(pattern=UID_PATTERN)]
VersionQueryParam = Annotated[
    str | None, Query(max_length=256, description="a version query: 1.*, ^1.2, >=1.2,<2")
]


def _query(
    uid: str | None, space: str | None, name: str | None, version: str | None, **extra: Any
) -> CardQuery:
    """Query parameters to a CardQuery (an empty parameter means "any")."""
    return card_query(uid or None, space or None, name or None, version or None, **extra)


def _readable(user: Principal) -> tuple[str, ...] | None:
    spaces = user.readable_spaces()
    return None if spaces is None else tuple(sorted(spaces))


# Declared first: the most requested route is the first one every request is matched against.
@direct_get(
    cards,
    "/{registry}/cards/{uid}",
    response_model=dict[str, Any],
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Card)],
)
async def get_card(request: Request, registry: RegistryName, uid: Uid) -> Response:
    """One card's JSON (its ``card.json``)."""
    st = state(request)
    reg = registry_type(registry)
    shared = shared_card(request, reg, uid)
    try:
        if shared is not None:
            row = registered_row(st, request, reg, uid)  # no database read: on the loop
        else:
            row = await st.card_record(reg, uid)
    except CardNotFoundError:
        raise CardNotFoundError(f"no {reg.value} card matches uid {uid!r}") from None
    return JsonBytes(row.card_json)


@direct_get(
    cards,
    "/{registry}/cards",
    response_model=list[dict[str, Any]],
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Query)],
)
async def list_cards(
    request: Request,
    registry: RegistryName,
    uid: UidQuery = None,
    space: SpaceQuery = None,
    name: NameQuery = None,
    version: VersionQueryParam = None,
    max_date: date | None = None,
    tags: Annotated[list[Annotated[str, Query(max_length=255)]] | None, Query()] = None,
    sort_by_timestamp: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 25,
) -> Response:
    """Card records, highest version first (or newest first)."""
    st, user = state(request), caller(request)
    query = _query(
        uid,
        space,
        name,
        version,
        max_date=parse_max_date(max_date),
        tags=tuple(tags or ()),
        sort_by_timestamp=sort_by_timestamp,
        limit=limit,
        spaces=_readable(user),
    )
    records = await st.list_card_fields(registry_type(registry), query)
    return json_bytes(records)


@direct_get(
    cards,
    "/{registry}/card",
    response_model=dict[str, Any],
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Query)],
)
async def load_card(
    request: Request,
    registry: RegistryName,
    uid: UidQuery = None,
    space: SpaceQuery = None,
    name: NameQuery = None,
    version: VersionQueryParam = None,
) -> Response:
    """The best matching card's JSON (highest final release when no version is given)."""
    if not (uid or space or name):
        raise InvalidArgumentError("give a uid, or a space and/or name")
    st, user = state(request), caller(request)
    query = _query(
        uid,
        None if uid else space,
        None if uid else name,
        version if not uid else None,
        spaces=_readable(user),
    )
    text = await st.load_card_json(registry_type(registry), query)
    return JsonBytes(text)


@cards.put(
    "/{registry}/cards/{uid}",
    tags=["cards"],
    dependencies=[access(Permission.Write, Scope.UpdatedCard)],
)
def update_card(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid, body: UpdateRequest
) -> dict[str, Any]:
    """Replace a card's metadata and tags (artifacts are immutable); cards it refers to
    must be in spaces the caller may read."""
    card = parse_card(registry_type(registry), body.card)
    if card.uid != uid:
        raise InvalidArgumentError("the card's uid does not match the URL")
    st.backend.update_card(card, readable=functools.partial(user.allows, Permission.Read))
    return card_json(card)


@cards.delete(
    "/{registry}/cards/{uid}",
    response_model=DeletedResponse,
    tags=["cards"],
    dependencies=[access(Permission.Delete, Scope.Card)],
)
def delete_card(st: StateDep, registry: RegistryName, uid: Uid) -> DeletedResponse:
    """Delete a card's record and artifacts."""
    card = st.backend.load_card(registry_type(registry), CardQuery(uid=uid, limit=1))
    st.backend.delete_card(card)
    return DeletedResponse(uid=uid)
