"""The SQL metadata store (SQLAlchemy 2, Alembic migrations applied automatically)."""

from __future__ import annotations

from opsml.store._aliases import ALIAS_DELETE, ALIAS_SET, Actor, AliasRow, AliasStore
from opsml.store._artifact_keys import KeyStore
from opsml.store._auth import ANY_SPACE, ApiTokenRow, AuditEntry, AuthStore, PermissionRow, UserRow
from opsml.store._browse import card_names, card_page, space_summaries
from opsml.store._engine import (
    SchemaState,
    normalize_url,
    open_engine,
    schema_revision,
    upgrade_schema,
)
from opsml.store._experiment import ExperimentStore
from opsml.store._leases import LeaseRow, LeaseStore
from opsml.store._loop_reads import LoopReads
from opsml.store._outbox import EVENT_TYPES, Event
from opsml.store._schema import CARD_REGISTRIES
from opsml.store._store import OK, PENDING, CardQuery, SqlStore, parse_max_date
from opsml.store._tags import TAG_KEY, indexed_tags, tag_pair
from opsml.store._webhooks import Delivery, WebhookAttempt, WebhookRow, WebhookStore

__all__ = [
    "ALIAS_DELETE",
    "ALIAS_SET",
    "ANY_SPACE",
    "Actor",
    "AliasRow",
    "AliasStore",
    "ApiTokenRow",
    "AuditEntry",
    "AuthStore",
    "CARD_REGISTRIES",
    "CardQuery",
    "Delivery",
    "EVENT_TYPES",
    "Event",
    "ExperimentStore",
    "KeyStore",
    "LeaseRow",
    "LeaseStore",
    "LoopReads",
    "OK",
    "PENDING",
    "PermissionRow",
    "SchemaState",
    "SqlStore",
    "TAG_KEY",
    "UserRow",
    "WebhookAttempt",
    "WebhookRow",
    "WebhookStore",
    "card_names",
    "card_page",
    "indexed_tags",
    "normalize_url",
    "open_engine",
    "parse_max_date",
    "schema_revision",
    "space_summaries",
    "tag_pair",
    "upgrade_schema",
]
