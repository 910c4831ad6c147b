"""``opsml server start``: the connection deadline and trusted-proxy options.

Only refusals run here (a valid command would start serving); the options taking effect in
a real server, with one worker and with several, is tests/integration/test_slow_clients.py.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from opsml.cli.main import app

pytestmark = pytest.mark.needs("uvicorn", "fastapi")  # the server extra

runner = CliRunner()

FLAGS = {
    "--header-timeout": "OPSML_SERVER_HEADER_TIMEOUT",
    "--body-timeout": "OPSML_SERVER_BODY_TIMEOUT",
    "--body-min-rate": "OPSML_SERVER_BODY_MIN_RATE",
    "--keep-alive-timeout": "OPSML_SERVER_KEEP_ALIVE_TIMEOUT",
    "--forwarded-allow-ips": "OPSML_FORWARDED_ALLOW_IPS",
    "--access-log": "OPSML_SERVER_ACCESS_LOG",
}


def test_help_names_each_option_and_its_variable() -> None:
    result = runner.invoke(app, ["server", "start", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for flag, variable in FLAGS.items():
        assert flag in result.stdout
        assert variable in result.stdout


@pytest.mark.parametrize(
    "flag", [f for f in FLAGS if f not in ("--forwarded-allow-ips", "--access-log")]
)
@pytest.mark.parametrize("value", ["0", "-5", "1.5", "soon"])
def test_deadlines_must_be_positive_whole_seconds(flag: str, value: str) -> None:
    result = runner.invoke(app, ["server", "start", flag, value])
    assert result.exit_code == 2
    assert flag in result.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("proxy.internal", "'proxy.internal' is not an IP address or a network"),
        ("10.0.0.1/8", "'10.0.0.1/8' is not an IP address or a network"),  # host bits set
        ("10.0.0.5,*", "'*' (any address) stands alone"),
    ],
)
def test_forwarded_allow_ips_are_checked_before_serving(value: str, says: str) -> None:
    result = runner.invoke(app, ["server", "start", "--forwarded-allow-ips", value])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: InvalidArgumentError: OPSML_FORWARDED_ALLOW_IPS")
    assert says in line


def test_a_malformed_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_SERVER_BODY_TIMEOUT", "a minute")
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: InvalidArgumentError: OPSML_SERVER_BODY_TIMEOUT must be a positive integer, "
        "got 'a minute'"
    )
