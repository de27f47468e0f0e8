"""Single sign-on through an OpenID Connect provider: the authorization code flow with PKCE (Authlib's
client), the ID token checked against the provider's keys (joserfc), the user's groups mapped to a
role and scope, and a careops session opened as for a local user.

The flow's state, nonce and PKCE verifier are kept in the store under the digest of a random cookie,
so that only the browser that started a sign-in can finish it, in any worker, once."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from config import Settings, oidc_client_secret
from data.stores.identity import IdentityStore, UserRow, names_json
from services.access.audit import AuditTrail
from services.access.authentication import AuthenticationError, Authenticator, OpenedSession
from services.access.group_roles import NoRoleError, RoleScope, parse_group_mapping, role_scope
from services.access.principal import Principal
from services.access.secrets import MIN_KEY_BITS, key_bits, key_digest, new_key

FLOW_MINUTES = 15
HTTP_SECONDS = 10
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
CLOCK_LEEWAY_SECONDS = 60
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SignOnError(PermissionError):
    """The sign-on cannot finish (expired flow, a reply that does not match, a provider error); the
    message is safe to show and never holds a token or claim value."""


@dataclass(frozen=True)
class Provider:
    """What careops uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SingleSignOn:
    """Starts and finishes sign-ins at one OpenID provider."""

    def __init__(
        self, settings: Settings, store: IdentityStore, authenticator: Authenticator, audit: AuditTrail
    ) -> None:
        if not settings.oidc_issuer or not settings.oidc_client_id:
            raise ValueError("single sign-on needs CAREOPS_OIDC_ISSUER and CAREOPS_OIDC_CLIENT_ID")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = oidc_client_secret(settings)
        self.mapping = parse_group_mapping(settings.oidc_groups)
        self.store = store
        self.authenticator = authenticator
        self.audit = audit
        self._provider: Provider | None = None
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """How the sign-in page names the provider."""
        return self.settings.oidc_name

    # The provider's metadata and keys, fetched once (the keys again when a token names a new one)
    def provider(self) -> Provider:
        """The provider's endpoints, from its discovery document."""
        with self._lock:
            if self._provider is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                document = _get_json(url)
                if document.get("issuer", "").rstrip("/") != self.issuer:
                    raise SignOnError("the provider's discovery document names another issuer")
                self._provider = Provider(
                    document["issuer"], document["authorization_endpoint"], document["token_endpoint"],
                    document["jwks_uri"], document.get("userinfo_endpoint"),
                    document.get("end_session_endpoint"),
                )  # fmt: skip
            return self._provider

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(_get_json(self._provider_now().jwks_uri))
            return self._keys

    def _provider_now(self) -> Provider:
        assert self._provider is not None
        return self._provider

    def _client(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.settings.oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
        )

    # The flow
    def start(self, redirect_uri: str) -> tuple[str, str]:
        """A new flow: the secret for the browser's cookie and the provider's authorization URL."""
        provider = self.provider()
        cookie, state, nonce, verifier = new_key(), new_key(), new_key(), secrets.token_urlsafe(64)
        now = _now()
        self.store.add_flow(
            {"id_hash": key_digest(cookie), "state": state, "nonce": nonce, "verifier": verifier,
             "created_at": now},
            stale_before=now - timedelta(minutes=FLOW_MINUTES),
        )  # fmt: skip
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return cookie, url

    def finish(
        self,
        cookie: str | None,
        reply: Mapping[str, str],
        redirect_uri: str,
        source: str,
        request_id: str = "",
    ) -> OpenedSession:
        """Check the provider's reply against the flow this browser started, redeem the code, check
        the ID token, map the groups, and open a session. Every refusal is in the audit trail."""
        unknown = Principal("user", "unknown", "none", source=source, request_id=request_id)
        try:
            claims = self._claims(cookie, reply, redirect_uri)
        except (SignOnError, AuthenticationError) as error:
            self.audit.record(unknown, "sign_in_failed", "session", [], why=f"sso: {error}")
            raise
        username = _username(claims, self.settings.oidc_username_claim)
        who = Principal("user", username, "none", source=source, request_id=request_id)
        try:
            scope = role_scope(_groups(claims, self.settings.oidc_groups_claim), self.mapping)
            user = self._provision(username, scope)
        except NoRoleError as error:
            self.audit.record(who, "sign_in_refused", "session", [username], why=str(error))
            raise
        return self.authenticator.open_session(user, source, request_id)

    def _claims(self, cookie: str | None, reply: Mapping[str, str], redirect_uri: str) -> dict[str, Any]:
        started_after = _now() - timedelta(minutes=FLOW_MINUTES)
        flow = self.store.take_flow(key_digest(cookie), started_after) if cookie else None
        if flow is None:
            raise SignOnError("the sign-in had expired or began in another browser; please sign in again")
        if not secrets.compare_digest(reply.get("state", "").encode(), flow["state"].encode()):
            raise SignOnError("the provider's reply does not match this sign-in")
        provider = self.provider()
        if "iss" in reply and reply["iss"].rstrip("/") != self.issuer:  # RFC 9207: no mix-up
            raise SignOnError("the reply comes from another issuer")
        if "error" in reply:
            raise SignOnError("the identity provider did not sign you in")
        if not reply.get("code"):
            raise SignOnError("the provider's reply holds no code")
        with self._client(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    provider.token_endpoint, code=reply["code"], code_verifier=flow["verifier"],
                    timeout=HTTP_SECONDS,
                )  # fmt: skip
            except Exception as error:  # Authlib's OAuthError, or the network
                raise SignOnError("the provider refused the sign-in code") from error
            claims = self._id_token_claims(token.get("id_token", ""), flow["nonce"])
            if provider.userinfo_endpoint:
                info = client.get(provider.userinfo_endpoint, timeout=HTTP_SECONDS)
                if info.ok:
                    extra = info.json()
                    if extra.get("sub") != claims["sub"]:
                        raise AuthenticationError("the provider's userinfo names another subject")
                    claims = {**extra, **claims}
        return claims

    def _id_token_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise AuthenticationError("the provider sent no ID token")
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self._provider_now().issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for refresh in (False, True):  # a key the provider rotated in: fetch its keys once more
            try:
                token = jwt.decode(id_token, self._key_set(refresh), algorithms=list(ALGORITHMS))
                registry.validate(token.claims)
                return dict(token.claims)
            except ValueError:  # joserfc: no key with that kid
                if refresh:
                    raise AuthenticationError("the ID token is signed by an unknown key") from None
            except JoseError as error:
                raise AuthenticationError(f"the ID token is not valid ({error.error})") from None
        raise AssertionError("unreachable")

    def _provision(self, username: str, scope: RoleScope) -> UserRow:
        """The user as their groups make them now; a local account of the same name, or a user an
        admin disabled, is refused."""
        user = self.store.user(username)
        if user is not None and user.source != "oidc":
            raise NoRoleError("a local account has this name; ask an admin")
        if user is not None and user.disabled:
            raise NoRoleError("your careops account is disabled")
        values = {
            "role": scope.role, "clinics": names_json(scope.clinics), "payers": names_json(scope.payers)
        }  # fmt: skip
        if user is None:
            self.store.put_user(
                {"username": username, **values, "password_hash": None, "totp_secret": None,
                 "must_change_password": False, "disabled": False, "locked_until": None,
                 "source": "oidc", "created_at": _now()}
            )  # fmt: skip
        else:
            self.store.update_user(username, **values)
        found = self.store.user(username)
        assert found is not None
        return found

    def is_own(self, username: str) -> bool:
        """Whether the user signs in through this provider."""
        user = self.store.user(username)
        return user is not None and user.source == "oidc"

    def sign_out_url(self, after: str) -> str | None:
        """The provider's end-session URL that comes back to `after`, when it has one."""
        try:
            endpoint = self.provider().end_session_endpoint
        except (SignOnError, requests.RequestException):
            return None
        if not endpoint:
            return None
        request = requests.Request(
            "GET", endpoint, params={"client_id": self.client_id, "post_logout_redirect_uri": after}
        ).prepare()
        return request.url


