"""``start_experiment``: record a training run as an ExperimentCard (SPEC §7).

Metrics and parameters are buffered in memory and written in batches by a background
thread (every second, or as soon as 1 000 points wait), so a training loop's
``log_metric`` costs microseconds and never a round trip. Files go to a local folder as they
are logged and are added to the card when the experiment ends. The card itself is
registered when the experiment starts (its uid is known at once) and updated when it ends,
with ``status`` ``completed`` or ``failed``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from opsml._compat import require
from opsml._validation import check_uid
from opsml.cards import (
    CardBase,
    EvalMetrics,
    ExperimentCard,
    HardwareMetrics,
    Metric,
    Metrics,
    Parameter,
    Parameters,
    check_metric_name,
)
from opsml.errors import CardStateError, InvalidArgumentError
from opsml.registry import CardRegistry, RegistryBackend
from opsml.storage import safe_relpath
from opsml.types import RegistryType, VersionType

__all__ = ["Experiment", "get_experiment_metrics", "get_experiment_parameters", "start_experiment"]

_log = logging.getLogger("opsml.experiment")

BATCH_SIZE = 1000
FLUSH_SECONDS = 1.0
HARDWARE_SECONDS = 15.0
_LINKS = {
    RegistryType.Data: "datacard_uids",
    RegistryType.Model: "modelcard_uids",
    RegistryType.Prompt: "promptcard_uids",
    RegistryType.Service: "service_card_uids",
    RegistryType.Experiment: "experimentcard_uids",
}
_CODE_SUFFIXES = {".py", ".ipynb", ".sql", ".yaml", ".yml", ".toml", ".json", ".md", ".txt", ".cfg"}


class Experiment:
    """A running experiment: log metrics, parameters and files; register the cards it makes.

    Created by :func:`start_experiment`; use it as a context manager.
    """

    def __init__(
        self,
        card: ExperimentCard,
        registry: CardRegistry,
        code_dir: Path | None = None,
        log_hardware: bool = False,
        hardware_interval: float = HARDWARE_SECONDS,
    ) -> None:
        self._card = card
        self._registry = registry
        self._backend: RegistryBackend = registry.backend
        self._code_dir = code_dir
        self._log_hardware = log_hardware
        self._hardware_interval = hardware_interval
        self._metrics: list[Metric] = []
        self._params: dict[str, Parameter] = {}
        self._hardware: list[HardwareMetrics] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._files = Path(tempfile.mkdtemp(prefix="opsml-experiment-"))
        self._flush_error: BaseException | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def card(self) -> ExperimentCard:
        """The live ExperimentCard (registered: its uid is known from the start)."""
        return self._card

    @property
    def uid(self) -> str:
        """The experiment's uid."""
        return str(self._card.uid)

    def __enter__(self) -> Experiment:
        if self._code_dir is not None:
            self._snapshot_code(Path(self._code_dir))
        self._threads.append(threading.Thread(target=self._flusher, daemon=True))
        if self._log_hardware:
            sample = _hardware_sampler()  # MissingDependencyError here, not in the thread
            self._threads.append(
                threading.Thread(target=self._sampler, args=(sample,), daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        failure: BaseException | None = exc
        try:
            self.flush()
            self._upload_files()
        except BaseException as error:  # the run's records are incomplete: say so, re-raise
            failure = failure or error
            raise
        finally:
            shutil.rmtree(self._files, ignore_errors=True)
            card = self._card
            card.ended_at = datetime.now(UTC)
            if failure is None:
                card.status = "completed"
            else:
                card.status = "failed"
                card.error = "".join(
                    traceback.format_exception_only(type(failure), failure)
                ).strip()[:4000]
            self._registry.update_card(card)

    def flush(self) -> None:
        """Write buffered metrics, parameters and hardware samples now.

        Raises:
            OpsmlError: The registry refused or could not be reached (the points stay
                buffered and are sent with the next flush).
        """
        with self._lock:
            metrics, params, hardware = self._metrics, self._params, self._hardware
            self._metrics, self._params, self._hardware = [], {}, []
        try:
            if metrics:
                self._backend.log_metrics(self.uid, metrics)
                metrics = []
            if params:
                self._backend.log_parameters(self.uid, list(params.values()))
                params = {}
            if hardware:
                self._backend.log_hardware(self.uid, hardware)
                hardware = []
        except BaseException:
            with self._lock:  # put back what was not written, in order
                self._metrics[:0] = metrics
                self._params = {**params, **self._params}
                self._hardware[:0] = hardware
            raise

    def _flusher(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception as exc:  # retried at the next tick and at exit
                _log.warning("experiment %s: flushing metrics failed: %s", self.uid, exc)

    def _sampler(self, sample: Any) -> None:
        while True:
            with contextlib.suppress(Exception):
                point = sample()
                with self._lock:
                    self._hardware.append(point)
            if self._stop.wait(self._hardware_interval):
                return

    # -- metrics and parameters --------------------------------------------------------------

    def log_metric(
        self,
        name: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
        created_at: datetime | None = None,
    ) -> None:
        """Record one metric point (buffered; written in batches).

        Args:
            name: The metric (``/`` and spaces allowed).
            value: A finite number.
            step: The training step.
            timestamp: Milliseconds since the epoch (default: now).
            created_at: When it happened (an alternative to ``timestamp``).

        Raises:
            InvalidArgumentError: Bad name or value (NaN, infinity, not a number), a step
                beyond signed 64 bits, or a time before 1970 or after 9999.
        """
        if timestamp is None and created_at is not None:
            timestamp = int(created_at.timestamp() * 1000)
        self._add([Metric(name, value, step, timestamp)])

    def log_metrics(self, metrics: list[Metric] | Metrics) -> None:
        """Record several metric points."""
        points = list(metrics)
        if not all(isinstance(m, Metric) for m in points):
            raise InvalidArgumentError("log_metrics needs Metric objects")
        self._add(points)

    def log_eval_metrics(self, metrics: EvalMetrics | dict[str, float]) -> None:
        """Record evaluation results (``is_eval`` points, one per name); the card's
        ``eval_metrics`` holds the latest value of each name."""
        values = metrics if isinstance(metrics, EvalMetrics) else EvalMetrics(metrics)
        self._add([Metric(k, v, is_eval=True) for k, v in values.metrics.items()])
        self._card.eval_metrics = {**self._card.eval_metrics, **values.metrics}

    def _add(self, points: list[Metric]) -> None:
        with self._lock:
            self._metrics.extend(points)
            full = len(self._metrics) >= BATCH_SIZE
        if full:
            self._wake.set()

    def log_parameter(self, name: str, value: bool | int | float | str) -> None:
        """Record one parameter (logging a name again replaces its value).

        Raises:
            InvalidArgumentError: A bad name, or a value that is not an ``int`` within
                signed 64 bits, a finite ``float``, a ``bool`` or a ``str`` of valid Unicode
                up to 64 Ki characters.
        """
        self.log_parameters([Parameter(name, value)])

    def log_parameters(
        self, parameters: list[Parameter] | Parameters | dict[str, bool | int | float | str]
    ) -> None:
        """Record several parameters (a list of :class:`Parameter` or a dict)."""
        items = (
            [Parameter(k, v) for k, v in parameters.items()]
            if isinstance(parameters, dict)
            else list(parameters)
        )
        if not all(isinstance(p, Parameter) for p in items):
            raise InvalidArgumentError("log_parameters needs Parameter objects or a dict")
        with self._lock:
            for param in items:
                self._params[param.name] = param

    # -- files --------------------------------------------------------------------------------

    def _target(self, rpath: str) -> Path:
        return self._files / safe_relpath(rpath)

    def log_artifact(self, lpath: Path | str, rpath: str | None = None) -> None:
        """Copy a file into the experiment's artifacts now (added to the card at exit).

        Args:
            lpath: The local file.
            rpath: Its path among the artifacts (default: ``artifacts/<file name>``).

        Raises:
            InvalidArgumentError: Not a file, or ``rpath`` leaves the artifact folder.
        """
        source = Path(lpath)
        if not source.is_file():
            raise InvalidArgumentError(f"log_artifact needs a file, got {source}")
        target = self._target(rpath or f"artifacts/{source.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def log_artifacts(self, paths: Path | str) -> None:
        """Copy every file under a folder into ``artifacts/<folder name>/…``."""
        folder = Path(paths)
        if not folder.is_dir():
            raise InvalidArgumentError(f"log_artifacts needs a folder, got {folder}")
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            self.log_artifact(
                file, f"artifacts/{folder.name}/{file.relative_to(folder).as_posix()}"
            )

    def log_figure_from_path(self, lpath: Path | str, rpath: str | None = None) -> None:
        """Log an image file under ``figures/``."""
        source = Path(lpath)
        self.log_artifact(source, rpath or f"figures/{source.name}")

    def log_figure(self, name: str, figure: Any, kwargs: dict[str, Any] | None = None) -> None:
        """Save a matplotlib figure as ``figures/<name>`` (the name's suffix picks the
        format, e.g. ``loss.png``)."""
        if not hasattr(figure, "savefig"):
            raise InvalidArgumentError("log_figure needs a matplotlib figure (with savefig)")
        target = self._target(f"figures/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, **(kwargs or {}))

    def _snapshot_code(self, code_dir: Path) -> None:
        if not code_dir.is_dir():
            raise InvalidArgumentError(f"code_dir must be a folder, got {code_dir}")
        for file in sorted(code_dir.rglob("*")):
            rel = file.relative_to(code_dir)
            hidden = any(part.startswith(".") or part == "__pycache__" for part in rel.parts)
            source = file.is_file() and not file.is_symlink() and file.suffix in _CODE_SUFFIXES
            if source and not hidden:
                self.log_artifact(file, f"code/{rel.as_posix()}")

    def _upload_files(self) -> None:
        if any(self._files.rglob("*")):
            manifest = self._backend.add_artifacts(RegistryType.Experiment, self.uid, self._files)
            self._card.manifest = manifest

    # -- cards ----------------------------------------------------------------------------------

    def register_card(
        self,
        card: CardBase,
        version_type: VersionType | str = VersionType.Minor,
        pre_tag: str | None = None,
        build_tag: str | None = None,
        save_kwargs: Any = None,
    ) -> None:
        """Register a card made by this experiment, linking both ways: the card's
        ``experimentcard_uid`` and the experiment's ``uids``.

        Raises:
            CardStateError: The card is already registered.
        """
        if card.uid is not None:
            raise CardStateError(f"{card} is already registered")
        if hasattr(card, "experimentcard_uid"):
            card.experimentcard_uid = self.uid
        CardRegistry(card.registry_type, self._registry.config).register_card(
            card, version_type, pre_tag, build_tag, save_kwargs
        )
        links = getattr(self._card.uids, _LINKS[card.registry_type])
        links.append(str(card.uid))
        self._registry.update_card(self._card)


def _hardware_sampler() -> Any:
    psutil = require("psutil", "experiment")
    psutil.cpu_percent(percpu=True)  # the first call only primes the counters

    def sample() -> HardwareMetrics:
        memory = psutil.virtual_memory()
        net = psutil.net_io_counters()
        per_core = [float(v) for v in psutil.cpu_percent(percpu=True)]
        return HardwareMetrics(
            created_at=datetime.now(UTC),
            cpu_percent_utilization=sum(per_core) / max(len(per_core), 1),
            cpu_percent_per_core=per_core,
            memory_used=int(memory.used),
            memory_available=int(memory.available),
            memory_percent=float(memory.percent),
            bytes_recv=int(net.bytes_recv),
            bytes_sent=int(net.bytes_sent),
        )

    return sample


def start_experiment(
    space: str | None = None,
    name: str | None = None,
    code_dir: Path | str | None = None,
    log_hardware: bool = False,
    experiment_uid: str | None = None,
    hardware_interval: float = HARDWARE_SECONDS,
) -> Experiment:
    """Start (or re-open) an experiment; use the result as a context manager.

    Example:
        ```python
        with start_experiment(space="team-a", name="churn") as exp:
            exp.log_parameter("n_estimators", 5)
            exp.log_metric("accuracy", 0.91)
            exp.register_card(modelcard)
        ```

    Args:
        space: Space of the ExperimentCard (default ``default``).
        name: Name of the ExperimentCard (default ``experiment``).
        code_dir: Copy this folder's source files into the artifacts (``code/``).
        log_hardware: Sample CPU, memory and network with psutil in a background thread.
        experiment_uid: Re-open this registered experiment instead of starting a new one.
        hardware_interval: Seconds between hardware samples.

    Returns:
        The experiment (the card is registered before this returns).
    """
    if log_hardware:
        require("psutil", "experiment")  # before anything is registered
    registry = CardRegistry(RegistryType.Experiment)
    if experiment_uid is not None:
        card = registry.load_card(uid=experiment_uid)
        card.status, card.ended_at, card.error = "running", None, None
        registry.update_card(card)
    else:
        card = ExperimentCard(space=space or "default", name=name or "experiment")
        card.status, card.started_at = "running", datetime.now(UTC)
        registry.register_card(card)
    return Experiment(
        card,
        registry,
        Path(code_dir) if code_dir is not None else None,
        log_hardware,
        hardware_interval,
    )


def _names(names: list[str] | None, what: str) -> list[str] | None:
    return None if names is None else [check_metric_name(n, what) for n in names]


def get_experiment_metrics(experiment_uid: str, names: list[str] | None = None) -> Metrics:
    """The metric points of an experiment, in logging order.

    Raises:
        InvalidArgumentError: The uid is not a card uid, or a name no metric can have.
    """
    check_uid(experiment_uid, "experiment_uid")
    backend = CardRegistry(RegistryType.Experiment).backend
    return Metrics(backend.get_metrics(experiment_uid, _names(names, "metric")))


def get_experiment_parameters(experiment_uid: str, names: list[str] | None = None) -> Parameters:
    """The parameters of an experiment.

    Raises:
        InvalidArgumentError: The uid is not a card uid, or a name no parameter can have.
    """
    check_uid(experiment_uid, "experiment_uid")
    backend = CardRegistry(RegistryType.Experiment).backend
    return Parameters(backend.get_parameters(experiment_uid, _names(names, "parameter")))
