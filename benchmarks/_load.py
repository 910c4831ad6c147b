"""Is the machine quiet enough to measure? Load checks shared by every benchmark script.

Two measures, because the 1-minute load average cannot tell our own work from other
processes':

- the **load average** (``os.getloadavg()[0]``) before a group of cases starts: above the
  core count, :meth:`LoadGate.wait` polls it every ``step`` seconds until it falls (at most
  ``max_wait`` seconds; the tail of our own previous group decays within a minute or two);
- the **other processes' CPU** while a group runs (:class:`CpuWatch`): the machine's busy
  CPU time (``/proc/stat``, steal included) minus the CPU time of this process and of the
  children it waited for (``getrusage``), divided by the wall time: how many cores other
  processes took, on average, while we measured. A group above ``max_foreign`` cores was
  measured under load and is repeated once the load average has fallen.

A run is *invalid* when the load average did not fall within ``max_wait`` at the start of a
group, or when a group was still loaded after its repeats; the reports say so in their
header. Standard library only (``run.py`` runs under any Python 3.11+).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

__all__ = [
    "CpuWatch",
    "GroupLoad",
    "LoadGate",
    "command_line",
    "cores",
    "load1",
    "machine",
    "now_utc",
]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAX_WAIT = 600.0  # seconds to wait for the load average to fall
DEFAULT_STEP = 10.0  # seconds between two looks at it
DEFAULT_MAX_FOREIGN = 0.25  # cores other processes may use on average during a group

T = TypeVar("T")


def cores() -> int:
    """The machine's core count (``os.cpu_count()``), which the load average is compared to."""
    return os.cpu_count() or 1


def load1() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def now_utc() -> str:
    """The current time as the reports write it (``2026-12-02 04:22 UTC``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    """Core count, CPU model and OS, as one line of a report."""
    cpu = "-"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cores()} cores (`nproc`), {cpu}, {platform.platform()}"


def command_line() -> str:
    """The command that is running (interpreter relative to the repository when inside it;
    ``make bench (...)`` when run by make)."""
    exe = Path(sys.executable)
    python = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else "python"
    script = sys.argv[0]
    if Path(script).is_absolute() and Path(script).is_relative_to(ROOT):
        script = str(Path(script).relative_to(ROOT))
    cmd = " ".join([python, *(shlex.quote(a) for a in [script, *sys.argv[1:]])])
    return f"make bench ({cmd})" if os.environ.get("MAKELEVEL") else cmd


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL backend processes connected to ``database`` (their titles name it);
    none for an empty name."""
    if not database:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


def _busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuWatch:
    """How many cores other processes used, on average, between start and :meth:`stop`.

    Our children count as ours once waited for (``subprocess.run`` does); a child still
    running or never waited for counts as another process's (the error is on the safe side),
    unless ``own`` counts it: a function returning the CPU seconds so far of processes of
    ours that are not waited for (a server under load, read from ``/proc``).
    """

    def __init__(self, own: Callable[[], float] | None = None) -> None:
        self._own_extra = own or (lambda: 0.0)
        self._wall = time.monotonic()
        self._busy = _busy_seconds()
        self._own = _own_seconds() + self._own_extra()

    def stop(self) -> float:
        """Other processes' average core count since the watch started (never below 0)."""
        wall = time.monotonic() - self._wall
        if wall <= 0:
            return 0.0
        own = _own_seconds() + self._own_extra()
        foreign = (_busy_seconds() - self._busy) - (own - self._own)
        return max(foreign / wall, 0.0)


@dataclass
class GroupLoad:
    """The load around one measured group (one attempt)."""

    what: str
    attempt: int
    waited: float  # seconds waited for the load average to fall before it started
    load_before: float
    load_after: float
    foreign: float  # cores other processes used on average while it ran
    outcome: str  # "ok", "repeated", "loaded" (kept, the run is invalid)


