"""Tests of the benchmark harness itself: regression flags, stale sections, load checks.

Run with ``.venv/bin/pytest benchmarks/test_harness.py`` (not part of ``make test``: the
benchmarks are not the product). The measurements are not run here; what is tested is the
bookkeeping that decides what a report says about them.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load
import _sections
import load_balancer
import run
from _compare import Measure, Previous, block, judge, ratio_spread, spread

# The head of a report as run.py wrote it before it kept ranges (no bench-rows comment).
OLD_REPORT = """# Benchmark results

- Date: 2026-12-02 04:22 UTC
- Command: `.venv/bin/python benchmarks/run.py`
- Machine: 2 cores (`nproc`), AMD EPYC, Linux
- Load average (1 min) at start / end of the run: 3.07 / 2.89 (other processes add noise)

## Results (medians; ms unless the case names another unit)

| case | ours | OpsML 3 | ours / OpsML 3 | target | value | status |
|---|---|---|---|---|---|---|
| register one ModelCard | 8.46 | 20.6 | 0.41 | ours / OpsML 3 <= 1.0 | 0.41 | PASS |
| create_data_profile() | 456 | 35597 | 0.013 | ours / OpsML 3 <= 1.0 (*) | 0.01 | PASS |
| list_cards(space, name), 100 000 cards | 2.58 | 21.9 | 0.12 | ours < 2 ms | 2.58 ms | FAIL |
| client: register DataCard | 990 | 3206 | 0.31 | ours / ours local <= 1.3 | 1.26 | PASS |
| ... the same in local mode, paired | 783 | skipped | - | baseline | - | - |
| ... the same in local mode, paired | 109 | skipped | - | baseline | - | - |
| client: GET card metadata (req/s, higher is better) | 140 | 1314 | 0.11 | report | - | info |

