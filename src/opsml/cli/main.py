"""``opsml`` command line: list and get cards, lock and install services, collect garbage,
run the server.

Every command exits non-zero with a one-line error on failure.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from opsml._version import __version__
from opsml.cli._common import guard
from opsml.cli._keys import generate_app, keys_app
from opsml.cli._users import audit, user_app
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
install_app = typer.Typer(
    help="Install what a lock file names (opsml install service).", no_args_is_help=True
)
app.add_typer(install_app, name="install")
app.add_typer(user_app, name="user")
app.add_typer(generate_app, name="generate")
app.add_typer(keys_app, name="keys")
app.command("audit")(audit)

_PATH_HELP = "Folder holding opsmlspec.yaml (and opsml.lock), or the spec file itself."


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

    guard(run).as_table()


@app.command()
def get(
    registry: Annotated[str, typer.Argument(help="model, data, prompt, experiment or service")],
    space: Annotated[str | None, typer.Option(help="Card space.")] = None,
    name: Annotated[str | None, typer.Option(help="Card name.")] = None,
    version: Annotated[
        str | None, typer.Option(help="Version or version query (highest match wins).")
    ] = None,
    uid: Annotated[str | None, typer.Option(help="Card uid (wins over space/name).")] = None,
    write_dir: Annotated[Path, typer.Option(help="Folder to write the card into.")] = Path(
        "artifacts"
    ),
) -> None:
    """Download a card's card.json and verified artifacts (a service with all its cards)."""
    from opsml.service import download_card

    folder = guard(
        lambda: download_card(
            registry, write_dir=write_dir, space=space, name=name, version=version, uid=uid
        )
    )
    typer.echo(f"wrote {folder}")


@app.command()
def lock(
    path: Annotated[Path, typer.Option(help=_PATH_HELP)] = Path("."),
) -> None:
    """Pin every card of opsmlspec.yaml to an exact version and write opsml.lock.

    Version queries resolve to the highest matching final release. The ServiceCard is
    registered only when its cards changed since the last lock.
    """
    from rich.console import Console
    from rich.table import Table

    from opsml.service import LOCK_FILE, lock_service

    result = guard(lambda: lock_service(path))
    table = Table(title=f"{LOCK_FILE}: {len(result.cards)} cards")
    for column in ("alias", "type", "space", "name", "version", "uid"):
        table.add_column(column, overflow="fold")
    for entry in result.artifact:
        table.add_row(
            entry.alias,
            entry.registry_type.value,
            entry.space,
            entry.name,
            entry.version,
            entry.uid,
        )
    Console().print(table)


@install_app.command("service")
def install_service(
    path: Annotated[Path, typer.Option(help=_PATH_HELP)] = Path("."),
    write_path: Annotated[
        Path | None,
        typer.Option(help="Base folder for the spec's write_dir (default: the spec's folder)."),
    ] = None,
    frozen: Annotated[
        bool,
        typer.Option(
            "--frozen", help="Never (re)write opsml.lock: fail if it is missing or out of date."
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Re-download cards whose installed files were modified."),
    ] = False,
) -> None:
    """Download exactly the cards opsml.lock names into the spec's write_dir, verifying the
    SHA-256 of every file. Cards already installed and intact are not fetched again."""
    from opsml.service import install_service as install

    report = guard(lambda: install(path, write_path=write_path, frozen=frozen, repair=repair))
    typer.echo(
        f"installed into {report.write_dir}: {len(report.downloaded)} downloaded "
        f"({report.bytes_downloaded} bytes), {len(report.up_to_date)} up to date"
        + (" (opsml.lock written)" if report.locked else "")
    )


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

    report = guard(run)
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
        int | None,
        typer.Option(
            min=1,
            envvar="OPSML_SERVER_WORKERS",
            help="Worker processes (replicas sharing the database and storage); "
            "default: one per CPU core.",
        ),
    ] = None,
    header_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Seconds a client has to send a complete request head "
            "(env OPSML_SERVER_HEADER_TIMEOUT, default 20).",
        ),
    ] = None,
    body_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Longest gap in seconds without a byte while a request body is read; "
            "slow but steady uploads go on (env OPSML_SERVER_BODY_TIMEOUT, default 60).",
        ),
    ] = None,
    body_min_rate: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Slowest average request body rate in bytes/s: a body has the body timeout "
            "plus 1 s per this many bytes (env OPSML_SERVER_BODY_MIN_RATE, default 500).",
        ),
    ] = None,
    keep_alive_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Seconds an idle connection stays open between requests "
            "(env OPSML_SERVER_KEEP_ALIVE_TIMEOUT, default 30).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies (IP addresses or networks, comma-separated, * for any) "
            "whose X-Forwarded-For header gives the client address "
            "(env OPSML_FORWARDED_ALLOW_IPS, default none: the peer address is the client).",
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log one line per request (env OPSML_SERVER_ACCESS_LOG, default off).",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API under /opsml/api and the web UI at / (uses OPSML_TRACKING_URI
    and OPSML_STORAGE_URI as the server's own database and storage)."""

    def run() -> None:
        from opsml.server import serve

        serve(
            host=host,
            port=port,
            workers=workers,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            body_min_rate=body_min_rate,
            keep_alive_timeout=keep_alive_timeout,
            forwarded_allow_ips=forwarded_allow_ips,
            access_log=access_log,
        )

    guard(run)


def main() -> None:
    """Entry point of the ``opsml`` script."""
    try:
        app()
    except OpsmlError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
