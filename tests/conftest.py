"""Shared fixtures and the suite's policy.

- An isolated HOME, and a fresh database per test on SQLite, PostgreSQL and MariaDB: an
  empty registry at the newest schema (a copy of one migrated once per test process), or
  with the ``empty_*`` fixtures (and ``sqlite_url``) a database without tables.
  PostgreSQL (127.0.0.1:5432, trust auth) and MariaDB (127.0.0.1:3306, root, no password)
  are real servers. Outside CI an unreachable server skips its tests; under ``CI=true`` it
  fails them, so a broken service can never pass silently.
- Hypothesis profiles: ``ci`` (loaded under ``CI=true``) is derandomized, so a commit
  passes or fails the same way on every run; ``dev`` (a developer's ``make test``) explores
  with a new random seed each run. Both print the reproduction blob of a failure.
- The skip policy: under ``CI=true`` a run with any skip outside the allow-list fails and
  lists the skips. The allow-list is the core-only run (``OPSML_TEST_CORE_ONLY=1``,
  ``make test-core``), where a test needing an extra is skipped with a reason starting
  ``core-only run:``.
- Markers: ``needs("pandas", ...)`` names the modules of an extra a test imports (skipped
  in the core-only run when one is missing; in every other run the ImportError fails the
  test); ``core_only`` marks tests meaningful only without the extras (deselected
  elsewhere).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright
    from sqlalchemy import Engine


PG_ADMIN_URL = os.environ.get(
    "OPSML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_ADMIN_URL = os.environ.get("OPSML_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CORE_ONLY = os.environ.get("OPSML_TEST_CORE_ONLY") == "1"
"""Set by ``make test-core``: the suite runs against ``pip install opsml`` without extras."""
CORE_ONLY_SKIP = "core-only run:"
"""The allow-list of the skip policy: in the core-only run, skips whose reason starts so."""

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if IN_CI else "dev")


@cache
def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the core-only run, leave out test modules (and folders whose conftest.py) need an
    extra."""
    if not CORE_ONLY:
        return None
    if collection_path.is_dir() and (collection_path / "conftest.py").is_file():
        collection_path = collection_path / "conftest.py"
    if collection_path.suffix != ".py" or not collection_path.is_file():
        return None
    missing = [m for m in _top_level_imports(collection_path) if not _installed(m)]
    return True if missing else None


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return str(longrepr)


class SkipPolicy:
    """Under ``CI=true``: a skip outside the allow-list makes the run fail.

    Registered on the process that reports (the xdist controller, whose hooks receive the
    workers' reports, or the only process without xdist).
    """

    def __init__(self) -> None:
        self.refused: dict[str, str] = {}

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        reason = _skip_reason(report)
        if not (CORE_ONLY and reason.startswith(CORE_ONLY_SKIP)):
            self.refused[report.nodeid] = reason

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self._note(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.refused and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.refused:
            return
        terminalreporter.write_sep(
            "=", f"{len(self.refused)} skipped under CI=true: the run fails", red=True
        )
        for nodeid, reason in sorted(self.refused.items()):
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.write_line(
            f"Only the core-only run (OPSML_TEST_CORE_ONLY=1) may skip, with a reason starting "
            f"{CORE_ONLY_SKIP!r}. Install what is missing (make install, make services, make "
            "browser, make emulators) instead of skipping."
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*modules): the test imports these modules of an optional extra; the core-only "
        "run skips it when one is missing, every other run fails on the ImportError",
    )
    config.addinivalue_line(
        "markers", "core_only: meaningful only without the extras; deselected in other runs"
    )
    if IN_CI and not hasattr(config, "workerinput"):
        config.pluginmanager.register(SkipPolicy(), "opsml-skip-policy")


_OVERRIDES_CI_PROFILE = pytest.StashKey[bool]()