@dataclass
class LoadGate:
    """Waits for a quiet machine before each group, and judges each group afterwards.

    Args:
        max_wait: Seconds to wait for the load average to fall to the core count; ``0``
            never waits (a loaded start then makes the run invalid at once).
        max_foreign: Cores other processes may use on average while a group runs.
        repeats: How many times a group measured under load is measured again.
        step: Seconds between two looks at the load average.
        say: Where progress messages go.
    """

    max_wait: float = DEFAULT_MAX_WAIT
    max_foreign: float = DEFAULT_MAX_FOREIGN
    repeats: int = 1
    step: float = DEFAULT_STEP
    say: Callable[[str], None] = print
    records: list[GroupLoad] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the run is invalid
    _gave_up: bool = False

    @property
    def valid(self) -> bool:
        """No group started on a loaded machine or stayed loaded after its repeats."""
        return not self.problems

    def wait(self, what: str) -> tuple[float, float]:
        """Wait (bounded) until the load average is at most the core count.

        Returns:
            The seconds waited, and the load average when ``what`` starts. Once one wait
            has run out, later ones do not wait again (the run is invalid already).
        """
        start, limit = time.monotonic(), cores()
        load = load1()
        if load > limit and not self._gave_up and self.max_wait > 0:
            self.say(
                f"[load] {what}: load average {load:.2f} > {limit} cores; waiting for it to "
                f"fall (at most {self.max_wait:.0f} s)"
            )
            deadline = start + self.max_wait
            while load > limit and time.monotonic() < deadline:
                time.sleep(min(self.step, max(deadline - time.monotonic(), 0.0)))
                load = load1()
        waited = time.monotonic() - start
        if load > limit:
            self._gave_up = True
            self.problems.append(
                f"load average {load:.2f} > {limit} cores at the start of {what} "
                f"(waited {waited:.0f} s)"
            )
        elif waited >= 1:
            self.say(f"[load] {what}: load average {load:.2f} after {waited:.0f} s")
        return waited, load

    def measure(self, what: str, run: Callable[[], T], own: Callable[[], float] | None = None) -> T:
        """Run ``run`` once the machine is quiet; again (up to ``repeats`` times) while other
        processes took more than ``max_foreign`` cores during it. Returns the last result.
        ``own``: CPU seconds so far of running processes of ours (see :class:`CpuWatch`)."""
        attempt = 0
        while True:
            attempt += 1
            waited, before = self.wait(what)
            watch = CpuWatch(own)
            result = run()
            foreign = watch.stop()
            record = GroupLoad(what, attempt, waited, before, load1(), foreign, "ok")
            self.records.append(record)
            if foreign <= self.max_foreign:
                return result
            if attempt <= self.repeats and not self._gave_up:
                record.outcome = "repeated"
                self.say(
                    f"[load] {what}: other processes used {foreign:.2f} cores while it ran "
                    f"(> {self.max_foreign:g}); measuring it again"
                )
                continue
            record.outcome = "loaded"
            self.problems.append(
                f"{what}: other processes used {foreign:.2f} cores while it ran "
                f"(> {self.max_foreign:g}), attempt {attempt}"
            )
            return result

    def summary(self) -> list[str]:
        """The report lines every section starts with after its date and command: the
        load average at the start of the first group and the end of the last, the most
        CPU other processes took during a group, and whether the run is valid."""
        if not self.records:  # nothing was measured through this gate
            now = load1()
            verdict = (
                f"**INVALID**: load average {now:.2f} > {cores()} cores"
                if now > cores()
                else "Valid: not known (the load was not watched while it ran)"
            )
            return [f"Load average (1 min) when written: {now:.2f} on {cores()} cores", verdict]
        start, end = self.records[0].load_before, self.records[-1].load_after
        kept = [r.foreign for r in self.records if r.outcome != "repeated"]
        again = len(self.records) - len(kept)
        used = f"; other processes used {max(kept):.2f} cores at most" if kept else ""
        if again:
            used += f" ({again} loaded attempt(s) measured again and dropped)"
        lines = [
            f"Load average (1 min) at start / end: {start:.2f} / {end:.2f} on {cores()} "
            f"cores{used} (limits: load average <= {cores()} at the start of each group, "
            f"other processes <= {self.max_foreign:g} cores while it runs)",
        ]
        if self.valid:
            lines.append("Valid: yes (quiet machine)")
        else:
            lines.append(
                "**INVALID**: " + "; ".join(self.problems) + ". Re-run on a quiet machine."
            )
        return lines