## Method and notes
"""


def test_old_report_rows_are_read_by_label(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(OLD_REPORT)
    previous = Previous.read(path)
    assert previous is not None
    assert previous.date == "2026-12-02 04:22 UTC"
    assert not previous.quick
    # Its header did not say so, but it ran with a load average above the core count.
    assert previous.invalid
    # Ratio targets compare the ratio (from the ratio column, with more digits than the
    # value column), the others ours' median; a repeated label keeps its first row.
    assert previous.get("register", "register one ModelCard") == Measure(0.41)
    assert previous.get("profile", "create_data_profile()") == Measure(0.013)
    assert previous.get("x", "client: register DataCard") == Measure(1.26)
    assert previous.get("x", "list_cards(space, name), 100 000 cards") == Measure(2.58)
    assert previous.get("x", "... the same in local mode, paired") == Measure(783.0)
    rps = previous.get("rps", "client: GET card metadata (req/s, higher is better)")
    assert rps == Measure(140.0, higher_is_better=True)


def test_rows_round_trip_through_the_hidden_block(tmp_path: Path) -> None:
    rows = {"rps": Measure(440.0, 430.0, 450.0, True, 1), "load": Measure(0.4, 0.38, 0.43)}
    path = tmp_path / "RESULTS.md"
    head = "# Benchmark results\n\n- Date: 2026-12-03 10:00 UTC\n- **INVALID**: loaded\n"
    path.write_text(f"{head}\n## Results\n\n{block(rows, True)}\n")
    previous = Previous.read(path)
    assert previous is not None
    assert previous.quick
    assert previous.invalid
    assert previous.get("rps", "any label") == rows["rps"]
    assert previous.get("load", "any label") == rows["load"]


def test_requests_per_second_falling_is_a_regression() -> None:
    # The drop the issue found reported as "info" only: 440 -> 140 req/s.
    text, flagged = judge(Measure(440.0, higher_is_better=True), Measure(140.0, 130, 145, True))
    assert flagged
    assert text == "-68 % REGRESSION"
    # More requests/s is no regression however large the change.
    assert judge(Measure(140.0, higher_is_better=True), Measure(440.0, 430, 450, True)) == (
        "+214 %",
        False,
    )


def test_noise_decides_with_ranges_and_twenty_percent_without() -> None:
    previous = Measure(100.0, 95.0, 105.0)
    # 15 % worse, ranges apart: flagged.
    assert judge(previous, Measure(115.0, 110.0, 120.0)) == ("+15 % REGRESSION", True)
    # 15 % worse but the samples' ranges overlap: noise.
    assert judge(previous, Measure(115.0, 100.0, 130.0)) == ("+15 %", False)
    # 8 % worse with ranges apart: below the 10 % floor.
    assert judge(previous, Measure(108.0, 106.0, 110.0)) == ("+8 %", False)
    # Without ranges only more than 20 % counts.
    assert judge(Measure(100.0), Measure(119.0, 118.0, 120.0)) == ("+19 %", False)
    assert judge(Measure(100.0), Measure(125.0, 124.0, 126.0)) == ("+25 % REGRESSION", True)
    # Better is never flagged.
    assert judge(previous, Measure(50.0, 49.0, 51.0)) == ("-50 %", False)


def test_new_rows_and_changed_methods_are_not_compared() -> None:
    assert judge(None, Measure(1.0)) == ("new", False)
    assert judge(Measure(0.66, revision=1), Measure(1.9, revision=2)) == ("method changed", False)
    assert judge(Measure(1.0), None) == ("-", False)


def test_ratio_ranges_combine_both_quartiles() -> None:
    assert spread([1.0]) == (None, None)
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    lo, hi = ratio_spread([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0])
    assert (lo, hi) == pytest.approx((2.0 / 40.0, 4.0 / 20.0))
    assert ratio_spread([1.0, 2.0], None) == (None, None)


def test_sections_are_marked_stale_with_their_date_until_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    _sections.write_section(path, "ui-pages", ["## Web UI", "", "- Date: x", "", "| a |"])
    section = _sections.sections(path)[0]
    written = _sections._WRITTEN.search(section)
    assert written is not None
    stale = _sections.mark_stale(section, "2030-01-01 00:00 UTC")
    assert f"> **Stale**: measured {written.group(1)};" in stale
    assert "benchmark run of 2030-01-01 00:00 UTC" in stale
    # Marking again replaces the note instead of stacking a second one.
    again = _sections.mark_stale(stale, "2031-01-01 00:00 UTC")
    assert again.count("**Stale**") == 1
    assert "2031-01-01" in again
    assert again.replace("2031-01-01", "2030-01-01") == stale
    # The script's next run replaces the whole section, note included.
    path.write_text(f"# Benchmark results\n\n{again}\n")
    _sections.write_section(path, "ui-pages", ["## Web UI", "", "- Date: y"])
    assert "Stale" not in path.read_text()
    assert len(_sections.sections(path)) == 1


def test_a_section_without_a_stamp_is_marked_with_its_date_line() -> None:
    old = "<!-- cloud:begin -->\n## Cloud\n\n- Date: 2026-11-22 09:22 UTC; x\n<!-- cloud:end -->"
    assert "measured 2026-11-22 09:22 UTC;" in _sections.mark_stale(old, "2027-01-01 00:00 UTC")
    bare = "<!-- cloud:begin -->\n## Cloud\n<!-- cloud:end -->"
    assert "measured an unknown date" in _sections.mark_stale(bare, "2027-01-01 00:00 UTC")


class _Machine:
    """Stand-in for the load average and the other processes' CPU, in sequence."""

    def __init__(self, loads: list[float], foreign: list[float]) -> None:
        self.loads, self.foreign = loads, foreign

    def load1(self) -> float:
        return self.loads.pop(0) if len(self.loads) > 1 else self.loads[0]

    def watch(self, own: object = None) -> _Machine.Watch:
        return _Machine.Watch(self)

    class Watch:
        def __init__(self, machine: _Machine) -> None:
            self.machine = machine

        def stop(self) -> float:
            foreign = self.machine.foreign
            return foreign.pop(0) if len(foreign) > 1 else foreign[0]


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> _Machine:
    fake = _Machine([0.5], [0.0])
    monkeypatch.setattr(_load, "load1", fake.load1)
    monkeypatch.setattr(_load, "CpuWatch", fake.watch)
    monkeypatch.setattr(_load, "cores", lambda: 2)
    monkeypatch.setattr(time, "sleep", lambda _: None)
    return fake