def _overrides_ci_profile(item: pytest.Item) -> bool:
    """A property test whose own ``@settings`` undo the fixed seed of the ``ci`` profile."""
    test_settings = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
    return test_settings is not None and (
        test_settings.derandomize is not True or test_settings.database is not None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``core_only`` tests outside the core-only run, skip ``needs`` tests in it
    whose modules are missing, and flag property tests that override the CI profile."""
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        if item.get_closest_marker("core_only") is not None and not CORE_ONLY:
            deselected.append(item)
            continue
        if CORE_ONLY:
            needed = [m for mark in item.iter_markers("needs") for m in mark.args]
            missing = sorted({m for m in needed if not _installed(m)})
            if missing:
                reason = f"{CORE_ONLY_SKIP} needs {', '.join(missing)} (an extra)"
                item.add_marker(pytest.mark.skip(reason=reason))
        item.stash[_OVERRIDES_CI_PROFILE] = IN_CI and _overrides_ci_profile(item)
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    # Long tests first (stable otherwise): pytest-xdist hands tests out in this order, so
    # the minute-long ones start while the many short ones fill the other worker, instead
    # of one of them finishing alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a property test whose ``@settings`` would make a CI run random again."""
    if item.stash.get(_OVERRIDES_CI_PROFILE, False):
        pytest.fail(
            "its @settings override derandomize or database; under CI=true every property "
            "test runs with the fixed-seed 'ci' profile",
            pytrace=False,
        )


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    saved = {
        k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")
    }
    os.environ["HOME"] = str(home)
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        os.environ[var] = str(home / var.lower())
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _clean_opsml_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test inherits a registry location from the developer's shell or another test."""
    for var in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "APP_ENV", "OPSML_BASE_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# -- PostgreSQL and MariaDB: a new database for each test ----------------------------------
# The migrations take 0.2 s per new database on PostgreSQL and 0.35 s on MariaDB, so a test
# that wants a registry gets a copy of a database migrated once per test process (the
# template): 0.12 s and 0.06 s. Tests about migrations take the ``empty_*`` fixtures.
# tests/unit/test_suite_databases.py checks that a copy is what the migrations make.

_TEMPLATE_PREFIX = (
    f"opsml_template_{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]}_"
)
"""Then the process id, the xdist worker and a random part: a template whose process is
gone (a killed run's) is dropped by the next test process of this host that makes one."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


class _DatabaseServer:
    """New databases on the PostgreSQL or MariaDB server of the suite: empty, or copies of
    the template, an empty registry at the newest schema made on first use and dropped at
    the end of the test process.

    PostgreSQL copies a database with ``CREATE DATABASE … TEMPLATE`` (no session may be
    connected to the template meanwhile: none is, the one that migrated it is closed).
    MariaDB has no templates: its copy runs the template's ``SHOW CREATE TABLE`` statements
    and copies the rows the migrations wrote.
    """

    def __init__(self, admin_url: str, kind: str) -> None:
        self.admin_url = admin_url
        self.kind = kind
        self.driver = {"PostgreSQL": "psycopg", "MariaDB": "pymysql"}[kind]
        self._admin: Engine | None = None
        self._template: str | None = None
        self._tables: list[str] = []
        """MariaDB: the template's ``CREATE TABLE`` statements, from the table's name on."""
        self._rows: list[str] = []
        """MariaDB: the tables the migrations wrote rows in."""

    @property
    def admin(self) -> Engine:
        if self._admin is None:
            from sqlalchemy import create_engine

            self._admin = create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
            )
        return self._admin

    def url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _execute(self, *statements: str) -> None:
        with self.admin.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def _drop_statement(self, name: str) -> str:
        # FORCE ends sessions still open (e.g. of a killed worker) in the same step.
        force = " WITH (FORCE)" if self.kind == "PostgreSQL" else ""
        return f"DROP DATABASE IF EXISTS {name}{force}"

    def create(self, *, migrated: bool) -> str:
        """A new database (a copy of the template when ``migrated``); returns its name."""
        name = f"opsml_test_{secrets.token_hex(6)}"
        if not migrated:
            self._execute(f"CREATE DATABASE {name}")
        elif self.kind == "PostgreSQL":
            self._execute(f"CREATE DATABASE {name} TEMPLATE {self._made_template()}")
        else:
            template = self._made_template()
            self._execute(
                f"CREATE DATABASE {name}",
                *(f"CREATE TABLE `{name}`.{ddl}" for ddl in self._tables),
                *(
                    f"INSERT INTO `{name}`.`{t}` SELECT * FROM `{template}`.`{t}`"
                    for t in self._rows
                ),
            )
        return name

    def drop(self, name: str) -> None:
        self._execute(self._drop_statement(name))

    def databases(self) -> list[str]:
        listed = (
            "SELECT datname FROM pg_database"
            if self.kind == "PostgreSQL"
            else "SELECT schema_name FROM information_schema.schemata"
        )
        with self.admin.connect() as conn:
            return list(conn.exec_driver_sql(listed).scalars())

    def _made_template(self) -> str:
        if self._template is not None:
            return self._template
        from opsml.store import open_engine

        self._drop_stale_templates()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        template = f"{_TEMPLATE_PREFIX}{os.getpid()}_{worker}_{secrets.token_hex(3)}"
        self._execute(f"CREATE DATABASE {template}")
        open_engine(self.url(template)).dispose()
        if self.kind == "MariaDB":
            with self.admin.connect() as conn:
                tables = conn.exec_driver_sql(f"SHOW TABLES FROM `{template}`").scalars().all()
                for table in tables:
                    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{template}`.`{table}`").one()[1]
                    self._tables.append(str(ddl).removeprefix("CREATE TABLE "))
                    if conn.exec_driver_sql(
                        f"SELECT 1 FROM `{template}`.`{table}` LIMIT 1"
                    ).first():
                        self._rows.append(table)
        self._template = template
        return template

    def _drop_stale_templates(self) -> None:
        """Drop the templates of this host's test processes that are gone."""
        from sqlalchemy.exc import DBAPIError

        for name in self.databases():
            pid = name.removeprefix(_TEMPLATE_PREFIX).split("_")[0]
            if name.startswith(_TEMPLATE_PREFIX) and pid.isdigit() and not _process_alive(int(pid)):
                with contextlib.suppress(DBAPIError):  # another process dropped it first
                    self.drop(name)

    def close(self) -> None:
        if self._template is not None:
            self.drop(self._template)
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_DatabaseServer]:
    server = _DatabaseServer(PG_ADMIN_URL, "PostgreSQL")
    yield server
    server.close()


