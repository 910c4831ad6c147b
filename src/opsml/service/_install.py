"""``opsml lock`` and ``opsml install service``: pin a spec's cards, then fetch exactly them.

Install works like a lockfile installer: a card whose folder already holds the locked card
with every file verified is left alone (no request at all), a card that is missing or at
another version is downloaded into a temporary folder, verified and moved into place, and a
file that is present but differs from the lock fails the install with its name (unless
``repair``).
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from opsml.cards import CARD_FILE, CardBase, InterfaceCard, PromptCard, ServiceCard
from opsml.errors import (
    CardNotFoundError,
    IntegrityError,
    InvalidArgumentError,
    LockfileError,
    VersionConflictError,
)
from opsml.registry import (
    CardRegistry,
    RegistryBackend,
    backend_for,
    card_query,
    card_registry_type,
    resolve_references,
)
from opsml.service._lock import LOCK_FILE, LockArtifact, LockedFile, LockFile
from opsml.service._spec import DriftSpec, OpsmlServiceSpec, read_project
from opsml.settings import OpsmlConfig
from opsml.storage import hash_file, safe_relpath
from opsml.store import CardQuery
from opsml.types import RegistryMode, RegistryType

__all__ = [
    "InstallReport",
    "download_card",
    "download_service",
    "install_service",
    "lock_service",
]


_FETCH_THREADS = 4
"""Cards downloaded at once (each also fetches its files in parallel)."""


def lock_service(path: Path | str = ".", config: OpsmlConfig | None = None) -> LockFile:
    """Resolve the spec's cards to exact versions, register the ServiceCard if its content
    changed, and write ``opsml.lock`` next to the spec.

    A ``pyproject.toml`` project with several ``[[tool.opsml.service]]`` tables locks each
    of them into the one ``opsml.lock``. Cards whose spec has a ``drift`` setting get that
    status for their drift profiles on the Scouter server (in local mode only when one is
    configured; in client mode the opsml server applies it with its own Scouter settings).

    Args:
        path: The spec file, or the folder holding ``opsmlspec.yaml`` (or a
            ``pyproject.toml`` with ``[[tool.opsml.service]]`` tables).
        config: The registry to lock against (read from the environment when omitted).

    Returns:
        The lock that was written.

    Raises:
        InvalidArgumentError: The spec is missing or invalid.
        CardNotFoundError: A card of the spec matches no registered card.
        VersionConflictError: The spec pins a full service version that is already
            registered with other cards.
        MonitoringError: Scouter refused a drift status change.
    """
    specs = read_project(path)
    config = config if config is not None else OpsmlConfig.from_env()
    backend = backend_for(config)
    entries: list[LockArtifact] = []
    for spec in specs:
        entries += _lock_spec(spec, backend, config)
    lock = LockFile(artifact=entries)
    lock.write(specs[0].root / LOCK_FILE)
    return lock


def _lock_spec(
    spec: OpsmlServiceSpec, backend: RegistryBackend, config: OpsmlConfig
) -> list[LockArtifact]:
    service = spec.service_card()
    service.card_refs = resolve_references(backend, service)
    registered = _unchanged_service(backend, spec, service) or _register(spec, service, config)
    entries = [
        LockArtifact(
            alias=spec.name,
            registry_type=RegistryType.Service,
            space=str(registered.space),
            name=str(registered.name),
            version=str(registered.version),
            uid=str(registered.uid),
            query=spec.service.version,
        )
    ]
    for card_spec, ref in zip(spec.service.cards, service.card_refs, strict=True):
        card: CardBase = ref.card
        entries.append(
            LockArtifact(
                alias=ref.alias,
                registry_type=card.registry_type,
                space=str(card.space),
                name=str(card.name),
                version=str(card.version),
                uid=str(card.uid),
                query=card_spec.version,
                files=LockArtifact.files_of(card.manifest)
                if isinstance(card, InterfaceCard)
                else [],
            )
        )
        if card_spec.drift is not None and (
            backend.mode is RegistryMode.Client or config.scouter.enabled
        ):
            _apply_drift(backend, card, card_spec.drift)
    return entries


def _apply_drift(backend: RegistryBackend, card: CardBase, drift: DriftSpec) -> None:
    from opsml.monitoring import ScouterProfileStatus

    kinds: list[str | None] = list(drift.drift_type) or [None]  # none named: every profile
    for drift_type in kinds:
        backend.update_drift_profile_status(
            ScouterProfileStatus(
                space=str(card.space),
                name=str(card.name),
                version=str(card.version),
                active=drift.active,
                drift_type=drift_type,
                deactivate_others=drift.deactivate_others,
            )
        )


def _content(service: ServiceCard) -> tuple[object, ...]:
    refs = tuple((r.alias, r.registry_type, r.uid) for r in service.card_refs)
    return refs, tuple(service.tags), service.service_type, service.description


def _unchanged_service(
    backend: RegistryBackend, spec: OpsmlServiceSpec, service: ServiceCard
) -> ServiceCard | None:
    """The newest registered service matching the spec whose content equals ``service``."""
    query = card_query(space=spec.space, name=spec.name, version=spec.service.version, limit=1)
    records = backend.list_cards(RegistryType.Service, query)
    if not records:
        return None
    latest = backend.load_card(RegistryType.Service, CardQuery(uid=records[0].uid))
    if isinstance(latest, ServiceCard) and _content(latest) == _content(service):
        return latest
    return None


def _register(spec: OpsmlServiceSpec, service: ServiceCard, config: OpsmlConfig) -> ServiceCard:
    try:
        CardRegistry(RegistryType.Service, config).register_card(service)
    except VersionConflictError as exc:
        raise VersionConflictError(
            f"{exc}: the spec pins service version {spec.service.version!r}, which is "
            "registered with other cards; use a partial version (e.g. '1') so `opsml lock` "
            "can register the next one"
        ) from None
    return service


@dataclass
class InstallReport:
    """What ``install_service`` did.

    Attributes:
        write_dir: Where the service was installed (the first service's folder, for a
            project with several).
        downloaded: Aliases whose cards were fetched.
        up_to_date: Aliases already present with every file verified.
        bytes_downloaded: Artifact bytes fetched.
        locked: Whether the lock was (re)written first.
        write_dirs: Where each service of the project was installed.
    """

    write_dir: Path
    downloaded: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    bytes_downloaded: int = 0
    locked: bool = False
    write_dirs: list[Path] = field(default_factory=list)


def install_service(
    path: Path | str = ".",
    write_path: Path | str | None = None,
    frozen: bool = False,
    repair: bool = False,
    config: OpsmlConfig | None = None,
) -> InstallReport:
    """Download exactly the cards ``opsml.lock`` names into the spec's ``write_dir``
    (each service's, for a ``pyproject.toml`` project with several).

    Without ``frozen``, a missing or out-of-date lock is (re)written first, as
    ``opsml lock`` would. Cards already present and verified are not fetched again (no
    request is made at all when everything is present).

    Args:
        path: The spec file, or the folder holding ``opsmlspec.yaml`` (or a
            ``pyproject.toml`` with ``[[tool.opsml.service]]`` tables) and ``opsml.lock``.
        write_path: Base folder for the spec's ``write_dir`` (default: the spec's folder).
        frozen: Never write the lock: fail when it is missing or out of date.
        repair: Re-download a card whose installed files differ from the lock, instead of
            failing.
        config: The registry to install from (read from the environment when omitted).

    Returns:
        What was downloaded and what was already there.

    Raises:
        LockfileError: ``frozen`` and the lock is missing, malformed or out of date.
        IntegrityError: An installed or downloaded file differs from the lock (the message
            names it).
        CardNotFoundError: A locked card no longer exists in the registry.
    """
    specs = read_project(path)
    config = config if config is not None else OpsmlConfig.from_env()
    lock_path = specs[0].root / LOCK_FILE
    dirs = [_write_dir(spec, write_path) for spec in specs]
    report = InstallReport(write_dir=dirs[0], write_dirs=dirs)
    try:
        parts = LockFile.read(lock_path).split()
        stale = _stale(parts, specs)
    except LockfileError:
        if frozen:
            raise
        parts, stale = [], None
    if stale is not None and frozen:
        raise LockfileError(f"{lock_path} is out of date with the spec: {stale}; run `opsml lock`")
    if not parts or stale is not None:
        parts = lock_service(path, config).split()
        report.locked = True

    def get_backend() -> RegistryBackend:  # only when something must be fetched
        return backend_for(config)

    for part, write_dir in zip(parts, dirs, strict=True):
        _install_part(part, write_dir, repair, get_backend, report)
    return report


def _stale(parts: list[LockFile], specs: list[OpsmlServiceSpec]) -> str | None:
    if len(parts) != len(specs):
        return f"the lock has {len(parts)} services, the project {len(specs)}"
    for part, spec in zip(parts, specs, strict=True):
        why = part.mismatch(spec)
        if why is not None:
            return why
    return None


def _install_part(
    lock: LockFile,
    write_dir: Path,
    repair: bool,
    get_backend: Callable[[], RegistryBackend],
    report: InstallReport,
) -> None:
    write_dir.mkdir(parents=True, exist_ok=True)
    missing: list[LockArtifact] = []
    for entry in lock.cards:
        if _installed(write_dir / entry.alias, entry, repair):
            report.up_to_date.append(entry.alias)
        else:
            missing.append(entry)
    if missing:
        with ThreadPoolExecutor(max_workers=min(len(missing), _FETCH_THREADS)) as pool:
            fetched = pool.map(lambda e: _fetch(get_backend, e, write_dir / e.alias), missing)
            report.bytes_downloaded += sum(fetched)
        report.downloaded += [entry.alias for entry in missing]
    service = lock.service
    if _card_file_uid(write_dir) != service.uid:
        card = get_backend().load_card(RegistryType.Service, CardQuery(uid=service.uid))
        card._write_card_file(write_dir)


def _write_dir(spec: OpsmlServiceSpec, write_path: Path | str | None) -> Path:
    base = Path(write_path) if write_path is not None else spec.root
    return base / spec.service.write_dir


def _card_file_uid(folder: Path) -> str | None:
    data = _read_card_json(folder)
    uid = data.get("uid") if data else None
    return uid if isinstance(uid, str) else None


def _read_card_json(folder: Path) -> dict[str, object] | None:
    try:
        data = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _installed(dest: Path, entry: LockArtifact, repair: bool) -> bool:
    """Whether ``dest`` holds the locked card with every locked file intact.

    Raises:
        IntegrityError: A locked file is present but differs (unless ``repair``).
    """
    data = _read_card_json(dest)
    if data is None or data.get("uid") != entry.uid:
        return False  # not installed, or another version: fetch
    manifest = data.get("manifest")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    recorded = {
        path: (meta.get("size"), meta.get("sha256"))
        for path, meta in (files or {}).items()
        if isinstance(meta, dict)
    }
    if recorded != {f.path: (f.size, f.sha256) for f in entry.files}:
        return _damaged(dest / CARD_FILE, entry, "its manifest differs from the lock", repair)
    for file in entry.files:
        target = dest / safe_relpath(file.path)
        if not target.is_file():
            return False  # missing: fetch the card again
        if target.stat().st_size != file.size or hash_file(target).sha256 != file.sha256:
            return _damaged(target, entry, "it differs from opsml.lock", repair)
    return True


def _damaged(target: Path, entry: LockArtifact, why: str, repair: bool) -> bool:
    if repair:
        return False
    raise IntegrityError(
        f"{target} of card {entry.alias!r} ({entry.space}/{entry.name} v{entry.version}): "
        f"{why}; remove it or install with --repair to download it again"
    )


def _fetch(get_backend: Callable[[], RegistryBackend], entry: LockArtifact, dest: Path) -> int:
    """Download the locked card into ``dest`` (atomically replacing what is there).

    Returns:
        The artifact bytes downloaded.
    """
    try:
        card = get_backend().load_card(entry.registry_type, CardQuery(uid=entry.uid))
    except CardNotFoundError:
        raise CardNotFoundError(
            f"card {entry.alias!r} ({entry.registry_type.value} {entry.space}/{entry.name} "
            f"v{entry.version}, uid {entry.uid}) in opsml.lock is no longer registered"
        ) from None
    downloaded = 0
    if isinstance(card, InterfaceCard):
        _check_against_lock(card, entry)
        downloaded = sum(f.size for f in entry.files)
    staging = dest.parent / f".{dest.name}.opsml-tmp-{secrets.token_hex(4)}"
    try:
        if isinstance(card, InterfaceCard | PromptCard):  # prompts: their drift profiles
            card.download_artifacts(staging)
        else:
            card._write_card_file(staging)
        _replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return downloaded


def _check_against_lock(card: CardBase, entry: LockArtifact) -> None:
    stored = {f.path: f for f in LockArtifact.files_of(card.manifest)}
    locked: dict[str, LockedFile] = {f.path: f for f in entry.files}
    for path in sorted(set(stored) | set(locked)):
        if stored.get(path) != locked.get(path):
            raise IntegrityError(
                f"file {path!r} of card {entry.alias!r} ({entry.space}/{entry.name} "
                f"v{entry.version}) in the registry differs from opsml.lock"
            )


def _replace(staging: Path, dest: Path) -> None:
    old = dest.parent / f".{dest.name}.opsml-old-{secrets.token_hex(4)}"
    if dest.exists():
        dest.rename(old)
    try:
        staging.rename(dest)
    except BaseException:
        if old.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def download_service(
    write_dir: Path | str,
    space: str | None = None,
    name: str | None = None,
    version: str | None = None,
    uid: str | None = None,
    config: OpsmlConfig | None = None,
) -> Path:
    """Download a registered service and all its cards into ``write_dir``
    (``card.json`` plus one folder per alias), ready for :meth:`ServiceCard.from_path`.

    ``config`` names the registry (read from the environment when omitted).

    Raises:
        CardNotFoundError: No service matches.
    """
    service = CardRegistry(RegistryType.Service, config).load_card(
        uid=uid, space=space, name=name, version=version
    )
    return Path(service.download_artifacts(Path(write_dir)))


def download_card(
    registry_type: RegistryType | str,
    write_dir: Path | str = "artifacts",
    space: str | None = None,
    name: str | None = None,
    version: str | None = None,
    uid: str | None = None,
    config: OpsmlConfig | None = None,
) -> Path:
    """Download one card (its ``card.json`` and verified artifacts) into ``write_dir``;
    a service comes with its cards (see :func:`download_service`).

    ``config`` names the registry (read from the environment when omitted).

    Raises:
        CardNotFoundError: No card matches.
        InvalidArgumentError: Unknown registry type.
    """
    registry = card_registry_type(registry_type)
    if uid is None and space is None and name is None:
        raise InvalidArgumentError("give a uid, or a space and/or a name")
    card = CardRegistry(registry, config).load_card(
        uid=uid, space=space, name=name, version=version
    )
    dest = Path(write_dir)
    if isinstance(card, InterfaceCard | PromptCard | ServiceCard):
        return Path(card.download_artifacts(dest))
    card._write_card_file(dest)
    return dest
