"""Single sign-on with an OpenID Connect provider: discovery, keys, ID tokens, users.

- The provider's discovery document (``<issuer>/.well-known/openid-configuration``) and its
  signing keys (JWKS) are fetched when first needed and kept for an hour. An ID token
  signed with a key id the cached set does not know makes the keys be fetched again at
  once (the provider rotated them); such forced fetches happen at most once every few
  seconds, so tokens with made-up key ids cannot make the server hammer the provider.
- An ID token counts only when its signature verifies with the provider's key (asymmetric
  algorithms only: never ``none`` or a shared-secret HMAC), its ``iss`` is the configured
  issuer, its ``aud`` holds the client id (and ``azp`` is the client id when there are
  several audiences), it has not expired (60 s of clock skew allowed), and its ``nonce``
  is the one the login started with.
- The browser login is the authorization code flow with PKCE (S256); the CLI's is the
  device authorization flow, run by the server on the client's behalf.
- A user is created at their first login and found again by (issuer, ``sub``), whatever
  their name at the provider becomes. With a groups claim configured, every login sets
  the user's permissions from their groups.

No token, code, verifier or secret ever appears in an error message or a log line: errors
name what failed (``the ID token expired``), never the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from opsml._compat import require
from opsml.errors import AccountError, AuthenticationError, ServerUnavailableError
from opsml.server._config import OidcConfig
from opsml.server._security import parse_grants
from opsml.store import AuthStore, PermissionRow

__all__ = [
    "DeviceStart",
    "LoginStart",
    "OidcClient",
    "group_permissions",
    "open_login_state",
    "provision_user",
    "seal_login_state",
]

_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_CACHE_SECONDS = 3600.0
_LEEWAY_SECONDS = 60
_LOGIN_STATE_SECONDS = 600
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")
_USERNAME_BAD = re.compile(r"[^A-Za-z0-9_.@-]+")


@dataclass(frozen=True)
class LoginStart:
    """A browser login under way: what goes to the provider, and what the callback checks.

    Attributes:
        url: The provider's authorization URL to send the browser to.
        state: Ties the callback to this browser (checked against the login cookie).
        nonce: Ties the ID token to this login.
        verifier: The PKCE code verifier (its S256 challenge went to the provider).
    """

    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    verifier: str = field(repr=False)


@dataclass(frozen=True)
class DeviceStart:
    """A device login under way (RFC 8628): show ``verification_uri`` and ``user_code``,
    then poll with ``device_code``."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _oauth_error(body: Any) -> str:
    """The provider's OAuth error code (``invalid_grant``), never its free-text description,
    which could echo what was sent."""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _OAUTH_ERROR.fullmatch(code) else "unknown_error"


