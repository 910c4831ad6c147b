"""Reverse lineage ("used by") in SQL on SQLite, PostgreSQL and MariaDB: a DataCard used by a
ModelCard (a column) and by an ExperimentCard and a ServiceCard (their JSON), restricted to
the spaces the caller may read."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import (
    Card,
    CardRegistry,
    DataCard,
    ModelCard,
    Prompt,
    PromptCard,
    RegistryType,
    ServiceCard,
)
from opsml.data import NumpyData
from opsml.errors import InvalidArgumentError
from opsml.model import SklearnModel
from opsml.registry import LocalBackend
from opsml.store._lineage import used_by

pytestmark = pytest.mark.needs("numpy", "sklearn")


def _store(registry: CardRegistry) -> object:
    backend = registry.backend
    assert isinstance(backend, LocalBackend)
    return backend.store


def test_used_by_across_registries_and_spaces(local_registry_env: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    X = np.arange(20.0).reshape(10, 2)
    data = DataCard(interface=NumpyData(data=X), space="team-a", name="features")
    CardRegistry(RegistryType.Data).register_card(data)
    models = CardRegistry(RegistryType.Model)
    model = ModelCard(
        interface=SklearnModel(model=LinearRegression().fit(X, X[:, 0]), sample_data=X[:2]),
        space="team-b",
        name="ranker",
        datacard_uid=data.uid,
    )
    models.register_card(model)
    prompt = PromptCard(prompt=Prompt(message="hi"), space="team-a", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(prompt)
    service = ServiceCard(
        space="team-c",
        name="api",
        cards=[Card("model", card=model), Card("data", card=data), Card("hi", card=prompt)],
    )
    CardRegistry(RegistryType.Service).register_card(service)
    store = _store(models)

    def names(registry: RegistryType, uid: str, spaces: set[str] | None) -> list[str]:
        found = used_by(store, registry, uid, spaces)  # type: ignore[arg-type]
        return sorted(f"{u.registry.value}:{u.space}/{u.name}" for u in found)

    assert names(RegistryType.Data, str(data.uid), None) == [
        "model:team-b/ranker",
        "service:team-c/api",
    ]
    assert names(RegistryType.Model, str(model.uid), None) == ["service:team-c/api"]
    assert names(RegistryType.Prompt, str(prompt.uid), None) == ["service:team-c/api"]
    # Only what the caller may read: a cache or a join never names another space's card.
    assert names(RegistryType.Data, str(data.uid), {"team-a"}) == []
    assert names(RegistryType.Data, str(data.uid), {"team-b"}) == ["model:team-b/ranker"]
    assert names(RegistryType.Data, str(data.uid), set()) == []
    # Nothing references the service.
    assert names(RegistryType.Service, str(service.uid), None) == []


def test_used_by_refuses_what_is_not_a_uid(local_registry_env: Path) -> None:
    store = _store(CardRegistry(RegistryType.Data))
    with pytest.raises(InvalidArgumentError):
        used_by(store, RegistryType.Data, "%", None)  # type: ignore[arg-type]
