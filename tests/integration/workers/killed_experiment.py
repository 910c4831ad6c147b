"""Log 100 metrics and a parameter inside an experiment, wait until the background flush
has stored them (observed through the registry, never flushed by hand), then die by SIGKILL
inside the ``with`` block (no exit handler runs). Prints the experiment uid first."""

from __future__ import annotations

import os
import signal
import sys
import time

from opsml.experiment import get_experiment_metrics, get_experiment_parameters, start_experiment

with start_experiment(space="crash", name="run") as exp:
    print(exp.uid, flush=True)
    for step in range(100):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    exp.log_parameter("epochs", 3)
    give_up = time.monotonic() + 120  # only against a hang: the flush runs every second
    while (
        len(get_experiment_metrics(exp.uid)) < 100
        or not get_experiment_parameters(exp.uid).as_dict()
    ):
        if time.monotonic() > give_up:
            sys.exit("the background flush never stored the metrics")
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
