"""``opsml`` command line: list and get cards, lock and install services, collect garbage,
migrate the database, run the server.

Every command exits non-zero with a one-line error on failure; listings and ``get`` print
JSON with ``--json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from opsml._version import __version__
from opsml.cli._aliases import alias_app
from opsml.cli._command import OpsmlTyper, did_you_mean
from opsml.cli._common import guard
from opsml.cli._import import import_app
from opsml.cli._keys import generate_app, keys_app
from opsml.cli._output import JsonFlag, count, print_json, print_table
from opsml.cli._users import audit, user_app
from opsml.cli._webhooks import webhook_app
from opsml.errors import CardNotFoundError, OpsmlError

__all__ = ["app", "main"]

app = OpsmlTyper(name="opsml", help="opsml: a registry for machine-learning artifacts (cards).")
server_app = OpsmlTyper(help="Run the opsml server (HTTP API and web UI).")
app.add_typer(server_app, name="server")
install_app = OpsmlTyper(help="Install what a lock file names (opsml install service).")
app.add_typer(install_app, name="install")
app.add_typer(user_app, name="user")
app.add_typer(alias_app, name="alias")
app.add_typer(webhook_app, name="webhook")
app.add_typer(import_app, name="import")
app.add_typer(generate_app, name="generate")
app.add_typer(keys_app, name="keys")
scouter_app = OpsmlTyper(help="Drift profiles on the Scouter server.")
app.add_typer(scouter_app, name="scouter")
db_app = OpsmlTyper(help="The database schema: where it stands, and its migrations.")
app.add_typer(db_app, name="db")

_PATH_HELP = "Folder holding opsmlspec.yaml (and opsml.lock), or the spec file itself."
_CARD_COLUMNS = ("created_at", "space", "name", "version", "uid", "tags")
_SUGGEST_FROM = 1000
"""How many of the newest cards a "did you mean" looks through for a space and name."""


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed opsml version and exit.",
        ),
    ] = False,
) -> None:
    """The options of ``opsml`` itself (its help is the app's)."""


@app.command()
def version() -> None:
    """Print the installed opsml version."""
    typer.echo(__version__)


@app.command()
def login() -> None:
    """Log in to the server (OPSML_TRACKING_URI) with single sign-on: open the URL shown,
    enter the code; the tokens are kept in ~/.config/opsml/credentials.json (mode 0600)
    and refreshed automatically."""
    from opsml.client._api import ApiClient
    from opsml.client._credentials import CredentialStore
    from opsml.client._login import device_login
    from opsml.errors import InvalidArgumentError
    from opsml.settings import OpsmlConfig

    def run() -> str:
        config = OpsmlConfig.from_env()
        if not config.tracking_uri.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                "opsml login needs OPSML_TRACKING_URI to be a server URL (http(s)://...)"
            )
        if config.credentials_file is None:
            raise InvalidArgumentError("no home folder: set OPSML_CREDENTIALS_FILE")
        api = ApiClient(config.tracking_uri)
        try:
            return device_login(api, CredentialStore(config.credentials_file), _show_device)
        finally:
            api.close()

    typer.echo(f"Logged in as {guard(run)}.")


def _show_device(start: dict[str, Any]) -> None:
    typer.echo(
        f"Open {start['verification_uri']} and enter the code {start['user_code']}\n"
        f"(or open {start['verification_uri_complete']}). Waiting for the login..."
    )


@app.command()
def info(as_json: JsonFlag = False) -> None:
    """Show where this shell's registry is: mode, database, storage, server version, user."""
    from dataclasses import asdict

    from opsml.registry import CardRegistry

    found = guard(lambda: CardRegistry("model").info())
    if as_json:
        print_json(asdict(found))
    else:
        typer.echo(str(found))


def _nearest_card(registry: str, space: str | None, name: str | None) -> str | None:
    """The options naming the registered card nearest to ``space``/``name``
    (``--space team-a --name ranker``, only the options given); ``None`` when a card matches
    them exactly (a version or tag did not) or none is near."""
    from opsml.registry import CardRegistry

    given = {field: value.lower() for field, value in (("space", space), ("name", name)) if value}
    try:
        cards = CardRegistry(registry)
        records = list(cards.list_cards(sort_by_timestamp=True, limit=_SUGGEST_FROM))
        if space is not None and name is not None:
            records += cards.list_cards(space=space, sort_by_timestamp=True, limit=_SUGGEST_FROM)
    except OpsmlError:
        return None  # a hint, never a second error
    known = {"/".join(getattr(r, field) for field in given): r for r in records}
    wanted = "/".join(given.values())
    nearest = None if wanted in known else did_you_mean(wanted, list(known))
    if nearest is None:
        return None
    return " ".join(f"--{field} {getattr(known[nearest], field)}" for field in given)