def test_a_group_measured_under_load_is_measured_again(machine: _Machine) -> None:
    machine.foreign[:] = [1.2, 0.1]
    gate = _load.LoadGate(max_wait=60, say=lambda _: None)
    attempts = iter(range(1, 10))
    assert gate.measure("data", lambda: next(attempts)) == 2
    assert [r.outcome for r in gate.records] == ["repeated", "ok"]
    assert gate.valid


def test_a_group_still_loaded_after_its_repeat_makes_the_run_invalid(machine: _Machine) -> None:
    machine.foreign[:] = [1.2]
    gate = _load.LoadGate(max_wait=60, say=lambda _: None)
    gate.measure("data", lambda: None)
    assert [r.outcome for r in gate.records] == ["repeated", "loaded"]
    assert not gate.valid
    assert "INVALID" in gate.summary()[-1]


def test_the_run_waits_for_the_load_average_to_fall(machine: _Machine) -> None:
    machine.loads[:] = [3.5, 3.0, 1.5]
    gate = _load.LoadGate(max_wait=60, step=0, say=lambda _: None)
    gate.measure("light", lambda: None)
    assert gate.valid
    assert gate.records[0].load_before == 1.5


def test_a_load_that_does_not_fall_makes_the_run_invalid_without_waiting_again(
    machine: _Machine,
) -> None:
    machine.loads[:] = [3.5]
    gate = _load.LoadGate(max_wait=0, say=lambda _: None)
    gate.measure("light", lambda: None)
    gate.measure("data", lambda: None)
    assert not gate.valid
    assert len(gate.problems) == 2
    assert gate.problems[0].startswith("load average 3.50 > 2 cores at the start of light")


def test_the_cpu_of_waited_children_counts_as_ours() -> None:
    # What keeps our own peer processes out of "other processes' CPU".
    before = _load._own_seconds()
    subprocess.run([sys.executable, "-c", "sum(range(30_000_000))"], check=True)
    assert _load._own_seconds() - before > 0.1


def _runs(ours: dict[str, list[float]]) -> dict[str, run.PeerRun]:
    cases = {key: {"samples": samples} for key, samples in ours.items()}
    return {"ours": run.PeerRun(run.PEERS["ours"], Path("python"), cases=cases)}


def test_the_table_flags_a_fall_in_requests_per_second() -> None:
    runs = _runs({"rps": [139.0, 140.0, 142.0], "rps_p50": [0.1, 0.11, 0.12]})
    previous = Previous(Path("RESULTS.md"), "then", False, False, {}, {})
    previous.by_key["rps"] = Measure(440.0, 430.0, 450.0, True)
    previous.by_key["rps_p50"] = Measure(100.0, 95.0, 120.0)
    table = run.results_table(runs, ["ours"], ["rps"], previous)
    rows = {row[0]: row for row in table.rows[1:]}
    label = "client: GET card metadata (req/s, higher is better)"
    assert rows[label][-2:] == ["info", "-68 % REGRESSION"]
    assert rows["... its p50 latency"][-1] == "+10 %"  # 110 ms against 100: within the noise
    assert table.regressions == [label]


def test_the_load_targets_are_the_first_loads() -> None:
    # Warm loads (no hashing) would pass; the first loads decide the status.
    runs = _runs(
        {
            "data_load_cold": [0.30, 0.31, 0.32],
            "data_read_parquet_cold": [0.10, 0.11, 0.12],
            "data_load": [0.10, 0.11, 0.12],
            "data_read_parquet": [0.10, 0.11, 0.12],
            "client_data_load_cold": [0.70, 0.77, 0.80],
            "client_local_load_cold": [0.30, 0.31, 0.32],
            "client_data_load": [0.11, 0.11, 0.11],
            "client_local_load": [0.11, 0.11, 0.11],
        }
    )
    groups = ["data", "client"]
    table = run.results_table(runs, ["ours"], groups, None)
    keys = [case.key for case in run.CASES if case.group in groups]
    # target, value, status of each row
    status = {key: row[-4:-1] for key, row in zip(keys, table.rows[1:], strict=True)}
    assert status["data_load_cold"] == ["ours / read_parquet <= 1.2", "2.82", "FAIL"]
    assert status["client_data_load_cold"] == ["ours / ours local <= 1.3", "2.48", "FAIL"]
    assert status["data_load"] == ["report: / read_parquet", "1.00", "info"]
    assert status["client_data_load"] == ["report: / local warm", "1.00", "info"]


