"""CardRegistry: register, list, load, update and delete cards of one type."""

from __future__ import annotations

import difflib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from opsml._validation import check_text
from opsml._version import __version__
from opsml.cards import (
    CardAlias,
    CardBase,
    CardList,
    CardRecord,
    ExperimentCard,
    InterfaceCard,
    ServiceCard,
    alias_in,
    validate_alias,
    validate_name,
)
from opsml.errors import (
    CardNotFoundError,
    CardTypeError,
    InvalidArgumentError,
    InvalidVersionError,
)
from opsml.registry._backend import RegistryBackend
from opsml.registry._local import LocalBackend, os_user
from opsml.registry._registration import register
from opsml.registry._service import attach_references, resolve_references
from opsml.settings import OpsmlConfig
from opsml.storage import VerifiedFiles
from opsml.store import (
    CARD_REGISTRIES,
    TAG_KEY,
    CardQuery,
    SqlStore,
    normalize_url,
    parse_max_date,
)
from opsml.types import RegistryMode, RegistryType, VersionType
from opsml.version import Version, VersionQuery, parse_requested_version

_log = logging.getLogger("opsml")

__all__ = [
    "DEFAULT_BACKENDS",
    "alias_target",
    "Backends",
    "RegistryInfo",
    "describe_database",
    "CardRegistries",
    "CardRegistry",
    "backend_for",
    "card_query",
    "card_registry_type",
    "close_backends",
    "tag_filters",
]


