"""Reading an MLflow tracking store without the mlflow package.

Two readers with one interface (:class:`MlflowStore`): :class:`SqlMlflowStore` reads
MLflow's own tables (``sqlite:///…``, ``postgresql://…``, ``mysql://…``) with SQLAlchemy,
read-only; :class:`RestMlflowStore` asks an MLflow tracking server (``http(s)://…``) through
its REST API. Both hand out the same plain records, and both fetch artifacts through
:class:`ArtifactReader`: from a local artifact root (``file:`` URIs and paths) or, through the
server, from ``mlflow-artifacts:`` URIs. Other artifact stores (``s3://``…) are not read:
:class:`ArtifactsUnavailableError` says why, and the importer reports it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlparse

from opsml.errors import (
    AuthenticationError,
    InvalidArgumentError,
    MissingDependencyError,
    OpsmlError,
    ServerUnavailableError,
)
from opsml.storage import safe_relpath

__all__ = [
    "ArtifactReader",
    "ArtifactsUnavailableError",
    "MlflowExperiment",
    "MlflowModelVersion",
    "MlflowPoint",
    "MlflowRun",
    "MlflowStore",
    "RestMlflowStore",
    "SqlMlflowStore",
    "open_mlflow_store",
]

_TABLES = (
    "experiments",
    "runs",
    "metrics",
    "params",
    "tags",
    "registered_models",
    "model_versions",
)
_PAGE = 1000


@dataclass(frozen=True)
class MlflowExperiment:
    """An MLflow experiment."""

    experiment_id: str
    name: str
    lifecycle_stage: str


@dataclass
class MlflowRun:
    """An MLflow run with its parameters and tags (metrics come separately)."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MlflowPoint:
    """One metric point (every step is kept)."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass
class MlflowModelVersion:
    """A version of an MLflow registered model."""

    name: str
    version: int
    run_id: str | None
    source: str
    artifact_uri: str
    status: str
    stage: str | None
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_tags: dict[str, str] = field(default_factory=dict)


class ArtifactsUnavailableError(OpsmlError):
    """The artifacts of a run or model are where the importer cannot read them."""


class MlflowStore(Protocol):
    """What the importer reads from an MLflow tracking store."""

    description: str
    artifacts: ArtifactReader

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, deleted ones included."""
        ...

    def runs(self, run_ids: set[str] | None = None) -> list[MlflowRun]:
        """Every run (or those of ``run_ids``), in start order."""
        ...

    def metrics(self, run: MlflowRun) -> list[MlflowPoint]:
        """Every metric point of a run, all steps."""
        ...

    def model_versions(self, name: str | None = None) -> list[MlflowModelVersion]:
        """Every registered model version (of ``name`` only when given).

        Raises:
            InvalidArgumentError: ``name`` is no registered model of the store.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _local_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI or a plain path, else ``None``."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] == ":\\"):
        return Path(uri)
    return None


class ArtifactReader:
    """Copies an artifact folder (a run's or a model's) to a local folder.

    Args:
        server: The MLflow tracking server's HTTP client (``mlflow-artifacts:`` URIs are
            read through it), or ``None``.
    """

    def __init__(self, server: Any = None) -> None:
        self._server = server

    def copy(self, uri: str, dest: Path) -> int:
        """Copy every file under ``uri`` into ``dest``; returns how many.

        Raises:
            ArtifactsUnavailableError: The URI's store cannot be read here (the message says why).
        """
        dest.mkdir(parents=True, exist_ok=True)
        local = _local_path(uri)
        if local is not None:
            if not local.exists():
                return 0  # MLflow makes a run's folder only when a file is logged
            if not local.is_dir():
                raise ArtifactsUnavailableError(f"artifact location {uri} is not a folder")
            count = 0
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                target = dest / file.relative_to(local)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
                count += 1
            return count
        scheme = urlparse(uri).scheme
        if scheme == "mlflow-artifacts":
            if self._server is None:
                raise ArtifactsUnavailableError(
                    f"the artifacts are on an MLflow server ({uri}): import with "
                    "--tracking-uri http://<that server>"
                )
            return self._copy_proxied(urlparse(uri).path.lstrip("/"), dest)
        raise ArtifactsUnavailableError(
            f"artifacts in {scheme}:// stores are not read by the importer ({uri}); serve "
            "them through an MLflow server (mlflow-artifacts:) or copy them to a local folder"
        )

    def _copy_proxied(self, root: str, dest: Path) -> int:
        import httpx

        count = 0
        for rel in self._list_proxied(root, ""):
            target = dest / safe_relpath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            url = "/api/2.0/mlflow-artifacts/artifacts/" + quote(f"{root}/{rel}")
            try:
                with self._server.stream("GET", url) as response:
                    _check(response, url)
                    with target.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
            except httpx.HTTPError as exc:
                raise ServerUnavailableError(f"cannot download {url}: {exc}") from exc
            count += 1
        return count

    def _list_proxied(self, root: str, rel: str) -> Iterator[str]:
        path = f"{root}/{rel}".rstrip("/")
        body = _get(self._server, "/api/2.0/mlflow-artifacts/artifacts", {"path": path})
        for entry in body.get("files", []):
            child = f"{rel}/{entry['path']}".lstrip("/")
            if entry.get("is_dir"):
                yield from self._list_proxied(root, child)
            else:
                yield child


# -- SQL ---------------------------------------------------------------------------------


def _ms(value: Any) -> int | None:
    return None if value is None else int(value)


class SqlMlflowStore:
    """An MLflow tracking database read through SQLAlchemy, never written.

    Args:
        url: The database URL as MLflow takes it (``sqlite:///mlflow.db``,
            ``postgresql://…``, ``mysql://…``).

    Raises:
        InvalidArgumentError: The SQLite file does not exist, or the database holds no
            MLflow tracking tables.
        ServerUnavailableError: The database server cannot be reached.
        MissingDependencyError: Its driver's extra is not installed.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from opsml.store import normalize_url

        self.description = _hide_password(url)
        self.artifacts = ArtifactReader()
        if url.startswith("sqlite:"):
            file = Path(url.partition(":///")[2])
            if not url.startswith("sqlite:///") or not file.is_file():
                raise InvalidArgumentError(f"no MLflow database file at {url}")
            engine_url = sa.engine.URL.create(
                "sqlite", database=f"file:{file.resolve()}?mode=ro", query={"uri": "true"}
            )
        else:
            engine_url = sa.engine.make_url(normalize_url(url))
        self._sa = sa
        try:
            self._engine = sa.create_engine(engine_url)
            tables = set(sa.inspect(self._engine).get_table_names())
        except sa.exc.NoSuchModuleError as exc:
            raise InvalidArgumentError(f"unknown database in {self.description}: {exc}") from exc
        except ModuleNotFoundError as exc:
            extra = "mysql" if url.startswith(("mysql", "mariadb")) else "postgres"
            raise MissingDependencyError(exc.name or "driver", extra) from exc
        except sa.exc.DatabaseError as exc:
            raise ServerUnavailableError(
                f"cannot read the MLflow database {self.description}: {exc.orig}"
            ) from exc
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            self._engine.dispose()
            raise InvalidArgumentError(
                f"{self.description} is not an MLflow tracking database: it has no "
                f"{', '.join(missing)} table{'s' if len(missing) > 1 else ''}"
            )
        self._tables = tables

    def _rows(self, query: str, **params: Any) -> list[Any]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(self._sa.text(query), params))
        except self._sa.exc.SQLAlchemyError as exc:
            raise ServerUnavailableError(
                f"cannot read the MLflow database {self.description}: "
                f"{getattr(exc, 'orig', None) or exc}"
            ) from exc

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment."""
        rows = self._rows("SELECT experiment_id, name, lifecycle_stage FROM experiments")
        return [MlflowExperiment(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def runs(self, run_ids: set[str] | None = None) -> list[MlflowRun]:
        """Every run (or those of ``run_ids``) with params and tags, in start order."""
        rows = self._rows(
            "SELECT run_uuid, experiment_id, name, status, start_time, end_time, "
            "lifecycle_stage, artifact_uri FROM runs ORDER BY start_time, run_uuid"
        )
        runs = {
            str(r[0]): MlflowRun(
                str(r[0]), str(r[1]), str(r[2] or ""), str(r[3]), _ms(r[4]), _ms(r[5]),
                str(r[6]), str(r[7] or ""),
            )
            for r in rows
            if run_ids is None or str(r[0]) in run_ids
        }  # fmt: skip
        for key, value, run_id in self._rows("SELECT key, value, run_uuid FROM params"):
            if run_id in runs:
                runs[run_id].params[str(key)] = str(value)
        for key, value, run_id in self._rows("SELECT key, value, run_uuid FROM tags"):
            if run_id in runs:
                runs[run_id].tags[str(key)] = str(value or "")
        return list(runs.values())

    def metrics(self, run: MlflowRun) -> list[MlflowPoint]:
        """Every metric point of ``run``, NaN ones included as ``nan``."""
        rows = self._rows(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = :run "
            "ORDER BY key, step, timestamp",
            run=run.run_id,
        )
        return [
            MlflowPoint(str(k), float("nan") if nan else float(v), int(t), int(s or 0))
            for k, v, t, s, nan in rows
        ]

    def model_versions(self, name: str | None = None) -> list[MlflowModelVersion]:
        """Every registered model version (of ``name`` only), with aliases and tags."""
        names = [str(r[0]) for r in self._rows("SELECT name FROM registered_models")]
        if name is not None and name not in names:
            raise InvalidArgumentError(f"{self.description} has no registered model {name!r}")
        has_location = "storage_location" in {
            c["name"] for c in self._sa.inspect(self._engine).get_columns("model_versions")
        }
        rows = self._rows(
            "SELECT name, version, run_id, source, status, current_stage, description"
            + (", storage_location" if has_location else "")
            + " FROM model_versions ORDER BY name, version"
        )
        run_uris = dict(self._rows("SELECT run_uuid, artifact_uri FROM runs"))
        logged = (
            dict(self._rows("SELECT model_id, artifact_location FROM logged_models"))
            if "logged_models" in self._tables
            else {}
        )
        versions = {
            (str(r[0]), int(r[1])): MlflowModelVersion(
                name=str(r[0]),
                version=int(r[1]),
                run_id=str(r[2]) if r[2] else None,
                source=str(r[3] or ""),
                artifact_uri=_model_location(
                    str(r[3] or ""), r[7] if has_location else None, run_uris, logged
                ),
                status=str(r[4] or "READY"),
                stage=str(r[5]) if r[5] and r[5] != "None" else None,
                description=str(r[6]) if r[6] else None,
            )
            for r in rows
            if name is None or r[0] == name
        }
        for key, value, model, version in self._rows(
            "SELECT key, value, name, version FROM model_version_tags"
        ):
            if (model, int(version)) in versions:
                versions[(model, int(version))].tags[str(key)] = str(value or "")
        if "registered_model_aliases" in self._tables:
            for alias, version, model in self._rows(
                "SELECT alias, version, name FROM registered_model_aliases ORDER BY alias"
            ):
                if (model, int(version)) in versions:
                    versions[(model, int(version))].aliases.append(str(alias))
        model_tags: dict[str, dict[str, str]] = {}
        for key, value, model in self._rows("SELECT key, value, name FROM registered_model_tags"):
            model_tags.setdefault(str(model), {})[str(key)] = str(value or "")
        for found in versions.values():
            found.model_tags = model_tags.get(found.name, {})
        return list(versions.values())

    def close(self) -> None:
        """Dispose of the engine."""
        self._engine.dispose()


def _model_location(
    source: str, location: str | None, run_uris: Mapping[str, str], logged: Mapping[str, str]
) -> str:
    """Where a model version's files are: MLflow 3's storage location, else its source
    resolved (``models:/m-…`` a logged model, ``runs:/<run>/<path>`` in a run's artifacts)."""
    if location:
        return location
    if source.startswith("models:/m-"):
        return logged.get(source.removeprefix("models:/"), source)
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        root = run_uris.get(run_id)
        if root:
            return f"{root.rstrip('/')}/{path}".rstrip("/")
    return source


def _hide_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


# -- REST --------------------------------------------------------------------------------


def _check(response: Any, what: str) -> None:
    if response.status_code in (401, 403):
        raise AuthenticationError(
            f"the MLflow server refused {what} ({response.status_code}): set "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN"
        )
    if response.status_code >= 400:
        response.read()
        raise ServerUnavailableError(
            f"the MLflow server answered {what} with {response.status_code}: {response.text[:300]}"
        )


def _get(client: Any, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return _call(client, "GET", path, params=params)


def _call(client: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    import httpx

    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerUnavailableError(f"cannot reach the MLflow server: {exc}") from exc
    _check(response, f"{method} {path}")
    try:
        body = response.json()
    except ValueError as exc:
        raise InvalidArgumentError(
            f"{client.base_url} is not an MLflow tracking server ({path} answered no JSON)"
        ) from exc
    if not isinstance(body, dict):
        raise InvalidArgumentError(f"{client.base_url} is not an MLflow tracking server")
    return body


def _kv(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


class RestMlflowStore:
    """An MLflow tracking server read through its REST API (``/api/2.0/mlflow/…``).

    Args:
        url: The server (``http://host:5000``).
        environ: Where ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` or
            ``MLFLOW_TRACKING_TOKEN`` are read (MLflow's own variables).

    Raises:
        ServerUnavailableError: The server cannot be reached.
        InvalidArgumentError: It is not an MLflow tracking server.
    """

    def __init__(self, url: str, environ: Mapping[str, str]) -> None:
        import httpx

        self.description = url
        headers = {}
        auth = None
        if environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["authorization"] = f"Bearer {environ['MLFLOW_TRACKING_TOKEN']}"
        elif environ.get("MLFLOW_TRACKING_USERNAME"):
            auth = (
                environ["MLFLOW_TRACKING_USERNAME"],
                environ.get("MLFLOW_TRACKING_PASSWORD", ""),
            )
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, auth=auth, timeout=60.0
        )
        self.artifacts = ArtifactReader(self._client)
        try:
            self._post("/api/2.0/mlflow/experiments/search", {"max_results": 1})
        except BaseException:
            self._client.close()
            raise

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _call(self._client, "POST", path, json=body)

    def _pages(self, method: str, path: str, body: dict[str, Any], key: str) -> Iterator[Any]:
        token = None
        while True:
            page = {**body, **({"page_token": token} if token else {})}
            found = self._post(path, page) if method == "POST" else _get(self._client, path, page)
            yield from found.get(key, [])
            token = found.get("next_page_token")
            if not token:
                return

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment."""
        return [
            MlflowExperiment(str(e["experiment_id"]), str(e["name"]), str(e["lifecycle_stage"]))
            for e in self._pages(
                "POST",
                "/api/2.0/mlflow/experiments/search",
                {"max_results": _PAGE, "view_type": "ALL"},
                "experiments",
            )
        ]

    def runs(self, run_ids: set[str] | None = None) -> list[MlflowRun]:
        """Every run (or those of ``run_ids``), in start order."""
        ids = [e.experiment_id for e in self.experiments()]
        found: list[MlflowRun] = []
        for start in range(0, len(ids), 100):  # the server takes 100 experiments a search
            for item in self._pages(
                "POST",
                "/api/2.0/mlflow/runs/search",
                {
                    "experiment_ids": ids[start : start + 100],
                    "max_results": _PAGE,
                    "run_view_type": "ALL",
                },
                "runs",
            ):
                info, data = item["info"], item.get("data", {})
                if run_ids is not None and info["run_id"] not in run_ids:
                    continue
                found.append(
                    MlflowRun(
                        run_id=str(info["run_id"]),
                        experiment_id=str(info["experiment_id"]),
                        name=str(info.get("run_name", "")),
                        status=str(info.get("status", "")),
                        start_time=_ms(info.get("start_time")),
                        end_time=_ms(info.get("end_time")),
                        lifecycle_stage=str(info.get("lifecycle_stage", "active")),
                        artifact_uri=str(info.get("artifact_uri", "")),
                        params=_kv(data.get("params")),
                        tags=_kv(data.get("tags")),
                        metric_keys=sorted({str(m["key"]) for m in data.get("metrics", [])}),
                    )
                )
        found.sort(key=lambda r: (r.start_time or 0, r.run_id))
        return found

    def metrics(self, run: MlflowRun) -> list[MlflowPoint]:
        """Every point of every metric of ``run`` (its history)."""
        points = []
        for key in run.metric_keys:
            for m in self._pages(
                "GET",
                "/api/2.0/mlflow/metrics/get-history",
                {"run_id": run.run_id, "metric_key": key, "max_results": 25000},
                "metrics",
            ):
                value = m.get("value")
                points.append(
                    MlflowPoint(
                        key,
                        float(value) if isinstance(value, int | float) else float("nan"),
                        int(m.get("timestamp", 0)),
                        int(m.get("step", 0)),
                    )
                )
        return points

    def model_versions(self, name: str | None = None) -> list[MlflowModelVersion]:
        """Every registered model version (of ``name`` only), with aliases and tags."""
        models = {
            str(m["name"]): m
            for m in self._pages(
                "GET",
                "/api/2.0/mlflow/registered-models/search",
                {"max_results": _PAGE},
                "registered_models",
            )
        }
        if name is not None and name not in models:
            raise InvalidArgumentError(f"{self.description} has no registered model {name!r}")
        found = []
        for model_name in sorted(models if name is None else [name]):
            model = models[model_name]
            aliases: dict[str, list[str]] = {}
            for entry in model.get("aliases", []):
                aliases.setdefault(str(entry["version"]), []).append(str(entry["alias"]))
            quoted = model_name.replace("'", "\\'")
            for v in self._pages(
                "GET",
                "/api/2.0/mlflow/model-versions/search",
                {"filter": f"name='{quoted}'", "max_results": _PAGE},
                "model_versions",
            ):
                source = str(v.get("source", ""))
                found.append(
                    MlflowModelVersion(
                        name=model_name,
                        version=int(v["version"]),
                        run_id=str(v["run_id"]) if v.get("run_id") else None,
                        source=source,
                        artifact_uri=self._download_uri(model_name, str(v["version"]), source),
                        status=str(v.get("status", "READY")),
                        stage=(
                            str(v["current_stage"])
                            if v.get("current_stage") not in (None, "", "None")
                            else None
                        ),
                        description=str(v["description"]) if v.get("description") else None,
                        tags=_kv(v.get("tags")),
                        aliases=sorted(aliases.get(str(v["version"]), [])),
                        model_tags=_kv(model.get("tags")),
                    )
                )
        found.sort(key=lambda v: (v.name, v.version))
        return found

    def _download_uri(self, name: str, version: str, source: str) -> str:
        found = _get(
            self._client,
            "/api/2.0/mlflow/model-versions/get-download-uri",
            {"name": name, "version": version},
        )
        return str(found.get("artifact_uri") or source)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def open_mlflow_store(tracking_uri: str, environ: Mapping[str, str]) -> MlflowStore:
    """The reader for an MLflow tracking URI.

    Args:
        tracking_uri: ``sqlite:///path/mlflow.db``, ``postgresql://…``, ``mysql://…`` or
            ``http(s)://host:port`` (an MLflow tracking server).
        environ: MLflow's credential variables for a server (see :class:`RestMlflowStore`).

    Raises:
        InvalidArgumentError: An unknown scheme (a plain folder of ``mlruns`` files is not
            read), a missing database file, or not an MLflow store.
        ServerUnavailableError: The database or server cannot be reached.
    """
    scheme = tracking_uri.partition("://")[0].partition("+")[0].lower()
    if "://" in tracking_uri and scheme in ("http", "https"):
        return RestMlflowStore(tracking_uri, environ)
    if "://" in tracking_uri and scheme in ("sqlite", "postgresql", "postgres", "mysql", "mariadb"):
        return SqlMlflowStore(tracking_uri)
    raise InvalidArgumentError(
        f"cannot import from MLflow tracking URI {tracking_uri!r}: give a database "
        "(sqlite:///path/mlflow.db, postgresql://…, mysql://…) or an MLflow tracking server "
        "(http://host:5000); a folder of mlruns files is not read"
    )
