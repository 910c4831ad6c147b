"""Log 100 metrics inside an experiment, wait for the background flush, then die by SIGKILL
inside the ``with`` block (no exit handler runs). Prints the experiment uid first."""

from __future__ import annotations

import os
import signal
import sys
import time

from opsml.experiment import start_experiment

with start_experiment(space="crash", name="run") as exp:
    print(exp.uid, flush=True)
    for step in range(100):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    exp.log_parameter("epochs", 3)
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 2.5)  # > FLUSH_SECONDS
    os.kill(os.getpid(), signal.SIGKILL)
