"""Model and data pages show the card's drift profiles: type, features, alert configuration."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression

from opsml import CardRegistry, DataCard, ModelCard, RegistryType
from opsml.data import PandasData
from opsml.model import SklearnModel
from opsml.scouter.alert import AlertThreshold, PsiAlertConfig, SlackDispatchConfig
from opsml.scouter.drift import CustomMetric, CustomMetricDriftConfig, PsiDriftConfig
from opsml.server import create_app


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {"price": rng.normal(size=50), "region": pd.Categorical(rng.choice(["n", "s"], 50))}
    )


def test_model_page_lists_each_profile_with_its_features_and_alerts(
    sqlite_registry_env: Path,
) -> None:
    frame = _frame()
    interface = SklearnModel(
        model=LinearRegression().fit(frame[["price"]], frame["price"]),
        sample_data=frame[["price"]],
    )
    alerts = PsiAlertConfig(dispatch_config=SlackDispatchConfig(channel="ml-alerts"))
    interface.create_drift_profile("psi", frame, PsiDriftConfig(alert_config=alerts))
    metric = CustomMetric(name="mape", value=0.1, alert_threshold=AlertThreshold.Above)
    interface.create_drift_profile("quality", [metric], CustomMetricDriftConfig())
    card = ModelCard(interface=interface, space="team", name="pricer")
    CardRegistry(RegistryType.Model).register_card(card)

    page = html.unescape(
        TestClient(create_app(), base_url="http://localhost").get(f"/ui/model/{card.uid}").text
    )
    assert "Drift profiles" in page
    row = page[page.index(">psi</a>") :]
    assert "<td>Psi</td>" in row[:200]
    assert "price" in row
    assert 'region</span><span class="muted"> (categorical)' in row
    assert "Slack" in row
    assert "ml-alerts" in page
    assert "<td>Custom</td>" in page
    assert "mape" in page
    assert f"/ui/model/{card.uid}/files/drift/psi.json" in page


def test_data_page_shows_profiles_and_says_when_there_are_none(sqlite_registry_env: Path) -> None:
    frame = _frame()
    plain = DataCard(interface=PandasData(data=frame), space="team", name="plain")
    monitored = PandasData(data=frame)
    monitored.create_drift_profile("spc", frame)
    card = DataCard(interface=monitored, space="team", name="monitored")
    registry = CardRegistry(RegistryType.Data)
    registry.register_card(plain)
    registry.register_card(card)

    client = TestClient(create_app(), base_url="http://localhost")
    assert "No drift profiles" in client.get(f"/ui/data/{plain.uid}").text
    page = client.get(f"/ui/data/{card.uid}").text
    assert "<td>Spc</td>" in page
    assert "0 0 0 * * *" in page
