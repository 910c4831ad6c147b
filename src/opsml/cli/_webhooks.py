"""``opsml webhook add|list|delete|deliveries``: the server's webhooks, where the database is
(on the server, with its ``OPSML_TRACKING_URI``), like ``opsml user``."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer

from opsml.cli._command import OpsmlTyper
from opsml.cli._common import guard
from opsml.cli._output import JsonFlag, count, print_json, print_table

__all__ = ["webhook_app"]

webhook_app = OpsmlTyper(
    help="Webhooks: signed POSTs of registry events to URLs (see docs/webhooks.md).\n\n"
    "These commands run where the database is (on the server)."
)


def _store() -> Any:
    from opsml.settings import OpsmlConfig
    from opsml.store import SqlStore, WebhookStore

    return WebhookStore(SqlStore.from_url(OpsmlConfig.from_env().tracking_uri))


@webhook_app.command("add")
def add(
    url: Annotated[str, typer.Argument(metavar="URL", help="Where deliveries are POSTed.")],
    events: Annotated[
        list[str],
        typer.Option(
            "--event",
            help="card.registered, card.updated, card.deleted, alias.moved or "
            "experiment.finished (repeatable).",
        ),
    ],
    secret: Annotated[
        str | None,
        typer.Option(help="The signing secret (16-256 characters); a new one when omitted."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a webhook (prints its id, and a secret if none is given)."""
    from opsml.registry import os_user

    key = secret or secrets.token_urlsafe(32)
    row = guard(lambda: _store().add(url, key, events, os_user() or "unknown"))
    shown = {"id": row.id, "url": row.url, "events": list(row.events)}
    if secret is None:
        shown["secret"] = key
    if as_json:
        print_json(shown)
        return
    typer.echo(f"webhook {row.id} -> {row.url} ({', '.join(row.events)})")
    if secret is None:
        typer.echo(f"secret (shown only now): {key}")


@webhook_app.command("list")
def list_webhooks(as_json: JsonFlag = False) -> None:
    """List the webhooks (never their secrets)."""
    rows = guard(lambda: _store().webhooks())
    items = [
        {
            "id": r.id,
            "url": r.url,
            "events": list(r.events),
            "created_at": r.created_at.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    table = [(i["id"], i["url"], ", ".join(i["events"]), i["created_by"]) for i in items]
    print_table(count(len(table), "webhook"), ("id", "url", "events", "created by"), table)


@webhook_app.command("delete")
def delete(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
) -> None:
    """Remove a webhook (its undelivered events are dropped)."""
    guard(lambda: _store().delete(webhook_id))
    typer.echo(f"deleted webhook {webhook_id}")


@webhook_app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
    limit: Annotated[int, typer.Option(metavar="N", help="At most this many.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """A webhook's deliveries, newest first, with their attempts."""

    def read() -> list[dict[str, Any]]:
        store = _store()
        store.get(webhook_id)
        found = store.deliveries(webhook_id, limit)
        tries: dict[str, list[dict[str, Any]]] = {}
        for a in store.attempts([d.delivery_id for d in found]):
            tries.setdefault(a.delivery_id, []).append(
                {
                    "attempted_at": a.attempted_at.isoformat(),
                    "status_code": a.status_code,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                }
            )
        return [
            {
                "delivery_id": d.delivery_id,
                "event": d.event,
                "status": d.status,
                "created_at": d.created_at.isoformat(),
                "attempts": tries.get(d.delivery_id, []),
                "last_error": d.last_error,
            }
            for d in found
        ]

    items = guard(read)
    if as_json:
        print_json(items)
        return
    table = [
        (
            i["created_at"][:19].replace("T", " "),
            i["event"],
            i["status"],
            str(len(i["attempts"])),
            i["last_error"] or "",
            i["delivery_id"],
        )
        for i in items
    ]
    columns = ("created (UTC)", "event", "status", "attempts", "last error", "delivery id")
    print_table(count(len(table), "delivery", "deliveries"), columns, table)