class Backends:
    """The registry backends of a process, one per configuration.

    Equal configurations share a backend; the local backends of one database share its
    store (one engine, one connection pool); backends with the same cache settings share
    one :class:`~opsml.storage.VerifiedFiles`. A forked child starts with an empty pool
    (the parent's connections are not its to use, nor to close).

    Every :class:`CardRegistry` takes its backend from :data:`DEFAULT_BACKENDS` unless it
    is given a pool of its own, which a test or an application can create, pass and
    close.

    Example:
        ```python
        from opsml import CardRegistry, RegistryType
        from opsml.registry import Backends

        pool = Backends()
        registry = CardRegistry(RegistryType.Model, backends=pool)
        assert len(registry.list_cards()) == 0
        pool.close()  # connections closed; the pool opens new ones if used again
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._backends: dict[OpsmlConfig, tuple[RegistryBackend, Callable[[], None]]] = {}
        self._stores: dict[str, SqlStore] = {}
        self._verified: dict[Path | None, VerifiedFiles] = {}

    def get(self, config: OpsmlConfig) -> RegistryBackend:
        """The backend for ``config``, created on first use.

        Raises:
            InvalidArgumentError: The tracking URI is neither a database URL nor a server URL.
            MetadataStoreError: The database cannot be reached or migrated.
        """
        with self._lock:
            self._after_fork()
            found = self._backends.get(config)
            if found is None:
                found = self._create(config)
                self._backends[config] = found
            return found[0]

    def close(self, tracking_uri: str | None = None) -> None:
        """Close and forget the backends (those of one tracking URI, or all): their server
        connections (client mode) and database connection pools (local mode).

        A registry still holding a closed backend keeps working: its database connections
        are opened again when needed (a client backend's connection is not)."""
        with self._lock:
            self._after_fork()
            for config in list(self._backends):
                if tracking_uri is None or config.tracking_uri == tracking_uri:
                    _, close = self._backends.pop(config)
                    close()
            used = {
                id(backend.store)
                for backend, _ in self._backends.values()
                if isinstance(backend, LocalBackend)
            }
            for url, store in list(self._stores.items()):
                if id(store) not in used:
                    store.close()
                    del self._stores[url]
            if tracking_uri is None:
                self._verified.clear()

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            for store in self._stores.values():
                store.engine.dispose(close=False)  # the parent's connections stay open
            self._backends, self._stores, self._verified = {}, {}, {}
            self._pid = os.getpid()

    def _create(self, config: OpsmlConfig) -> tuple[RegistryBackend, Callable[[], None]]:
        verified = self._verified.get(config.cache.verified_db)
        if verified is None:
            verified = VerifiedFiles(config.cache.verified_db)
            self._verified[config.cache.verified_db] = verified
        if config.mode is RegistryMode.Client:
            from opsml.client import HttpBackend

            http = HttpBackend.from_config(config, verified=verified)
            return http, http.api.close
        if not config.is_sql:
            raise InvalidArgumentError(
                f"OPSML_TRACKING_URI={config.tracking_uri!r} is neither a database URL "
                "(sqlite:///…, postgresql://…, mysql+pymysql://…) nor an http(s) server URL"
            )
        url = normalize_url(config.tracking_uri)
        store = self._stores.get(url)
        if store is None:
            if config.tracking_defaulted:
                _notice_new_default_database(url)
            store = SqlStore.from_url(url)
            self._stores[url] = store
        local = LocalBackend.from_config(config, store=store, verified=verified)
        return local, lambda: None  # its store is closed once no backend uses it


def _hide_password(uri: str) -> str:
    if "://" not in uri or uri.split(":", 1)[0].lower() in ("http", "https"):
        return uri
    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return uri


def describe_database(tracking_uri: str) -> str:
    """``tracking_uri`` as a user recognises it: a SQLite file's absolute path, another
    database's URL without its password."""
    url = make_url(normalize_url(tracking_uri))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return f"database {Path(str(url.database)).resolve()}"
    return f"database {url.render_as_string(hide_password=True)}"


def _notice_new_default_database(url: str) -> None:
    """Say so when the default ``./opsml.db`` is about to be created: a registry used from
    another directory (a notebook folder) silently getting a new, empty database is the
    first puzzle of many users."""
    database = make_url(url).database
    if not database or database == ":memory:" or Path(database).exists():
        return
    _log.warning(
        "opsml: OPSML_TRACKING_URI is not set, so this directory gets a new, empty registry "
        "database %s; cards registered from another directory are in that directory's "
        "opsml.db. To use one registry everywhere, set OPSML_TRACKING_URI (e.g. "
        "sqlite:////absolute/path/opsml.db) and OPSML_STORAGE_URI.",
        Path(database).resolve(),
    )


DEFAULT_BACKENDS = Backends()
"""The pool of every :class:`CardRegistry` not given one (holds nothing until used)."""


def backend_for(config: OpsmlConfig, backends: Backends | None = None) -> RegistryBackend:
    """The backend for ``config`` from ``backends`` (default :data:`DEFAULT_BACKENDS`).

    Raises:
        InvalidArgumentError: The tracking URI is neither a database URL nor a server URL.
    """
    return (backends if backends is not None else DEFAULT_BACKENDS).get(config)


def close_backends(tracking_uri: str | None = None) -> None:
    """Close this process's default backends (those of one tracking URI, or all): client
    connections and database connection pools (see :meth:`Backends.close`)."""
    DEFAULT_BACKENDS.close(tracking_uri)


def card_registry_type(value: RegistryType | str) -> RegistryType:
    """The card registry named by ``value`` (a ``RegistryType`` or its name).

    Raises:
        InvalidArgumentError: Not a card registry.
    """
    try:
        registry = RegistryType(value)
    except ValueError as exc:
        known = [r.value for r in CARD_REGISTRIES]
        nearest = difflib.get_close_matches(str(value).lower(), known, n=1)
        hint = f"did you mean {nearest[0]!r}? " if nearest else ""
        raise InvalidArgumentError(
            f"unknown registry type {value!r}; {hint}use one of {', '.join(known)}"
        ) from exc
    if registry not in CARD_REGISTRIES:
        raise InvalidArgumentError(f"the {registry.value} registry is not supported")
    return registry


def _optional_name(value: str | None, field: str) -> str | None:
    return None if value is None else validate_name(value, field)


def _tag_filter(tag: object) -> str:
    if not isinstance(tag, str):
        raise InvalidArgumentError(f"tags must be strings, got {type(tag).__name__}")
    return check_text(tag, "tag", 255)


def tag_filters(tags: Mapping[str, str] | Iterable[str] | None) -> tuple[str, ...]:
    """The tags a card must carry, from ``list_cards(tags=...)``: a list of tags, or a
    ``{key: value}`` mapping of key/value tags (``{"team": "search"}`` is ``"team=search"``,
    which matches a card tagged ``team=search`` or ``team:search``).

    Raises:
        InvalidArgumentError: Not a list or mapping of strings, a key outside 1-128
            characters from ``A-Z a-z 0-9 _ . -``, or a tag no card can carry.
    """
    if tags is None:
        return ()
    if isinstance(tags, Mapping):
        pairs = []
        for key, value in tags.items():
            if not isinstance(key, str) or TAG_KEY.fullmatch(key) is None:
                raise InvalidArgumentError(
                    f"invalid tag key {key!r}: 1-128 characters from A-Z, a-z, 0-9, '_', '.', '-'"
                )
            if not isinstance(value, str):
                raise InvalidArgumentError(
                    f"the value of tag {key!r} must be a string, got {type(value).__name__}"
                )
            pairs.append(f"{key}={value}")
        return tuple(_tag_filter(tag) for tag in pairs)
    if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
        raise InvalidArgumentError(
            f"tags must be a list of tags or a {{key: value}} dict, got {type(tags).__name__}"
        )
    return tuple(_tag_filter(tag) for tag in tags)


def card_query(
    uid: str | None = None,
    space: str | None = None,
    name: str | None = None,
    version: str | None = None,
    **extra: Any,
) -> CardQuery:
    """Filters from user input: space and name validated and lowercased, the version query
    parsed (``None`` or an empty version means any; ``"@prod"`` the card the alias ``prod``
    points at); ``extra`` are further CardQuery fields.

    Raises:
        InvalidNameError: ``space`` or ``name`` cannot match any card, or ``@`` is followed
            by an invalid alias.
        InvalidVersionError: The version query is malformed.
        InvalidArgumentError: A tag no card can carry (1-255 characters, no control ones).
    """
    if extra.get("tags"):
        extra["tags"] = tuple(_tag_filter(tag) for tag in extra["tags"])
    alias = alias_in(version)
    return CardQuery(
        uid=uid,
        space=_optional_name(space, "space"),
        name=_optional_name(name, "name"),
        version=VersionQuery.parse(version) if version and alias is None else None,
        alias=alias,
        **extra,
    )


@dataclass(frozen=True)
class RegistryInfo:
    """Where a registry lives and who uses it, as :meth:`CardRegistry.info` and
    ``opsml info`` show it.

    Attributes:
        mode: ``server`` (local mode: this process uses the database directly) or
            ``client`` (through an opsml server).
        tracking_uri: ``OPSML_TRACKING_URI`` as given (a database URL's password hidden).
        database: Local mode: the database searched (a SQLite file's absolute path).
        storage: Local mode: the artifact storage root; client mode: the server's.
        server_version: Client mode: the server's opsml version.
        user: Client mode: the user the server knows the caller as (``None`` when the
            server runs without authentication); local mode: this process's OS user.
        opsml_version: This package's version.
        tracking_defaulted: ``OPSML_TRACKING_URI`` is not set (the directory's default
            ``opsml.db`` is used).
    """

    mode: str
    tracking_uri: str
    database: str | None
    storage: str
    server_version: str | None
    user: str | None
    opsml_version: str
    tracking_defaulted: bool

    def __str__(self) -> str:
        rows = [
            (
                "mode",
                "local (database and storage used directly)"
                if self.mode == RegistryMode.Server.value
                else "client (through an opsml server)",
            ),
            (
                "tracking uri",
                self.tracking_uri
                + (" (default: OPSML_TRACKING_URI is not set)" if self.tracking_defaulted else ""),
            ),
            ("database", self.database),
            ("storage", self.storage),
            ("server version", self.server_version),
            ("user", self.user),
            ("opsml version", self.opsml_version),
        ]
        return "\n".join(f"{key + ':':16}{value}" for key, value in rows if value is not None)


class CardRegistry:
    """The registry of one card type.

    Where it lives is read from the environment when the registry is created
    (``OPSML_TRACKING_URI``, ``OPSML_STORAGE_URI``, ``APP_ENV``; SPEC §0).

    Example:
        ```python
        registry = CardRegistry(RegistryType.Model)
        registry.register_card(card)                      # 0.1.0
        registry.list_cards(space="team-a", name="ranker", version="^0").as_table()
        ```
    """

    def __init__(
        self,
        registry_type: RegistryType | str,
        config: OpsmlConfig | None = None,
        backends: Backends | None = None,
    ) -> None:
        """Open the registry of ``registry_type``.

        Args:
            registry_type: A ``RegistryType`` or its name (``"model"``, ``"Data"``, …).
            config: Where the registry lives; read from the environment when omitted.
            backends: The pool to take the backend from (:data:`DEFAULT_BACKENDS` when
                omitted).

        Raises:
            InvalidArgumentError: Unknown registry type or tracking URI, or a malformed
                setting.
            MetadataStoreError: The database cannot be reached.
        """
        self._registry_type = card_registry_type(registry_type)
        self._config = config if config is not None else OpsmlConfig.from_env()
        self._backend = backend_for(self._config, backends)

    @property
    def registry_type(self) -> RegistryType:
        """The type of card this registry holds."""
        return self._registry_type

    @property
    def mode(self) -> RegistryMode:
        """``RegistryMode.Server`` (local) or ``RegistryMode.Client`` (via a server)."""
        return self._backend.mode

    @property
    def table_name(self) -> str:
        """The SQL table holding this registry's cards."""
        return self._registry_type.table_name

    def register_card(
        self,
        card: CardBase,
        version_type: VersionType | str = VersionType.Minor,
        pre_tag: str | None = None,
        build_tag: str | None = None,
        save_kwargs: Any = None,
    ) -> None:
        """Register a card: assign a version and a UUIDv7 uid, save its artifacts.

        Registration is all-or-nothing: on failure nothing is visible and the card object
        is unchanged. On success ``card.version``, ``card.uid`` and ``card.created_at`` are set.

        Args:
            card: The card; its type must match the registry.
            version_type: How to bump the version (``VersionType`` or its name).
            pre_tag: Prerelease tag (``1.0.0-<pre_tag>.1``).
            build_tag: Build tag (``1.0.0+<build_tag>.1``).
            save_kwargs: ``ModelSaveKwargs`` / ``DataSaveKwargs`` for the interface.

        Raises:
            CardTypeError: The card does not belong to this registry.
            CardStateError: The card is already registered.
            VersionConflictError: ``card.version`` is a full version that exists.
            CardNotFoundError: The card references a card that is not registered.

        A ServiceCard's references are resolved first (version queries to the highest
        matching final release); only the pinned references are stored.

        A card without a space, name or version takes the one the project's
        ``pyproject.toml`` gives (``[tool.opsml.registry]`` for its registry, else
        ``[tool.opsml.default]``; the file is looked up from ``OPSML_BASE_PATH`` or the
        current folder upward), as in OpsML 3.
        """
        if not isinstance(card, CardBase) or card.registry_type is not self._registry_type:
            raise CardTypeError(
                f"cannot register a {type(card).__name__} in the {self._registry_type.value} "
                "registry"
            )
        try:
            bump = VersionType(version_type)
        except ValueError as exc:
            raise InvalidArgumentError(f"unknown version_type {version_type!r}") from exc
        filled = _fill_project_defaults(card, self._config)
        try:
            if not isinstance(card, ServiceCard):
                register(self._backend, card, bump, pre_tag, build_tag, save_kwargs)
                if isinstance(card, ExperimentCard):
                    card._attach_tracking(self._backend)
                return
            declared = card.card_refs
            card.card_refs = resolve_references(self._backend, card)
            try:
                register(self._backend, card, bump, pre_tag, build_tag, save_kwargs)
            except BaseException:
                card.card_refs = declared
                raise
        except BaseException:
            for key in filled:
                setattr(card, key, None)
            raise

    def list_cards(
        self,
        uid: str | None = None,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        max_date: str | date | None = None,
        tags: list[str] | dict[str, str] | None = None,
        sort_by_timestamp: bool = False,
        limit: int = 25,
    ) -> CardList[CardRecord]:
        """List registered cards, highest version first (or newest first).

        Args:
            uid: Only this card.
            space: Only this space.
            name: Only this name.
            version: A version query (``"1.*"``, ``"^1.2"``, ``">=1.2, <2"``, ``"1.2.3"``), or
                ``"@alias"``: the version an alias points at.
            max_date: Only cards created on or before this day (``YYYY-MM-DD``, UTC).
            tags: Only cards carrying every one of these tags; a ``{key: value}`` dict asks
                for key/value tags (``{"team": "search"}`` matches a card tagged
                ``team=search`` or ``team:search``, with the tag index).
            sort_by_timestamp: Newest first instead of SemVer order.
            limit: At most this many cards (1-10000).

        Returns:
            The matching records.

        Raises:
            InvalidVersionError: The version query is malformed.
            InvalidNameError: ``space`` or ``name`` cannot match any card.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise InvalidArgumentError(f"limit must be an integer from 1 to 10000, got {limit!r}")
        query = card_query(
            uid,
            space,
            name,
            version,
            max_date=parse_max_date(max_date),
            tags=tag_filters(tags),
            sort_by_timestamp=bool(sort_by_timestamp),
            limit=limit,
        )
        return CardList(self._backend.list_cards(self._registry_type, query))

    def load_card(
        self,
        uid: str | None = None,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        interface: Any = None,
    ) -> Any:
        """Load a card's metadata; call ``card.load()`` to fetch its artifacts.

        A ServiceCard comes with every referenced card's metadata attached
        (``service["alias"]``); its ``load()`` fetches the Model and Data cards' artifacts.

        With a space and name and no version, the highest final release is returned (the
        highest prerelease only if there is no final release).

        Args:
            uid: The card's uid (takes precedence over space/name/version).
            space: The card's space.
            name: The card's name.
            version: A version query, or ``"@alias"`` (the version the alias points at).
            interface: An interface instance to load artifacts into (custom interfaces), or
                its class (built with its ``from_metadata``, as OpsML 3 does).

        Returns:
            The card.

        Raises:
            CardNotFoundError: Nothing matches.
            InvalidVersionError: The version query is malformed.
        """
        if uid is None and space is None and name is None:
            raise InvalidArgumentError("load_card needs a uid, or a space and/or name")
        if uid is not None:  # the uid takes precedence over space, name and version
            space = name = version = None
        query = card_query(uid, space, name, version)
        try:
            card = self._backend.load_card(self._registry_type, query)
        except CardNotFoundError as exc:
            raise CardNotFoundError(f"{exc}{self._not_found_hint(query)}") from None
        if isinstance(card, ServiceCard):
            attach_references(self._backend, card)
        if isinstance(card, ExperimentCard):
            card._attach_tracking(self._backend)
        if interface is not None:
            if not isinstance(card, InterfaceCard):
                raise InvalidArgumentError(f"{type(card).__name__} does not take an interface")
            if isinstance(interface, type):  # OpsML 3 takes the interface's class too
                interface_cls: Any = interface
                interface = interface_cls.from_metadata(card._interface_metadata())
            card._set_interface(interface)
        return card

    def info(self) -> RegistryInfo:
        """Mode, database, storage, server version and user of this registry.

        In client mode this asks the server (its version, and who the credentials are).

        Raises:
            ServerUnavailableError: Client mode, and the server cannot be reached (or is not
                an opsml server).
        """
        cfg = self._config
        shown = _hide_password(cfg.tracking_uri)
        if self.mode is RegistryMode.Client:
            api: Any = cast(Any, self._backend).api  # the HTTP backend's session
            version = api.check_server()
            me = api.json("GET", "/opsml/api/auth/me")
            anonymous = me.get("username") in (None, "", "anonymous") and not cfg.username
            return RegistryInfo(
                mode=self.mode.value,
                tracking_uri=shown,
                database=None,
                storage="on the server",
                server_version=version,
                user=None if anonymous else str(me.get("username")),
                opsml_version=__version__,
                tracking_defaulted=False,
            )
        return RegistryInfo(
            mode=self.mode.value,
            tracking_uri=shown,
            database=describe_database(cfg.tracking_uri).removeprefix("database "),
            storage=cfg.storage_uri,
            server_version=None,
            user=os_user(),
            opsml_version=__version__,
            tracking_defaulted=cfg.tracking_defaulted,
        )

    def _not_found_hint(self, query: CardQuery) -> str:
        """What to try after ``query`` found nothing: a close name of the space ("did you
        mean"), the versions of a name that exists, and, in local mode, the database that
        was searched (in client mode the server's database is not the user's business)."""
        hint = ""
        if query.uid is None and query.name is not None:
            listed = self._backend.list_cards(
                self._registry_type, CardQuery(space=query.space, limit=1000, latest_first=True)
            )
            versions = [r.version for r in listed if r.name == query.name]
            names = sorted({r.name for r in listed})
            close = difflib.get_close_matches(query.name, names, n=1, cutoff=0.6)
            if versions and query.alias is not None:
                found = self._backend.list_aliases(self._registry_type, query.space, query.name)
                aliases = sorted({f"@{a.alias}" for a in found})
                hint = f"; its aliases: {', '.join(aliases)}" if aliases else "; it has no aliases"
            elif versions:
                hint = f"; its versions: {', '.join(versions[:10])}"
            elif close:
                hint = f"; did you mean {close[0]!r}?"
        if self.mode is RegistryMode.Server:
            hint += f" (searched {describe_database(self._config.tracking_uri)})"
        return hint

    def update_card(self, card: CardBase) -> None:
        """Update a registered card's metadata and tags.

        Space, name and version may change only to a (space, name, version) that is free;
        artifacts are immutable.

        Raises:
            CardTypeError: The card does not belong to this registry.
            CardNotFoundError: The card is not registered.
            VersionConflictError: The new (space, name, version) is taken.
        """
        self._check_type(card)
        self._backend.update_card(card)

    def delete_card(self, card: CardBase) -> None:
        """Delete a card's record and its artifacts.

        Raises:
            CardTypeError: The card does not belong to this registry.
            CardNotFoundError: The card is not registered.
        """
        self._check_type(card)
        self._backend.delete_card(card)

    # -- aliases ------------------------------------------------------------------------

    def set_alias(self, space: str, name: str, alias: str, version: str) -> CardAlias:
        """Point ``alias`` of the card (space, name) at one registered version.

        The alias is created, or moved atomically: a concurrent ``load_card(...,
        version="@alias")`` gets the old or the new version, never nothing. Every move is
        recorded in the audit log; on a server it needs write permission on the space.

        Args:
            space: The card's space.
            name: The card's name.
            alias: The alias: 1-64 characters from a-z, 0-9, ``_``, ``-``, starting with a
                letter (uppercase is lowercased); not ``latest``.
            version: The full version to point at (``"1.2.0"``).

        Returns:
            The alias and the version it now points at.

        Raises:
            InvalidNameError: Invalid space, name or alias.
            InvalidVersionError: ``version`` is not a full version.
            CardNotFoundError: That version is not registered.
            PermissionDeniedError: Client mode, without write permission on the space.
        """
        space, name, alias = _alias_key(space, name, alias)
        target = alias_target(version)
        return self._backend.set_alias(self._registry_type, space, name, alias, target)

    def delete_alias(self, space: str, name: str, alias: str) -> None:
        """Remove an alias (audited; on a server it needs write permission on the space).

        Raises:
            InvalidNameError: Invalid space, name or alias.
            CardNotFoundError: The card has no such alias.
            PermissionDeniedError: Client mode, without write permission on the space.
        """
        space, name, alias = _alias_key(space, name, alias)
        self._backend.delete_alias(self._registry_type, space, name, alias)

    def list_aliases(self, space: str | None = None, name: str | None = None) -> list[CardAlias]:
        """Aliases and the versions they point at, ordered by space, name and alias.

        Args:
            space: Only this space.
            name: Only this name.

        Returns:
            The aliases (on a server: those in spaces the caller may read).

        Raises:
            InvalidNameError: Invalid space or name.
        """
        return self._backend.list_aliases(
            self._registry_type, _optional_name(space, "space"), _optional_name(name, "name")
        )

    @property
    def config(self) -> OpsmlConfig:
        """Where this registry lives."""
        return self._config

    @property
    def backend(self) -> RegistryBackend:
        """The backend this registry talks to (local or HTTP)."""
        return self._backend

    def _check_type(self, card: CardBase) -> None:
        if not isinstance(card, CardBase) or card.registry_type is not self._registry_type:
            raise CardTypeError(
                f"a {type(card).__name__} does not belong to the {self._registry_type.value} "
                "registry"
            )

    def __repr__(self) -> str:
        return f"CardRegistry({self._registry_type.value}, mode={self.mode.value})"


def alias_target(version: object) -> Version:
    """The version an alias is to point at: a full version.

    Raises:
        InvalidVersionError: Anything else (a query, a partial version, another alias).
    """
    try:
        target = parse_requested_version(version).version  # type: ignore[arg-type]
    except InvalidVersionError:
        target = None
    if target is None:
        raise InvalidVersionError(
            f"an alias points at one version: give a full version such as 1.2.0, got {version!r}"
        )
    return target


def _alias_key(space: str, name: str, alias: str) -> tuple[str, str, str]:
    return validate_name(space, "space"), validate_name(name, "name"), validate_alias(alias)


class CardRegistries:
    """One registry per card type, sharing the same configuration."""

    def __init__(self, config: OpsmlConfig | None = None, backends: Backends | None = None) -> None:
        """Open every registry (the configuration is read from the environment once when
        not given; ``backends`` as for :class:`CardRegistry`)."""
        cfg = config if config is not None else OpsmlConfig.from_env()
        self.data = CardRegistry(RegistryType.Data, cfg, backends)
        self.model = CardRegistry(RegistryType.Model, cfg, backends)
        self.experiment = CardRegistry(RegistryType.Experiment, cfg, backends)
        self.prompt = CardRegistry(RegistryType.Prompt, cfg, backends)
        self.service = CardRegistry(RegistryType.Service, cfg, backends)


def _fill_project_defaults(card: CardBase, config: OpsmlConfig) -> list[str]:
    """Set the space, name and version a card lacks from the project's ``pyproject.toml``.

    Returns:
        The attributes that were set (to undo them when the registration fails).
    """
    if card.space is not None and card.name is not None and card.version is not None:
        return []
    defaults = config.card_defaults(card.registry_type.value)
    filled: list[str] = []
    for key in ("space", "name", "version"):
        value = getattr(defaults, key)
        if getattr(card, key) is None and value is not None:
            setattr(card, key, value)
            filled.append(key)
    return filled