class OidcClient:
    """opsml as a client of one OpenID Connect provider (one per app; thread-safe).

    Args:
        config: The provider and client settings.
        transport: An ``httpx`` transport (tests); the default talks to the network.
        forced_refresh_seconds: Fetch the keys again for an unknown key id at most this
            often.
    """

    def __init__(
        self,
        config: OidcConfig,
        transport: Any = None,
        forced_refresh_seconds: float = 5.0,
    ) -> None:
        httpx = require("httpx", "server")
        self.config = config
        self._http = httpx.Client(timeout=config.timeout_seconds, transport=transport)
        weakref.finalize(self, self._http.close)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, tuple[Any, str | None]] = {}
        self._keys_at: float | None = None  # never fetched
        self._forced_at: float | None = None
        self._forced_every = forced_refresh_seconds

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    # -- talking to the provider ---------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        httpx = require("httpx", "server")
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerUnavailableError(
                f"the single sign-on provider could not be reached ({type(exc).__name__})"
            ) from None

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = self._request("GET", url, headers={"accept": "application/json"})
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServerUnavailableError(
                f"the single sign-on provider answered its {what} with HTTP "
                f"{response.status_code} and no JSON object"
            )
        return body

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour).

        Raises:
            ServerUnavailableError: The provider cannot be reached, or its document is not
                for the configured issuer.
        """
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < (
                _CACHE_SECONDS
            ):
                return self._metadata
        url = f"{self.config.issuer}/.well-known/openid-configuration"
        document = self._get_json(url, "discovery document")
        if document.get("issuer") != self.config.issuer:
            raise ServerUnavailableError(
                "the provider's discovery document names another issuer "
                f"({document.get('issuer')!r}, not {self.config.issuer!r})"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise ServerUnavailableError(f"the provider's discovery document lacks {key}")
        with self._lock:
            self._metadata, self._metadata_at = document, time.monotonic()
        return document

    def _fetch_keys(self) -> dict[str, tuple[Any, str | None]]:
        jwt = require("jwt", "server")
        document = self._get_json(self.metadata()["jwks_uri"], "key set")
        keys: dict[str, tuple[Any, str | None]] = {}
        for number, jwk in enumerate(document.get("keys") or []):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(jwk)
            except jwt.PyJWTError:
                continue  # a key type this server cannot use
            alg = jwk.get("alg")
            keys[str(jwk.get("kid", f"#{number}"))] = (
                key.key,
                alg if isinstance(alg, str) else None,
            )
        return keys

    def _key(self, kid: str | None) -> tuple[Any, str | None]:
        """The provider's signing key ``kid`` (``None``: the only one) and the algorithm its
        JWK names, fetching the key set again when it is stale or does not know ``kid``."""
        now = time.monotonic()
        with self._lock:
            keys = self._keys
            stale = self._keys_at is None or now - self._keys_at >= _CACHE_SECONDS
            known = kid in keys if kid is not None else len(keys) == 1
            force = (
                not known
                and not stale
                and (self._forced_at is None or now - self._forced_at >= self._forced_every)
            )
            if force:
                self._forced_at = now
        if stale or force:
            keys = self._fetch_keys()
            with self._lock:
                self._keys, self._keys_at = keys, time.monotonic()
        if kid is None:
            if len(keys) != 1:
                raise AuthenticationError("the ID token names no signing key")
            return next(iter(keys.values()))
        if kid not in keys:
            raise AuthenticationError("the ID token is signed with a key the provider lacks")
        return keys[kid]

    # -- ID tokens -------------------------------------------------------------------------------

    def validate_id_token(self, id_token: str, nonce: str | None) -> dict[str, Any]:
        """The claims of a valid ID token from the provider for this client.

        Args:
            id_token: The compact JWT.
            nonce: The nonce the login sent (``None``: a flow without one, the device flow).

        Raises:
            AuthenticationError: Malformed, signed badly or with an unknown key or a
                disallowed algorithm, for another issuer or audience, expired, or with the
                wrong nonce.
        """
        jwt = require("jwt", "server")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise AuthenticationError("malformed ID token") from None
        allowed = set(self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"])
        alg = header.get("alg")
        if alg not in allowed & _ASYMMETRIC:
            raise AuthenticationError(f"ID token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        key, key_alg = self._key(kid if isinstance(kid, str) else None)
        if key_alg is not None and key_alg != alg:
            raise AuthenticationError("the ID token's algorithm does not fit its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[alg],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the ID token expired; log in again") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("the ID token is for another client") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("the ID token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("the ID token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid ID token ({type(exc).__name__})") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise AuthenticationError("the ID token is for another client")
        if nonce is not None and not hmac.compare_digest(
            str(claims.get("nonce", "")).encode(), nonce.encode()
        ):
            raise AuthenticationError("the ID token does not belong to this login (nonce)")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise AuthenticationError("the ID token's subject is malformed")
        return claims

    # -- the authorization code flow -----------------------------------------------------------

    def start_login(self, redirect_uri: str) -> LoginStart:
        """A new login: the provider's authorization URL with fresh ``state``, ``nonce`` and
        PKCE challenge.

        Raises:
            ServerUnavailableError: The provider cannot be reached.
        """
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.metadata()["authorization_endpoint"]
        separator = "&" if "?" in endpoint else "?"
        return LoginStart(f"{endpoint}{separator}{query}", state, nonce, verifier)

    def _token_request(self, data: dict[str, str]) -> Any:
        auth = None
        data = {**data, "client_id": self.config.client_id}
        if self.config.client_secret:
            methods = self.metadata().get("token_endpoint_auth_methods_supported") or []
            if "client_secret_basic" in methods or not methods:
                auth = (self.config.client_id, self.config.client_secret)
            else:
                data["client_secret"] = self.config.client_secret
        return self._request("POST", self.metadata()["token_endpoint"], data=data, auth=auth)

    def finish_login(
        self, code: str, verifier: str, nonce: str, redirect_uri: str
    ) -> dict[str, Any]:
        """Exchange the callback's code for tokens and return the valid ID token's claims.

        Raises:
            AuthenticationError: The provider refused the code, or its ID token is invalid.
            ServerUnavailableError: The provider cannot be reached.
        """
        response = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )
        return self._id_token_claims(response, nonce)

    def _id_token_claims(self, response: Any, nonce: str | None) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise AuthenticationError(f"the provider refused the login ({_oauth_error(body)})")
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            raise AuthenticationError("the provider returned no ID token (is 'openid' a scope?)")
        return self.validate_id_token(id_token, nonce)

    # -- the device authorization flow ---------------------------------------------------------

    def start_device(self) -> DeviceStart:
        """Start a device login (RFC 8628) at the provider.

        Raises:
            AuthenticationError: The provider refused (device flow not enabled for the
                client).
            ServerUnavailableError: The provider cannot be reached or has no device flow.
        """
        endpoint = self.metadata().get("device_authorization_endpoint")
        if not isinstance(endpoint, str):
            raise ServerUnavailableError("the single sign-on provider has no device login")
        auth = None
        data = {"client_id": self.config.client_id, "scope": " ".join(self.config.scopes)}
        if self.config.client_secret:
            auth = (self.config.client_id, self.config.client_secret)
        response = self._request("POST", endpoint, data=data, auth=auth)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise AuthenticationError(f"the provider refused a device login ({_oauth_error(body)})")
        try:
            return DeviceStart(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=str(
                    body.get("verification_uri_complete") or body["verification_uri"]
                ),
                expires_in=int(body.get("expires_in", 600)),
                interval=int(body.get("interval", 5)),
            )
        except (KeyError, TypeError, ValueError):
            raise ServerUnavailableError(
                "the provider's device login answer is malformed"
            ) from None

    def poll_device(self, device_code: str) -> dict[str, Any] | str:
        """Ask the provider whether the user finished a device login.

        Returns:
            The valid ID token's claims, or ``"authorization_pending"`` / ``"slow_down"``.

        Raises:
            AuthenticationError: Denied, expired, or an invalid ID token.
            ServerUnavailableError: The provider cannot be reached.
        """
        response = self._token_request({"grant_type": _DEVICE_GRANT, "device_code": device_code})
        if response.status_code != 200:
            try:
                error = _oauth_error(response.json())
            except ValueError:
                error = "unknown_error"
            if error in ("authorization_pending", "slow_down"):
                return error
            raise AuthenticationError(f"the device login failed ({error})")
        return self._id_token_claims(response, None)


# -- the browser's login state ----------------------------------------------------------------


def seal_login_state(start: LoginStart, next_path: str, secret: str) -> str:
    """The login cookie: ``state``, ``nonce``, PKCE verifier and where to go afterwards, as a
    JWT signed with the server's token secret, valid for ten minutes (the browser holds it;
    it is no access token: its ``typ`` is ``oidc-login``)."""
    jwt = require("jwt", "server")
    now = datetime.now(UTC)
    payload = {
        "typ": "oidc-login",
        "state": start.state,
        "nonce": start.nonce,
        "verifier": start.verifier,
        "next": next_path,
        "iat": now,
        "exp": now + timedelta(seconds=_LOGIN_STATE_SECONDS),
    }
    return str(jwt.encode(payload, secret, algorithm="HS256"))


def open_login_state(cookie: str, state: str, secrets_: list[str]) -> dict[str, Any]:
    """The login cookie's content, if it is valid and its ``state`` is the callback's.

    Raises:
        AuthenticationError: Missing, expired, forged, or for another login.
    """
    jwt = require("jwt", "server")
    if not cookie:
        raise AuthenticationError("no login under way in this browser: start again")
    for secret in secrets_:
        try:
            claims: dict[str, Any] = jwt.decode(
                cookie,
                secret,
                algorithms=["HS256"],
                options={"require": ["exp", "typ", "state", "nonce", "verifier"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the login took too long: start again") from None
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            break
        if claims.get("typ") == "oidc-login" and hmac.compare_digest(
            str(claims["state"]).encode(), state.encode()
        ):
            return claims
        break
    raise AuthenticationError("the login does not belong to this browser (state): start again")


# -- users ------------------------------------------------------------------------------------


def _claim_text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _username(claims: Mapping[str, Any], config: OidcConfig) -> str:
    """A new user's name: the configured claim (then ``email``, then ``sub``), with
    characters a username cannot hold replaced by ``-``."""
    for name in (config.username_claim, "email", "sub"):
        text = _USERNAME_BAD.sub("-", _claim_text(claims, name)).strip("-._@")[:100]
        if text:
            return text
    return "user"


def group_permissions(
    claims: Mapping[str, Any], config: OidcConfig
) -> tuple[bool, list[PermissionRow]]:
    """The admin flag and grants the user's groups map to (``OPSML_OIDC_GROUP_GRANTS``)."""
    groups = claims.get(config.groups_claim)
    if isinstance(groups, str):
        groups = [groups]
    names = {g for g in groups if isinstance(g, str)} if isinstance(groups, list) else set()
    grants: list[str] = []
    for group, mapped in config.group_grants:
        if group in names:
            grants.extend(mapped)
    return "admin" in grants, parse_grants([g for g in grants if g != "admin"])


