"""Users, passwords, tokens and permissions on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import delete

from opsml.errors import (
    AccountError,
    AuthenticationError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from opsml.server._security import Permission, Principal, Security, parse_grants
from opsml.store import SqlStore
from opsml.store._auth import USERS, AuditEntry, AuthStore, PermissionRow

ACCESS, REFRESH = "access-secret-0123456789abcdef-0123", "refresh-secret-0123456789abcdef-01"
NEW_ACCESS, NEW_REFRESH = "new-access-secret-0123456789abcdef", "new-refresh-secret-0123456789abcde"


@pytest.fixture
def security(db_url: str) -> Security:
    return Security(AuthStore(SqlStore.from_url(db_url)), ACCESS, REFRESH)


def test_login_authenticate_and_permissions(security: Security) -> None:
    assert security.ensure_admin("root", "correct horse")
    assert not security.ensure_admin("other", "correct horse")  # only when there are none
    security.create_user("ada", "s3cret-pass", grants=parse_grants(["team-a:read,write"]))

    pair = security.login("ada", "s3cret-pass")
    ada = security.authenticate(pair.access_token)
    assert (ada.username, ada.is_admin) == ("ada", False)
    assert ada.allows(Permission.Write, "team-a")
    assert not ada.allows(Permission.Delete, "team-a")
    assert not ada.allows(Permission.Read, "team-b")
    assert ada.readable_spaces() == {"team-a"}
    with pytest.raises(PermissionDeniedError, match="lacks the delete permission in space"):
        ada.require(Permission.Delete, "team-a")
    root = security.authenticate(security.login("root", "correct horse").access_token)
    assert root.allows(Permission.Admin, None)
    assert root.readable_spaces() is None

    for user, password in (("ada", "wrong-password"), ("nobody", "s3cret-pass"), ("../x", "p")):
        with pytest.raises(AuthenticationError, match=r"^invalid username or password$"):
            security.login(user, password)


def test_password_reset_revokes_every_earlier_token(security: Security) -> None:
    security.create_user("ada", "s3cret-pass")
    pair = security.login("ada", "s3cret-pass")
    api_token, _ = security.create_api_token("ada", "ci")
    security.create_api_token("ada", "other ci")
    assert security.reset_password("ada", "new-s3cret-pass") == 2  # API tokens revoked
    with pytest.raises(AuthenticationError, match="revoked"):
        security.authenticate(pair.access_token)
    with pytest.raises(AuthenticationError, match="revoked"):
        security.refresh(pair.refresh_token)
    with pytest.raises(AuthenticationError, match="API token revoked"):
        security.authenticate(api_token)
    assert all(t.revoked_at is not None for t in security.store.list_api_tokens("ada"))
    with pytest.raises(AuthenticationError):
        security.login("ada", "s3cret-pass")
    security.authenticate(security.login("ada", "new-s3cret-pass").access_token)
    with pytest.raises(InvalidArgumentError, match="8 to 1024"):
        security.reset_password("ada", "short")
    with pytest.raises(InvalidArgumentError, match="no user 'nobody'"):
        security.reset_password("nobody", "new-s3cret-pass")
    fresh, _ = security.create_api_token("ada", "after the reset")
    assert security.authenticate(fresh).username == "ada"


def test_deleting_a_user_revokes_their_tokens_even_if_the_name_returns(
    security: Security,
) -> None:
    security.ensure_admin("root", "correct horse")
    security.create_user("ada", "s3cret-pass", grants=parse_grants(["team-a:read"]))
    pair = security.login("ada", "s3cret-pass")
    api_token, _ = security.create_api_token("ada", "ci")
    assert security.store.delete_user("ada") == 1
    for token in (pair.access_token, api_token):
        with pytest.raises(AuthenticationError):
            security.authenticate(token)
    security.create_user("ada", "s3cret-pass")  # a new user of the same name
    for token in (pair.access_token, api_token):
        with pytest.raises(AuthenticationError, match=r"revoked|invalid"):
            security.authenticate(token)
    with pytest.raises(AuthenticationError):
        security.refresh(pair.refresh_token)
    assert security.authenticate(security.login("ada", "s3cret-pass").access_token)


def test_permission_changes_apply_to_the_next_request_with_any_token(
    security: Security,
) -> None:
    security.create_user("ada", "s3cret-pass", grants=parse_grants(["team-a:read,write"]))
    access = security.login("ada", "s3cret-pass").access_token
    api_token, _ = security.create_api_token("ada", "ci")
    for token in (access, api_token):
        assert security.authenticate(token).allows(Permission.Write, "team-a")
    security.store.set_permissions("ada", parse_grants(["team-a:read"]))
    for token in (access, api_token):  # the same tokens, still valid, with less power
        assert not security.authenticate(token).allows(Permission.Write, "team-a")
        assert security.authenticate(token).allows(Permission.Read, "team-a")
    security.store.update_user("ada", is_admin=True)
    assert security.authenticate(api_token).allows(Permission.Admin, None)
    security.store.update_user("ada", is_admin=False)
    security.store.set_permissions("ada", [])
    for token in (access, api_token):
        assert not security.authenticate(token).allows(Permission.Read, None)


def test_refresh_tokens_rotate_and_a_replay_revokes_them(security: Security) -> None:
    security.create_user("ada", "s3cret-pass")
    first = security.login("ada", "s3cret-pass")
    second = security.refresh(first.refresh_token)
    assert security.authenticate(second.access_token).username == "ada"
    with pytest.raises(AuthenticationError, match="already used"):
        security.refresh(first.refresh_token)  # replayed: treat as stolen
    with pytest.raises(AuthenticationError, match="already used"):
        security.refresh(second.refresh_token)  # ... so the whole family is revoked
    with pytest.raises(AuthenticationError, match="invalid refresh token"):
        security.refresh(second.access_token)  # signed with the other secret
    with pytest.raises(AuthenticationError, match="invalid access token"):
        security.authenticate(second.refresh_token)  # a refresh token is no access token


def test_expired_tampered_and_foreign_tokens_are_refused(security: Security) -> None:
    security.create_user("ada", "s3cret-pass")
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {"sub": "ada", "typ": "access", "ver": 0, "iat": past, "exp": past}
    with pytest.raises(AuthenticationError, match="expired"):
        security.authenticate(jwt.encode(claims, ACCESS, algorithm="HS256"))
    token = security.login("ada", "s3cret-pass").access_token
    head, body, sig = token.split(".")
    with pytest.raises(AuthenticationError, match="invalid access token"):
        security.authenticate(f"{head}.{body}.{sig[:-2]}AA")
    forged = jwt.encode({**claims, "exp": past + timedelta(days=1)}, "g" * 40, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="invalid access token"):
        security.authenticate(forged)
    none_alg = jwt.encode({**claims, "exp": past + timedelta(days=1)}, None, algorithm="none")
    with pytest.raises(AuthenticationError):
        security.authenticate(none_alg)
    for garbage in ("", "a.b", "not a token", "opsml_", "opsml_x_y"):
        with pytest.raises(AuthenticationError):
            security.authenticate(garbage)


def test_secret_rotation_keeps_old_tokens_valid(security: Security) -> None:
    security.create_user("ada", "s3cret-pass")
    old = security.login("ada", "s3cret-pass")
    rotated = Security(security.store, f"{NEW_ACCESS},{ACCESS}", f"{NEW_REFRESH},{REFRESH}")
    assert rotated.authenticate(old.access_token).username == "ada"
    fresh = rotated.refresh(old.refresh_token)
    with pytest.raises(AuthenticationError):
        security.authenticate(fresh.access_token)  # signed with the new secret only
    with pytest.raises(InvalidArgumentError, match="different secrets"):
        Security(security.store, ACCESS, ACCESS)
    with pytest.raises(InvalidArgumentError, match="at least 32 bytes"):
        Security(security.store, "short", REFRESH)


def test_api_tokens_work_until_revoked(security: Security) -> None:
    security.create_user("ci", "s3cret-pass", grants=parse_grants(["*:read"]))
    token, row = security.create_api_token("ci", "nightly build")
    assert token.startswith("opsml_")
    assert row.token_hash not in token  # only the digest is stored
    assert security.authenticate(token).allows(Permission.Read, "anything")
    assert security.store.revoke_api_token(row.token_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        security.authenticate(token)
    assert not security.store.revoke_api_token(row.token_id)
    short, _ = security.create_api_token("ci", "short", ttl_days=1)
    with pytest.raises(AuthenticationError, match="invalid API token"):
        security.authenticate(short[:-1] + ("A" if short[-1] != "A" else "B"))
    with pytest.raises(InvalidArgumentError, match="no user"):
        security.create_api_token("nobody", "x")


def test_a_token_another_replica_revokes_fails_at_its_next_request(
    security: Security,
) -> None:
    """Verified tokens are remembered, but every change of users, permissions or tokens,
    made by any replica, is seen at the next request."""
    replica = Security(security.store, ACCESS, REFRESH)  # another worker on the database
    security.ensure_admin("root", "correct horse")
    security.create_user("ada", "s3cret-pass", grants=parse_grants(["team-a:read,write"]))
    access = security.login("ada", "s3cret-pass").access_token
    api_token, row = security.create_api_token("ada", "ci")
    for token in (access, api_token):
        for _ in range(2):  # the second time, from what the replica remembers
            assert replica.authenticate(token).allows(Permission.Write, "team-a")
    security.store.set_permissions("ada", parse_grants(["team-a:read"]))
    for token in (access, api_token):
        assert not replica.authenticate(token).allows(Permission.Write, "team-a")
    security.store.update_user("ada", is_admin=True)
    assert replica.authenticate(access).is_admin
    assert security.store.revoke_api_token(row.token_id)
    with pytest.raises(AuthenticationError, match="API token revoked"):
        replica.authenticate(api_token)
    assert replica.authenticate(access).username == "ada"
    security.reset_password("ada", "new-s3cret-pass")
    with pytest.raises(AuthenticationError, match="revoked"):
        replica.authenticate(access)
    fresh = security.login("ada", "new-s3cret-pass").access_token
    assert replica.authenticate(fresh).username == "ada"
    security.store.delete_user("ada")
    with pytest.raises(AuthenticationError, match="revoked"):
        replica.authenticate(fresh)


def test_a_remembered_token_is_checked_again_after_the_cache_time(
    security: Security, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change the security epoch does not record (a user removed by hand in SQL) is seen
    once ``cache_seconds`` have passed; with 0, at once."""
    security.create_user("ada", "s3cret-pass")
    token = security.login("ada", "s3cret-pass").access_token
    remembering = Security(security.store, ACCESS, REFRESH, cache_seconds=10)
    forgetting = Security(security.store, ACCESS, REFRESH, cache_seconds=0)
    for replica in (remembering, forgetting):
        assert replica.authenticate(token).username == "ada"
    with security.store.engine.begin() as conn:
        conn.execute(delete(USERS).where(USERS.c.username == "ada"))
    with pytest.raises(AuthenticationError, match="revoked"):
        forgetting.authenticate(token)
    assert remembering.authenticate(token).username == "ada"
    now = time.time()
    monkeypatch.setattr("opsml.server._security.time.time", lambda: now + 11)
    with pytest.raises(AuthenticationError, match="revoked"):
        remembering.authenticate(token)