@app.command("list")
def list_cards(
    registry: Annotated[
        str, typer.Argument(metavar="REGISTRY", help="data, model, experiment, prompt or service.")
    ],
    space: Annotated[str | None, typer.Option(help="Only this space.")] = None,
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    version: Annotated[
        str | None,
        typer.Option(
            metavar="QUERY", help="A version query: 1.*, ^1.2, >=1.2,<2, 1.2.3, or @ALIAS."
        ),
    ] = None,
    uid: Annotated[str | None, typer.Option(help="Only this uid.")] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tags",
            "--tag",
            metavar="TAG",
            help="Only cards with this tag (repeatable); key=value matches key:value too.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="At most this many cards.")] = 25,
    as_json: JsonFlag = False,
) -> None:
    """List registered cards, highest version first."""
    from opsml.registry import CardRegistry

    records = guard(
        lambda: CardRegistry(registry).list_cards(
            uid=uid, space=space, name=name, version=version, tags=tags, limit=limit
        )
    )
    if as_json:
        print_json([record.model_dump(mode="json") for record in records])
    else:
        rows = [
            (
                record.created_at[:19].replace("T", " "),
                record.space,
                record.name,
                record.version,
                record.uid,
                ", ".join(record.tags),
            )
            for record in records
        ]
        print_table(count(len(rows), "card"), _CARD_COLUMNS, rows)
    if not records and uid is None and (space or name):
        nearest = _nearest_card(registry, space, name)
        if nearest is not None:
            typer.echo(f"no card matches; did you mean {nearest}?", err=True)


@app.command()
def get(
    registry: Annotated[
        str, typer.Argument(metavar="REGISTRY", help="model, data, prompt, experiment or service.")
    ],
    space: Annotated[str | None, typer.Option(help="Card space.")] = None,
    name: Annotated[str | None, typer.Option(help="Card name.")] = None,
    version: Annotated[
        str | None,
        typer.Option(
            metavar="QUERY", help="Version, version query (highest match wins) or @ALIAS."
        ),
    ] = None,
    uid: Annotated[str | None, typer.Option(help="Card uid (wins over space/name).")] = None,
    write_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder to write the card into.")
    ] = Path("artifacts"),
    as_json: JsonFlag = False,
) -> None:
    """Download a card and its verified artifacts into a folder.

    Prints the card's version and uid; a service comes with all its cards.
    """
    from opsml.cards import CARD_FILE
    from opsml.service import download_card

    def run() -> Path:
        try:
            return download_card(
                registry, write_dir=write_dir, space=space, name=name, version=version, uid=uid
            )
        except CardNotFoundError as exc:
            nearest = None if uid is not None else _nearest_card(registry, space, name)
            if nearest is None:
                raise
            # The command line's hint (options, across spaces) replaces the registry's.
            message = re.sub(r"; did you mean '[^']*'\?", "", str(exc))
            raise CardNotFoundError(f"{message}; did you mean {nearest}?") from exc

    folder = guard(run)
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    written = {key: card[key] for key in ("registry_type", "space", "name", "version", "uid")}
    if as_json:
        print_json({**written, "path": str(folder.resolve())})
    else:
        typer.echo(
            f"wrote {written['registry_type']} card {written['space']}/{written['name']} "
            f"version {written['version']} (uid {written['uid']}) to {folder}"
        )


@app.command()
def lock(
    path: Annotated[Path, typer.Option(help=_PATH_HELP)] = Path("."),
    as_json: JsonFlag = False,
) -> None:
    """Pin every card of opsmlspec.yaml to an exact version in opsml.lock.

    Version queries resolve to the highest matching final release. The ServiceCard is
    registered only when its cards changed since the last lock.
    """
    from opsml.service import LOCK_FILE, lock_service

    result = guard(lambda: lock_service(path))
    rows = [
        {
            "alias": entry.alias,
            "registry_type": entry.registry_type.value,
            "space": entry.space,
            "name": entry.name,
            "version": entry.version,
            "uid": entry.uid,
        }
        for entry in result.artifact
    ]
    if as_json:
        print_json(rows)
    else:
        columns = ("alias", "type", "space", "name", "version", "uid")
        print_table(
            f"{LOCK_FILE}: {count(len(result.cards), 'card')}",
            columns,
            [list(r.values()) for r in rows],
        )


