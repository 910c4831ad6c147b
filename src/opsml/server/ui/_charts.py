"""Charts drawn on the server as inline SVG: they read without JavaScript and need no
external service. A line chart's hover points (at most ``MARKERS`` per series, evenly
spaced, the first and the last always among them) carry a ``<title>`` (the browser shows it
on hover) and ``data-x``/``data-y`` attributes (the page script and the tests read them);
its line keeps every extreme of the series at chart width (:func:`envelope`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TypeVar

from markupsafe import Markup

__all__ = [
    "PALETTE",
    "Axis",
    "Node",
    "Series",
    "LINE_POINTS",
    "MARKERS",
    "downsample",
    "envelope",
    "histogram_svg",
    "line_chart_svg",
    "lineage_svg",
    "parallel_svg",
    "smooth",
]

# Series colours (classes c0..c6 in opsml.css, at least 4.5:1 contrast on white).
PALETTE = ("#1f5fbf", "#b34700", "#1b7a3a", "#8a2be2", "#a0153e", "#006d77", "#5c4d00")

T = TypeVar("T")

_W, _H = 640, 260
# A line keeps at most about this many points (two per pixel of the plot's width: the
# envelope below draws the same picture) and at most MARKERS hover points per series, so a
# run of 20 metrics with 100 000 steps each makes a page of the same size as one of 100 steps.
LINE_POINTS = 1_200
MARKERS = 100
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 40


@dataclass
class Series:
    """One line of a chart: a label (a run, a metric) and its ``(x, y)`` points."""

    label: str
    points: list[tuple[float, float]] = field(default_factory=list)


def _fmt(value: float) -> str:
    if value == 0 or (1e-3 <= abs(value) < 1e6):
        return f"{value:.4g}"
    return f"{value:.3e}"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 12:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """An exponential moving average of ``values`` (``weight`` 0: unchanged; towards 1:
    smoother), corrected for its start at zero as TensorBoard's smoothing is, so the first
    points are not pulled towards 0. Non-finite values pass through and do not enter it."""
    if weight <= 0:
        return list(values)
    out: list[float] = []
    last, count = 0.0, 0
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        count += 1
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


def _axes(
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_label: str,
    y_label: str,
    log_y: bool = False,
) -> list[str]:
    (x0, x1), (y0, y1) = x_range, y_range
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = [
        f"<line class='axis' x1='{_LEFT}' y1='{_TOP + plot_h}' x2='{_LEFT + plot_w}' "
        f"y2='{_TOP + plot_h}'/>",
        f"<line class='axis' x1='{_LEFT}' y1='{_TOP}' x2='{_LEFT}' y2='{_TOP + plot_h}'/>",
    ]
    # On a log axis the positions are log10 of the values: ticks at whole decades when the
    # range spans one, labelled with the values themselves.
    decades = [float(d) for d in range(math.ceil(y0), math.floor(y1) + 1)] if log_y else []
    y_ticks = decades if len(decades) >= 2 else _ticks(y0, y1)
    for tick in y_ticks:
        y = _TOP + plot_h - (tick - y0) / (y1 - y0) * plot_h
        label = _fmt(10**tick) if log_y else _fmt(tick)
        parts.append(
            f"<line class='grid' x1='{_LEFT}' y1='{y:.1f}' x2='{_LEFT + plot_w}' y2='{y:.1f}'/>"
            f"<text class='tick' x='{_LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{escape(label)}</text>"
        )
    for tick in _ticks(x0, x1):
        x = _LEFT + (tick - x0) / (x1 - x0) * plot_w
        parts.append(
            f"<text class='tick' x='{x:.1f}' y='{_TOP + plot_h + 16}' text-anchor='middle'>"
            f"{escape(_fmt(tick))}</text>"
        )
    parts.append(
        f"<text class='label' x='{_LEFT + plot_w / 2:.0f}' y='{_H - 4}' text-anchor='middle'>"
        f"{escape(x_label)}</text>"
        f"<text class='label' x='12' y='{_TOP + plot_h / 2:.0f}' text-anchor='middle' "
        f"transform='rotate(-90 12 {_TOP + plot_h / 2:.0f})'>"
        f"{escape(y_label + (' (log)' if log_y else ''))}</text>"
    )
    return parts


def line_chart_svg(
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    *,
    log_y: bool = False,
    smoothing: float = 0.0,
) -> Markup:
    """A line chart with one coloured line per series (several runs overlaid).

    Args:
        title: What the chart shows (its accessible name).
        series: The lines; empty series are left out.
        x_label: Axis label, e.g. ``"step"``.
        y_label: Axis label, e.g. the metric name.
        log_y: A logarithmic y axis (only when every finite value is positive; else the
            axis stays linear and the chart says why in ``data-scale``).
        smoothing: Draw each line as its :func:`smooth` moving average with this weight
            (0 to 0.99); the points keep the logged values.

    Returns:
        An ``<svg>`` element (safe markup; every text in it is escaped).
    """
    drawn = [s for s in series if s.points]
    if not drawn:
        return Markup("<p class='muted'>No points.</p>")
    finite = [y for s in drawn for _, y in s.points if math.isfinite(y)]
    scale = "log" if log_y and finite and min(finite) > 0 else "linear"
    if log_y and scale == "linear":
        scale = "linear (log needs positive values)"
    on_log = scale == "log"

    def position(y: float) -> float:
        return math.log10(y) if on_log else y

    xs = [x for s in drawn for x, _ in s.points]
    ys = [position(y) for y in finite] or [0.0]
    (x0, x1), (y0, y1) = _span(xs), _span(ys)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def cy_of(y: float) -> float:
        value = position(y) if math.isfinite(y) and (y > 0 or not on_log) else y0
        return _TOP + plot_h - (value - y0) / (y1 - y0) * plot_h

    parts = [
        f"<svg class='chart' viewBox='0 0 {_W} {_H}' role='img' "
        f"aria-label='{escape(title)}' xmlns='http://www.w3.org/2000/svg' "
        f"data-scale='{escape(scale)}' data-smoothing='{smoothing:g}'>"
        f"<title>{escape(title)}</title>",
        *_axes((x0, x1), (y0, y1), x_label, y_label, log_y=on_log),
    ]
    for index, line in enumerate(drawn):
        count = len(line.points)
        drawn_ys = smooth([y for _, y in line.points], smoothing)

        def cx_of(i: int, points: list[tuple[float, float]] = line.points) -> float:
            return _LEFT + (points[i][0] - x0) / (x1 - x0) * plot_w

        path = " ".join(
            f"{cx_of(i):.1f},{cy_of(drawn_ys[i]):.1f}" for i in envelope(drawn_ys, LINE_POINTS)
        )
        parts.append(
            f"<g class='series c{index % len(PALETTE)}' data-series='{escape(line.label)}'>"
            f"<polyline points='{path}' fill='none' stroke='currentColor' stroke-width='2'/>"
        )
        for i in downsample(range(count), MARKERS):
            (x, y), cx, cy = line.points[i], cx_of(i), cy_of(line.points[i][1])
            parts.append(
                f"<circle class='point' cx='{cx:.1f}' cy='{cy:.1f}' r='3' fill='currentColor' "
                f"data-x='{x:g}' data-y='{y:g}'><title>{escape(line.label)}: "
                f"{escape(x_label)} {_fmt(x)}, {escape(y_label)} {_fmt(y)}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram_svg(title: str, edges: Sequence[float], counts: Sequence[int]) -> Markup:
    """A histogram from bin edges (``len(counts) + 1`` of them) and counts.

    Returns:
        An ``<svg>`` element with one ``<rect class='bar'>`` per bin.
    """
    if not counts or len(edges) != len(counts) + 1:
        return Markup("<p class='muted'>No histogram.</p>")
    x0, x1 = _span(edges)
    y0, y1 = 0.0, float(max(*counts, 1))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = [
        f"<svg class='chart histogram' viewBox='0 0 {_W} {_H}' role='img' "
        f"aria-label='{escape(title)}' xmlns='http://www.w3.org/2000/svg'>"
        f"<title>{escape(title)}</title>",
        *_axes((x0, x1), (y0, y1), "value", "count"),
    ]
    for low, high, count in zip(edges, edges[1:], counts, strict=False):
        left = _LEFT + (low - x0) / (x1 - x0) * plot_w
        width = max((high - low) / (x1 - x0) * plot_w - 1, 1)
        height = count / y1 * plot_h
        parts.append(
            f"<rect class='bar' x='{left:.1f}' y='{_TOP + plot_h - height:.1f}' "
            f"width='{width:.1f}' height='{height:.1f}' data-x='{low:g}' data-y='{count}'>"
            f"<title>[{_fmt(low)}, {_fmt(high)}): {count}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Node:
    """A card in a lineage graph."""

    key: str
    kind: str
    label: str
    href: str


# Column of each card kind, left to right; models and prompts share one.
_COLUMNS = {"data": 0, "experiment": 1, "model": 2, "prompt": 2, "service": 3}


def lineage_svg(title: str, nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> Markup:
    """A left-to-right graph: data → experiment → model/prompt → service.

    Args:
        title: The graph's accessible name.
        nodes: The cards (``kind`` picks the column); each node links to its card page.
        edges: ``(from_key, to_key)`` pairs; edges naming unknown nodes are left out.
    """
    if not nodes:
        return Markup("<p class='muted'>No linked cards.</p>")
    used = sorted({_COLUMNS.get(n.kind, 3) for n in nodes})
    columns = [[n for n in nodes if _COLUMNS.get(n.kind, 3) == c] for c in used]
    box_w, box_h, gap_x, gap_y = 170, 44, 60, 16
    rows = max(len(column) for column in columns)
    width = len(columns) * box_w + (len(columns) - 1) * gap_x + 20
    height = rows * box_h + (rows - 1) * gap_y + 20
    where: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(columns):
        for ri, node in enumerate(column):
            where[node.key] = (10 + ci * (box_w + gap_x), 10 + ri * (box_h + gap_y))
    parts = [
        f"<svg class='lineage' viewBox='0 0 {width} {height}' width='{width}' role='group' "
        f"aria-label='{escape(title)}' xmlns='http://www.w3.org/2000/svg'>"
        f"<title>{escape(title)}</title><defs><marker id='arrow' viewBox='0 0 10 10' refX='10' "
        "refY='5' markerWidth='8' markerHeight='8' orient='auto-start-reverse'>"
        "<path d='M 0 0 L 10 5 L 0 10 z' class='arrowhead'/></marker></defs>"
    ]
    for source, target in edges:
        if source not in where or target not in where:
            continue
        (sx, sy), (tx, ty) = where[source], where[target]
        parts.append(
            f"<line class='edge' x1='{sx + box_w:.0f}' y1='{sy + box_h / 2:.0f}' "
            f"x2='{tx:.0f}' y2='{ty + box_h / 2:.0f}' marker-end='url(#arrow)'/>"
        )
    for node in nodes:
        x, y = where[node.key]
        label = node.label if len(node.label) <= 24 else node.label[:23] + "…"
        parts.append(
            f"<a href='{escape(node.href)}' class='node {escape(node.kind)}'>"
            f"<rect x='{x:.0f}' y='{y:.0f}' width='{box_w}' height='{box_h}' rx='6'/>"
            f"<text x='{x + 8:.0f}' y='{y + 17:.0f}' class='kind'>{escape(node.kind)}</text>"
            f"<text x='{x + 8:.0f}' y='{y + 35:.0f}'>{escape(label)}</text>"
            f"<title>{escape(node.kind)} {escape(node.label)}</title></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def downsample(points: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` points, evenly spaced, always keeping the first and the last."""
    if len(points) <= limit or limit < 2:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def envelope(values: Sequence[float], limit: int) -> list[int]:
    """The indices of at most about ``limit`` of ``values`` that draw the same line at chart
    width: ``values`` cut into ``limit // 2`` runs of neighbours, each kept as its lowest
    and highest point (in their order), plus the first and the last. A spike anywhere stays
    visible, which picking every n-th point would lose."""
    count = len(values)
    buckets = limit // 2
    if count <= limit or buckets < 1:
        return list(range(count))
    kept = {0, count - 1}
    for bucket in range(buckets):
        lo, hi = bucket * count // buckets, (bucket + 1) * count // buckets
        finite = [i for i in range(lo, hi) if math.isfinite(values[i])] or [lo]
        kept.add(min(finite, key=values.__getitem__))
        kept.add(max(finite, key=values.__getitem__))
    return sorted(kept)


