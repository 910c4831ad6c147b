"""``import_mlflow``: bring an MLflow tracking store's runs and registered models into opsml
(docs/import-mlflow.md).

Each MLflow run becomes an ExperimentCard (metrics with every step, parameters, files, and the
run's record in ``mlflow/run.json``); each registered model version becomes a ModelCard
version ``<N>.0.0`` (sklearn models as :class:`~opsml.model.SklearnModel`, pyfunc
``PythonModel`` models as :class:`~opsml.interfaces.model.MlflowPyfuncModel`), linked to its
run's ExperimentCard; MLflow aliases become opsml aliases. MLflow's ids are kept as
key/value tags (``mlflow.run_id=…``, ``mlflow.model=…`` with ``mlflow.model_version=…``),
which is how a second import finds what the first one made and skips it.
"""

from __future__ import annotations

import functools
import json
import math
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from opsml._compat import require
from opsml.cards import ExperimentCard, Metric, ModelCard, Parameter, validate_alias
from opsml.cards._base import normalize_tags
from opsml.errors import (
    AuthenticationError,
    InvalidArgumentError,
    MetadataStoreError,
    OpsmlError,
    PermissionDeniedError,
    SerializationError,
    ServerUnavailableError,
    VersionConflictError,
)
from opsml.importer._mlflow_store import (
    ArtifactsUnavailableError,
    MlflowModelVersion,
    MlflowRun,
    MlflowStore,
    open_mlflow_store,
)
from opsml.interfaces.model._mlflow import read_mlmodel
from opsml.registry import CardRegistry
from opsml.settings import OpsmlConfig
from opsml.types import RegistryType

__all__ = ["ImportProgress", "ImportReport", "Skipped", "card_name", "import_mlflow"]

EXTRA = "mlflow-import"
"""The opsml extra with what loading MLflow's models needs (skops, cloudpickle, sklearn)."""
RUN_TAG = "mlflow.run_id"
MODEL_TAG = "mlflow.model"
VERSION_TAG = "mlflow.model_version"
IMPORTING = "importing"
"""An ExperimentCard's status while its run is imported; a later import redoes such a card."""
_STATUS = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "failed"}
_METRIC_BATCH = 5000
_FATAL = (AuthenticationError, PermissionDeniedError, ServerUnavailableError, MetadataStoreError)
"""Errors of the opsml registry itself: the import stops (other items would fail alike)."""


@dataclass(frozen=True)
class Skipped:
    """Something the import left out, and why.

    Attributes:
        kind: ``run``, ``model version``, ``alias``, ``metrics``, ``artifacts`` or ``tags``.
        mlflow_id: The run id, ``<model>/<version>``, or ``<model>@<alias>``.
        reason: Why, in a sentence.
    """

    kind: str
    mlflow_id: str
    reason: str


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        runs_imported: ``space/name vX`` of each ExperimentCard made.
        models_imported: ``space/name vX`` of each ModelCard made.
        aliases_set: ``space/name@alias -> version`` of each alias created or moved.
        runs_unchanged: Runs imported before (found by their ``mlflow.run_id`` tag).
        models_unchanged: Model versions imported before.
        skipped: What was left out and why.
    """

    runs_imported: list[str] = field(default_factory=list)
    models_imported: list[str] = field(default_factory=list)
    aliases_set: list[str] = field(default_factory=list)
    runs_unchanged: int = 0
    models_unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many runs and model versions were imported, unchanged, skipped."""
        runs = sum(s.kind == "run" for s in self.skipped)
        models = sum(s.kind == "model version" for s in self.skipped)
        return (
            f"runs: {len(self.runs_imported)} imported, {self.runs_unchanged} already there, "
            f"{runs} skipped; model versions: {len(self.models_imported)} imported, "
            f"{self.models_unchanged} already there, {models} skipped; "
            f"aliases: {len(self.aliases_set)} set"
        )


class ImportProgress(Protocol):
    """Told how far an import is (the CLI draws a progress bar)."""

    def start(self, total: int) -> None:
        """The import has ``total`` runs and model versions to go through."""
        ...

    def advance(self, description: str) -> None:
        """One more is done; ``description`` names it."""
        ...


