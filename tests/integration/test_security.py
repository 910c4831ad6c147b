"""Users, permissions per space, API tokens, token revocation, the audit log and login
throttling, against a real server process, through the Python client and the admin CLI as
people would run them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from opsml import CardRegistry, DataCard, NumpyData, Prompt, PromptCard, RegistryType
from opsml.cli.main import app
from opsml.errors import AuthenticationError, CardNotFoundError, PermissionDeniedError
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.client

ADMIN = ("root", "root-s3cret-pw")
ENV = {
    "OPSML_AUTH": "true",
    "OPSML_DEFAULT_USERNAME": ADMIN[0],
    "OPSML_DEFAULT_PASSWORD": ADMIN[1],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    with OpsmlTestServer(base_path=tmp_path / "server", env=ENV) as srv:
        yield srv


def _login(base: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def _as(monkeypatch: pytest.MonkeyPatch, username: str, password: str) -> None:
    """Act as another user (registries read the credentials when they are created)."""
    monkeypatch.setenv("OPSML_USERNAME", username)
    monkeypatch.setenv("OPSML_PASSWORD", password)
    monkeypatch.delenv("OPSML_API_TOKEN", raising=False)


def _prompt(space: str, name: str = "p") -> PromptCard:
    return PromptCard(prompt=Prompt(message=f"for {space}"), space=space, name=name)


def test_permissions_per_space(server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    for user, grants in (
        ("reader", ["team-a:read"]),
        ("writer", ["team-a:read,write"]),
    ):
        created = httpx.post(
            f"{base}/opsml/api/users",
            json={"username": user, "password": "password-123", "grants": grants},
            headers=admin,
        )
        assert created.status_code == 200, created.text
    a_card, b_card = _prompt("team-a"), _prompt("team-b")
    CardRegistry(RegistryType.Prompt).register_card(a_card)  # as admin
    CardRegistry(RegistryType.Prompt).register_card(b_card)
    b_data = DataCard(interface=NumpyData(data=np.arange(3)), space="team-b", name="d")
    CardRegistry(RegistryType.Data).register_card(b_data)

    _as(monkeypatch, "reader", "password-123")
    prompts = CardRegistry(RegistryType.Prompt)
    assert [c.uid for c in prompts.list_cards()] == [a_card.uid]  # team-b is invisible
    assert prompts.load_card(uid=a_card.uid).prompt.message[0].content == "for team-a"
    with pytest.raises(PermissionDeniedError, match="read permission in space 'team-b'"):
        prompts.list_cards(space="team-b")
    with pytest.raises(CardNotFoundError):  # unreadable cards are invisible to queries
        prompts.load_card(uid=b_card.uid)
    with pytest.raises(PermissionDeniedError):
        prompts.update_card(b_card)
    with pytest.raises(PermissionDeniedError):
        prompts.delete_card(b_card)
    with pytest.raises(PermissionDeniedError, match="write permission in space 'team-a'"):
        prompts.register_card(_prompt("team-a", "new"))
    reader = _login(base, "reader", "password-123")
    for url in (  # no transfer URLs for another space's files either
        f"{base}/opsml/api/data/cards/{b_data.uid}/downloads",
        f"{base}/opsml/api/data/cards/{b_data.uid}/files/data.npy",
    ):
        assert httpx.get(url, headers=reader).status_code == 403

    _as(monkeypatch, "writer", "password-123")
    prompts = CardRegistry(RegistryType.Prompt)
    mine = _prompt("team-a", "mine")
    prompts.register_card(mine)
    with pytest.raises(PermissionDeniedError, match="delete permission"):
        prompts.delete_card(mine)
    assert len(prompts.list_cards(name="mine")) == 1

    audit = httpx.get(f"{base}/opsml/api/audit?limit=200", headers=admin).json()
    denied = [e for e in audit if e["outcome"] == "denied"]
    assert {e["username"] for e in denied} >= {"reader", "writer"}
    assert all(e["client_address"] == "127.0.0.1" for e in audit)
    writes = [e for e in audit if e["outcome"] == "allowed" and e["username"] == "writer"]
    assert any("reserve" in e["operation"] for e in writes)
    assert httpx.get(f"{base}/opsml/api/audit", headers=reader).status_code == 403


def test_api_tokens_work_until_revoked(
    server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    created = httpx.post(
        f"{base}/opsml/api/auth/api-tokens", json={"name": "nightly CI"}, headers=admin
    ).json()
    monkeypatch.delenv("OPSML_USERNAME")
    monkeypatch.delenv("OPSML_PASSWORD")
    monkeypatch.setenv("OPSML_API_TOKEN", created["token"])
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(_prompt("ci"))
    revoked = httpx.delete(f"{base}/opsml/api/auth/api-tokens/{created['token_id']}", headers=admin)
    assert revoked.status_code == 200
    with pytest.raises(AuthenticationError, match="revoked"):
        registry.list_cards()  # the very next request, same client


def test_refresh_tokens_rotate(server: OpsmlTestServer) -> None:
    base = server.server_uri
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
    ).json()
    renewed = httpx.post(
        f"{base}/opsml/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200
    replay = httpx.post(
        f"{base}/opsml/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]


def _from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def test_wrong_passwords_never_lock_root_out(tmp_path: Path) -> None:
    env = {**ENV, "OPSML_LOGIN_DELAY": "600"}  # the first wait: longer than this test runs
    with OpsmlTestServer(base_path=tmp_path / "server", env=env) as server:
        base = server.server_uri
        token_url = f"{base}/opsml/api/auth/token"
        right = {"username": ADMIN[0], "password": ADMIN[1]}
        wrong = {"username": ADMIN[0], "password": "not-the-password"}
        admin = _login_from("127.0.0.3", base, *ADMIN)
        with _from("127.0.0.1") as attacker:
            answers = [attacker.post(token_url, json=wrong) for _ in range(12)]
            refused = attacker.post(token_url, json=right)
        # ten free failures (OPSML_LOGIN_ATTEMPTS), then this address waits for root
        assert [a.status_code for a in answers] == [401] * 10 + [429] * 2
        assert refused.status_code == 429
        assert refused.json()["error"] == "RateLimitError"
        assert "too many failed logins for 'root' from this address" in refused.json()["detail"]
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 600  # the computed delay: after it, this address may try again

        with _from("127.0.0.2") as elsewhere:  # root, from another address: no wait at all
            assert elsewhere.post(token_url, json=right).status_code == 200
            form = elsewhere.post(
                f"{base}/ui/login",
                data={**right, "next": "/"},
                headers={"origin": base},
                follow_redirects=False,
            )
            assert form.status_code == 303
            assert "opsml_token=" in form.headers["set-cookie"]
        me = httpx.get(f"{base}/opsml/api/auth/me", headers=admin)
        assert me.json()["username"] == ADMIN[0]  # tokens already issued keep working

        audit = httpx.get(f"{base}/opsml/api/audit?limit=100", headers=admin).json()
        logins = [e for e in audit if e["operation"] == "POST /opsml/api/auth/token"]
        failures = [(e["client_address"], e["username"]) for e in logins if e["status_code"] == 401]
        assert failures == [("127.0.0.1", ADMIN[0])] * 10, "each failed login recorded once"
        refusals = {(e["client_address"], e["outcome"]) for e in logins if e["status_code"] == 429}
        assert refusals == {("127.0.0.1", "denied")}


def _login_from(address: str, base: str, username: str, password: str) -> dict[str, str]:
    with _from(address) as client:
        response = client.post(
            f"{base}/opsml/api/auth/token", json={"username": username, "password": password}
        )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def _admin_cli(server: OpsmlTestServer, *args: str) -> str:
    """Run ``opsml ...`` where the server's database is, as an admin would on the server."""
    db = Path(str(server.base_path)) / "opsml.db"
    result = CliRunner().invoke(
        app, list(args), env={"OPSML_TRACKING_URI": f"sqlite:///{db.as_posix()}"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _ada_tokens(base: str, admin: dict[str, str], grants: list[str]) -> dict[str, str]:
    """Create ada and return her bearer tokens: a login's access and refresh, an API token."""
    created = httpx.post(
        f"{base}/opsml/api/users",
        json={"username": "ada", "password": "ada-password-1", "grants": grants},
        headers=admin,
    )
    assert created.status_code == 200, created.text
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": "ada", "password": "ada-password-1"}
    ).json()
    api = httpx.post(
        f"{base}/opsml/api/auth/api-tokens",
        json={"name": "ci"},
        headers={"authorization": f"Bearer {pair['access_token']}"},
    ).json()
    return {"access": pair["access_token"], "refresh": pair["refresh_token"], "api": api["token"]}


def _me(base: str, token: str) -> httpx.Response:
    return httpx.get(f"{base}/opsml/api/auth/me", headers={"authorization": f"Bearer {token}"})


def _assert_all_revoked(base: str, tokens: dict[str, str]) -> None:
    for kind in ("access", "api"):
        answer = _me(base, tokens[kind])
        assert answer.status_code == 401, (kind, answer.text)
        assert answer.json()["error"] == "AuthenticationError"
    refreshed = httpx.post(
        f"{base}/opsml/api/auth/refresh", json={"refresh_token": tokens["refresh"]}
    )
    assert refreshed.status_code == 401


def test_a_password_reset_revokes_every_token(server: OpsmlTestServer) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    tokens = _ada_tokens(base, admin, ["team-a:read"])
    assert all(_me(base, tokens[k]).status_code == 200 for k in ("access", "api"))
    out = _admin_cli(server, "user", "reset-password", "ada", "--password", "new-password-2")
    assert "access and refresh tokens revoked, 1 API token revoked" in out
    _assert_all_revoked(base, tokens)
    assert "revoked" in _me(base, tokens["api"]).json()["detail"]
    listed = httpx.get(f"{base}/opsml/api/auth/api-tokens?all=true", headers=admin).json()
    assert [t["revoked_at"] is not None for t in listed if t["username"] == "ada"] == [True]

    # the same through the users API
    again = {**tokens, **_fresh_tokens(base, "new-password-2")}
    reset = httpx.put(f"{base}/opsml/api/users/ada", json={"password": "third-pw-3"}, headers=admin)
    assert reset.status_code == 200, reset.text
    _assert_all_revoked(base, again)
    assert _login(base, "ada", "third-pw-3")


def _fresh_tokens(base: str, password: str) -> dict[str, str]:
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": "ada", "password": password}
    ).json()
    access = {"authorization": f"Bearer {pair['access_token']}"}
    api = httpx.post(f"{base}/opsml/api/auth/api-tokens", json={"name": "ci 2"}, headers=access)
    return {
        "access": pair["access_token"],
        "refresh": pair["refresh_token"],
        "api": api.json()["token"],
    }