def test_a_section_measured_without_the_gate_does_not_claim_a_quiet_machine(
    machine: _Machine,
) -> None:
    gate = _load.LoadGate(max_wait=0, say=lambda _: None)
    machine.loads[:] = [1.0]
    assert gate.summary()[-1] == "Valid: not known (the load was not watched while it ran)"
    machine.loads[:] = [3.0]
    assert gate.summary()[-1] == "**INVALID**: load average 3.00 > 2 cores"


def test_every_data_sample_registers_bytes_of_its_own(tmp_path: Path) -> None:
    """A registry that keeps bytes by their hash must not be able to skip a sample's upload:
    two samples' Parquet files differ, and a fresh process rebuilds a sample's frame exactly
    (the cold-load child's check)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
    from _common import make_frame, stamp_frame

    frame = make_frame(1000)
    digests = []
    for sample in (0, 1):
        stamp_frame(frame, sample)
        path = tmp_path / f"{sample}.parquet"
        frame.to_parquet(path)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] != digests[1]
    rebuilt = make_frame(1000)
    stamp_frame(rebuilt, 1)
    assert rebuilt.equals(frame)
    assert not make_frame(1000).equals(frame)


def test_load_balancer_percentiles_and_scaling() -> None:
    assert load_balancer.percentile([], 99) == 0.0
    assert load_balancer.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert load_balancer.percentile(range(1, 101), 99) == 99
    scale = load_balancer.scaling({1: 100.0, 2: 180.0, 4: 220.0})
    assert scale[1] == (1.0, 1.0)
    assert scale[2] == pytest.approx((1.8, 0.8))
    assert scale[4] == pytest.approx((2.2, 0.4))  # each of 3 added workers: 0.4 of the first


def test_load_balancer_cpu_totals_keep_exited_and_count_new_processes() -> None:
    totals = load_balancer.CpuTotals()
    totals.observe("postgres", {10: 5.0, 11: 1.0})  # first look: counts from here
    totals.observe("postgres", {10: 5.5, 12: 0.3})  # 11 exited, 12 is new
    totals.observe("postgres", {10: 6.0, 12: 0.4})
    assert totals.total("postgres") == pytest.approx(1.0 + 0.0 + 0.4)
    assert totals.total("server") == 0


def test_load_balancer_reads_haproxy_stats_and_moto_log() -> None:
    stats = "# pxname,svname,req_tot,status\nopsml,FRONTEND,1234,OPEN\nreplicas,r1,,UP\n"
    assert load_balancer.haproxy_requests(stats) == 1234
    with pytest.raises(ValueError, match="FRONTEND"):
        load_balancer.haproxy_requests("# pxname,svname,req_tot\nstats,FRONTEND,3\n")
    log = (
        '127.0.0.1 - - [x] "PUT /bucket/a HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [x] "GET /bucket?list-type=2 HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [x] "POST /bucket/b?uploads HTTP/1.1" 200 -\n'
    )
    assert load_balancer.storage_writes(log) == 2


def test_load_balancer_projection_names_what_saturates_first() -> None:
    reads = load_balancer.Figures(server=0.5, postgres=0.05, haproxy=0.05)
    mixed = load_balancer.Figures(server=2.0, postgres=1.0, haproxy=0.1)
    text = "\n".join(load_balancer.projection(reads, mixed, 0.1, 2.0))
    assert "about 32,000 requests/s, PostgreSQL about 320,000: the servers' CPU" in text
    assert "saturates at about N = 10.0" in text  # 0.5 / 0.05
    assert "saturates at about N = 2.0" in text  # 2.0 / 1.0
    assert "1,750 registrations/s" in text
    heavy_db = load_balancer.Figures(server=0.5, postgres=1.0, haproxy=0.0)
    assert "PostgreSQL's CPU saturates first" in "\n".join(
        load_balancer.projection(heavy_db, heavy_db, 0.1, 0.0)
    )
