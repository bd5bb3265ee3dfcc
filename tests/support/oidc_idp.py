"""A small OpenID Connect identity provider for tests, shaped like Microsoft Entra ID.

It runs on 127.0.0.1 on a free port in a thread; nothing leaves the machine. The test says
beforehand who "logs in" (``idp.next_user``) and may spoil the next id_token
(``idp.overrides``, ``idp.tamper_signature``, ``idp.sign_with``). ``/authorize`` shows no page:
it redirects straight back to the client with a code and the state.

Endpoints (with the tenant in the path, as Entra has them):
``/<tenant>/v2.0/.well-known/openid-configuration``, ``/<tenant>/discovery/v2.0/keys``,
``/<tenant>/oauth2/v2.0/authorize``, ``/<tenant>/oauth2/v2.0/token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "kontroll-test-klient"
CLIENT_SECRET = "test-klienthemlighet"

#: generating RSA keys takes a moment: share them between instances
_KEYS: dict[str, RSAKey] = {}


def _key(kid: str) -> RSAKey:
    if kid not in _KEYS:
        _KEYS[kid] = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return _KEYS[kid]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeIdP:
    def __init__(self, tenant: str = TENANT, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = _key("idp-1")
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- what the test controls --------------------------------------------------------

    def reset(self) -> None:
        #: claims of the person who logs in next (tid defaults to this tenant); None: refuse
        self.next_user: dict[str, Any] | None = None
        #: claims to change in the next id_token (a value of None removes the claim)
        self.overrides: dict[str, Any] = {}
        self.tamper_signature = False
        #: a key the client does not know (signature cannot be verified)
        self.sign_with: RSAKey | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []

    def login_as(self, oid: str, *, roles: list[str] | None = None, tid: str | None = None, **claims: Any) -> None:
        self.next_user = {"oid": oid, "tid": tid or self.tenant, "roles": roles or [], **claims}

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.tenant}/v2.0"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def app_config(self, **extra: Any) -> dict[str, Any]:
        """kontroll configuration that points at this provider."""
        return {
            "OIDC_METADATA_URL": self.metadata_url,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            **extra,
        }

    # --- the server --------------------------------------------------------------------

    def start(self) -> FakeIdP:
        self._server = make_server("127.0.0.1", 0, self._make_app(), threaded=True, request_handler=_Quiet)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def id_token(self, claims: dict[str, Any]) -> str:
        key = self.sign_with or self.key
        token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
        if self.tamper_signature:
            head, body, sig = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            raw[0] ^= 0x01
            token = ".".join([head, body, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])
        return token

    def _make_app(self) -> Flask:
        idp = self
        app = Flask("fake_idp")
        t = idp.tenant

        @app.get(f"/{t}/v2.0/.well-known/openid-configuration")
        def metadata():  # type: ignore[no-untyped-def]
            base = f"{idp.base_url}/{t}"
            return jsonify({
                "issuer": idp.issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile", "email"],
            })

        @app.get(f"/{t}/discovery/v2.0/keys")
        def keys():  # type: ignore[no-untyped-def]
            return jsonify(KeySet([idp.key]).as_dict(private=False))

        @app.get(f"/{t}/oauth2/v2.0/authorize")
        def authorize():  # type: ignore[no-untyped-def]
            args = request.args.to_dict()
            idp.authorize_requests.append(args)
            if args.get("client_id") != idp.client_id or args.get("response_type") != "code":
                return "bad client or response_type", 400
            target = args["redirect_uri"]
            if idp.next_user is None:
                return redirect(target + "?" + urlencode({"error": "access_denied", "state": args.get("state", "")}))
            code = secrets.token_urlsafe(24)
            idp.codes[code] = {"user": dict(idp.next_user), **args}
            return redirect(target + "?" + urlencode({"code": code, "state": args.get("state", "")}))

        @app.post(f"/{t}/oauth2/v2.0/token")
        def token():  # type: ignore[no-untyped-def]
            form = request.form.to_dict()
            idp.token_requests.append(form)
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if request.authorization is not None:
                client_id, secret = request.authorization.username, request.authorization.password
            if client_id != idp.client_id or not hmac.compare_digest(secret or "", idp.client_secret):
                return jsonify({"error": "invalid_client"}), 401
            grant = idp.codes.pop(form.get("code", ""), None)  # a code works once
            if form.get("grant_type") != "authorization_code" or grant is None:
                return jsonify({"error": "invalid_grant"}), 400
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant", "error_description": "redirect_uri"}), 400
            if grant.get("code_challenge"):
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if digest != grant["code_challenge"]:
                    return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            now = int(time.time())
            user = grant["user"]
            claims: dict[str, Any] = {
                "iss": idp.issuer,
                "aud": idp.client_id,
                "sub": "pairwise-" + user["oid"],
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                "ver": "2.0",
                **user,
            }
            if "nonce" in grant:
                claims["nonce"] = grant["nonce"]
            for name, value in idp.overrides.items():
                if value is None:
                    claims.pop(name, None)
                else:
                    claims[name] = value
            return jsonify({
                "token_type": "Bearer",
                "access_token": secrets.token_urlsafe(32),
                "expires_in": 3600,
                "scope": grant.get("scope", "openid"),
                "id_token": idp.id_token(claims),
            })

        return app


def other_key() -> RSAKey:
    """A signing key the provider does not publish."""
    return _key("someone-else")
