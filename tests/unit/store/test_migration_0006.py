"""Migration 0006 turns a database of revision 0005, data and all, into one that compares
keys and tags exactly; and the migrated schema is the one the code declares."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, column, create_engine, insert, select, table, text

import opsml.store._engine as engine_module
from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.registry import close_backends
from opsml.store import SqlStore, open_engine
from opsml.store._artifact_keys import ARTIFACT_KEYS
from opsml.store._auth import AUDIT_LOG, USERS, AuthStore
from opsml.store._browse import space_summaries
from opsml.store._engine import HEAD_REVISION
from opsml.store._experiment import METRICS
from opsml.store._schema import METADATA

SPACES = ["a_b", "a-b", "ab"]  # ICU en-US: a_b < a-b < ab; code points: a-b < a_b < ab


def _alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
        conn.commit()


def _revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM opsml_alembic_version")).scalar())


def _column_states(engine: Engine) -> dict[tuple[str, str], str]:
    """What each text column of the database compares by: ``bytes`` or a collation name."""
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT table_name, column_name, COALESCE(collation_name, 'default')"
                    " FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND data_type = 'character varying'"
                )
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT TABLE_NAME, COLUMN_NAME,"
                    " CASE WHEN DATA_TYPE = 'varbinary' THEN 'bytes' ELSE COLLATION_NAME END"
                    " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                    " AND DATA_TYPE IN ('varchar', 'varbinary')"
                )
            )
        return {(t, c): str(state) for t, c, state in rows}


def _declared_exact(engine: Engine) -> set[tuple[str, str]]:
    """Columns the schema module declares as compared byte for byte on this database."""
    exact = set()
    for t in METADATA.sorted_tables:
        for c in t.columns:
            ddl = c.type.compile(dialect=engine.dialect)
            if "VARBINARY" in ddl or 'COLLATE "C"' in ddl:
                exact.add((t.name, c.name))
    return exact


def _assert_schema_is_exact(engine: Engine) -> None:
    states = _column_states(engine)
    declared = _declared_exact(engine)
    wanted = "C" if engine.dialect.name == "postgresql" else "bytes"
    found = {key for key, state in states.items() if state == wanted and key[0] in METADATA.tables}
    assert found == declared
    # Every key and tag column is among them.
    for key in [
        ("opsml_prompt_registry", "uid"),
        ("opsml_prompt_registry", "space"),
        ("opsml_prompt_registry", "version"),
        ("opsml_prompt_registry", "build"),
        ("opsml_prompt_registry", "pre_key"),
        ("opsml_card_tags", "tag"),
        ("opsml_users", "username"),
        ("opsml_audit_log", "username"),
        ("opsml_artifact_keys", "prefix"),
        ("opsml_experiment_metrics", "name"),
    ]:
        assert key in declared, key


@pytest.mark.parametrize(
    "db",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_a_new_database_has_the_declared_types(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue({"postgres": "postgres_icu_url", "mysql": "empty_mysql_url"}[db])
    engine = open_engine(url)
    try:
        _assert_schema_is_exact(engine)
    finally:
        engine.dispose()


def _register(space: str, name: str, version: str, tags: list[str]) -> PromptCard:
    card = PromptCard(
        prompt=Prompt(message=f"{space}/{name}/{version}"),
        space=space,
        name=name,
        version=version,
        tags=tags,
    )
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def test_upgrade_from_0005_keeps_data_and_makes_comparisons_exact(
    collated_registry_env: str,
) -> None:
    url = collated_registry_env
    # Cards registered through the registry, then the schema taken back to revision 0005
    # (the revisions before 0006 build tables from the current schema module, so the way to
    # a database "as 0005 left it" is 0006's downgrade).
    cards = [
        _register("s", "n", "1.0.0-RC.1", ["Prod", "team:a"]),
        _register("s", "n", "1.0.0-rc.1", ["prod"]),
        _register("s", "n", "1.0.0", ["ß"]),
        _register("s", "n", "1.0.0+b.B", []),
        _register("s", "n", "1.0.0+b.b", ["s"]),
        *(_register(space, "m", "0.1.0", []) for space in SPACES),
    ]
    close_backends()  # the registries' connections, before the schema goes back
    engine = create_engine(url)
    _alembic(engine, "downgrade", "0005")
    assert _revision(engine) == "0005"

    # Rows written while at 0005, in tables the cards do not touch.
    # Untyped tables: the values go in as the 0005 code sent them, as plain strings.
    users, audit, keys, metrics = (
        table(t.name, *(column(c.name) for c in t.columns if c.name != "id"))
        for t in (USERS, AUDIT_LOG, ARTIFACT_KEYS, METRICS)
    )
    now = datetime.now(UTC)
    user_rows = [
        {
            "username": username,
            "password_hash": "h",
            "is_admin": False,
            "token_version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for username in ("alice", "Alice")
    ]
    audit_rows = [
        {
            "created_at": now,
            "username": username,
            "operation": "login",
            "resource": "/login",
            "outcome": "denied",
            "status_code": 401,
            "client_address": "::1",
            "detail": "",
        }
        for username in ("alice", "ålice", "alice ")
    ]
    key_row = {
        "prefix": "opsml_prompt_registry/s/n/v1.0.0",
        "key_id": "k1",
        "wrapped": "w",
        "created_at": now,
        "updated_at": now,
    }
    metric_rows = [
        {
            "experiment_uid": cards[0].uid,
            "name": name,
            "value": 1.0,
            "step": None,
            "timestamp": 1,
            "is_eval": False,
        }
        for name in ("loss", "Loss")
    ]
    with engine.begin() as conn:
        conn.execute(insert(users), user_rows)
        conn.execute(insert(audit), audit_rows)
        conn.execute(insert(keys), [key_row])
        conn.execute(insert(metrics), metric_rows)
        # What 0005 got wrong, so that the checks after the upgrade can fail.
        tagged_prod = conn.execute(text("SELECT uid FROM opsml_card_tags WHERE tag = 'prod'"))
        by_space = conn.execute(
            text("SELECT DISTINCT space FROM opsml_prompt_registry WHERE name = 'm' ORDER BY space")
        )
        before = (len(list(tagged_prod)), [s for (s,) in by_space])
    engine.dispose()
    if "mysql" in url:
        assert before[0] == 2  # 'Prod' = 'prod'
    if "postgresql" in url:
        assert before[1] == ["a_b", "a-b", "ab"]  # the database's collation

    # Opening the store upgrades it, as it does for a user.
    store = SqlStore.from_url(url)
    assert _revision(store.engine) == HEAD_REVISION
    if store.engine.dialect.name != "sqlite":
        _assert_schema_is_exact(store.engine)

    prompts = CardRegistry(RegistryType.Prompt)
    for card in cards:
        loaded = prompts.load_card(uid=card.uid)
        assert (loaded.space, loaded.name, loaded.version) == (card.space, card.name, card.version)
        assert loaded.tags == card.tags
        assert loaded.prompt.model_dump() == card.prompt.model_dump()
    with store.engine.connect() as conn:
        usernames = conn.execute(select(USERS.c.username).order_by(USERS.c.username))
        assert usernames.scalars().all() == ["Alice", "alice"]
        assert conn.execute(select(ARTIFACT_KEYS.c.prefix, ARTIFACT_KEYS.c.key_id)).all() == [
            (key_row["prefix"], key_row["key_id"])
        ]
        assert sorted(conn.execute(select(METRICS.c.name)).scalars()) == ["Loss", "loss"]

    # Exact from now on.
    def tagged(tag: str) -> list[str]:
        return [r.version for r in prompts.list_cards(space="s", tags=[tag])]

    assert tagged("prod") == ["1.0.0-rc.1"]
    assert tagged("Prod") == ["1.0.0-RC.1"]
    assert tagged("s") == ["1.0.0+b.b"]
    versions = [r.version for r in prompts.list_cards(space="s", name="n", version="*")]
    assert versions == ["1.0.0+b.b", "1.0.0+b.B", "1.0.0", "1.0.0-rc.1", "1.0.0-RC.1"]
    assert prompts.load_card(space="s", name="n", version="==1.0.0+b.B").uid == cards[3].uid
    assert prompts.load_card(space="s", name="n", version=">=1.0.0-0, <1.0.0").uid == (cards[1].uid)
    assert [s.space for s in space_summaries(store) if s.space in SPACES] == sorted(SPACES)
    auth = AuthStore(store)
    for username in ("alice", "ålice", "alice "):
        assert [e.username for e in auth.audit_entries(username=username)] == [username]
    both = _register("s", "n", "2.0.0", ["Prod", "prod", "prod "])
    assert prompts.load_card(uid=both.uid).tags == ["Prod", "prod", "prod "]
