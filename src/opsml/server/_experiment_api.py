"""Experiment tracking routes: metrics, parameters and hardware samples in batches, and
artifacts added to a registered ExperimentCard (uploaded like card files, then committed)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from opsml.cards import HardwareMetrics, Metric, Parameter, check_metric_name
from opsml.errors import CardTypeError
from opsml.server._authz import Scope, access
from opsml.server._models import ByteCount, RegistryName, UploadStatus
from opsml.server._security import Permission
from opsml.server._state import ERRORS, StateDep, Uid, UserDep, card_json
from opsml.server._transfer_api import receive_upload
from opsml.storage import FileEntry, Manifest, safe_relpath
from opsml.store import CardQuery
from opsml.types import RegistryType

__all__ = ["experiments"]

experiments = APIRouter(prefix="/opsml/api", responses=ERRORS)
_PATH = "/{registry}/cards/{uid}"
_MAX_BATCH = 100_000


class MetricsBody(BaseModel):
    """A batch of metric points."""

    metrics: list[Metric] = Field(max_length=_MAX_BATCH)


class ParametersBody(BaseModel):
    """A batch of parameters."""

    parameters: list[Parameter] = Field(max_length=_MAX_BATCH)


class HardwareBody(BaseModel):
    """A batch of hardware samples."""

    samples: list[HardwareMetrics] = Field(max_length=_MAX_BATCH)


class ArtifactsBody(BaseModel):
    """Files uploaded with ``PUT …/artifacts/files/{path}`` to add to the experiment."""

    manifest: Manifest


def _experiment(registry: RegistryName, uid: Uid) -> str:
    if RegistryType(registry.value) is not RegistryType.Experiment:
        raise CardTypeError("tracking routes are for experiment cards only")
    return uid


def _names(names: list[str] | None, what: str = "metric") -> list[str] | None:
    return None if names is None else [check_metric_name(n, what) for n in names]


_READ = [access(Permission.Read, Scope.Card)]
_WRITE = [access(Permission.Write, Scope.Card)]


@experiments.post(f"{_PATH}/metrics", tags=["experiments"], dependencies=_WRITE)
def log_metrics(
    st: StateDep, registry: RegistryName, uid: Uid, body: MetricsBody
) -> dict[str, int]:
    """Store a batch of metric points."""
    st.backend.log_metrics(_experiment(registry, uid), body.metrics)
    return {"logged": len(body.metrics)}


@experiments.get(f"{_PATH}/metrics", tags=["experiments"], dependencies=_READ)
def get_metrics(
    st: StateDep,
    registry: RegistryName,
    uid: Uid,
    names: Annotated[list[Annotated[str, Query(max_length=255)]] | None, Query()] = None,
) -> list[Metric]:
    """Metric points in logging order (only ``names`` when given)."""
    return st.backend.get_metrics(_experiment(registry, uid), _names(names))


@experiments.post(f"{_PATH}/parameters", tags=["experiments"], dependencies=_WRITE)
def log_parameters(
    st: StateDep, registry: RegistryName, uid: Uid, body: ParametersBody
) -> dict[str, int]:
    """Store (or replace) parameters."""
    st.backend.log_parameters(_experiment(registry, uid), body.parameters)
    return {"logged": len(body.parameters)}


@experiments.get(f"{_PATH}/parameters", tags=["experiments"], dependencies=_READ)
def get_parameters(
    st: StateDep,
    registry: RegistryName,
    uid: Uid,
    names: Annotated[list[Annotated[str, Query(max_length=255)]] | None, Query()] = None,
) -> list[Parameter]:
    """Parameters in name order."""
    return st.backend.get_parameters(_experiment(registry, uid), _names(names, "parameter"))


@experiments.post(f"{_PATH}/hardware", tags=["experiments"], dependencies=_WRITE)
def log_hardware(
    st: StateDep, registry: RegistryName, uid: Uid, body: HardwareBody
) -> dict[str, int]:
    """Store hardware samples."""
    st.backend.log_hardware(_experiment(registry, uid), body.samples)
    return {"logged": len(body.samples)}


@experiments.get(f"{_PATH}/hardware", tags=["experiments"], dependencies=_READ)
def get_hardware(st: StateDep, registry: RegistryName, uid: Uid) -> list[HardwareMetrics]:
    """Hardware samples in time order."""
    return st.backend.get_hardware_metrics(_experiment(registry, uid))


@experiments.put(
    f"{_PATH}/artifacts/files/{{path:path}}",
    response_model=UploadStatus,
    tags=["experiments"],
    dependencies=_WRITE,
)
async def upload_artifact(
    st: StateDep,
    user: UserDep,
    registry: RegistryName,
    uid: Uid,
    path: str,
    request: Request,
    size: ByteCount,
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
    offset: ByteCount = 0,
) -> UploadStatus:
    """Append bytes of one artifact file at ``offset`` (resumable; verified when complete).

    Uploads are the caller's own: each user's uploads to an experiment wait in their own
    area until :func:`commit_artifacts`.
    """
    _experiment(registry, uid)
    safe_relpath(path)
    await anyio.to_thread.run_sync(st.backend.store.get, RegistryType.Experiment, uid)
    area = st.upload_area().for_artifacts(uid, user.username)
    return await receive_upload(area, FileEntry(size=size, sha256=sha256), path, offset, request)


@experiments.post(f"{_PATH}/artifacts", tags=["experiments"], dependencies=_WRITE)
def commit_artifacts(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid, body: ArtifactsBody
) -> dict[str, Any]:
    """Add the files the caller uploaded to the experiment; returns the card's JSON.

    Only bytes this user sent to this experiment count: a manifest entry whose bytes are
    elsewhere on the server answers ``409`` ``UploadsMissingError``.
    """
    _experiment(registry, uid)
    reg = RegistryType.Experiment
    area = st.upload_area().for_artifacts(uid, user.username)
    with st.backend.staging() as staging:
        area.move_into(body.manifest.files, staging)
        try:
            st.backend.add_artifacts(reg, uid, staging)
        except BaseException:
            area.take_back(body.manifest.files, staging)
            raise
    area.discard()
    st.clean_relay()
    return card_json(st.backend.load_card(reg, CardQuery(uid=uid, limit=1)))
