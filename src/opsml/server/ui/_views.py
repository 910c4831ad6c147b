"""What each page shows, gathered from the local backend into plain template values.

Pages read cards as JSON (``card.model_dump(mode="json")``), so a field added to a card
later shows up in the metadata table without changes here.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from opsml.errors import (
    CardNotFoundError,
    MetadataStoreError,
    OpsmlError,
    UnstorableValueError,
)
from opsml.registry import LocalBackend
from opsml.server.ui._charts import Node, Series, histogram_svg, line_chart_svg, lineage_svg
from opsml.server.ui._files import (
    file_tree,
    open_verified,
    read_preview,
    render_markdown,
)
from opsml.store import CardQuery
from opsml.store._lineage import used_by
from opsml.store._runs import run_summaries
from opsml.types import RegistryType

__all__ = ["CardLink", "card_context", "card_href", "resolve_link"]

_PROFILE_LIMIT = 32 * 1024 * 1024
_HISTORY = 20


def card_href(registry: RegistryType | str, uid: str) -> str:
    """The URL of a card's page."""
    value = registry.value if isinstance(registry, RegistryType) else registry
    return f"/ui/{value}/{uid}"


@dataclass(frozen=True)
class CardLink:
    """A reference to another card, resolved for display (``found`` is False if deleted)."""

    registry: str
    uid: str
    space: str = ""
    name: str = ""
    version: str = ""
    found: bool = True
    alias: str = ""

    @property
    def href(self) -> str:
        """The linked card's page."""
        return card_href(self.registry, self.uid)

    @property
    def label(self) -> str:
        """``space/name vX`` or the uid of a card that no longer exists."""
        return f"{self.space}/{self.name} v{self.version}" if self.found else self.uid


def resolve_link(
    backend: LocalBackend, registry: RegistryType, uid: str, alias: str = ""
) -> CardLink:
    """Look a referenced card up by uid (one indexed read)."""
    try:
        row = backend.store.get(registry, uid)
    except CardNotFoundError:
        return CardLink(registry.value, uid, found=False, alias=alias)
    return CardLink(registry.value, uid, row.space, row.name, row.version, alias=alias)


def _links(backend: LocalBackend, card: dict[str, Any], registry: RegistryType) -> list[CardLink]:
    """Every card this card references, in lineage order."""
    refs: list[tuple[RegistryType, str, str]] = []
    metadata = card.get("metadata") or {}
    if registry is RegistryType.Model and metadata.get("datacard_uid"):
        refs.append((RegistryType.Data, metadata["datacard_uid"], ""))
    experiment_uid = metadata.get("experimentcard_uid") or card.get("experimentcard_uid")
    if experiment_uid:
        refs.append((RegistryType.Experiment, experiment_uid, ""))
    if registry is RegistryType.Experiment:
        uids = card.get("uids") or {}
        for key, reg in (
            ("datacard_uids", RegistryType.Data),
            ("modelcard_uids", RegistryType.Model),
            ("promptcard_uids", RegistryType.Prompt),
            ("service_card_uids", RegistryType.Service),
            ("experimentcard_uids", RegistryType.Experiment),
        ):
            refs.extend((reg, uid, "") for uid in uids.get(key) or [])
    if registry is RegistryType.Service:
        for ref in card.get("cards") or []:
            if ref.get("uid") and ref.get("registry_type"):
                refs.append((RegistryType(ref["registry_type"]), ref["uid"], ref.get("alias", "")))
    return [resolve_link(backend, reg, uid, alias) for reg, uid, alias in refs]