@dataclass
class Axis:
    """One vertical axis of a parallel-coordinates chart: a parameter or a metric, with
    each run's value (``None``: the run has none)."""

    label: str
    values: list[float | None]


def parallel_svg(title: str, runs: Sequence[str], axes: Sequence[Axis]) -> Markup:
    """Parallel coordinates: one vertical axis per parameter or metric (scaled to its own
    range, minimum at the bottom), one coloured line per run through its values.

    Args:
        title: The chart's accessible name.
        runs: Run labels, in the order of each axis's values.
        axes: The axes, left to right (two at least to draw anything).
    """
    if len(axes) < 2 or not runs:
        return Markup("<p class='muted'>Parallel coordinates need two numeric columns.</p>")
    width = max(_W, 120 * len(axes))
    top, bottom, left, right = 28, 44, 50, 50
    plot_h = _H - top - bottom
    gap = (width - left - right) / (len(axes) - 1)
    parts = [
        f"<svg class='chart parallel' viewBox='0 0 {width} {_H}' role='img' "
        f"aria-label='{escape(title)}' xmlns='http://www.w3.org/2000/svg'>"
        f"<title>{escape(title)}</title>"
    ]
    scales: list[tuple[float, float]] = []
    for index, axis in enumerate(axes):
        x = left + index * gap
        known = [v for v in axis.values if v is not None]
        low, high = _span(known) if known else (0.0, 1.0)
        scales.append((low, high))
        label = axis.label if len(axis.label) <= 18 else axis.label[:17] + "…"
        parts.append(
            f"<line class='axis' x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + plot_h}'/>"
            f"<text class='label' x='{x:.1f}' y='{_H - 22}' text-anchor='middle'>"
            f"{escape(label)}<title>{escape(axis.label)}</title></text>"
            f"<text class='tick' x='{x:.1f}' y='{top - 8}' text-anchor='middle'>"
            f"{escape(_fmt(high))}</text>"
            f"<text class='tick' x='{x:.1f}' y='{_H - 8}' text-anchor='middle'>"
            f"{escape(_fmt(low))}</text>"
        )
    for r, run in enumerate(runs):
        coords: list[str] = []
        for index, axis in enumerate(axes):
            value = axis.values[r] if r < len(axis.values) else None
            if value is None:
                continue
            low, high = scales[index]
            y = top + plot_h - (value - low) / (high - low) * plot_h
            coords.append(f"{left + index * gap:.1f},{y:.1f}")
        readings = ", ".join(
            f"{a.label} {_fmt(v)}"
            for a in axes
            if (v := (a.values[r] if r < len(a.values) else None)) is not None
        )
        parts.append(
            f"<g class='series c{r % len(PALETTE)}' data-series='{escape(run)}'>"
            f"<polyline points='{' '.join(coords)}' fill='none' stroke='currentColor' "
            f"stroke-width='2'><title>{escape(run)}: {escape(readings)}</title></polyline>"
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