def test_deleting_a_user_revokes_every_token(server: OpsmlTestServer) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    tokens = _ada_tokens(base, admin, ["team-a:read"])
    out = _admin_cli(server, "user", "delete", "ada")
    assert "access and refresh tokens revoked, 1 API token deleted" in out
    _assert_all_revoked(base, tokens)
    # a new account of the same name inherits none of them
    again = _ada_tokens(base, admin, ["team-a:read"])
    _assert_all_revoked(base, tokens)
    deleted = httpx.delete(f"{base}/opsml/api/users/ada", headers=admin)  # the users API
    assert deleted.status_code == 200
    _assert_all_revoked(base, again)


def test_a_permission_removal_applies_to_the_next_request(
    server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    CardRegistry(RegistryType.Prompt).register_card(_prompt("team-a"))  # as admin
    tokens = _ada_tokens(base, admin, ["team-a:read,write"])
    monkeypatch.delenv("OPSML_USERNAME")
    monkeypatch.delenv("OPSML_PASSWORD")
    monkeypatch.setenv("OPSML_API_TOKEN", tokens["api"])
    registry = CardRegistry(RegistryType.Prompt)  # ada's CI, with her API token
    registry.register_card(_prompt("team-a", "from-ci"))
    cards = f"{base}/opsml/api/prompt/cards?space=team-a"
    as_ada = {"authorization": f"Bearer {tokens['access']}"}
    assert httpx.get(cards, headers=as_ada).status_code == 200

    out = _admin_cli(server, "user", "set-permissions", "ada", "--grant", "team-a:read")
    assert "effective at their next request" in out
    with pytest.raises(PermissionDeniedError, match="write permission in space 'team-a'"):
        registry.register_card(_prompt("team-a", "again"))  # the same client, next request
    assert len(registry.list_cards(space="team-a")) == 2  # reading is still granted

    taken = httpx.put(f"{base}/opsml/api/users/ada", json={"grants": []}, headers=admin)
    assert taken.status_code == 200
    assert httpx.get(cards, headers=as_ada).status_code == 403
    with pytest.raises(PermissionDeniedError, match="read permission in space 'team-a'"):
        registry.list_cards(space="team-a")
    assert _me(base, tokens["access"]).status_code == 200  # the tokens themselves still work


def test_no_secrets_in_logs_audit_or_errors(server: OpsmlTestServer) -> None:
    base = server.server_uri
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
    ).json()
    admin = {"authorization": f"Bearer {pair['access_token']}"}
    api_token = httpx.post(
        f"{base}/opsml/api/auth/api-tokens", json={"name": "ci"}, headers=admin
    ).json()["token"]
    wrong = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": "guess-me-123"}
    )
    assert "guess-me-123" not in wrong.text
    forged = httpx.get(f"{base}/opsml/api/auth/me", headers={"authorization": "Bearer x.y.z"})
    assert "x.y.z" not in forged.text
    audit = httpx.get(f"{base}/opsml/api/audit?limit=1000", headers=admin).text
    log = (Path(str(server.base_path)) / "server.log").read_text(errors="replace")
    for secret in (
        ADMIN[1],
        "guess-me-123",
        pair["access_token"],
        pair["refresh_token"],
        api_token,
    ):
        assert secret not in audit
        assert secret not in log
