"""Experiments with their files in a bucket (S3, GCS, Azure emulators): the experiment
suite's end-to-end run, unchanged (tests/unit/experiment), in client mode, and files added
to a run in both modes.

In client mode the run's files go through the server's relay folder into the bucket; the
run's metrics and the cards it registers are the same as on local storage.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _bucket import BucketPath

pytestmark = pytest.mark.cloud

_SOURCE = Path(__file__).parents[2] / "unit" / "experiment" / "test_experiment.py"
_spec = importlib.util.spec_from_file_location("_experiment_suite", _SOURCE)
assert _spec is not None
assert _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)

# The whole run in client mode (files through the server's relay folder into the bucket);
# local mode on a bucket is covered by the test below.
test_a_training_run_is_recorded_and_linked = pytest.mark.parametrize(
    "cloud_registry_env", ["client"], indirect=True
)(_suite.test_a_training_run_is_recorded_and_linked)


@pytest.fixture
def both_modes_registry_env(cloud_registry_env: BucketPath) -> BucketPath:
    """The experiment suite's fixture, on object storage."""
    return cloud_registry_env


def test_files_added_to_a_run_keep_the_earlier_ones(
    cloud_registry_env: BucketPath, tmp_path: Path
) -> None:
    from opsml import CardRegistry, RegistryType
    from opsml.experiment import start_experiment

    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("one")
    second.write_text("two")
    with start_experiment(space="s", name="files") as exp:
        exp.log_artifact(first, "notes/a.txt")
        uid = exp.uid
    with start_experiment(experiment_uid=uid) as again:
        again.log_artifact(second, "notes/b.txt")
    card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
    assert card.list_artifacts() == ["notes/a.txt", "notes/b.txt"]
    folder = card.download_artifacts(lpath=tmp_path / "dl")
    assert (folder / "notes" / "a.txt").read_text() == "one"
    assert (folder / "notes" / "b.txt").read_text() == "two"