def provision_user(store: AuthStore, config: OidcConfig, claims: Mapping[str, Any]) -> str:
    """The opsml user of a valid ID token: found by (issuer, ``sub``), or created at this
    first login; with a groups claim configured, their permissions are set from their
    groups.

    Returns:
        The username.

    Raises:
        AccountError: No free username could be found for a new user.
    """
    subject = str(claims["sub"])
    user = store.get_oidc_user(config.issuer, subject)
    if user is None:
        base = _username(claims, config)
        suffix = hashlib.sha256(f"{config.issuer}\n{subject}".encode()).hexdigest()[:8]
        for candidate in (base, f"{base}-{suffix}"):
            if store.get_user(candidate) is not None:
                continue  # never take over a local (or another provider user's) account
            try:
                # "!" is no argon2 hash: no password ever matches it.
                store.create_user(candidate, "!", False, (config.issuer, subject))
            except AccountError:
                user = store.get_oidc_user(config.issuer, subject)  # a concurrent first login
                if user is None:
                    continue
            break
        user = user or store.get_oidc_user(config.issuer, subject)
        if user is None:
            raise AccountError(f"no free username for the single sign-on user {base!r}")
    if config.groups_claim:
        is_admin, grants = group_permissions(claims, config)
        if is_admin != user.is_admin:
            store.update_user(user.username, is_admin=is_admin)
        if grants != store.permissions(user.username):
            store.set_permissions(user.username, grants)
    return user.username
