"""register_card registers a card's drift profiles with the configured Scouter server (the
opsml server's, in client mode) under the allocated version, honouring DriftArgs; a refusal
undoes the registration; profile status changes go the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from opsml import CardRegistry, DataCard, ModelCard, RegistryType
from opsml.cli import ScouterArgs, update_drift_profile_status
from opsml.cli.main import app
from opsml.data import PandasData
from opsml.errors import InvalidArgumentError, MonitoringError
from opsml.mock import OpsmlTestServer
from opsml.model import ModelSaveKwargs, SklearnModel
from opsml.scouter.drift import PsiDriftConfig
from opsml.scouter.types import DriftType
from opsml.types import DriftArgs

if TYPE_CHECKING:
    from conftest import ScouterStandIn  # the fixture's type (tests/unit/monitoring)


@pytest.fixture(params=["local", pytest.param("client", marks=pytest.mark.client)])
def mode(
    request: pytest.FixtureRequest,
    scouter_server: ScouterStandIn,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[str]:
    """Local mode with SCOUTER_SERVER_URI set, or client mode against an opsml server that
    has it (the client process has no Scouter settings)."""
    if request.param == "local":
        monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{(tmp_path / 'db').as_posix()}")
        monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
        monkeypatch.setenv("SCOUTER_SERVER_URI", scouter_server.url)
        yield "local"
        return
    server = OpsmlTestServer(
        base_path=tmp_path / "server", env={"SCOUTER_SERVER_URI": scouter_server.url}
    )
    server.start_server()
    monkeypatch.setenv("OPSML_TRACKING_URI", server.server_uri)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    monkeypatch.delenv("SCOUTER_SERVER_URI", raising=False)
    monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "client-cache"))
    try:
        yield "client"
    finally:
        server.stop_server()


def _card(version: str | None = None) -> ModelCard:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=100), "kind": rng.choice(["a", "b"], 100)})
    interface = SklearnModel(
        model=LinearRegression().fit(frame[["x"]], frame["x"]), sample_data=frame[["x"]]
    )
    interface.create_drift_profile("spc", frame)
    interface.create_drift_profile("psi", frame, PsiDriftConfig())
    return ModelCard(interface=interface, space="team", name="pricer", version=version)


def test_profiles_are_registered_under_the_allocated_version(
    mode: str, scouter_server: ScouterStandIn
) -> None:
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(_card())  # 0.1.0: no DriftArgs, so no status change
    card = _card()
    drift = DriftArgs(active=True, deactivate_others=True)
    registry.register_card(card, save_kwargs=ModelSaveKwargs(drift=drift))

    assert card.version == "0.2.0"
    assert scouter_server.refused == []
    sent = [(p["drift_type"], p["version_request"]["version"]) for p in scouter_server.profiles]
    assert sent == [("Spc", "0.1.0"), ("Psi", "0.1.0"), ("Spc", "0.2.0"), ("Psi", "0.2.0")]
    assert {p["config"]["name"] for p in scouter_server.profiles} == {"pricer"}
    assert [(s["drift_type"], s["version"], s["active"]) for s in scouter_server.statuses] == [
        ("Spc", "0.2.0", True),
        ("Psi", "0.2.0", True),
    ]
    assert all(s["deactivate_others"] for s in scouter_server.statuses)


def test_a_scouter_refusal_leaves_nothing_registered(
    mode: str, scouter_server: ScouterStandIn
) -> None:
    scouter_server.fail_inserts = True
    registry = CardRegistry(RegistryType.Model)
    card = _card()
    with pytest.raises(MonitoringError, match="HTTP 500"):
        registry.register_card(card)
    assert card.uid is None
    assert card.version is None
    assert len(registry.list_cards()) == 0

    scouter_server.fail_inserts = False
    registry.register_card(card)  # the same card registers once Scouter takes it
    assert card.version == "0.1.0"


def test_data_cards_register_their_profiles_too(mode: str, scouter_server: ScouterStandIn) -> None:
    frame = pd.DataFrame({"x": np.arange(50, dtype=float)})
    interface = PandasData(data=frame)
    interface.create_drift_profile("psi", frame, PsiDriftConfig())
    CardRegistry(RegistryType.Data).register_card(
        DataCard(interface=interface, space="team", name="features")
    )
    assert [p["config"]["name"] for p in scouter_server.profiles] == ["features"]


def test_profile_status_updates_reach_scouter(
    mode: str, scouter_server: ScouterStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    update_drift_profile_status(
        ScouterArgs(
            space="Team",
            name="pricer",
            version="1.0.0",
            drift_type=DriftType.Psi,
            active=False,
            deactivate_others=False,
        )
    )
    assert scouter_server.statuses == [
        {
            "name": "pricer",
            "space": "team",
            "version": "1.0.0",
            "active": False,
            "drift_type": "Psi",
            "deactivate_others": False,
        }
    ]
    with pytest.raises(SystemExit) as exited:
        app(
            [
                "scouter",
                "update-profile-status",
                "--space=team",
                "--name=pricer",
                "--version=1.0.0",
                "--drift-type=Spc",
                "--active",
            ],
        )
    assert exited.value.code == 0
    assert "Spc drift profile of team/pricer v1.0.0 is active" in capsys.readouterr().out
    assert scouter_server.statuses[-1]["active"] is True


def test_without_a_scouter_server_profiles_stay_with_the_card_only(
    sqlite_registry_env: Path,
) -> None:
    card = _card()
    CardRegistry(RegistryType.Model).register_card(
        card, save_kwargs=ModelSaveKwargs(drift=DriftArgs())
    )
    assert card.version == "0.1.0"
    with pytest.raises(MonitoringError, match="no Scouter server is configured"):
        update_drift_profile_status(ScouterArgs("team", "pricer", "0.1.0", "Psi", True))
    with pytest.raises(InvalidArgumentError, match="drift_type must be one of"):
        ScouterArgs("team", "pricer", "0.1.0", "Kl", True)


def test_profiles_for_another_card_or_version_are_refused(
    mode: str, scouter_server: ScouterStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend (the opsml server, in client mode) sends Scouter only profiles of the
    card being registered, under its allocated version."""
    honest = ModelCard._drift_registrations

    def forged(self: ModelCard, version: str, save_kwargs: object = None) -> list[object]:
        return honest(self, "9.9.9", save_kwargs)

    monkeypatch.setattr(ModelCard, "_drift_registrations", forged)
    registry = CardRegistry(RegistryType.Model)
    with pytest.raises(InvalidArgumentError, match=r"not for card team/pricer v0\.1\.0"):
        registry.register_card(_card())
    assert scouter_server.profiles == []
    assert len(registry.list_cards()) == 0


def test_a_service_spec_sets_the_drift_status_of_its_cards(
    mode: str, scouter_server: ScouterStandIn, tmp_path: Path
) -> None:
    from opsml.service import lock_service

    card = _card()
    CardRegistry(RegistryType.Model).register_card(card)
    scouter_server.statuses.clear()
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[[tool.opsml.service]]\nspace = "team"\nname = "api"\n'
        'cards = [{alias = "model", name = "pricer", type = "model", drift = '
        '{active = true, deactivate_others = true, drift_type = ["psi", "SPC"]}}]\n'
    )
    lock_service(project)
    assert [(s["drift_type"], s["version"], s["active"]) for s in scouter_server.statuses] == [
        ("Psi", card.version, True),
        ("Spc", card.version, True),
    ]
    assert all(s["deactivate_others"] and s["name"] == "pricer" for s in scouter_server.statuses)
