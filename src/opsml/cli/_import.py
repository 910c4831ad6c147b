"""``opsml import mlflow``: an MLflow tracking store's runs and models into the registry."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsml.cli._command import OpsmlTyper
from opsml.cli._common import guard
from opsml.cli._output import JsonFlag, count, print_json, print_table

__all__ = ["import_app"]

import_app = OpsmlTyper(help="Import runs and models from another tracker (MLflow).")


class _Bar:
    """A rich progress bar on standard error, drawn only when it is a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task: Any = None

    def start(self, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task("importing from MLflow", total=total)

    def advance(self, description: str) -> None:
        self._progress.update(self._task, advance=1, description=description)

    def stop(self) -> None:
        self._progress.stop()


@import_app.command("mlflow")
def import_mlflow(
    tracking_uri: Annotated[
        str,
        typer.Option(
            metavar="URI",
            help="The MLflow store: sqlite:///path/mlflow.db, postgresql://…, mysql://… or a "
            "tracking server http(s)://host:port.",
        ),
    ],
    registered_model: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Only this registered model's versions and their runs."),
    ] = None,
    space: Annotated[str, typer.Option(help="The opsml space of every card made.")] = "mlflow",
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Also import models whose loading can run code from the store (pickles, "
            "pyfunc PythonModels): only for a store you trust. Also "
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import an MLflow tracking store: runs as experiment cards, registered model versions
    as model cards (MLflow version N as N.0.0), aliases as aliases.

    Running it again imports only what is new. Prints what was skipped and why. Models
    whose loading can run code from the store (pickles) are skipped unless
    --allow-pickle (docs/import-mlflow.md).
    """
    from opsml.importer import import_mlflow as run_import

    bar = _Bar()
    try:
        report = guard(
            lambda: run_import(
                tracking_uri,
                registered_model=registered_model,
                space=space,
                progress=bar,
                allow_pickle=allow_pickle or None,
            )
        )
    finally:
        bar.stop()
    if as_json:
        from dataclasses import asdict

        print_json(asdict(report))
        return
    if report.skipped:
        rows = [(s.kind, s.mlflow_id, s.reason) for s in report.skipped]
        print_table(f"skipped: {count(len(rows), 'item')}", ("what", "mlflow id", "why"), rows)
    for line in report.aliases_set:
        typer.echo(f"alias {line}")
    typer.echo(report.summary())