@pytest.fixture(scope="session")
def _mysql_server() -> Iterator[_DatabaseServer]:
    server = _DatabaseServer(MYSQL_ADMIN_URL, "MariaDB")
    yield server
    server.close()


def _new_database(server: _DatabaseServer, *, migrated: bool) -> Iterator[str]:
    if CORE_ONLY and not _installed(server.driver):
        pytest.skip(f"core-only run: the {server.driver} driver (an extra) is not installed")
    try:
        with server.admin.connect():
            pass
    except Exception as exc:
        _unavailable(server.kind, exc)
    name = server.create(migrated=migrated)
    try:
        yield server.url(name)
    finally:
        from opsml.registry import close_backends

        close_backends()
        server.drop(name)


@pytest.fixture
def postgres_url(_postgres_server: _DatabaseServer) -> Iterator[str]:
    """A new PostgreSQL database for this test: an empty registry at the newest schema."""
    yield from _new_database(_postgres_server, migrated=True)


@pytest.fixture
def mysql_url(_mysql_server: _DatabaseServer) -> Iterator[str]:
    """A new MariaDB database for this test: an empty registry at the newest schema."""
    yield from _new_database(_mysql_server, migrated=True)


@pytest.fixture
def empty_postgres_url(_postgres_server: _DatabaseServer) -> Iterator[str]:
    """A new, empty PostgreSQL database (no tables): for tests about migrations, and those
    whose servers migrate it when they start."""
    yield from _new_database(_postgres_server, migrated=False)


@pytest.fixture
def empty_mysql_url(_mysql_server: _DatabaseServer) -> Iterator[str]:
    """A new, empty MariaDB database (no tables): for tests about migrations."""
    yield from _new_database(_mysql_server, migrated=False)


