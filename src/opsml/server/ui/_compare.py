"""What the runs table and the comparison pages show, gathered into plain template values.

The runs table reads the run and metric summary tables (``opsml.store._runs``): one indexed
statement per page. Comparisons read each run's parameters, metric summaries and (for the
overlaid charts) metric points, and each model's or prompt's stored card.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from opsml.registry import LocalBackend
from opsml.server.ui._charts import Axis, Series, downsample, line_chart_svg, parallel_svg
from opsml.server.ui._views import CardLink, format_duration, natural_key
from opsml.store import CardQuery
from opsml.store._experiment import METRICS
from opsml.store._runs import MetricSummary, RunRow, run_summaries
from opsml.types import RegistryType

__all__ = [
    "COMPARE_CHARTS",
    "COMPARE_LIMIT",
    "CHART_POINTS",
    "Cell",
    "DiffRow",
    "compare_experiments",
    "compare_models",
    "compare_prompts",
    "split_names",
]

COMPARE_LIMIT = 10
"""Cards on one comparison page."""
COMPARE_CHARTS = 24
"""Overlaid metric charts on one comparison page (the metric filter narrows them)."""
CHART_POINTS = 120
"""Points drawn per run and chart (evenly spaced, first and last kept)."""
_PARALLEL_AXES = 12


def split_names(value: str, limit: int = 20) -> list[str]:
    """``"loss, acc,,loss"`` → ``["loss", "acc"]`` (column choices in the URL)."""
    names = [n.strip() for n in value.split(",")]
    return list(dict.fromkeys(n for n in names if n))[:limit]


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side table: a name and one shown value per card; ``differs``
    when the cards do not all hold the same value."""

    name: str
    values: list[str]
    differs: bool


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if 1e4 <= abs(value) < 1e15 else f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _diff_rows(names: Sequence[str], columns: Sequence[dict[str, Any]]) -> list[DiffRow]:
    rows = []
    for name in names:
        raw = [column.get(name) for column in columns]
        shown = [_shown(v) for v in raw]
        rows.append(DiffRow(name, shown, len(set(shown)) > 1))
    return rows


@dataclass(frozen=True)
class Cell:
    """A run as a compared column: its link and run facts."""

    link: CardLink
    label: str
    status: str
    duration: str | None
    user: str


def _label(link: CardLink, names: set[str]) -> str:
    """``v3`` when every run has one name, else ``name v3``."""
    return f"v{link.version}" if len(names) == 1 else f"{link.name} v{link.version}"


def _points(backend: LocalBackend, uid: str, names: Sequence[str]) -> dict[str, list[Any]]:
    rows = backend.tracking._rows(
        METRICS.select()
        .with_only_columns(METRICS.c.name, METRICS.c.value, METRICS.c.step, METRICS.c.is_eval)
        .where(METRICS.c.experiment_uid == uid, METRICS.c.name.in_(list(names)))
        .order_by(METRICS.c.id),
        "metrics",
    )
    points: dict[str, list[tuple[float, float]]] = {}
    for index, row in enumerate(rows):
        if row.is_eval:
            continue
        step = float(index if row.step is None else row.step)
        points.setdefault(row.name, []).append((step, float(row.value)))
    return {name: sorted(values) for name, values in points.items()}