def _lineage(
    backend: LocalBackend, registry: RegistryType, card: dict[str, Any], links: list[CardLink]
) -> Markup | None:
    """data → experiment → model → service, from the card and the cards it references."""
    if registry not in (RegistryType.Model, RegistryType.Service) or not links:
        return None
    this = CardLink(registry.value, card["uid"], card["space"], card["name"], card["version"])
    nodes: dict[str, CardLink] = {this.uid: this}
    edges: set[tuple[str, str]] = set()
    for link in links:
        nodes.setdefault(link.uid, link)
        edges.add((link.uid, this.uid))
    if registry is RegistryType.Service:
        # One step further back: each model's data and experiment.
        for link in links:
            if link.registry != RegistryType.Model.value or not link.found:
                continue
            model = json.loads(backend.store.get(RegistryType.Model, link.uid).card_json)
            for upstream in _links(backend, model, RegistryType.Model):
                nodes.setdefault(upstream.uid, upstream)
                edges.add((upstream.uid, link.uid))
    graph_nodes = [
        Node(n.uid, n.registry, f"{n.name} v{n.version}" if n.found else n.uid[:8], n.href)
        for n in nodes.values()
    ]
    return lineage_svg(f"Lineage of {card['space']}/{card['name']}", graph_nodes, sorted(edges))


def _history(backend: LocalBackend, registry: RegistryType, card: dict[str, Any]) -> list[Any]:
    query = CardQuery(space=card["space"], name=card["name"], limit=_HISTORY)
    return backend.list_cards(registry, query)


def _read_json_file(
    backend: LocalBackend, registry: RegistryType, uid: str, path: str
) -> Any | None:
    with ExitStack() as stack:
        local, size = open_verified(backend, registry, uid, path, stack)
        if size > _PROFILE_LIMIT:
            return None
        return json.loads(local.read_text(encoding="utf-8"))


def _profile(backend: LocalBackend, card: dict[str, Any], files: dict[str, Any]) -> list[Any]:
    """The data profile's features, each with its histogram drawn."""
    if "data-profile.json" not in files:
        return []
    profile = _read_json_file(backend, RegistryType.Data, card["uid"], "data-profile.json")
    features = []
    for name, feature in ((profile or {}).get("features") or {}).items():
        numeric = feature.get("numeric_stats")
        chart = None
        if numeric and numeric.get("histogram", {}).get("bin_counts"):
            histogram = numeric["histogram"]
            chart = histogram_svg(
                f"Histogram of {name}", histogram["bins"], histogram["bin_counts"]
            )
        features.append({"name": name, "feature": feature, "chart": chart})
    return features


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _drift_features(profile: dict[str, Any]) -> list[str]:
    """What a drift profile watches: features (SPC, PSI) or metric names (custom, LLM)."""
    if isinstance(profile.get("features"), dict):
        return sorted(profile["features"])
    metrics = profile.get("metrics")
    if isinstance(metrics, dict):
        return sorted(metrics)
    if isinstance(metrics, list):
        return [str(m.get("name")) for m in metrics if isinstance(m, dict)]
    return []


def _message_text(message: Any) -> str:
    """A message of a prompt as scouter-ml stores it (``{"content": {"Str": ...}}``)."""
    content = _as_dict(message).get("content")
    if isinstance(content, dict) and len(content) == 1:
        ((kind, value),) = content.items()
        if kind == "Str":
            return str(value)
        return f"[{kind.lower()}] {_as_dict(value).get('url') or _as_dict(value).get('media_type')}"
    return str(content)


