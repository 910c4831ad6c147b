"""Browser tests of the web UI: Playwright drives Debian's headless Chromium against a real
``opsml`` server process holding seeded cards of every type.

Chromium comes from the distribution (``scripts/install-browser.sh``); Playwright's own
browser download is never used. Screenshots of the main pages go to
``tests/e2e/screenshots/`` (git-ignored) for review.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from opsml import (
    Card,
    CardRegistry,
    DataCard,
    ModelCard,
    ModelSaveKwargs,
    PandasData,
    Prompt,
    PromptCard,
    ServiceCard,
    SklearnModel,
)
from opsml.data import DataInterface, DataInterfaceSaveMetadata, DataSaveKwargs, DataType
from opsml.experiment import start_experiment
from opsml.mock import OpsmlTestServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = Path(__file__).parent / "screenshots"
README = "# Churn notes\n\nTrained on **March** data.\n\n<script>window.pwned = 1</script>\n"
SETTINGS = "threshold: 0.5\nfeatures: [tenure, spend]\n"


def png(width: int, height: int) -> bytes:
    """A valid solid-colour PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x1f\x5f\xbf" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class DocsData(DataInterface):
    """A user's interface that saves notes next to the data: README, YAML and a figure."""

    data_type = DataType.Dict

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        (path / "data.json").write_text(json.dumps(self.data), encoding="utf-8")
        (path / "README.md").write_text(README, encoding="utf-8")
        (path / "conf").mkdir()
        (path / "conf" / "settings.yaml").write_text(SETTINGS, encoding="utf-8")
        (path / "figures").mkdir()
        (path / "figures" / "plot.png").write_bytes(png(40, 20))
        return DataInterfaceSaveMetadata(data_uri="data.json")


@dataclass
class Seeded:
    """The server and what was registered in it."""

    url: str
    uids: dict[str, str] = field(default_factory=dict)
    bulk: int = 0
    metric_steps: int = 0
    docs: dict[str, bytes] = field(default_factory=dict)


def _seed(seeded: Seeded) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame(
        {
            "tenure": [float(i % 17) for i in range(40)],
            "spend": [float((i * 7) % 23) + 0.5 for i in range(40)],
            "plan": ["basic", "pro", "basic", "team"] * 10,
        }
    )
    data = CardRegistry("data")
    first = DataCard(interface=PandasData(data=frame), space="team-a", name="churn-data")
    data.register_card(first)
    second = DataCard(
        interface=PandasData(data=frame), space="team-a", name="churn-data", tags=["stage:prod"]
    )
    second.create_data_profile()
    data.register_card(second)
    docs = DataCard(interface=DocsData(data={"a": [1, 2]}), space="team-a", name="churn-docs")
    data.register_card(docs)

    x = frame[["tenure", "spend"]]
    y = (frame["tenure"] > 8).astype(int)
    model = ModelCard(
        interface=SklearnModel(model=LogisticRegression().fit(x, y), sample_data=x),
        space="team-a",
        name="churn-model",
        datacard_uid=second.uid,
        tags=["stage:prod"],
    )
    _seed_experiments(seeded, model)
    prompt = PromptCard(
        prompt=Prompt(
            message="Summarise why ${customer} may churn.",
            model="gpt-4o",
            provider="openai",
            system_instruction="You are a retention analyst.",
        ),
        space="team-a",
        name="churn-explainer",
    )
    prompts = CardRegistry("prompt")
    prompts.register_card(prompt)
    reworded = PromptCard(
        prompt=Prompt(
            message="Summarise in one line why ${customer} may churn.",
            model="gpt-4o",
            provider="openai",
            system_instruction="You are a retention analyst.",
        ),
        space="team-a",
        name="churn-explainer",
    )
    prompts.register_card(reworded)
    retrained = ModelCard(
        interface=SklearnModel(model=LogisticRegression(C=0.5).fit(x, y), sample_data=x),
        space="team-a",
        name="churn-model",
        datacard_uid=second.uid,
    )
    CardRegistry("model").register_card(retrained)
    _seed_sweep(seeded)
    for index in range(seeded.bulk):
        prompts.register_card(
            PromptCard(prompt=Prompt(message=f"hello {index}"), space="bulk", name="greeting")
        )
    service = ServiceCard(
        space="team-a",
        name="churn-service",
        cards=[
            Card(alias="model", card=model),
            Card(alias="explainer", card=prompt),
        ],
    )
    CardRegistry("service").register_card(service)
    seeded.docs = {
        "README.md": README.encode(),
        "conf/settings.yaml": SETTINGS.encode(),
        "figures/plot.png": png(40, 20),
    }
    seeded.uids.update(
        data_v1=str(first.uid),
        data=str(second.uid),
        docs=str(docs.uid),
        model=str(model.uid),
        prompt=str(prompt.uid),
        prompt_v2=str(reworded.uid),
        model_v2=str(retrained.uid),
        service=str(service.uid),
    )


