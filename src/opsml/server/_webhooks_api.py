"""The webhook routes (admins only): register a URL with its secret and events, list and
remove webhooks, and read each delivery with every attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from opsml.server._authz import Scope, access
from opsml.server._security import Permission
from opsml.server._state import ERRORS, StateDep, UserDep
from opsml.store import EVENT_TYPES, WebhookRow

__all__ = ["webhooks"]

webhooks = APIRouter(prefix="/opsml/api", responses=ERRORS)

WebhookId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class WebhookRequest(BaseModel):
    """A webhook to register."""

    url: str = Field(max_length=2048, description="http(s) URL the deliveries are POSTed to")
    secret: str = Field(min_length=16, max_length=256, description="the HMAC-SHA256 key")
    events: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description=f"of {', '.join(EVENT_TYPES)}"
    )


class WebhookInfo(BaseModel):
    """A registered webhook (its secret is never answered)."""

    id: str
    url: str
    events: list[str]
    created_at: datetime
    created_by: str


class AttemptInfo(BaseModel):
    """One try to deliver."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryInfo(BaseModel):
    """One event for one webhook, with its attempts."""

    delivery_id: str
    event: str
    status: str
    attempts: list[AttemptInfo]
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


def _info(row: WebhookRow) -> WebhookInfo:
    return WebhookInfo(
        id=row.id,
        url=row.url,
        events=list(row.events),
        created_at=row.created_at,
        created_by=row.created_by,
    )


@webhooks.post(
    "/webhooks",
    response_model=WebhookInfo,
    tags=["webhooks"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def add_webhook(st: StateDep, user: UserDep, body: WebhookRequest) -> WebhookInfo:
    """Register a webhook: every subscribed event is POSTed to its URL, signed."""
    return _info(st.webhooks.add(body.url, body.secret, body.events, user.username))


@webhooks.get(
    "/webhooks",
    response_model=list[WebhookInfo],
    tags=["webhooks"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def list_webhooks(st: StateDep) -> list[WebhookInfo]:
    """Every webhook."""
    return [_info(row) for row in st.webhooks.webhooks()]


@webhooks.delete(
    "/webhooks/{webhook_id}",
    response_model=WebhookInfo,
    tags=["webhooks"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def delete_webhook(st: StateDep, webhook_id: WebhookId) -> WebhookInfo:
    """Remove a webhook; its undelivered events are dropped."""
    row = st.webhooks.get(webhook_id)
    st.webhooks.delete(webhook_id)
    return _info(row)


@webhooks.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryInfo],
    tags=["webhooks"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def list_deliveries(
    st: StateDep,
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryInfo]:
    """A webhook's deliveries, newest first, each with every attempt."""
    st.webhooks.get(webhook_id)
    found = st.webhooks.deliveries(webhook_id, limit)
    attempts: dict[str, list[AttemptInfo]] = {}
    for a in st.webhooks.attempts([d.delivery_id for d in found]):
        attempts.setdefault(a.delivery_id, []).append(
            AttemptInfo(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
            )
        )
    return [
        DeliveryInfo(
            delivery_id=d.delivery_id,
            event=d.event,
            status=d.status,
            attempts=attempts.get(d.delivery_id, []),
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            last_error=d.last_error,
        )
        for d in found
    ]
