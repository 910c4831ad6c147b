"""``opsml alias set|delete|list``: mutable names (``prod``) pointing at one card version."""

from __future__ import annotations

from typing import Annotated

import typer

from opsml.cli._command import OpsmlTyper
from opsml.cli._common import guard
from opsml.cli._output import JsonFlag, count, print_json, print_table

__all__ = ["alias_app"]

alias_app = OpsmlTyper(
    help="Aliases: mutable names (prod, champion) pointing at one card version; load one "
    'with version="@prod".'
)

Registry = Annotated[
    str, typer.Argument(metavar="REGISTRY", help="data, model, experiment, prompt or service.")
]
Space = Annotated[str, typer.Option(help="The card's space.")]
Name = Annotated[str, typer.Option(help="The card's name.")]
Alias = Annotated[str, typer.Argument(metavar="ALIAS", help="The alias, e.g. prod.")]
_COLUMNS = ("space", "name", "alias", "version", "updated_at", "updated_by")


@alias_app.command("set")
def set_alias(
    registry: Registry,
    alias: Alias,
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="The full version to point at, e.g. 1.2.0.")
    ],
    space: Space,
    name: Name,
    as_json: JsonFlag = False,
) -> None:
    """Point ALIAS of a card at VERSION (creates it, or moves it atomically)."""
    from opsml.registry import CardRegistry

    moved = guard(lambda: CardRegistry(registry).set_alias(space, name, alias, version))
    if as_json:
        print_json(moved.model_dump(mode="json"))
    else:
        typer.echo(f"{moved.space}/{moved.name}@{moved.alias} -> {moved.version}")


@alias_app.command("delete")
def delete_alias(registry: Registry, alias: Alias, space: Space, name: Name) -> None:
    """Remove ALIAS of a card."""
    from opsml.registry import CardRegistry

    guard(lambda: CardRegistry(registry).delete_alias(space, name, alias))
    typer.echo(f"deleted {space.lower()}/{name.lower()}@{alias.lower()}")


@alias_app.command("list")
def list_aliases(
    registry: Registry,
    space: Annotated[str | None, typer.Option(help="Only this space.")] = None,
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List aliases and the versions they point at."""
    from opsml.registry import CardRegistry

    found = guard(lambda: CardRegistry(registry).list_aliases(space, name))
    if as_json:
        print_json([a.model_dump(mode="json") for a in found])
        return
    rows = [
        (a.space, a.name, a.alias, a.version, a.updated_at[:19].replace("T", " "), a.updated_by)
        for a in found
    ]
    print_table(count(len(rows), "alias", "aliases"), _COLUMNS, rows)