SWEEP_RUNS = 200
SWEEP_METRICS = 20
SWEEP_STEPS = 1000


def _seed_sweep(seeded: Seeded) -> None:
    """A hyper-parameter sweep of realistic size: 200 runs of four experiment names in
    space ``sweep``, each with two parameters and 20 metrics of 1 000 steps (4 000 000 points;
    four pages of the runs table)."""
    tracking = CardRegistry("experiment").backend.tracking
    for run in range(SWEEP_RUNS):
        lr, depth = (0.1, 0.03, 0.01, 0.003)[run % 4], 2 + run % 5
        with start_experiment(space="sweep", name=f"trees-{run % 4}") as exp:
            exp.log_parameters({"lr": lr, "depth": depth})
            # Straight into the store (what logging ends in), without a Metric object per
            # point: the pages are under test here, not the logging API.
            tracking.add_metrics(str(exp.uid), _sweep_points(lr, depth, run))
        seeded.uids["sweep_run"] = str(exp.uid)


def _sweep_points(lr: float, depth: int, run: int) -> list[dict[str, Any]]:
    """The metric points of one sweep run: three curves that depend on its parameters and
    17 more, ``SWEEP_STEPS`` steps each."""
    final = 0.5 + (run * 37 % 50) / 100
    curves: dict[str, Callable[[int], float]] = {
        "loss": lambda step: 1.0 / (1 + step * lr * depth),
        "accuracy": lambda step: final * step / (SWEEP_STEPS - 1),
        "val_loss": lambda step: 1.2 / (1 + step * lr),
        **{
            f"m{k:02d}": (lambda step, k=k: (step * k % 97) / 97.0) for k in range(3, SWEEP_METRICS)
        },
    }
    return [
        {"name": name, "value": curve(step), "step": step, "timestamp": 0, "is_eval": False}
        for step in range(SWEEP_STEPS)
        for name, curve in curves.items()
    ]


def _seed_experiments(seeded: Seeded, model: ModelCard) -> None:
    """Two training runs with a loss curve; the second registers the model."""
    uids = []
    for run in range(2):
        with start_experiment(space="team-a", name="churn-training") as exp:
            for step in range(seeded.metric_steps):
                exp.log_metric("loss", 1.0 / (step + 1 + run), step=step)
            exp.log_parameters({"learning_rate": 0.1 * (run + 1), "epochs": 5})
            if run == 1:
                exp.register_card(model, save_kwargs=ModelSaveKwargs(save_onnx=True))
        uids.append(str(exp.card.uid))
    seeded.uids.update(experiment_v1=uids[0], experiment=uids[1])


def _local_env(base: Path) -> dict[str, str]:
    return {
        "OPSML_TRACKING_URI": f"sqlite:///{(base / 'opsml.db').as_posix()}",
        "OPSML_STORAGE_URI": str(base / "opsml_registries"),
    }


def _start(base: Path, env: dict[str, str] | None = None) -> OpsmlTestServer:
    server = OpsmlTestServer(base_path=base, env={**_local_env(base), **(env or {})})
    server.start_server()
    return server


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A server process over a registry with cards of every type (seeded in local mode on
    the server's own database and storage before it starts)."""
    base = tmp_path_factory.mktemp("ui-server")
    result = Seeded(url="", bulk=55, metric_steps=5)
    saved = {k: os.environ.get(k) for k in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI")}
    os.environ.update(_local_env(base))
    try:
        _seed(result)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    server = _start(base)
    result.url = server.server_uri
    try:
        yield result
    finally:
        server.stop_server()


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with login required (user ``ada``, password ``lovelace``)."""
    base = tmp_path_factory.mktemp("ui-auth-server")
    server = _start(
        base,
        {
            "OPSML_AUTH": "true",
            "OPSML_DEFAULT_USERNAME": "ada",
            "OPSML_DEFAULT_PASSWORD": "lovelace",
        },
    )
    try:
        yield server.server_uri
    finally:
        server.stop_server()


@dataclass
class Console:
    """Console errors and uncaught exceptions seen by a page."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def console() -> Console:
    return Console()


def _page(browser: Browser, console: Console, **options: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    try:
        yield page
    finally:
        context.close()
    assert console.errors == [], "the page logged errors"


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh browser context; the test fails if any page logged a console error."""
    yield from _page(browser, console, accept_downloads=True)


@pytest.fixture
def no_js_page(browser: Browser, console: Console) -> Iterator[Page]:
    """A page with JavaScript disabled."""
    yield from _page(browser, console, java_script_enabled=False)


@pytest.fixture(scope="session")
def axe() -> Callable[[Page], list[dict[str, Any]]]:
    """``axe(page)``: the page's serious and critical accessibility violations."""
    return axe_violations


@pytest.fixture(scope="session")
def shoot() -> Callable[[Page, str], Path]:
    """``shoot(page, name)``: save a screenshot for review."""
    return screenshot


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations on the current page (axe-core)."""
    source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    results: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot for review and say where."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
