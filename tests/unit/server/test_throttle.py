"""Login throttling per (client address, user name) with backoff, on SQLite, PostgreSQL and
MariaDB, with an injected clock (no sleeping), and through the app's login routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml.errors import RateLimitError
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.server._throttle import WINDOW, LoginThrottle, backoff
from opsml.settings import OpsmlConfig
from opsml.store import SqlStore
from opsml.store._auth import AuditEntry, AuthStore

API = "POST /opsml/api/auth/token"
UI = "POST /ui/login"
T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)  # whole seconds: MariaDB keeps no fractions


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _throttle(
    db_url: str,
    clock: Clock,
    *,
    login_attempts: int = 10,
    login_address_attempts: int = 100,
    login_max_delay_seconds: int = 900,
) -> LoginThrottle:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env({"OPSML_TRACKING_URI": db_url}),
        login_attempts=login_attempts,
        login_address_attempts=login_address_attempts,
        login_delay_seconds=5,
        login_max_delay_seconds=login_max_delay_seconds,
    )
    return LoginThrottle(AuthStore(SqlStore.from_url(db_url)), config, clock=clock)


def _fail(throttle: LoginThrottle, clock: Clock, client: str, user: str, op: str = API) -> None:
    throttle.check(client, user)  # every failure recorded here was allowed to be tried
    throttle.record_failure(client, user, op)
    clock.advance(1)


def _success(throttle: LoginThrottle, clock: Clock, client: str, user: str) -> None:
    entry = AuditEntry(clock(), user, API, "/opsml/api/auth/token", "allowed", 200, client)
    throttle.store.audit(entry)
    clock.advance(1)


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    assert [backoff(n, 3, 5, 900) for n in range(3)] == [0, 0, 0]
    assert [backoff(n, 3, 5, 900) for n in range(3, 8)] == [5, 10, 20, 40, 80]
    assert backoff(20, 3, 5, 900) == 900
    assert backoff(10**6, 3, 5, 900) == 900  # no overflow however many failures


def test_wrong_passwords_slow_down_one_address_and_never_lock_the_user(
    db_url: str, clock: Clock
) -> None:
    throttle = _throttle(db_url, clock)
    for _ in range(10):
        _fail(throttle, clock, "10.0.0.1", "root")
    # the 10th failure was 1 s ago: the pair waits 5 s after it, so 4 s are left
    with pytest.raises(RateLimitError, match=r"for 'root' from this address.* 4 s") as exc:
        throttle.check("10.0.0.1", "root")
    assert exc.value.retry_after == 4
    throttle.check("10.0.0.2", "root")  # root from anywhere else: no wait at all
    throttle.check("10.0.0.1", "ada")  # another user from the same address: no wait either

    clock.advance(4)  # the delay has passed: one more try is weighed
    assert throttle.retry_after("10.0.0.1", "root") == (0, "")
    _fail(throttle, clock, "10.0.0.1", "root")  # the 11th failure doubles the wait
    assert throttle.retry_after("10.0.0.1", "root") == (9, "pair")
    clock.advance(9)
    _fail(throttle, clock, "10.0.0.1", "root")
    assert throttle.retry_after("10.0.0.1", "root") == (19, "pair")


def test_the_wait_is_capped_and_a_success_clears_it(db_url: str, clock: Clock) -> None:
    throttle = _throttle(db_url, clock, login_attempts=2, login_max_delay_seconds=30)
    for _ in range(2):
        _fail(throttle, clock, "10.0.0.1", "root")
    for _ in range(6):  # 5, 10, 20, 30, 30, 30: each try waits its delay out
        clock.advance(throttle.retry_after("10.0.0.1", "root")[0])
        _fail(throttle, clock, "10.0.0.1", "root")
    assert throttle.retry_after("10.0.0.1", "root") == (29, "pair")
    clock.advance(29)
    _success(throttle, clock, "10.0.0.1", "root")  # the right password
    _fail(throttle, clock, "10.0.0.1", "root")  # counting starts again after a success
    assert throttle.retry_after("10.0.0.1", "root") == (0, "")


def test_refusals_and_old_failures_do_not_count(db_url: str, clock: Clock) -> None:
    throttle = _throttle(db_url, clock, login_attempts=3)
    for _ in range(3):
        _fail(throttle, clock, "10.0.0.1", "root", op=UI)  # the UI's form counts too
    assert throttle.retry_after("10.0.0.1", "root")[0] == 4
    for _ in range(20):  # hammering while refused (429) does not make the wait longer
        throttle.store.audit(AuditEntry(clock(), "root", API, "/", "denied", 429, "10.0.0.1"))
    for _ in range(20):  # and other routes' 401s are no failed logins
        me = AuditEntry(clock(), "root", "GET /opsml/api/auth/me", "/", "denied", 401, "10.0.0.1")
        throttle.store.audit(me)
    assert throttle.retry_after("10.0.0.1", "root")[0] == 4
    clock.advance(WINDOW.total_seconds())  # a day later the failures are forgotten
    for _ in range(2):
        _fail(throttle, clock, "10.0.0.1", "root")
    assert throttle.retry_after("10.0.0.1", "root") == (0, "")


def test_one_address_spraying_user_names_is_slowed_down(db_url: str, clock: Clock) -> None:
    throttle = _throttle(db_url, clock, login_address_attempts=5)
    _success(throttle, clock, "10.0.0.9", "ada")  # ada logged in from there today
    for n in range(5):
        _fail(throttle, clock, "10.0.0.9", f"user-{n}")
    with pytest.raises(RateLimitError, match=r"failed logins from this address") as exc:
        throttle.check("10.0.0.9", "user-99")
    assert exc.value.retry_after == 4
    throttle.check("10.0.0.8", "user-99")  # other addresses are not affected
    throttle.check("10.0.0.9", "ada")  # nor a user who logged in from this address today
    clock.advance(4)
    _fail(throttle, clock, "10.0.0.9", "user-99")
    assert throttle.retry_after("10.0.0.9", "user-100") == (9, "address")


@pytest.fixture
def app_client(sqlite_registry_env: Path) -> TestClient:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(),
        auth=True,
        username="root",
        password="root-password-1",
        login_attempts=3,
        login_delay_seconds=600,  # far longer than this test runs
    )
    return TestClient(
        create_app(config), base_url="http://localhost", headers={"origin": "http://localhost"}
    )


def test_login_routes_answer_429_with_retry_after(app_client: TestClient) -> None:
    body = {"username": "root", "password": "wrong-password"}
    for _ in range(3):
        assert app_client.post("/opsml/api/auth/token", json=body).status_code == 401
    refused = app_client.post(
        "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
    )
    assert refused.status_code == 429
    assert refused.json()["error"] == "RateLimitError"
    assert "too many failed logins for 'root'" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 600
    form = app_client.post(
        "/ui/login", data={"username": "root", "password": "root-password-1", "next": "/"}
    )
    assert form.status_code == 429  # the UI's form shares the count
    assert "too many failed logins" in form.text
    assert 0 < int(form.headers["retry-after"]) <= 600
    assert "opsml_token" not in form.cookies

    token = app_client.post(
        "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
    )
    assert token.status_code == 429
    admin = {"authorization": "Bearer " + _other_login(app_client)}
    audit = app_client.get("/opsml/api/audit?limit=100", headers=admin).json()
    failures = [e for e in audit if e["status_code"] == 401]
    assert len(failures) == 3, "one audit line per failed login"
    assert {e["username"] for e in failures} == {"root"}
    assert {e["status_code"] for e in audit if e["operation"] == UI} == {429}


def _other_login(client: TestClient) -> str:
    """Log in as root through another client address (the test client's is 'testclient')."""
    other = TestClient(client.app, base_url="http://localhost", client=("10.1.2.3", 50000))
    response = other.post(
        "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_the_ui_form_counts_failures_once(app_client: TestClient) -> None:
    for _ in range(3):
        wrong = app_client.post(
            "/ui/login", data={"username": "root", "password": "nope-nope", "next": "/"}
        )
        assert wrong.status_code == 401
        assert "invalid username or password" in wrong.text
    refused = app_client.post(
        "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
    )
    assert refused.status_code == 429
    admin = {"authorization": "Bearer " + _other_login(app_client)}
    audit = app_client.get("/opsml/api/audit?limit=100", headers=admin).json()
    assert [e["status_code"] for e in audit if e["operation"] == UI] == [401, 401, 401]
