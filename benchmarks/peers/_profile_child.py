"""One data-profile measurement in a fresh interpreter (run by ``_opsml_api.py``).

``python _profile_child.py ROWS`` builds the benchmark frame, resets the process's peak RSS
to its current RSS, times ``PandasData(data=df).create_data_profile()`` and prints one JSON
object: the seconds, and the peak RSS above the level before the call (``VmHWM`` minus
``VmRSS`` at the reset, from ``/proc/self/status``). A fresh process per sample, so that no
earlier allocation or memory pool of the caller counts; ``resource.getrusage`` is not used,
since Linux carries a forked child's ``ru_maxrss`` over from its parent.
"""

from __future__ import annotations

import gc
import json
import sys
import time

from _common import FRAME_COLUMNS, make_frame, proc_status, reset_peak_rss


def main(rows: int) -> None:
    """Measure one profile of the ``rows``-row benchmark frame; print the JSON result."""
    import opsml

    interface = opsml.PandasData(data=make_frame(rows))
    gc.collect()
    reset = reset_peak_rss()
    # Without the reset, VmHWM still holds the peak of building the frame: a lower bound.
    baseline = proc_status("VmRSS") if reset else proc_status("VmHWM")
    start = time.perf_counter()
    profile = interface.create_data_profile()
    seconds = time.perf_counter() - start
    peak = proc_status("VmHWM")
    features = len(profile.features)
    if features != FRAME_COLUMNS:
        raise RuntimeError(f"the profile describes {features} columns, not {FRAME_COLUMNS}")
    result = {
        "seconds": seconds,
        "peak_extra_bytes": max(peak - baseline, 0),
        "baseline_rss_bytes": baseline,
        "hwm_reset": reset,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]))
