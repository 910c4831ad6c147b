"""ScouterServer speaks scouter 0.10.0's API, checked by a stand-in server that scouter-ml's
own client is run against too; every failure is a MonitoringError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pytest
from scouter.drift import Drifter, PsiDriftConfig

from opsml.errors import InvalidArgumentError, MonitoringError
from opsml.monitoring import (
    ScouterProfileStatus,
    ScouterServer,
    drift_profile_registrations,
)
from opsml.settings import ScouterConfig
from opsml.types import DriftArgs, DriftProfileMap

if TYPE_CHECKING:
    from conftest import ScouterStandIn  # the fixture's type (tests/unit/monitoring)


def _profiles() -> DriftProfileMap:
    profiles = DriftProfileMap()
    data = np.random.default_rng(0).random((100, 2))
    profiles.add_profile("psi", Drifter().create_drift_profile(data, PsiDriftConfig()))
    return profiles


def test_scouter_ml_own_client_is_accepted_by_the_stand_in(scouter_server: ScouterStandIn) -> None:
    """The stand-in checks what scouter's client really sends (the client holds the GIL
    while it waits, so it runs in a process of its own)."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        from scouter.client import HTTPConfig, ScouterClient
        from scouter.drift import Drifter, PsiDriftConfig

        config = PsiDriftConfig(space="s", name="n", version="1.0.0")
        profile = Drifter().create_drift_profile(np.random.rand(50, 2), config)
        client = ScouterClient(HTTPConfig(server_uri="{scouter_server.url}"))
        assert client.register_profile(profile, set_active=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert scouter_server.refused == []
    assert [p["drift_type"] for p in scouter_server.profiles] == ["Psi"]
    assert scouter_server.statuses[0]["active"] is True


def test_registering_sends_the_stamped_profile_then_its_status(
    scouter_server: ScouterStandIn,
) -> None:
    registrations = drift_profile_registrations(
        _profiles(), "team", "churn", "1.2.0", DriftArgs(active=True, deactivate_others=True)
    )
    ScouterServer(ScouterConfig(server_uri=scouter_server.url)).register(registrations)

    assert scouter_server.refused == []
    (stored,) = scouter_server.profiles
    assert (stored["space"], stored["drift_type"]) == ("team", "Psi")
    assert stored["version_request"] == {
        "version": "1.2.0",
        "version_type": "Minor",
        "pre_tag": None,
        "build_tag": None,
    }
    config = stored["config"]
    assert (config["space"], config["name"], config["version"]) == ("team", "churn", "1.2.0")
    assert scouter_server.statuses == [
        {
            "name": "churn",
            "space": "team",
            "version": "1.2.0",
            "active": True,
            "drift_type": "Psi",
            "deactivate_others": True,
        }
    ]


def test_without_drift_args_only_the_profile_is_inserted(scouter_server: ScouterStandIn) -> None:
    registrations = drift_profile_registrations(_profiles(), "team", "churn", "1.0.0", None)
    ScouterServer(ScouterConfig(server_uri=scouter_server.url)).register(registrations)
    assert len(scouter_server.profiles) == 1
    assert scouter_server.statuses == []


def test_an_expired_token_is_renewed_once(scouter_server: ScouterStandIn) -> None:
    server = ScouterServer(ScouterConfig(server_uri=scouter_server.url))
    status = ScouterProfileStatus(name="n", space="s", version="1.0.0", active=False)
    server.update_profile_status(status)
    scouter_server.expire_tokens()
    server.update_profile_status(status)
    assert scouter_server.logins == 2
    assert len(scouter_server.statuses) == 2


def test_a_given_auth_token_is_used_as_it_is(scouter_server: ScouterStandIn) -> None:
    scouter_server.tokens.add("ci-token")
    config = ScouterConfig(server_uri=scouter_server.url, auth_token="ci-token")
    ScouterServer(config).update_profile_status(
        ScouterProfileStatus(name="n", space="s", version="1.0.0", active=True)
    )
    assert scouter_server.logins == 0
    stale = ScouterConfig(server_uri=scouter_server.url, auth_token="revoked")
    with pytest.raises(MonitoringError, match="HTTP 401"):
        ScouterServer(stale).update_profile_status(
            ScouterProfileStatus(name="n", space="s", version="1.0.0", active=True)
        )


def test_failures_are_monitoring_errors(scouter_server: ScouterStandIn) -> None:
    registrations = drift_profile_registrations(_profiles(), "team", "churn", "1.0.0", None)
    wrong = ScouterConfig(server_uri=scouter_server.url, password="nope")
    with pytest.raises(MonitoringError, match=r"refused the login of 'admin' \(HTTP 401\)"):
        ScouterServer(wrong).register(registrations)

    scouter_server.fail_inserts = True
    with pytest.raises(MonitoringError, match="HTTP 500: Failed to insert"):
        ScouterServer(ScouterConfig(server_uri=scouter_server.url)).register(registrations)

    nowhere = ScouterConfig(server_uri="http://127.0.0.1:9")
    with pytest.raises(MonitoringError, match="cannot be reached"):
        ScouterServer(nowhere, timeout=2).register(registrations)
    assert not ScouterServer(nowhere, timeout=2).healthy()
    assert ScouterServer(ScouterConfig(server_uri=scouter_server.url)).healthy()
    with pytest.raises(MonitoringError, match="SCOUTER_SERVER_URI"):
        ScouterServer(ScouterConfig())


def test_scouter_settings_come_from_scouter_ml_variables() -> None:
    config = ScouterConfig.from_env(
        {"SCOUTER_SERVER_URI": "http://scouter:8000/", "SCOUTER_USERNAME": "ops"}
    )
    assert (config.server_uri, config.username, config.password) == (
        "http://scouter:8000",
        "ops",
        "admin",
    )
    assert config.enabled
    assert not ScouterConfig.from_env({}).enabled
    with pytest.raises(InvalidArgumentError, match="SCOUTER_SERVER_URI"):
        ScouterConfig.from_env({"SCOUTER_SERVER_URI": "scouter:8000"})