def test_a_remembered_token_is_not_believed_past_its_expiry(db_url: str) -> None:
    short = Security(AuthStore(SqlStore.from_url(db_url)), ACCESS, REFRESH, access_ttl=2)
    short.create_user("ada", "s3cret-pass")
    token = short.access_token("ada")
    assert short.authenticate(token).username == "ada"  # remembered for at most 2 s
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    with pytest.raises(AuthenticationError, match="expired"):
        short.authenticate(token)


def test_users_management_rules(security: Security) -> None:
    security.ensure_admin("root", "correct horse")
    with pytest.raises(AccountError, match="last admin"):
        security.store.delete_user("root")
    with pytest.raises(AccountError, match="already exists"):
        security.create_user("root", "correct horse")
    for bad in ("bad/name", "ada\n", "ada\n\n"):  # a trailing newline is not a name
        with pytest.raises(InvalidArgumentError, match="invalid username"):
            security.create_user(bad, "correct horse")
    security.create_user("second", "correct horse", is_admin=True)
    security.store.delete_user("root")  # no longer the last admin
    assert [u.username for u in security.store.list_users()] == ["second"]
    with pytest.raises(InvalidArgumentError, match="no user"):
        security.store.delete_user("root")
    with pytest.raises(AuthenticationError, match="no longer exists"):
        security.principal("root")


