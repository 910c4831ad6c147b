"""A real OpenID Connect provider for the single sign-on tests: the npm package
``oidc-provider`` (installed by ``make emulators``: ``scripts/install-oidc-provider.sh``)
run with Node by ``provider.mjs`` on a loopback port, one process per test module.

The tests hold the provider's private signing keys, so they can sign ID tokens the way the
provider does (expired, for another audience) and rotate its keys
(:meth:`Provider.rotate`). Users: ``alice`` (group ``ml-admins``), ``bob`` (groups
``team-a-editors`` and ``unmapped``), ``carol`` (``readers``); any other login name is a
user without groups. Any password is accepted.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _provider import IN_CI, TOOLS, Provider, rsa_jwk


def _node_ready() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: run `make emulators`"
    if not (TOOLS / "node_modules" / "oidc-provider" / "package.json").is_file():
        return "oidc-provider is not installed: run `make emulators`"
    return None


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """The OIDC provider of this test module."""
    problem = _node_ready()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    running = Provider(
        tmp_path_factory.mktemp("oidc-provider"), f"client-{secrets.token_hex(16)}", [rsa_jwk("k1")]
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
