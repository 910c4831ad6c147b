"""``opsml`` command line: list cards, collect garbage, run the server.

Every command exits non-zero with a one-line error on failure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from opsml._version import __version__
from opsml.errors import OpsmlError

__all__ = ["app", "main"]

app = typer.Typer(
    name="opsml",
    help="opsml: a registry for machine-learning artifacts (cards).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_app = typer.Typer(help="Run the opsml server (HTTP API and web UI).", no_args_is_help=True)
app.add_typer(server_app, name="server")

T = TypeVar("T")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except OpsmlError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")


@app.command()
def version() -> None:
    """Print the installed opsml version."""
    typer.echo(__version__)


@app.command("list")
def list_cards(
    registry: Annotated[str, typer.Argument(help="data, model, experiment, prompt or service")],
    space: Annotated[str | None, typer.Option(help="Only this space.")] = None,
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    version: Annotated[
        str | None, typer.Option(help="A version query: 1.*, ^1.2, >=1.2,<2, 1.2.3")
    ] = None,
    uid: Annotated[str | None, typer.Option(help="Only this uid.")] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tags", "--tag", help="Only cards with this tag.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many cards.")] = 25,
) -> None:
    """List registered cards, highest version first."""
    from opsml.registry import CardRegistry

    def run() -> Any:
        return CardRegistry(registry).list_cards(
            uid=uid, space=space, name=name, version=version, tags=tags, limit=limit
        )

    _guard(run).as_table()


@app.command()
def gc(
    older_than: Annotated[
        float,
        typer.Option(
            help="Seconds after which a pending registration of a process that cannot be "
            "checked (another host) counts as abandoned."
        ),
    ] = 3600.0,
) -> None:
    """Remove leftovers of killed or failed registrations.

    Pending records whose process died (or older than --older-than), card folders no record
    points to, and abandoned staging folders.
    """
    from opsml.registry import LocalBackend, backend_for, collect_garbage
    from opsml.settings import OpsmlConfig

    def run() -> Any:
        backend = backend_for(OpsmlConfig.from_env())
        if not isinstance(backend, LocalBackend):
            raise OpsmlError("opsml gc runs where the database is: on the server, not a client")
        return collect_garbage(backend, older_than)

    report = _guard(run)
    typer.echo(
        f"removed {len(report.pending_records)} pending records, "
        f"{len(report.orphaned_folders)} orphaned card folders, "
        f"{report.staging_folders} staging folders"
    )


@server_app.command("start")
def server_start(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="OPSML_SERVER_PORT", help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="OPSML_SERVER_WORKERS",
            help="Worker processes (replicas sharing the database and storage).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API under /opsml/api and the web UI at / (uses OPSML_TRACKING_URI
    and OPSML_STORAGE_URI as the server's own database and storage)."""

    def run() -> None:
        from opsml.server import serve

        serve(host=host, port=port, workers=workers)

    _guard(run)


def main() -> None:
    """Entry point of the ``opsml`` script."""
    try:
        app()
    except OpsmlError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