def test_grants_parse_and_merge() -> None:
    assert parse_grants(["team-a:read", "Team-A:write", "*:read"]) == [
        PermissionRow("*", True, False, False),
        PermissionRow("team-a", True, True, False),
    ]
    for bad in ("team-a", "team-a:fly", "../x:read", "team-a:"):
        with pytest.raises(InvalidArgumentError, match="invalid grant"):
            parse_grants([bad])
    guest = Principal("guest", unrestricted=True)
    assert guest.allows(Permission.Delete, "x")
    assert guest.readable_spaces() is None
    nobody = Principal("nobody")
    assert not nobody.allows(Permission.Read, None)
    assert nobody.readable_spaces() == set()


def test_audit_log_and_failure_count(security: Security) -> None:
    store = security.store
    now = datetime.now(UTC).replace(microsecond=0)
    for outcome, status in (("denied", 401), ("denied", 401), ("allowed", 200)):
        store.audit(AuditEntry(now, "ada", "login", "auth", outcome, status, "10.0.0.1"))
    store.audit(AuditEntry(now, "bob", "register", "model/team-a/x", "allowed", 200, "10.0.0.2"))
    store.audit(AuditEntry(now, "bob", "login", "auth", "denied", 401, "10.0.0.1"))
    entries = store.audit_entries()
    assert [e.operation for e in entries] == ["login", "register", "login", "login", "login"]
    assert entries[0].created_at.tzinfo is not None
    assert len(store.audit_entries(username="ada", outcome="denied")) == 2
    since = now - timedelta(minutes=1)
    ada = store.login_failures(("login",), "10.0.0.1", "ada", since)
    assert (ada.pair, ada.pair_last, ada.known_pair) == (0, None, True)  # since her success
    assert (ada.address, ada.address_last) == (3, now)
    bob = store.login_failures(("login",), "10.0.0.1", "bob", since)
    assert (bob.pair, bob.pair_last, bob.address, bob.known_pair) == (1, now, 3, False)
    elsewhere = store.login_failures(("login",), "10.9.9.9", "ada", since)
    assert (elsewhere.pair, elsewhere.address) == (0, 0)
    later = store.login_failures(("login",), "10.0.0.1", "bob", now + timedelta(seconds=1))
    assert (later.pair, later.address) == (0, 0)
