"""Drift and serving measurements in a fresh interpreter (run by ``benchmarks/app_serving.py``),
with OpsML 3's Python API, so the same code runs against ours and against OpsML 3.

``python _drift_child.py profile psi|spc pandas|numpy ROWS`` builds the benchmark frame (or
its values as one numpy array), resets the peak RSS, times
``SklearnModel.create_drift_profile`` and prints ``{"seconds", "peak_extra_bytes"}``. OpsML 3
refuses pandas 3 frames (scouter's "Data type not supported: unknown"), so the numpy form
is what both peers can be compared on.

``python _drift_child.py serve RECORDS`` registers a service of 3 cards in a local registry
of the current folder (a ModelCard with a PSI and an SPC profile, a DataCard, a PromptCard),
(profiles made from a numpy array, which both peers accept) downloads it, times
``AppState.from_path(path, transport_config=MockConfig())`` and then
``app.queue["psi"].insert(features)`` inside a request-handler function, once per record,
printing ``{"from_path_seconds", "insert_ns": [...]}``.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

from _common import FRAME_COLUMNS, make_frame, proc_status, reset_peak_rss


def _model(frame: Any) -> Any:
    from sklearn.linear_model import LinearRegression

    from opsml import SklearnModel

    head = frame.iloc[:1000]
    return SklearnModel(model=LinearRegression().fit(head, head["f0"]), sample_data=head[:10])


def profile(kind: str, form: str, rows: int) -> dict[str, Any]:
    """One ``create_drift_profile`` of the ``rows`` x 10 frame (``form``: pandas or numpy)."""
    from opsml.scouter import PsiDriftConfig, SpcDriftConfig

    frame = make_frame(rows)
    interface = _model(frame)
    data = frame if form == "pandas" else frame.to_numpy()
    del frame
    config = PsiDriftConfig() if kind == "psi" else SpcDriftConfig()
    gc.collect()
    reset = reset_peak_rss()
    baseline = proc_status("VmRSS") if reset else proc_status("VmHWM")
    start = time.perf_counter()
    made = interface.create_drift_profile(kind, data, config)
    seconds = time.perf_counter() - start
    peak = proc_status("VmHWM")
    if len(made.features) != FRAME_COLUMNS:
        raise RuntimeError(f"the profile has {len(made.features)} features")
    return {"seconds": seconds, "peak_extra_bytes": max(peak - baseline, 0), "hwm_reset": reset}


def serve(records: int) -> dict[str, Any]:
    """``AppState.from_path`` of a 3-card service, then ``records`` queue inserts."""
    from opsml import CardRegistry, DataCard, ModelCard, PromptCard, RegistryType, ServiceCard
    from opsml.app import AppState
    from opsml.card import Card, download_service
    from opsml.data import PandasData
    from opsml.llm import Prompt
    from opsml.mock import MockConfig
    from opsml.scouter import PsiDriftConfig
    from opsml.scouter.queue import Feature, Features

    frame = make_frame(5_000)
    model = _model(frame)
    psi = model.create_drift_profile("psi", frame.to_numpy(), PsiDriftConfig())
    model.create_drift_profile("spc", frame.to_numpy())
    names = sorted(psi.features)
    cards: list[tuple[str, Any]] = [
        ("model", ModelCard(interface=model, space="bench", name="model")),
        ("data", DataCard(interface=PandasData(data=frame[:100]), space="bench", name="data")),
        (
            "prompt",
            PromptCard(
                prompt=Prompt(message="Hello ${name}", model="gpt-4o", provider="openai"),
                space="bench",
                name="prompt",
            ),
        ),
    ]
    refs = []
    for alias, card in cards:
        CardRegistry(card.registry_type).register_card(card)
        refs.append(Card(alias=alias, uid=card.uid, registry_type=card.registry_type))
    service = ServiceCard(space="bench", name="service", cards=refs)
    CardRegistry(RegistryType.Service).register_card(service)
    download_service(write_dir="app", space="bench", name="service")

    start = time.perf_counter()
    app = AppState.from_path(path="app", transport_config=MockConfig())
    from_path = time.perf_counter() - start
    row = {name: 0.1 * i for i, name in enumerate(names)}

    def handler(payload: dict[str, float]) -> None:  # what a request handler does
        app.queue["psi"].insert(
            Features(features=[Feature.float(k, v) for k, v in payload.items()])
        )

    times = []
    for _ in range(records):
        begin = time.perf_counter_ns()
        handler(row)
        times.append(time.perf_counter_ns() - begin)
    app.shutdown()
    return {"from_path_seconds": from_path, "insert_ns": times}


if __name__ == "__main__":
    if sys.argv[1] == "profile":
        print(json.dumps(profile(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        print(json.dumps(serve(int(sys.argv[2]))))
