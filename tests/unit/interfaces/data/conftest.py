"""Fixtures shared by the data interface tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from opsml.data import DataInterface, DataInterfaceMetadata, DataLoadKwargs
from opsml.interfaces import resolve_interface

RoundTrip = Callable[..., DataInterface]


@pytest.fixture
def round_trip(tmp_path: Path) -> RoundTrip:
    """Save an interface, keep only its metadata as JSON, rebuild it from that and load.

    This is what a card does between registration and ``card.load()``.
    """

    def run(interface: DataInterface, load_kwargs: DataLoadKwargs | None = None) -> DataInterface:
        folder = tmp_path / "card"
        save_metadata = interface.save(folder)
        stored = interface.get_interface_metadata(save_metadata).model_dump_json()
        metadata = DataInterfaceMetadata.model_validate_json(stored)
        loaded = resolve_interface(metadata)
        assert type(loaded) is type(interface)
        assert loaded.data is None
        loaded.load(folder, metadata.save_metadata, load_kwargs)
        return loaded

    return run