def _llm_metrics(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics of an LLM drift profile: baseline, alert condition, evaluation prompt."""
    metrics = profile.get("metrics")
    rows = []
    for item in metrics if isinstance(metrics, list) else []:
        metric = _as_dict(item)
        prompt = _as_dict(metric.get("prompt"))
        condition = _as_dict(metric.get("alert_condition"))
        settings = _as_dict(prompt.get("model_settings"))
        rows.append(
            {
                "name": metric.get("name"),
                "value": metric.get("value"),
                "threshold": condition.get("alert_threshold"),
                "threshold_value": condition.get("alert_threshold_value"),
                "model": "/".join(
                    str(settings[k]) for k in ("provider", "model") if settings.get(k)
                )
                or None,
                "messages": [
                    _message_text(m)
                    for m in [
                        *(prompt.get("system_instruction") or []),
                        *(prompt.get("message") or []),
                    ]
                ],
            }
        )
    return rows


def _workflow_tasks(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of an LLM drift profile's workflow: id, dependencies, first message."""
    tasks = _as_dict(_as_dict(_as_dict(profile.get("workflow")).get("task_list")).get("tasks"))
    return [
        {
            "id": task_id,
            "dependencies": _as_dict(task).get("dependencies") or [],
            "messages": [
                _message_text(m)
                for m in _as_dict(_as_dict(task).get("prompt")).get("message") or []
            ],
        }
        for task_id, task in tasks.items()
    ]


def _drift_profiles(
    backend: LocalBackend,
    registry: RegistryType,
    card: dict[str, Any],
    uris: dict[str, Any],
    files: dict[str, Any],
) -> list[dict[str, Any]]:
    """The card's drift profiles: alias, type, watched features, alert configuration and
    (LLM profiles) metrics and workflow, read from the (verified) ``drift/<alias>.json``
    files that ``uris`` (alias to ``DriftProfileUri``) names."""
    profiles = []
    for alias, uri in uris.items():
        path = str((uri or {}).get("uri", ""))
        if path not in files:
            continue
        content = _read_json_file(backend, registry, card["uid"], path)
        profile = _as_dict(content)
        config = _as_dict(profile.get("config"))
        alert = _as_dict(config.get("alert_config"))
        feature_map = _as_dict(config.get("feature_map")).get("features")
        profiles.append(
            {
                "alias": alias,
                "drift_type": uri.get("drift_type"),
                "path": path,
                "features": _drift_features(profile),
                "categorical": sorted(feature_map) if isinstance(feature_map, dict) else [],
                "schedule": alert.get("schedule"),
                "dispatch": ", ".join(sorted(alert.get("dispatch_config") or {})) or None,
                "alert_config": alert,
                "llm_metrics": _llm_metrics(profile),
                "workflow": _workflow_tasks(profile),
                "too_large": content is None,
            }
        )
    return profiles


def _sample_rows(
    backend: LocalBackend, registry: RegistryType, uid: str, path: str
) -> tuple[list[str], list[list[str]]] | None:
    """The first rows of a Parquet sample (read batch by batch; pyarrow is optional)."""
    if not path.endswith(".parquet"):
        return None
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    with ExitStack() as stack:
        local, _ = open_verified(backend, registry, uid, path, stack)
        batch = next(pq.ParquetFile(local).iter_batches(batch_size=10), None)
        if batch is None:
            return None
        columns = [str(c) for c in batch.schema.names]
        rows = [[str(v) for v in row.values()] for row in batch.to_pylist()]
    return columns, rows


MAX_CHARTS = 60
"""Metric charts on one run page; more names than this are listed in the latest-values
table, and the filter box narrows the charts."""


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``m2`` before ``m10`` (digit runs compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def _metric_series(backend: LocalBackend, uids: list[tuple[str, str]]) -> dict[str, list[Series]]:
    """Per metric name, one series per run (``uids`` are ``(uid, label)``); evaluation
    results (``log_eval_metrics``) are not series: the page shows them as numbers."""
    get_metrics = getattr(backend, "get_metrics", None)
    charts: dict[str, list[Series]] = defaultdict(list)
    if get_metrics is None:
        return charts
    for uid, label in uids:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for index, metric in enumerate(get_metrics(uid)):
            if getattr(metric, "is_eval", False):
                continue
            step = getattr(metric, "step", None)
            points[metric.name].append(
                (float(index if step is None else step), float(metric.value))
            )
        for name, values in points.items():
            charts[name].append(Series(label, sorted(values)))
    return charts


def run_summary(card: dict[str, Any]) -> dict[str, Any]:
    """An experiment's status, start, end, duration and error (its first line apart from
    the rest, e.g. a traceback), as the run page shows them."""
    started, ended = _when(card.get("started_at")), _when(card.get("ended_at"))
    duration = (ended - started).total_seconds() if started and ended else None
    error = (card.get("error") or "").strip()
    first, _, rest = error.partition("\n")
    return {
        "status": str(card.get("status") or "created"),
        "started_at": started,
        "ended_at": ended,
        "duration": format_duration(duration) if duration is not None else None,
        "error": first or None,
        "error_detail": rest.strip() or None,
    }


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``3 min 05 s``, ``2 h 03 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _latest_values(series: dict[str, list[Series]], run: str) -> list[dict[str, Any]]:
    """Per metric name of ``run``: the value at its last step, the minimum, the maximum and
    the number of points, in natural name order."""
    rows = []
    for name in sorted(series, key=natural_key):
        points = next((s.points for s in series[name] if s.label == run), None)
        if not points:
            continue
        values = [v for _, v in points]
        rows.append(
            {
                "name": name,
                "latest": points[-1][1],
                "min": min(values),
                "max": max(values),
                "points": len(points),
            }
        )
    return rows


def _experiment(
    backend: LocalBackend,
    card: dict[str, Any],
    compare: list[CardLink],
    metric_filter: str = "",
    log_y: bool = False,
    smoothing: float = 0.0,
) -> dict[str, Any]:
    runs = [(card["uid"], f"v{card['version']}"), *((c.uid, f"v{c.version}") for c in compare)]
    series = _metric_series(backend, runs)
    wanted = metric_filter.strip().lower()
    names = [n for n in sorted(series, key=natural_key) if wanted in n.lower()]
    metrics = {
        name: line_chart_svg(
            f"{name} by step", series[name], "step", name, log_y=log_y, smoothing=smoothing
        )
        for name in names[:MAX_CHARTS]
    }
    metric_points = {
        name: sum(len(s.points) for s in series[name] if s.label == runs[0][1]) for name in names
    }
    parameters: dict[str, dict[str, str]] = defaultdict(dict)
    get_parameters = getattr(backend, "get_parameters", None)
    if get_parameters is not None:
        for uid, label in runs:
            for parameter in get_parameters(uid):
                parameters[parameter.name][label] = str(parameter.value)
    hardware: dict[str, Markup] = {}
    get_hardware = getattr(backend, "get_hardware_metrics", None)
    samples = list(get_hardware(card["uid"])) if get_hardware is not None else []
    if samples:
        start = samples[0].created_at

        def seconds(sample: Any) -> float:
            return float((sample.created_at - start).total_seconds())

        def line(attr: str) -> list[tuple[float, float]]:
            return [(seconds(s), float(_attr(s, attr))) for s in samples]

        hardware["CPU utilisation (%)"] = line_chart_svg(
            "CPU utilisation over time",
            [Series("cpu %", line("cpu_percent_utilization"))],
            "seconds",
            "percent",
        )
        hardware["Memory used (%)"] = line_chart_svg(
            "Memory used over time",
            [Series("memory %", line("memory.percent"))],
            "seconds",
            "percent",
        )
        hardware["Network (bytes)"] = line_chart_svg(
            "Network bytes received and sent",
            [
                Series("received", line("network.bytes_recv")),
                Series("sent", line("network.bytes_sent")),
            ],
            "seconds",
            "bytes",
        )
    return {
        "metrics": metrics,
        "metric_filter": metric_filter.strip(),
        "scale": "log" if log_y else "linear",
        "smoothing": smoothing,
        "metric_total": len(series),
        "metric_matching": len(names),
        "latest": _latest_values(series, runs[0][1]),
        "eval_metrics": sorted(
            (card.get("eval_metrics") or {}).items(), key=lambda item: natural_key(item[0])
        ),
        "metric_points": metric_points,
        "runs": [label for _, label in runs],
        "parameters": dict(sorted(parameters.items())),
        "hardware": hardware,
    }


def _producing_run(
    backend: LocalBackend, card: dict[str, Any], readable: Collection[str] | None
) -> dict[str, Any] | None:
    """The run that produced a model: its link and each metric's latest, minimum and
    maximum (evaluation results included), when the viewer may read its space."""
    uid = (card.get("metadata") or {}).get("experimentcard_uid")
    if not uid:
        return None
    link = resolve_link(backend, RegistryType.Experiment, uid)
    if not link.found or (readable is not None and link.space not in readable):
        return None
    _, summaries = run_summaries(backend.store, [uid])
    metrics = summaries.get(uid, {})
    return {
        "link": link,
        "metrics": [(name, metrics[name]) for name in sorted(metrics, key=natural_key)],
    }


def _attr(obj: Any, dotted: str) -> Any:
    """``memory.percent`` on a nested object or on a flat one (``memory_percent``)."""
    flat = getattr(obj, dotted.replace(".", "_"), None)
    if flat is not None:
        return flat
    for part in dotted.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part, 0)
    return obj or 0


def _aliases(backend: LocalBackend, registry: RegistryType, card: dict[str, Any]) -> dict[str, Any]:
    """The aliases of the card's (space, name), by the uid they point at."""
    by_uid: dict[str, list[str]] = {}
    for alias in backend.list_aliases(registry, card["space"], card["name"]):
        by_uid.setdefault(alias.uid, []).append(alias.alias)
    return by_uid


def card_context(
    backend: LocalBackend,
    registry: RegistryType,
    uid: str,
    compare: list[str],
    metric_filter: str = "",
    readable: Collection[str] | None = None,
    log_y: bool = False,
    smoothing: float = 0.0,
) -> dict[str, Any]:
    """Everything the card page shows.

    Args:
        backend: The server's local backend.
        registry: The card's registry.
        uid: The card's uid.
        compare: uids of other experiments to overlay on this experiment's charts.
        metric_filter: Only chart the experiment's metrics whose name contains this
            (case-insensitive).
        readable: The spaces the viewer may read (``None``: every space): "used by" names
            only cards of these.
        log_y: Draw the experiment's metric charts on a logarithmic y axis.
        smoothing: Draw their lines as a moving average of this weight (0 to 0.99).

    Raises:
        CardNotFoundError: No such card.
    """
    loaded = backend.load_card(registry, CardQuery(uid=uid, limit=1))
    card: dict[str, Any] = loaded.model_dump(mode="json")
    files: dict[str, Any] = (card.get("manifest") or {}).get("files") or {}
    links = _links(backend, card, registry)
    context: dict[str, Any] = {
        "registry": registry.value,
        "card": card,
        "metadata_json": json.dumps(card, indent=2),
        "tree_root": file_tree(files),
        "file_count": len(files),
        "history": _history(backend, registry, card),
        "aliases": _aliases(backend, registry, card),
        "links": links,
        "used_by": [
            CardLink(u.registry.value, u.uid, u.space, u.name, u.version)
            for u in used_by(backend.store, registry, uid, readable)
        ],
        "lineage": _lineage(backend, registry, card, links),
        "readme": None,
        "images": [
            p
            for p in sorted(files)
            if p.rsplit(".", 1)[-1].lower() in ("png", "jpg", "jpeg", "gif", "webp", "svg")
        ],
    }
    if "README.md" in files:
        with ExitStack() as stack:
            local, _ = open_verified(backend, registry, uid, "README.md", stack)
            context["readme"] = render_markdown(read_preview(local)[0])
    interface = (card.get("metadata") or {}).get("interface_metadata") or {}
    context["interface"] = interface
    if registry in (RegistryType.Data, RegistryType.Model):
        uris = (interface.get("save_metadata") or {}).get("drift_profile_uri_map") or {}
        context["drift"] = _drift_profiles(backend, registry, card, uris, files)
    if registry is RegistryType.Prompt:
        uris = card.get("drift_profile_uri_map") or {}
        context["drift"] = _drift_profiles(backend, registry, card, uris, files)
    if registry is RegistryType.Data:
        context["profile"] = _profile(backend, card, files)
    if registry is RegistryType.Model:
        sample = (interface.get("save_metadata") or {}).get("sample_data_uri")
        context["sample"] = (
            _sample_rows(backend, registry, uid, sample) if sample in files else None
        )
        context["sample_path"] = sample if sample in files else None
        context["run_metrics"] = _producing_run(backend, card, readable)
    if registry is RegistryType.Experiment:
        others = [resolve_link(backend, RegistryType.Experiment, c) for c in compare if c != uid]
        context["compare"] = [c for c in others if c.found]
        context["compare_uids"] = {c.uid for c in context["compare"]}
        context["run"] = run_summary(card)
        try:
            context["experiment"] = _experiment(
                backend, card, context["compare"], metric_filter, log_y, smoothing
            )
        except (MetadataStoreError, UnstorableValueError):
            raise  # database text: the page answers with a request id instead
        except OpsmlError as exc:
            context["experiment"] = {"error": str(exc)}
    return context