def card_name(text: str) -> str:
    """An opsml card name for an MLflow name: lowercased, every run of characters other than
    ``a-z 0-9 _ -`` turned into ``-``, cut to 128 characters (``Sweep/Bulk`` → ``sweep-bulk``);
    ``mlflow`` when nothing is left."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower())
    slug = re.sub(r"^[^a-z0-9]+", "", slug)[:128].rstrip("-_")
    return slug or "mlflow"


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class _Importer:
    def __init__(
        self,
        store: MlflowStore,
        space: str,
        config: OpsmlConfig,
        report: ImportReport,
        allow_pickle: bool = False,
    ) -> None:
        self.store = store
        self.allow_pickle = allow_pickle
        self.space = space
        self.experiments = CardRegistry(RegistryType.Experiment, config)
        self.models = CardRegistry(RegistryType.Model, config)
        self.report = report
        self.run_cards: dict[str, str] = {}
        self.present: set[tuple[str, str]] = set()
        """(name, version) of the model cards imported now or before."""

    def skip(self, kind: str, mlflow_id: str, reason: str) -> None:
        self.report.skipped.append(Skipped(kind, mlflow_id, reason))

    def _tags(self, mlflow_id: str, fixed: list[str], extra: Mapping[str, str]) -> list[str]:
        """The fixed tags, and ``key=value`` for each of MLflow's own tags (not ``mlflow.*``)
        that fits an opsml tag."""
        tags = list(fixed)
        left_out = []
        for key, value in sorted(extra.items()):
            if key.startswith("mlflow."):
                continue
            try:
                tags += normalize_tags([f"{key}={value}"])
            except InvalidArgumentError:
                left_out.append(key)
        if left_out:
            self.skip(
                "tags",
                mlflow_id,
                f"tags {', '.join(left_out)} do not fit an opsml tag (1-255 characters, "
                "no control characters)",
            )
        return tags

    # -- runs ---------------------------------------------------------------------------

    def existing_run(self, run_id: str) -> ExperimentCard | None:
        found = self.experiments.list_cards(space=self.space, tags={RUN_TAG: run_id}, limit=1)
        if not found:
            return None
        card: ExperimentCard = self.experiments.load_card(uid=found[0].uid)
        return card

    def run(self, run: MlflowRun, experiment_names: Mapping[str, tuple[str, str]]) -> None:
        name, stage = experiment_names.get(run.experiment_id, (run.experiment_id, "active"))
        if run.lifecycle_stage == "deleted" or stage == "deleted":
            self.skip("run", run.run_id, "deleted in MLflow")
            return
        status = _STATUS.get(run.status)
        if status is None:
            self.skip("run", run.run_id, f"still {run.status} in MLflow: import it once it ends")
            return
        existing = self.existing_run(run.run_id)
        if existing is not None and existing.status != IMPORTING:
            self.run_cards[run.run_id] = str(existing.uid)
            self.report.runs_unchanged += 1
            return
        if existing is not None:  # a killed import left it half done: do it again
            self.experiments.delete_card(existing)
        points = self.store.metrics(run)
        finite = [p for p in points if math.isfinite(p.value)]
        if len(finite) < len(points):
            self.skip(
                "metrics",
                run.run_id,
                f"{len(points) - len(finite)} NaN or infinite metric points: opsml stores "
                "finite numbers only",
            )
        fixed = [f"{RUN_TAG}={run.run_id}", f"mlflow.experiment_id={run.experiment_id}"]
        if run.name:
            try:
                fixed += normalize_tags([f"mlflow.run_name={run.name}"[:255]])
            except InvalidArgumentError:
                self.skip("tags", run.run_id, "its run name has control characters")
        card = ExperimentCard(
            space=self.space, name=card_name(name), tags=self._tags(run.run_id, fixed, run.tags)
        )
        card.status, card.started_at = IMPORTING, _time(run.start_time)
        self.experiments.register_card(card)
        try:
            self._fill_run(card, run, finite, name)
        except BaseException:
            self.experiments.delete_card(card)
            raise
        self.run_cards[run.run_id] = str(card.uid)
        self.report.runs_imported.append(f"{card.space}/{card.name} v{card.version}")

    def _fill_run(self, card: ExperimentCard, run: MlflowRun, points: list[Any], name: str) -> None:
        backend, uid = self.experiments.backend, str(card.uid)
        metrics = [Metric(p.key, p.value, p.step, p.timestamp) for p in points]
        for start in range(0, len(metrics), _METRIC_BATCH):
            backend.log_metrics(uid, metrics[start : start + _METRIC_BATCH])
        if run.params:
            backend.log_parameters(uid, [Parameter(k, v) for k, v in run.params.items()])
        with tempfile.TemporaryDirectory(prefix="opsml-mlflow-run-") as tmp:
            folder = Path(tmp)
            record = {
                "run_id": run.run_id,
                "run_name": run.name,
                "experiment_id": run.experiment_id,
                "experiment_name": name,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "artifact_uri": run.artifact_uri,
                "params": run.params,
                "tags": run.tags,
            }
            (folder / "mlflow").mkdir()
            (folder / "mlflow" / "run.json").write_text(
                json.dumps(record, indent=2, sort_keys=True), encoding="utf-8"
            )
            try:
                self.store.artifacts.copy(run.artifact_uri, folder / "artifacts")
            except ArtifactsUnavailableError as exc:
                self.skip("artifacts", run.run_id, str(exc))
            card.manifest = backend.add_artifacts(RegistryType.Experiment, uid, folder)
        card.status = _STATUS[run.status]
        card.ended_at = _time(run.end_time)
        if run.status != "FINISHED":
            card.error = f"MLflow status {run.status}"
        self.experiments.update_card(card)

    # -- model versions -----------------------------------------------------------------

    def version(self, version: MlflowModelVersion) -> None:
        mlflow_id = f"{version.name}/{version.version}"
        if version.status != "READY":
            self.skip("model version", mlflow_id, f"status {version.status} in MLflow")
            return
        name, number = card_name(version.name), f"{version.version}.0.0"
        found = self.models.list_cards(space=self.space, name=name, version=number, limit=1)
        if found:
            if f"{MODEL_TAG}={version.name}"[:255] in found[0].tags:
                self.report.models_unchanged += 1
                self.present.add((name, number))
            else:
                self.skip(
                    "model version",
                    mlflow_id,
                    f"opsml model {self.space}/{name} v{number} exists and was not imported "
                    f"from MLflow model {version.name!r}",
                )
            return
        with tempfile.TemporaryDirectory(prefix="opsml-mlflow-model-") as tmp:
            folder = Path(tmp) / "model"
            try:
                self.store.artifacts.copy(version.artifact_uri, folder)
                mlmodel = read_mlmodel(folder)
                interface, flavor = _interface(folder, mlmodel["flavors"], self.allow_pickle)
            except (ArtifactsUnavailableError, SerializationError) as exc:
                self.skip("model version", mlflow_id, str(exc))
                return
            tags = [
                f"{MODEL_TAG}={version.name}"[:255],
                f"{VERSION_TAG}={version.version}",
                f"mlflow.flavor={flavor}",
            ]
            if version.run_id:
                tags.append(f"{RUN_TAG}={version.run_id}")
            if mlmodel.get("model_id"):
                tags.append(f"mlflow.model_id={mlmodel['model_id']}")
            if version.stage:
                tags.append(f"mlflow.stage={version.stage}")
            pyfunc = mlmodel["flavors"].get("python_function")
            predict_fn = pyfunc.get("predict_fn") if isinstance(pyfunc, dict) else None
            if predict_fn not in (None, "predict"):
                tags.append(f"mlflow.predict_fn={predict_fn}")
            card = ModelCard(
                interface=interface,
                space=self.space,
                name=name,
                version=number,
                tags=self._tags(mlflow_id, tags, {**version.model_tags, **version.tags}),
            )
            experiment_uid = self._run_card(version.run_id)
            card.metadata.experimentcard_uid = experiment_uid
            try:
                self.models.register_card(card)
            except VersionConflictError:  # registered meanwhile by another import
                self.report.models_unchanged += 1
                self.present.add((name, number))
                return
        self.present.add((name, number))
        self.report.models_imported.append(f"{card.space}/{card.name} v{card.version}")
        if experiment_uid is not None:
            experiment: ExperimentCard = self.experiments.load_card(uid=experiment_uid)
            experiment.uids.modelcard_uids.append(str(card.uid))
            self.experiments.update_card(experiment)

    def _run_card(self, run_id: str | None) -> str | None:
        if run_id is None:
            return None
        if run_id not in self.run_cards:
            found = self.experiments.list_cards(space=self.space, tags={RUN_TAG: run_id}, limit=1)
            if not found:
                return None
            self.run_cards[run_id] = found[0].uid
        return self.run_cards[run_id]

    def aliases(self, versions: list[MlflowModelVersion]) -> None:
        current: dict[str, dict[str, str]] = {}
        for version in versions:
            name, number = card_name(version.name), f"{version.version}.0.0"
            for alias in version.aliases:
                mlflow_id = f"{version.name}@{alias}"
                if (name, number) not in self.present:
                    self.skip("alias", mlflow_id, f"version {version.version} was not imported")
                    continue
                try:
                    target = validate_alias(alias)
                except InvalidArgumentError as exc:
                    self.skip("alias", mlflow_id, str(exc))
                    continue
                if name not in current:
                    current[name] = {
                        a.alias: a.version for a in self.models.list_aliases(self.space, name)
                    }
                if current[name].get(target) != number:
                    self.models.set_alias(self.space, name, target, number)
                    current[name][target] = number
                    self.report.aliases_set.append(f"{self.space}/{name}@{target} -> {number}")


# Modules whose types a skops file may name without --allow-pickle: skops rebuilds only
# these (MLflow writes the list of types a model needs beside it, and the file is the
# store's, so the list alone is not trusted).
_SKOPS_SAFE_MODULES = frozenset({"sklearn", "numpy", "scipy"})


def _pickle_refused(what: str) -> SerializationError:
    return SerializationError(
        f"{what}: loading it can run code from the MLflow store; import it with "
        "--allow-pickle (or MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true), for a store you trust"
    )


def _interface(
    folder: Path, flavors: Mapping[str, Any], allow_pickle: bool = False
) -> tuple[Any, str]:
    """The opsml interface holding the MLflow model in ``folder``, and its flavor.

    Raises:
        SerializationError: The model cannot be loaded, or would need unpickling that
            ``allow_pickle`` does not allow.
    """
    from opsml.interfaces.model._mlflow import MlflowPyfuncModel, PyfuncModel

    if "sklearn" in flavors:
        from opsml.interfaces import SklearnModel

        model = _load_sklearn(folder, flavors["sklearn"], allow_pickle)
        return SklearnModel(model=model, sample_data=_input_example(folder)), "sklearn"
    pyfunc = flavors.get("python_function")
    if isinstance(pyfunc, dict) and pyfunc.get("model_code_path"):
        raise SerializationError(
            "a pyfunc model logged from code (models from code): loading it runs that code, "
            "which needs mlflow; the importer takes pickled PythonModel models"
        )
    if isinstance(pyfunc, dict) and pyfunc.get("python_model"):
        if not allow_pickle:
            raise _pickle_refused("a pickled pyfunc PythonModel")
        require("cloudpickle", EXTRA)
        return MlflowPyfuncModel(model=PyfuncModel.load(folder)), "python_function"
    raise SerializationError(
        f"flavor {', '.join(sorted(flavors))} has no opsml interface: the importer takes "
        "sklearn models and pyfunc PythonModel models (docs/import-mlflow.md)"
    )


def _load_sklearn(folder: Path, conf: Mapping[str, Any], allow_pickle: bool = False) -> Any:
    """The estimator of an MLflow sklearn model, read as MLflow reads it: skops files
    naming only scikit-learn, NumPy and SciPy types always, pickles and other skops types
    only when ``allow_pickle``."""
    from opsml.storage import safe_relpath

    file = folder / safe_relpath(str(conf.get("pickled_model", "model.pkl")))
    form = str(conf.get("serialization_format", "pickle"))
    if form in ("pickle", "cloudpickle") and not allow_pickle:
        raise _pickle_refused(f"a {form}d sklearn model")
    trusted = [str(t) for t in conf.get("skops_trusted_types") or []]
    others = sorted(t for t in trusted if t.split(".", 1)[0] not in _SKOPS_SAFE_MODULES)
    if form == "skops" and others and not allow_pickle:
        raise _pickle_refused(f"a skops sklearn model naming {', '.join(others[:5])}")
    require("sklearn", EXTRA)
    try:
        if form == "skops":
            skops_io = require("skops.io", EXTRA)
            return skops_io.load(file, trusted=trusted)
        if form == "cloudpickle":
            require("cloudpickle", EXTRA)
        if form not in ("pickle", "cloudpickle"):
            raise SerializationError(f"unknown sklearn serialization format {form!r}")
        with file.open("rb") as fh:
            return pickle.load(fh)
    except OpsmlError:
        raise
    except Exception as exc:  # whatever unpickling the user's objects raises
        raise SerializationError(
            f"cannot load the sklearn model {file.name} ({form}): {type(exc).__name__}: {exc}"
        ) from exc


def _input_example(folder: Path) -> Any:
    """MLflow's saved input example as a pandas frame (the card's sample data), or None."""
    file = folder / "input_example.json"
    if not file.is_file():
        return None
    try:
        pandas = require("pandas", EXTRA)
        data = json.loads(file.read_text(encoding="utf-8"))
        return pandas.DataFrame(data["data"], columns=data["columns"])
    except (OpsmlError, ValueError, KeyError, TypeError):
        return None  # only a sample: the model imports without it


def import_mlflow(
    tracking_uri: str,
    registered_model: str | None = None,
    space: str = "mlflow",
    *,
    config: OpsmlConfig | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ImportProgress | None = None,
    allow_pickle: bool | None = None,
) -> ImportReport:
    """Import an MLflow tracking store into the opsml registry (docs/import-mlflow.md).

    Runs become ExperimentCards, registered model versions ModelCards (version ``N.0.0``
    for MLflow's version N) linked to their run's ExperimentCard, aliases opsml aliases.
    Running it again imports only what is new (and moves aliases that moved).

    Args:
        tracking_uri: ``sqlite:///path/mlflow.db``, ``postgresql://…``, ``mysql://…`` or an
            MLflow tracking server ``http(s)://host:port``.
        registered_model: Only this registered model's versions and the runs they came from.
        space: The opsml space of every card made.
        config: The opsml registry to import into (from the environment when omitted).
        environ: Where MLflow's credential variables are read (default ``os.environ``).
        progress: Told of each run and model version done.
        allow_pickle: Load models whose loading can run code from the store (pickled
            models, pyfunc PythonModels, skops files naming types beyond scikit-learn, NumPy
            and SciPy); without it they are skipped, with the reason. ``None``: as MLflow's
            ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` in ``environ`` says (off by default).

    Returns:
        What was imported, what was there already, and what was skipped and why.

    Raises:
        InvalidArgumentError: An unknown tracking URI scheme, a missing database file, not
            an MLflow store, an unknown ``registered_model``, or an invalid ``space``.
        ServerUnavailableError: The MLflow database or server cannot be reached.
        AuthenticationError: The MLflow server refused the credentials.
    """
    import os

    from opsml.cards import validate_name

    space = validate_name(space, "space")
    environ = os.environ if environ is None else environ
    if allow_pickle is None:
        flag = environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "")
        allow_pickle = flag.strip().lower() in ("1", "true", "yes")
    store = open_mlflow_store(tracking_uri, environ)
    report = ImportReport()
    try:
        versions = store.model_versions(registered_model)
        experiments = {e.experiment_id: (e.name, e.lifecycle_stage) for e in store.experiments()}
        wanted = {v.run_id for v in versions if v.run_id} if registered_model else None
        runs = store.runs(wanted)
        importer = _Importer(store, space, config or OpsmlConfig.from_env(), report, allow_pickle)
        if progress is not None:
            progress.start(len(runs) + len(versions))
        for run in runs:
            _guarded(importer, "run", run.run_id, functools.partial(importer.run, run, experiments))
            if progress is not None:
                progress.advance(f"run {run.name or run.run_id}")
        for version in versions:
            mlflow_id = f"{version.name}/{version.version}"
            _guarded(
                importer, "model version", mlflow_id, functools.partial(importer.version, version)
            )
            if progress is not None:
                progress.advance(f"model {mlflow_id}")
        importer.aliases(versions)
    finally:
        store.close()
    return report


def _guarded(importer: _Importer, kind: str, mlflow_id: str, step: Callable[[], None]) -> None:
    """Run one item's import; an error of that item alone is reported, not raised."""
    try:
        step()
    except _FATAL:
        raise
    except (OpsmlError, OSError) as exc:
        importer.skip(kind, mlflow_id, f"{type(exc).__name__}: {exc}")
