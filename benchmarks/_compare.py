"""Compare a benchmark run with the previous report: which rows got worse beyond noise.

Each row of ``run.py``'s table has one compared value: the ratio of its target (or of its
report) when it has one (``ours / OpsML 3``, ``ours / to_parquet``, ...), else ours' median.
Its noise comes from the spread of the samples: the interquartile range of ours' samples
(for a ratio a / b, from ``Q1(a) / Q3(b)`` to ``Q3(a) / Q1(b)``). A row is flagged as a
regression when its value got worse by more than 10 % *and* the two runs' ranges do not
overlap (this run's range lies entirely on the worse side of the previous one's). When the
previous report has no ranges (reports written before they were recorded, or rows with a
single sample), a change for the worse of more than 20 % is flagged.

The report keeps each row's value and range in a hidden ``<!-- bench-rows {...} -->``
comment for the next run; from an older report without it, the rows are matched by their
label in the results table. A row whose measurement changed (its ``revision``) or that is
new is not compared. Standard library only.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Measure", "Previous", "block", "judge", "ratio_spread", "spread"]

WORSE_WITH_SPREAD = 0.10  # relative change beyond which non-overlapping ranges are flagged
WORSE_WITHOUT_SPREAD = 0.20  # relative change flagged when a range is unknown
_BLOCK = re.compile(r"<!-- bench-rows (\{.*?\}) -->", re.DOTALL)
_DATE = re.compile(r"^- Date: (.+)$", re.MULTILINE)
_LOAD = re.compile(r"Load average \(1 min\) at start / end[^:]*: ([\d.]+)")
_CORES = re.compile(r"Machine: (\d+) cores")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:e-?\d+)?$")


@dataclass(frozen=True)
class Measure:
    """A row's compared value, with the interquartile range behind it when known."""

    value: float
    lo: float | None = None
    hi: float | None = None
    higher_is_better: bool = False
    revision: int = 1


def spread(samples: Sequence[float] | None) -> tuple[float | None, float | None]:
    """The first and third quartiles of ``samples`` (None, None for fewer than 2)."""
    if not samples or len(samples) < 2:
        return None, None
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def ratio_spread(
    numerator: Sequence[float] | None, denominator: Sequence[float] | None
) -> tuple[float | None, float | None]:
    """The range of a ratio of two medians: ``Q1(a) / Q3(b)`` to ``Q3(a) / Q1(b)``."""
    (a1, a3), (b1, b3) = spread(numerator), spread(denominator)
    if a1 is None or a3 is None or not b1 or not b3:
        return None, None
    return a1 / b3, a3 / b1


@dataclass
class Previous:
    """The previous report's rows."""

    path: Path
    date: str
    quick: bool
    invalid: bool  # its header said INVALID (measured on a loaded machine)
    by_key: dict[str, Measure]  # from its bench-rows comment
    by_label: dict[str, Measure]  # from its table, for reports without the comment

    @classmethod
    def read(cls, path: Path) -> Previous | None:
        """Parse the report at ``path``; None when there is none or it has no table."""
        if not path.exists():
            return None
        text = path.read_text(encoding="utf-8")
        found = _DATE.search(text)
        date = found.group(1).strip() if found else "an unknown date"
        head = text.split("\n## ", 1)[0]
        load, cores = _LOAD.search(head), _CORES.search(head)
        loaded = bool(load and cores and float(load.group(1)) > int(cores.group(1)))
        invalid = "**INVALID**" in head or loaded  # older reports did not say it
        block = _BLOCK.search(text)
        if block:
            data = json.loads(block.group(1))
            rows = {key: Measure(**row) for key, row in data["rows"].items()}
            return cls(path, date, bool(data.get("quick")), invalid, rows, {})
        by_label = _table_rows(text)
        if not by_label:
            return None
        return cls(path, date, "**Quick run**" in text, invalid, {}, by_label)

    def get(self, key: str, label: str) -> Measure | None:
        """The previous row of this case (by key, else by its label)."""
        return self.by_key.get(key) or self.by_label.get(label)


def _table_rows(text: str) -> dict[str, Measure]:
    """Rows of the first table whose header starts with ``| case |``: for a ratio target the
    ``ours / PEER`` column it names (more digits than ``value``), else the ``value`` column
    where it holds a plain number (a ratio), else the ``ours`` column (a median)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| case |")), None)
    if start is None:
        return {}
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    if "ours" not in header or "value" not in header:
        return {}
    rows: dict[str, Measure] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            continue
        row = dict(zip(header, cells, strict=True))
        ratio_column = next(
            (
                name
                for name in header
                if name.startswith("ours / ") and row.get("target", "").startswith(f"{name} ")
            ),
            None,
        )
        if ratio_column is not None:
            shown = row[ratio_column]
        elif _NUMBER.match(row["value"]):
            shown = row["value"]
        else:
            shown = row["ours"]
        if not _NUMBER.match(shown):
            continue
        higher = "req/s" in row["case"] and not _NUMBER.match(row["value"])
        rows.setdefault(row["case"], Measure(float(shown), higher_is_better=higher))
    return rows


def judge(previous: Measure | None, current: Measure | None) -> tuple[str, bool]:
    """The "vs previous" cell of a row, and whether it is a regression."""
    if current is None:
        return "-", False
    if previous is None:
        return "new", False
    if previous.revision != current.revision:
        return "method changed", False
    if previous.value == 0:
        return "-", False
    change = (current.value - previous.value) / previous.value
    worse = -change if current.higher_is_better else change
    p_lo, p_hi, c_lo, c_hi = previous.lo, previous.hi, current.lo, current.hi
    if p_lo is not None and p_hi is not None and c_lo is not None and c_hi is not None:
        apart = c_hi < p_lo if current.higher_is_better else c_lo > p_hi
        flagged = worse > WORSE_WITH_SPREAD and apart
    else:
        flagged = worse > WORSE_WITHOUT_SPREAD
    text = f"{change * 100:+.0f} %"
    return (f"{text} REGRESSION" if flagged else text), flagged


def block(rows: dict[str, Measure], quick: bool) -> str:
    """The hidden comment that carries this run's rows to the next comparison."""
    data = {"quick": quick, "rows": {key: asdict(row) for key, row in rows.items()}}
    return f"<!-- bench-rows {json.dumps(data, separators=(',', ':'))} -->"
