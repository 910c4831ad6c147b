"""AppState: a service served from a folder, its drift queue, and hot reloads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from tests.unit.app.conftest import installed_service, psi_counts, register_service, unique

from opsml.app import AppState, ReloadConfig
from opsml.errors import AliasNotFoundError, InvalidArgumentError, MonitoringError
from opsml.mock import MockConfig
from opsml.scouter import Metric, Metrics
from opsml.scouter.queue import Features, RedisConfig

pytestmark = pytest.mark.usefixtures("sqlite_registry_env")


def features(value: float = 0.5) -> Features:
    return Features({"col_0": value, "col_1": value})


def test_from_path_serves_the_cards_and_a_queue_per_drift_profile(tmp_path: Path) -> None:
    service = register_service()
    folder = installed_service(tmp_path, service)
    with AppState.from_path(folder, transport_config=MockConfig()) as app:
        assert app.service.uid == service.uid
        row = pd.DataFrame({"col_0": [0.9], "col_1": [0.1]})
        assert app.service["model"].model.predict(row).tolist() == [True]
        assert isinstance(app.queue.transport_config, MockConfig)
        assert sorted(app.queue.aliases) == ["psi", "quality"]
        assert app.queue["psi"].identifier == "shop/model/v0.1.0/psi"
        assert app.queue["quality"].identifier == "shop/model/v0.1.0/custom"
        app.queue["psi"].insert(features())
        app.queue["quality"].insert(Metrics(metrics=[Metric("auc", 0.7)]))
        with pytest.raises(AliasNotFoundError, match="'psi', 'quality'"):
            app.queue["spc"]
    with pytest.raises(MonitoringError, match="shut down"):
        app.queue["psi"].insert(features())


def test_without_a_transport_there_is_no_queue(tmp_path: Path) -> None:
    folder = installed_service(tmp_path, register_service())
    app = AppState.from_path(folder)
    assert not app.has_queue
    with pytest.raises(MonitoringError, match="transport_config"):
        app.queue  # noqa: B018
    with pytest.raises(InvalidArgumentError, match="reload_config"):
        app.start_reloader()
    app.shutdown()


def test_a_reload_swaps_in_the_new_version_without_losing_a_record(
    tmp_path: Path, redis_subscriber: object
) -> None:
    channel = unique("opsml-reload")
    subscriber = redis_subscriber(channel)  # type: ignore[operator]
    folder = installed_service(tmp_path, register_service())
    app = AppState.from_path(
        folder,
        transport_config=RedisConfig(address="redis://127.0.0.1:6379", channel=channel),
        reload_config=ReloadConfig(cron="0 0 0 1 1 * 2199", write_path=tmp_path / "reload"),
    )
    old_service = app.service
    handle = app.queue["psi"]
    assert app.reload().result(timeout=60) is False  # nothing newer yet

    inserted = 0
    stop = threading.Event()
    failures: list[BaseException] = []

    def feed() -> None:  # a handler inserting the whole time, through one kept handle
        nonlocal inserted
        while not stop.is_set():
            try:
                handle.insert(features())
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
                return
            inserted += 1

    worker = threading.Thread(target=feed)
    worker.start()
    register_service(seed=1)
    app.start_reloader()
    assert app.reload().result(timeout=60) is True
    stop.set()
    worker.join()

    assert failures == []
    assert app.service.version == "0.2.0"
    assert old_service.version == "0.1.0"  # a request holding the old cards keeps them
    assert old_service["model"].model is not None
    assert handle.identifier == app.queue["psi"].identifier == "shop/model/v0.2.0/psi"
    assert json.loads((folder / "card.json").read_text())["version"] == "0.2.0"  # installed
    app.shutdown()
    assert not app.reloader_running
    assert not (tmp_path / "reload").exists()

    bodies = subscriber.messages()
    versions = {r["Psi"]["version"] for body in bodies for r in body["records"]}
    assert versions == {"0.1.0", "0.2.0"}
    assert psi_counts(bodies) == {"col_0": inserted, "col_1": inserted}


def test_a_failed_reload_keeps_serving_the_current_version(tmp_path: Path) -> None:
    folder = installed_service(tmp_path, register_service())
    app = AppState.from_path(folder, reload_config=ReloadConfig(cron="0 0 0 1 1 *", max_retries=2))
    register_service(seed=1)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the download folder should go")
    app.reload_config.write_path = blocked  # type: ignore[union-attr]
    with pytest.raises(FileExistsError, match="blocked"):
        app.reload().result(timeout=60)
    assert app.service.version == "0.1.0"
    assert app.service["model"].model is not None
    app.shutdown()


def test_two_cards_with_the_same_profile_alias_are_refused(tmp_path: Path) -> None:
    from opsml import CardRegistry, RegistryType, ServiceCard
    from opsml.card import Card

    first = register_service(name="one")
    second = register_service(name="two", seed=1)
    model_uids = [s.card_refs[0].uid for s in (first, second)]
    both = ServiceCard(
        space="shop",
        name="both",
        cards=[
            Card(alias=f"m{i}", uid=uid, registry_type=RegistryType.Model)
            for i, uid in enumerate(model_uids)
        ],
    )
    CardRegistry(RegistryType.Service).register_card(both)
    folder = installed_service(tmp_path, both)
    with pytest.raises(InvalidArgumentError, match=r"'m0' and 'm1' .* both have a drift profile"):
        AppState.from_path(folder, transport_config=MockConfig())


def test_mock_config_is_scouters() -> None:
    from scouter.mock import MockConfig as ScoutersMockConfig

    assert MockConfig is ScoutersMockConfig


def test_reload_config_checks_its_arguments(tmp_path: Path) -> None:
    config = ReloadConfig(cron="0 * * * * * *", write_path=tmp_path / "r")
    assert config.max_retries == 3
    assert config.write_path == tmp_path / "r"
    assert ReloadConfig(cron="*/5 * * * *").write_path == Path.cwd() / "service_reload"
    with pytest.raises(InvalidArgumentError, match="2 fields, not 5, 6 or 7"):
        ReloadConfig(cron="every minute")
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        ReloadConfig(cron="0 * * * * *", max_retries=0)


def test_a_folder_without_a_valid_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no card file"):
        AppState.from_path(tmp_path / "missing")
    (tmp_path / "card.json").write_text('{"space": "shop", "name": "api", "cards": 5}')
    with pytest.raises(InvalidArgumentError, match="list of Card references"):
        AppState.from_path(tmp_path, transport_config=MockConfig())