def check_configuration(settings: Settings) -> None:
    """Refuse, with the reason, a single sign-on set-up that cannot be safe: no client id, an issuer
    not on https (but loopback, for tests), a client secret under 128 bits, a mapping that is not
    valid. Nothing is checked when no issuer is set."""
    if not settings.oidc_issuer:
        return
    url = urlsplit(settings.oidc_issuer)
    if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK):
        raise ValueError("CAREOPS_OIDC_ISSUER must be an https URL")
    if not settings.oidc_client_id:
        raise ValueError("CAREOPS_OIDC_CLIENT_ID is needed with CAREOPS_OIDC_ISSUER")
    secret = oidc_client_secret(settings)
    if secret is not None and key_bits(secret) < MIN_KEY_BITS:
        raise ValueError(f"the identity provider's client secret has under {MIN_KEY_BITS} bits")
    if "openid" not in settings.oidc_scopes.split():
        raise ValueError("CAREOPS_OIDC_SCOPES must include openid")
    parse_group_mapping(settings.oidc_groups)


def _get_json(url: str) -> dict:
    try:
        response = requests.get(url, timeout=HTTP_SECONDS)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise SignOnError("the identity provider cannot be reached") from error


def _username(claims: Mapping[str, Any], claim: str) -> str:
    for name in (claim, "email", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:128]
    raise AuthenticationError("the provider names no user")


def _groups(claims: Mapping[str, Any], claim: str) -> list[str]:
    value = claims.get(claim, [])
    if isinstance(value, str):
        return [value]
    return [g for g in value if isinstance(g, str)] if isinstance(value, list) else []