def _empty_registry(path: Path) -> None:
    """A migrated empty registry at ``path`` (copied: the migrations run once per worker).
    Tests about migrations and empty databases use ``sqlite_url`` alone, which has none."""
    from opsml.mock._server import empty_registry_database

    empty_registry_database(path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in this test's temporary folder (not created yet)."""
    return f"sqlite:///{(tmp_path / 'opsml.db').as_posix()}"


_DB_PARAMS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


def _registry_url(request: pytest.FixtureRequest, backend: str) -> str:
    """A new empty registry database at the newest schema on ``backend``."""
    url: str = request.getfixturevalue(f"{backend}_url")
    if backend == "sqlite":
        _empty_registry(request.getfixturevalue("tmp_path") / "opsml.db")
    return url


@pytest.fixture(params=_DB_PARAMS)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty registry at the newest schema; each test using this runs once per database
    backend."""
    return _registry_url(request, request.param)


@pytest.fixture(params=_DB_PARAMS)
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database (no tables, on SQLite no file yet), once per database backend: for
    tests about migrations."""
    name = {"sqlite": "sqlite_url", "postgres": "empty_postgres_url", "mysql": "empty_mysql_url"}
    url: str = request.getfixturevalue(name[request.param])
    return url


def _local_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    url = _registry_url(request, request.param)
    storage = tmp_path / "registries"
    monkeypatch.setenv("OPSML_TRACKING_URI", url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(storage))
    return storage


@pytest.fixture(params=_DB_PARAMS)
def local_registry_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """Local mode on each database backend; returns the artifact storage folder."""
    return _local_env(request, monkeypatch, tmp_path)


@pytest.fixture(params=[*_DB_PARAMS, pytest.param("client", marks=pytest.mark.client)])
def registry_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Path]:
    """Each test using this runs in local mode on SQLite, PostgreSQL and MariaDB, and in
    client mode against a real server process (``opsml.mock.OpsmlTestServer``, SQLite).

    Returns the artifact storage folder (the server's, in client mode).
    """
    if request.param != "client":
        yield _local_env(request, monkeypatch, tmp_path)
        return
    if CORE_ONLY and not _installed("fastapi"):
        pytest.skip("core-only run: the server extra is not installed")
    from opsml.mock import OpsmlTestServer

    server = OpsmlTestServer(base_path=tmp_path / "server")
    server.start_server()
    monkeypatch.setenv("OPSML_TRACKING_URI", server.server_uri)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "client-cache"))  # one per test
    try:
        yield tmp_path / "server" / "opsml_registries"
    finally:
        server.stop_server()


@pytest.fixture(params=["local", pytest.param("client", marks=pytest.mark.client)])
def both_modes_registry_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Path]:
    """Local mode on SQLite, then client mode against a real server process: for the
    interface round trips, whose semantics must not depend on the mode."""
    if request.param == "local":
        storage = tmp_path / "registries"
        _empty_registry(tmp_path / "opsml.db")
        monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{(tmp_path / 'opsml.db').as_posix()}")
        monkeypatch.setenv("OPSML_STORAGE_URI", str(storage))
        yield storage
        return
    if CORE_ONLY and not _installed("fastapi"):
        pytest.skip("core-only run: the server extra is not installed")
    from opsml.mock import OpsmlTestServer

    server = OpsmlTestServer(base_path=tmp_path / "server")
    server.start_server()
    monkeypatch.setenv("OPSML_TRACKING_URI", server.server_uri)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "client-cache"))  # one per test
    try:
        yield tmp_path / "server" / "opsml_registries"
    finally:
        server.stop_server()


@pytest.fixture
def sqlite_registry_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> Path:
    """Like ``registry_env`` but SQLite only (for tests about cards, not databases)."""
    _empty_registry(tmp_path / "opsml.db")
    storage = tmp_path / "registries"
    monkeypatch.setenv("OPSML_TRACKING_URI", sqlite_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(storage))
    return storage


# -- the one headless Chromium of a test process ------------------------------------------
# Playwright's sync API allows one instance per thread: every module that drives a browser
# (the UI's end-to-end tests, the single sign-on tests) shares these session fixtures.
# Playwright is imported when a browser is first needed (the core-only run has none).

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the distribution's Chromium (installed by ``scripts/install-browser.sh``)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed: run `bash scripts/install-browser.sh`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, once per test process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    """Headless Chromium; Playwright gives every launch a new, empty profile folder."""
    launched = playwright.chromium.launch(
        executable_path=chromium, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()
