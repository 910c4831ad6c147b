"""``opsml user``: what a password reset, a deletion and a permission change do to a user's
tokens, as the admin reads it in the command's output and then sees it happen."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml.cli.main import app
from opsml.errors import AuthenticationError
from opsml.server._config import ServerConfig
from opsml.server._security import Permission, Security
from opsml.store import SqlStore
from opsml.store._auth import AuthStore

pytestmark = pytest.mark.needs("argon2")  # user management needs the server extra
runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


@pytest.fixture
def security(sqlite_registry_env: Path) -> Security:
    """The server's security state on the database the CLI uses."""
    config = ServerConfig.from_env()
    return Security(
        AuthStore(SqlStore.from_url(config.opsml.tracking_uri)),
        config.token_secret,
        config.refresh_secret,
    )


def _ada(security: Security) -> tuple[str, str, str]:
    _run("user", "create", "ada", "--grant", "team-a:read,write", "--password", "ada-password")
    pair = security.login("ada", "ada-password")
    created = _run("user", "token", "create", "ada", "--name", "ci")
    return pair.access_token, pair.refresh_token, created.split()[-1]


def test_reset_password_revokes_every_token(security: Security) -> None:
    access, refresh, api = _ada(security)
    _run("user", "token", "create", "ada", "--name", "nightly")
    out = _run("user", "reset-password", "ada", "--password", "new-password-2")
    assert out.strip() == (
        "password of ada reset; access and refresh tokens revoked, 2 API tokens revoked"
    )
    for token in (access, api):
        with pytest.raises(AuthenticationError, match="revoked"):
            security.authenticate(token)
    with pytest.raises(AuthenticationError, match="revoked"):
        security.refresh(refresh)
    listed = _run("user", "token", "list", "--username", "ada")
    assert listed.count("revoked") == 2
    assert "active" not in listed
    again = _run("user", "reset-password", "ada", "--password", "new-password-3")
    assert "0 API tokens revoked" in again
    assert _run("user", "reset-password", "nobody", "--password", "x-password", code=1) == (
        "error: InvalidArgumentError: no user 'nobody'\n"
    )


def test_delete_revokes_every_token(security: Security) -> None:
    _run("user", "create", "root", "--admin", "--password", "root-password-1")
    access, refresh, api = _ada(security)
    out = _run("user", "delete", "ada")
    assert out.strip() == "deleted user ada; access and refresh tokens revoked, 1 API token deleted"
    _run("user", "create", "ada", "--password", "ada-password")  # the name, reused
    for token in (access, api):
        with pytest.raises(AuthenticationError):
            security.authenticate(token)
    with pytest.raises(AuthenticationError):
        security.refresh(refresh)
    assert "ada" not in _run("user", "token", "list")


def test_set_permissions_applies_to_the_next_request(security: Security) -> None:
    access, _refresh, api = _ada(security)
    out = _run("user", "set-permissions", "ada", "--grant", "team-b:read")
    assert out.strip() == "updated permissions of ada (effective at their next request)"
    for token in (access, api):  # the tokens still work, with the new permissions only
        ada = security.authenticate(token)
        assert not ada.allows(Permission.Read, "team-a")
        assert ada.allows(Permission.Read, "team-b")


def test_help_says_what_each_command_revokes() -> None:
    for command, words in (
        ("reset-password", "their API tokens are revoked"),
        ("delete", "access, refresh and API tokens stop working"),
        ("set-permissions", "no token is revoked"),
    ):
        text = " ".join(_run("user", command, "--help").split())
        assert words in text, command