def compare_experiments(
    backend: LocalBackend, links: list[CardLink], metric_filter: str = ""
) -> dict[str, Any]:
    """Parameters, final metrics, overlaid charts and parallel coordinates of runs.

    Args:
        backend: The server's local backend.
        links: The runs (registered, readable), at most :data:`COMPARE_LIMIT`.
        metric_filter: Only chart metrics whose name contains this (case-insensitive).
    """
    uids = [link.uid for link in links]
    runs, summaries = run_summaries(backend.store, uids)
    names = {link.name for link in links}
    labels = [_label(link, names) for link in links]
    cells = [
        Cell(
            link,
            label,
            runs[link.uid].status if link.uid in runs else "—",
            format_duration(runs[link.uid].duration or 0.0)
            if link.uid in runs and runs[link.uid].duration is not None
            else None,
            runs[link.uid].user if link.uid in runs else "",
        )
        for link, label in zip(links, labels, strict=True)
    ]
    params = [backend.tracking.parameters(uid) for uid in uids]
    param_names = sorted({n for p in params for n in p}, key=natural_key)
    latest = [{n: s.latest for n, s in summaries.get(uid, {}).items()} for uid in uids]
    metric_names = sorted({n for m in latest for n in m}, key=natural_key)
    wanted = metric_filter.strip().lower()
    charted = [n for n in metric_names if wanted in n.lower()]
    shown = charted[:COMPARE_CHARTS]
    series_by_run = [_points(backend, uid, shown) for uid in uids] if shown else []
    charts = {}
    for name in shown:
        series = [
            Series(label, downsample(points.get(name, []), CHART_POINTS))
            for label, points in zip(labels, series_by_run, strict=True)
        ]
        charts[name] = line_chart_svg(f"{name} by step", series, "step", name)
    axes = [
        Axis(name, [p.get(name) if _is_number(p.get(name)) else None for p in params])
        for name in param_names
        if all(_is_number(p.get(name)) or name not in p for p in params)
    ]
    axes += [Axis(name, [m.get(name) for m in latest]) for name in metric_names]
    axes = [a for a in axes if any(v is not None for v in a.values)][:_PARALLEL_AXES]
    return {
        "cells": cells,
        "labels": labels,
        "parameters": _diff_rows(param_names, params),
        "metrics": _diff_rows(metric_names, latest),
        "metric_summaries": summaries,
        "charts": charts,
        "metric_filter": metric_filter.strip(),
        "metric_total": len(metric_names),
        "metric_matching": len(charted),
        "parallel": parallel_svg(
            "Parallel coordinates of the compared runs",
            labels,
            [Axis(a.label, [float(v) if v is not None else None for v in a.values]) for a in axes],
        ),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _card(backend: LocalBackend, registry: RegistryType, uid: str) -> dict[str, Any]:
    loaded = backend.load_card(registry, CardQuery(uid=uid, limit=1))
    card: dict[str, Any] = loaded.model_dump(mode="json")
    return card


def compare_models(
    backend: LocalBackend, links: list[CardLink], readable: Collection[str] | None
) -> dict[str, Any]:
    """Interface, feature schema, parameters and the metrics of the producing runs of
    model versions, side by side.

    Args:
        backend: The server's local backend.
        links: The model cards (registered, readable).
        readable: The spaces the viewer may read (``None``: all): a run elsewhere is not
            read, its metrics show as absent.
    """
    cards = [_card(backend, RegistryType.Model, link.uid) for link in links]
    interfaces = [(c.get("metadata") or {}).get("interface_metadata") or {} for c in cards]
    facts = [
        {
            "interface": i.get("interface_type"),
            "task": i.get("task_type"),
            "model type": i.get("model_type"),
            "data type": i.get("data_type"),
            "data card": (c.get("metadata") or {}).get("datacard_uid"),
            "experiment card": (c.get("metadata") or {}).get("experimentcard_uid"),
        }
        for c, i in zip(cards, interfaces, strict=True)
    ]
    schemas = [
        {
            name: f"{f.get('feature_type')} {_shape(f.get('shape'))}"
            for name, f in ((i.get("schema") or {}).get("items") or {}).items()
        }
        for i in interfaces
    ]
    params = [((i.get("model_specific_metadata") or {}).get("params") or {}) for i in interfaces]
    run_uids = [str(f["experiment card"]) if f["experiment card"] else "" for f in facts]
    allowed = {uid for uid in run_uids if uid and _readable_run(backend, uid, readable)}
    _, summaries = run_summaries(backend.store, allowed)
    metrics = [
        {n: s.latest for n, s in summaries.get(uid, {}).items()} if uid in allowed else {}
        for uid in run_uids
    ]
    eval_metrics: list[dict[str, Any]] = []
    for uid in run_uids:
        if uid in allowed:
            experiment = _card(backend, RegistryType.Experiment, uid)
            eval_metrics.append(experiment.get("eval_metrics") or {})
        else:
            eval_metrics.append({})
    merged = [{**m, **e} for m, e in zip(metrics, eval_metrics, strict=True)]
    labels = [_label(link, {other.name for other in links}) for link in links]
    return {
        "labels": labels,
        "facts": _diff_rows(list(facts[0]), facts),
        "schema": _diff_rows(sorted({n for s in schemas for n in s}, key=natural_key), schemas),
        "parameters": _diff_rows(sorted({n for p in params for n in p}, key=natural_key), params),
        "metrics": _diff_rows(sorted({n for m in merged for n in m}, key=natural_key), merged),
        "hidden_runs": sum(1 for uid in run_uids if uid and uid not in allowed),
    }


def _readable_run(backend: LocalBackend, uid: str, readable: Collection[str] | None) -> bool:
    space = backend.store.space_of(RegistryType.Experiment, uid)
    return space is not None and (readable is None or space in readable)


def _shape(value: Any) -> str:
    if not isinstance(value, list):
        return "" if value is None else str(value)
    return "(" + ", ".join("?" if v is None else str(v) for v in value) + ")"


def _prompt_text(card: dict[str, Any]) -> list[str]:
    prompt = card.get("prompt") or {}
    lines: list[str] = []
    for message in prompt.get("system_instruction") or []:
        lines.append("[system]")
        lines.extend(str(message.get("content", "")).splitlines() or [""])
    for message in prompt.get("message") or []:
        lines.append(f"[{message.get('role', 'user')}]")
        lines.extend(str(message.get("content", "")).splitlines() or [""])
    return lines


def _diff_html(old: list[str], new: list[str]) -> Markup:
    """A line diff as ``<del>``/``<ins>`` lines (escaped), unchanged lines plain."""
    out = []
    for line in difflib.ndiff(old, new):
        tag, text = line[:2], Markup.escape(line[2:])
        if tag == "- ":
            out.append(Markup('<del class="diff-del">- {}</del>').format(text))
        elif tag == "+ ":
            out.append(Markup('<ins class="diff-ins">+ {}</ins>').format(text))
        elif tag == "  ":
            out.append(Markup('<span class="diff-same">  {}</span>').format(text))
    return Markup("\n").join(out)


def compare_prompts(backend: LocalBackend, links: list[CardLink]) -> dict[str, Any]:
    """Model, provider and settings side by side, and the text of each prompt as a line
    diff against the first."""
    cards = [_card(backend, RegistryType.Prompt, link.uid) for link in links]
    settings = []
    for card in cards:
        prompt = card.get("prompt") or {}
        model_settings = prompt.get("model_settings") or {}
        row = {
            "model": prompt.get("model") or model_settings.get("model"),
            "provider": prompt.get("provider") or model_settings.get("provider"),
        }
        row.update({f"setting {k}": v for k, v in model_settings.items() if v is not None})
        settings.append(row)
    names = list(dict.fromkeys(n for row in settings for n in row))
    texts = [_prompt_text(card) for card in cards]
    labels = [_label(link, {other.name for other in links}) for link in links]
    diffs = [
        (labels[0], labels[i], _diff_html(texts[0], texts[i]), texts[0] != texts[i])
        for i in range(1, len(cards))
    ]
    return {"labels": labels, "settings": _diff_rows(names, settings), "diffs": diffs}


def run_cells(runs: Sequence[RunRow], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Template values of runs table rows: run facts and each chosen metric's summary."""
    missing = MetricSummary(math.nan, math.nan, math.nan, 0)
    return [
        {
            "run": run,
            "duration": format_duration(run.duration) if run.duration is not None else None,
            "metrics": [(name, run.metrics.get(name, missing)) for name in metrics],
        }
        for run in runs
    ]
