"""ServiceCards through a registry, in local and client mode: resolution, loading, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from opsml import (
    Card,
    CardRegistry,
    DataCard,
    ModelCard,
    PromptCard,
    RegistryType,
    ServiceCard,
    download_service,
)
from opsml.data import DataLoadKwargs, PandasData
from opsml.errors import AliasNotFoundError, CardNotFoundError, CardTypeError
from opsml.llm import Prompt
from opsml.model import SklearnModel


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=20), "b": rng.normal(size=20)})


def _model(frame: pd.DataFrame, version: str | None = None) -> ModelCard:
    model = LinearRegression().fit(frame, frame["a"] * 2 + frame["b"])
    card = ModelCard(
        interface=SklearnModel(model=model, sample_data=frame[:5]),
        space="team-a",
        name="ranker",
        version=version,
    )
    CardRegistry(RegistryType.Model).register_card(card)
    return card


def _prompt(name: str, message: str = "hello ${name}", version: str | None = None) -> PromptCard:
    card = PromptCard(prompt=Prompt(message=message), space="team-a", name=name, version=version)
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def test_register_load_and_use_a_service(
    both_modes_registry_env: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = _model(frame)
    data = DataCard(interface=PandasData(data=frame), space="team-a", name="features")
    CardRegistry(RegistryType.Data).register_card(data)
    greeting = _prompt("greeting")
    service = ServiceCard(
        space="team-a",
        name="recommender",
        cards=[
            Card("model", card=model),
            Card("data", registry_type="data", space="team-a", name="features"),
            Card("greeting", uid=greeting.uid, registry_type=RegistryType.Prompt),
        ],
    )
    registry = CardRegistry(RegistryType.Service)
    registry.register_card(service)
    assert service.version == "0.1.0"
    stored = [(r.alias, r.uid, r.version) for r in service.card_refs]
    assert stored == [
        ("model", model.uid, "0.1.0"),
        ("data", data.uid, "0.1.0"),
        ("greeting", greeting.uid, "0.1.0"),
    ]

    loaded = registry.load_card(space="team-a", name="recommender")
    assert [type(c).__name__ for c in loaded.cards] == ["ModelCard", "DataCard", "PromptCard"]
    assert loaded["greeting"].prompt.bind(name="Ada").message[0].content == "hello Ada"
    assert loaded["model"].interface is None  # metadata only until load()
    loaded.load({"data": DataLoadKwargs()})
    pd.testing.assert_frame_equal(loaded["data"].interface.data, frame)
    np.testing.assert_allclose(
        loaded["model"].interface.model.predict(frame), model.interface.model.predict(frame)
    )
    with pytest.raises(AliasNotFoundError, match="known aliases: 'model', 'data', 'greeting'"):
        loaded.load({"nope": DataLoadKwargs()})

    folder = loaded.download_artifacts(tmp_path / "svc")
    assert json.loads((folder / "card.json").read_text())["uid"] == service.uid
    assert sorted(p.name for p in (folder / "model").iterdir()) == [
        "card.json",
        "model.joblib",
        "sample-data.parquet",
    ]
    assert (folder / "greeting" / "card.json").is_file()

    offline = ServiceCard.from_path(folder)
    assert offline.uid == service.uid
    assert offline.aliases == ["model", "data", "greeting"]
    np.testing.assert_allclose(
        offline["model"].interface.model.predict(frame), model.interface.model.predict(frame)
    )
    pd.testing.assert_frame_equal(offline["data"].interface.data, frame)

    second = download_service(tmp_path / "downloaded", space="team-a", name="recommender")
    assert (second / "data" / "data.parquet").is_file()


def test_version_queries_pin_the_highest_final_release(both_modes_registry_env: Path) -> None:
    _prompt("p", version="1.0.0")
    best = _prompt("p", version="1.1.0")
    _prompt("p", version="1.2.0-rc.1")
    _prompt("p", version="2.0.0")
    service = ServiceCard(
        space="team-a",
        name="svc",
        cards=[Card("p", registry_type="prompt", space="team-a", name="p", version="1.*")],
    )
    CardRegistry(RegistryType.Service).register_card(service)
    assert (service.card_refs[0].version, service.card_refs[0].uid) == ("1.1.0", best.uid)

    _prompt("p", version="1.5.0")  # a newer match appears later: the service stays pinned
    again = CardRegistry(RegistryType.Service).load_card(uid=service.uid)
    assert again["p"].version == "1.1.0"


def test_bad_references_are_rejected_before_anything_is_written(
    both_modes_registry_env: Path,
) -> None:
    prompt = _prompt("p")
    registry = CardRegistry(RegistryType.Service)
    missing = ServiceCard(
        space="team-a",
        name="svc",
        cards=[
            Card("ok", card=prompt),
            Card("gone", registry_type="model", space="team-a", name="nothing"),
        ],
    )
    declared = list(missing.card_refs)
    with pytest.raises(CardNotFoundError, match="card 'gone': no registered model card"):
        registry.register_card(missing)
    assert missing.uid is None
    assert missing.version is None
    assert missing.card_refs == declared  # the card object is unchanged

    wrong_type = ServiceCard(
        space="team-a", name="svc", cards=[Card("m", registry_type="model", uid=prompt.uid)]
    )
    with pytest.raises(CardTypeError, match="but it is a prompt card"):
        registry.register_card(wrong_type)

    no_version = ServiceCard(
        space="team-a",
        name="svc",
        cards=[Card("p", registry_type="prompt", space="team-a", name="p", version="9.*")],
    )
    with pytest.raises(CardNotFoundError, match="team-a/p@9"):
        registry.register_card(no_version)
    assert len(registry.list_cards(space="team-a")) == 0


def test_loading_a_service_whose_card_was_deleted_says_which(
    both_modes_registry_env: Path,
) -> None:
    prompt = _prompt("p")
    service = ServiceCard(space="team-a", name="svc", cards=[Card("p", card=prompt)])
    CardRegistry(RegistryType.Service).register_card(service)
    CardRegistry(RegistryType.Prompt).delete_card(prompt)
    with pytest.raises(CardNotFoundError, match=r"card 'p' .* no longer exists"):
        CardRegistry(RegistryType.Service).load_card(uid=service.uid)
