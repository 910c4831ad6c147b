"""The OpenID Connect provider of the single sign-on tests (see conftest.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parents[3]
TOOLS = Path(os.environ.get("OPSML_OIDC_PROVIDER_DIR", ROOT / ".tools" / "oidc-provider"))
SCRIPT = Path(__file__).parent / "provider.mjs"
CLIENT_ID = "opsml-test"
USERS = {
    "alice": {"groups": ["ml-admins"]},
    "bob": {"groups": ["team-a-editors", "unmapped"]},
    "carol": {"groups": ["readers"]},
}
GROUP_GRANTS = "ml-admins=admin; team-a-editors=team-a:read,write; readers=*:read"
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def rsa_jwk(kid: str) -> dict[str, Any]:
    """A new private RSA signing key as a JWK."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Provider:
    """The running provider: its issuer URL, client and current signing keys."""

    workdir: Path
    client_secret: str
    keys: list[dict[str, Any]]
    redirect_uris: list[str] = field(default_factory=list)
    issuer: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "provider.log"

    def _write(self) -> None:
        client = {
            "client_id": CLIENT_ID,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris or ["http://localhost/ui/oidc/callback"],
        }
        config = {"keys": self.keys, "client": client, "users": USERS}
        (self.workdir / "provider.json").write_text(json.dumps(config), encoding="utf-8")

    def start(self) -> None:
        self._write()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["node", str(SCRIPT), str(self.workdir / "provider.json"), str(TOOLS)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            assert self.process.poll() is None, text
            found = _LISTENING.search(text)
            if found:
                self.issuer = found.group(1)
                return
            time.sleep(0.05)
        raise AssertionError(f"the OIDC provider did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def reload(self) -> None:
        """Start a fresh provider on the same port with the current keys and clients."""
        self._write()
        response = httpx.post(f"{self.issuer}/_test/reload", timeout=10)
        assert response.status_code == 200, response.text

    def rotate(self, kid: str) -> dict[str, Any]:
        """Replace the provider's signing key with a new one (key id ``kid``)."""
        self.keys = [rsa_jwk(kid)]
        self.reload()
        return self.keys[0]

    def sign(self, claims: dict[str, Any], key: dict[str, Any] | None = None) -> str:
        """An ID token as the provider would sign it (with ``key``: with that key)."""
        key = key or self.keys[0]
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **claims}
        private = RSAAlgorithm.from_jwk(json.dumps(key))
        return jwt.encode(payload, private, algorithm="RS256", headers={"kid": key["kid"]})


def provider_login(authorization_url: str, login: str, redirect_prefix: str) -> str:
    """Log ``login`` in at the provider the way a browser would (its development login
    form takes any password) and return the URL it redirects back to (the callback, with
    ``code`` and ``state``)."""
    with httpx.Client(timeout=10) as http:
        response = http.get(authorization_url)
        for _ in range(10):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(redirect_prefix):
                    return target
                response = http.get(target)
                continue
            assert response.status_code == 200, response.text
            action = re.search(r'action="([^"]+)"', response.text)
            assert action is not None, response.text
            response = http.post(
                urljoin(str(response.url), action.group(1)),
                data={"prompt": "login", "login": login, "password": "any-password"},
            )
    raise AssertionError("the provider never redirected back")