@scouter_app.command("update-profile-status")
def update_profile_status(
    space: Annotated[str, typer.Option(metavar="SPACE", help="Card space.")],
    name: Annotated[str, typer.Option(metavar="NAME", help="Card name.")],
    version: Annotated[str, typer.Option(metavar="VERSION", help="Card version.")],
    drift_type: Annotated[
        str, typer.Option(metavar="TYPE", help="The profile's drift type: Spc, Psi, Custom, LLM.")
    ],
    active: Annotated[
        bool, typer.Option("--active/--inactive", help="Monitor the profile, or stop.")
    ],
    deactivate_others: Annotated[
        bool, typer.Option(help="Also deactivate the other versions' profiles.")
    ] = False,
) -> None:
    """Turn a card's drift profile on or off in Scouter."""
    from opsml.cli._functions import ScouterArgs, update_drift_profile_status

    guard(
        lambda: update_drift_profile_status(
            ScouterArgs(space, name, version, drift_type, active, deactivate_others)
        )
    )
    state = "active" if active else "inactive"
    typer.echo(f"{drift_type} drift profile of {space}/{name} v{version} is {state}")


@install_app.command("service")
def install_service(
    path: Annotated[Path, typer.Option(help=_PATH_HELP)] = Path("."),
    write_path: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Base folder for the spec's write_dir (default: the spec's folder)."
        ),
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
    """Download exactly the cards opsml.lock names, verifying every file.

    Cards go into the spec's write_dir, each file checked against its SHA-256; cards already
    installed and intact are not fetched again.
    """
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
            metavar="SECONDS",
            help="Seconds after which a pending registration of a process that cannot be "
            "checked (another host) counts as abandoned.",
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


def _database_url() -> str:
    from opsml.settings import OpsmlConfig

    config = OpsmlConfig.from_env()
    if not config.is_sql:
        raise OpsmlError(
            "opsml db runs where the database is: OPSML_TRACKING_URI must be a database URL, "
            f"not {config.tracking_uri!r}"
        )
    return config.tracking_uri


@db_app.command("current")
def db_current(as_json: JsonFlag = False) -> None:
    """Print the database's schema revision.

    Says whether this opsml's newest migration is applied; exits 1 when the schema is
    behind or newer.
    """
    from opsml.store import schema_revision

    state = guard(lambda: schema_revision(_database_url()))
    if as_json:
        print_json(
            {
                "revision": state.revision,
                "head": state.head,
                "up_to_date": state.up_to_date,
                "known": state.known,
            }
        )
    else:
        typer.echo(state.describe())
    if not state.up_to_date:
        raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations the database lacks.

    Under a lock: any number of processes (replicas starting together) may run this at
    once; one migrates, the others wait.
    """
    from opsml.store import upgrade_schema

    before, after = guard(lambda: upgrade_schema(_database_url()))
    if before.up_to_date:
        typer.echo(f"already at {after.revision} (head)")
    else:
        typer.echo(f"upgraded from {before.revision or 'an empty database'} to {after.revision}")


@server_app.command("start")
def server_start(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="OPSML_SERVER_PORT", metavar="PORT", help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="OPSML_SERVER_WORKERS",
            metavar="N",
            help="Worker processes (replicas sharing the database and storage); "
            "default: one per CPU core.",
        ),
    ] = None,
    header_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="SECONDS",
            help="Seconds a client has to send a complete request head "
            "(env OPSML_SERVER_HEADER_TIMEOUT, default 20).",
        ),
    ] = None,
    body_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="SECONDS",
            help="Longest gap in seconds without a byte while a request body is read; "
            "slow but steady uploads go on (env OPSML_SERVER_BODY_TIMEOUT, default 60).",
        ),
    ] = None,
    body_min_rate: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="BYTES_PER_S",
            help="Slowest average request body rate in bytes/s: a body has the body timeout "
            "plus 1 s per this many bytes (env OPSML_SERVER_BODY_MIN_RATE, default 500).",
        ),
    ] = None,
    keep_alive_timeout: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="SECONDS",
            help="Seconds an idle connection stays open between requests "
            "(env OPSML_SERVER_KEEP_ALIVE_TIMEOUT, default 30).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESSES",
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
    """Serve the HTTP API and the web UI.

    The API is under /opsml/api and the UI at /; OPSML_TRACKING_URI and OPSML_STORAGE_URI
    are the server's own database and storage.
    """

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


app.command("audit")(audit)


def main() -> None:
    """Entry point of the ``opsml`` script (and of ``python -m opsml.cli.main``)."""
    app(prog_name="opsml")


if __name__ == "__main__":
    main()
