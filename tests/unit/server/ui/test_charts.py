"""Server-side SVG charts: one mark per data point up to a limit, long series drawn at chart
width with every spike kept, every label escaped."""

from __future__ import annotations

import re

from markupsafe import Markup

from opsml.server.ui._charts import (
    LINE_POINTS,
    MARKERS,
    Node,
    Series,
    envelope,
    histogram_svg,
    line_chart_svg,
    lineage_svg,
)


def test_line_chart_draws_every_point_of_every_run() -> None:
    runs = [
        Series("v1", [(0, 1.0), (1, 0.5), (2, 0.25)]),
        Series("v2", [(0, 2.0), (1, 1.0)]),
        Series("empty", []),
    ]
    chart = line_chart_svg("loss by step", runs, "step", "loss")
    assert isinstance(chart, Markup), "templates insert it as is"
    svg = str(chart)
    assert svg.count("<polyline") == 2
    assert svg.count("class='point'") == 5
    assert re.findall(r"data-series='([^']*)'", svg) == ["v1", "v2"]
    assert "v1: step 2, loss 0.25" in svg


def test_a_long_series_keeps_its_size_its_ends_and_its_spikes() -> None:
    steps = 100_000
    values = [1.0] * steps
    values[54_321] = 50.0  # one spike, between any two evenly spaced samples
    values[77_777] = -50.0
    svg = str(line_chart_svg("loss", [Series("v1", list(enumerate(values)))], "step", "loss"))
    assert len(svg) < 250_000, "a page of 20 such charts stays small"
    assert svg.count("class='point'") == MARKERS
    xs = re.findall(r"class='point'[^>]*data-x='([^']*)'", svg)
    assert (xs[0], xs[-1]) == ("0", str(steps - 1)), "the first and the last step are shown"
    line = re.search(r"<polyline points='([^']*)'", svg)
    assert line is not None
    ys = [float(pair.split(",")[1]) for pair in line.group(1).split()]
    assert LINE_POINTS / 2 <= len(ys) <= LINE_POINTS + 2
    assert len(set(ys)) == 3, "the line reaches both spikes as well as the flat value"


def test_envelope_keeps_each_stretch_lowest_and_highest_in_order() -> None:
    values = [0.0, 5.0, -1.0, 2.0, 9.0, 3.0, 4.0, -7.0]
    assert envelope(values, 100) == list(range(8)), "a short series is kept whole"
    kept = envelope(values, 4)  # two stretches of four
    assert kept == sorted(kept)
    assert [values[i] for i in kept] == [0.0, 5.0, -1.0, 9.0, -7.0]


def test_line_chart_handles_flat_and_non_finite_values() -> None:
    svg = str(line_chart_svg("t", [Series("r", [(0, 3.0), (1, 3.0), (2, float("nan"))])], "x", "y"))
    assert "cy='nan'" not in svg, "a non-finite value is drawn on the axis, not at NaN"
    assert svg.count("class='point'") == 3
    assert "No points" in str(line_chart_svg("t", [], "x", "y"))


def test_labels_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    for svg in (
        str(line_chart_svg(evil, [Series(evil, [(0, 1.0)])], evil, evil)),
        str(histogram_svg(evil, [0.0, 1.0], [3])),
        str(lineage_svg(evil, [Node("a", "data", evil, "/x?a='b'")], [])),
    ):
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg


def test_histogram_has_one_bar_per_bin() -> None:
    svg = str(histogram_svg("h", [0.0, 1.0, 2.0, 3.0], [4, 0, 2]))
    assert re.findall(r"class='bar'[^>]*data-y='(\d+)'", svg) == ["4", "0", "2"]
    assert "No histogram" in str(histogram_svg("h", [0.0, 1.0], [1, 2]))


def test_lineage_links_every_card_and_draws_known_edges() -> None:
    nodes = [
        Node("d", "data", "d v1", "/ui/data/d"),
        Node("m", "model", "m v1", "/ui/model/m"),
        Node("p", "prompt", "p v1", "/ui/prompt/p"),
        Node("s", "service", "s v1", "/ui/service/s"),
    ]
    svg = str(lineage_svg("g", nodes, [("d", "m"), ("m", "s"), ("p", "s"), ("x", "s")]))
    assert re.findall(r"<a href='([^']*)'", svg) == [n.href for n in nodes]
    assert svg.count("class='edge'") == 3
