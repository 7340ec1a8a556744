"""The Bot Framework's token side, for tests: a fake OpenID configuration and key set, and tokens
signed like the ones the Bot Framework puts on the requests Teams sends.

``FakeBotFramework`` is a real aiohttp server on an ephemeral loopback port, run on its own
event loop in a thread, so that a client blocking the test's event loop (a synchronous fetch)
cannot be hidden by the fake being blocked too. It serves

- ``GET /v1/.well-known/openidconfiguration`` → ``{"issuer": …, "jwks_uri": …}``,
- ``GET /v1/keys`` → ``{"keys": [<the RSA public key as a JWK, with its endorsements>]}``,

counts the requests it receives, can answer an error status instead, and can hold the
configuration's answer until the test releases it (to see what the bot does meanwhile).
``token(...)`` signs a JWT with the fake's key, with the claims a Bot Framework token carries.

It also plays Microsoft's login service, where a bot with an app id gets the token of its own
calls to the Bot Connector (MSAL's client-credentials flow), on a second port, in https (MSAL
accepts nothing else) with a self-signed certificate:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` → the tenant's endpoints,
- ``POST /{tenant}/oauth2/v2.0/token`` → ``access_token`` for ``APP_ID`` and ``APP_PASSWORD``.

``bf.login_url`` goes in ``[teams] login_url``; ``authenticated(monkeypatch)`` starts the fake,
makes MSAL trust its certificate, and gives ``bf.env`` / ``bf.teams_settings()`` for the app and
``bf.bearer(service_url)`` for each request.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time
from typing import Any, Iterator

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

APP_ID = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
APP_PASSWORD = "not-a-real-secret"
ISSUER = "https://api.botframework.com"
KID = "fake-botframework-key-1"
AUTH = {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": APP_PASSWORD}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeBotFramework:
    """Use as ``with FakeBotFramework() as bf:``; ``bf.metadata_url`` goes in
    ``[teams] openid_metadata_url``."""

    def __init__(self, *, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        self.key = new_key()
        self.endorsements = endorsements
        self.metadata_requests = 0
        self.keys_requests = 0
        self.status = 200  # what the configuration endpoint answers
        self.hold = False  # hold the configuration's answer until release() (or hold_limit)
        self.hold_limit = 10.0  # seconds: a guard so that a test can never hang on the fake
        self.waiting = threading.Event()  # set when a held request has arrived
        self.released = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.login_port = 0
        self.issued: list[str] = []  # access tokens the login service gave, in order
        self.ca_file = ""  # the login service's certificate (PEM), for REQUESTS_CA_BUNDLE

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def login_url(self) -> str:
        return f"https://127.0.0.1:{self.login_port}/"

    env = AUTH

    def teams_settings(self) -> dict[str, Any]:
        """The [teams] settings of a bot checking this fake's tokens and getting its own here."""
        return {"openid_metadata_url": self.metadata_url, "login_url": self.login_url}

    def bearer(self, service_url: str) -> dict[str, str]:
        """The Authorization header the Bot Framework puts on a request naming ``service_url``."""
        return {"Authorization": f"Bearer {self.token(service_url=service_url)}"}

    def release(self) -> None:
        self.released.set()

    def token(self, *, service_url: str, app_id: str = APP_ID, issuer: str = ISSUER, kid: str | None = KID,
              key: Any = None, algorithm: str = "RS256", expires_in: float = 3600, **claims: Any) -> str:
        """A Bot Framework token for a request to the bot ``app_id`` naming ``service_url``."""
        now = int(time.time())
        payload = {"serviceurl": service_url, "nbf": now - 10, "exp": int(now + expires_in), "iss": issuer,
                   "aud": app_id, **claims}
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(payload, key if key is not None else self.key, algorithm=algorithm, headers=headers)

    def jwk(self) -> dict[str, Any]:
        entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**entry, "kid": KID, "use": "sig", "endorsements": list(self.endorsements)}

    # ---- server, on its own thread ----------------------------------------------------------------

    def __enter__(self) -> "FakeBotFramework":
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="fake-botframework", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Bot Framework did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        if self.ca_file:
            os.unlink(self.ca_file)

    def _serve(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        login = web.Application()
        login.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._login_metadata)
        login.router.add_post("/{tenant}/oauth2/v2.0/token", self._login_token)
        login_runner = web.AppRunner(login, access_log=None)
        loop.run_until_complete(login_runner.setup())
        tls = web.TCPSite(login_runner, "127.0.0.1", 0, ssl_context=self._tls())
        loop.run_until_complete(tls.start())
        self.login_port = login_runner.addresses[0][1]
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(login_runner.cleanup())
            loop.close()

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        if self.hold:
            self.waiting.set()
            await asyncio.to_thread(self.released.wait, self.hold_limit)
        if self.status != 200:
            return web.json_response({"error": "fake failure"}, status=self.status)
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base_url}/v1/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        self.keys_requests += 1
        return web.json_response({"keys": [self.jwk()]})

    # ---- Microsoft's login service (the bot's own tokens), in https ----------------------------

    def _tls(self) -> ssl.SSLContext:
        """A self-signed certificate for 127.0.0.1, written to ``ca_file`` for the client to trust."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake login service")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
            f.write(pem)
            self.ca_file = f.name
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as keyfile:
            keyfile.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
            keyfile.flush()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, keyfile.name)
        return context

    async def _login_metadata(self, request: web.Request) -> web.Response:
        base = f"{self.login_url}{request.match_info['tenant']}"
        return web.json_response({"issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                  "token_endpoint": f"{base}/oauth2/v2.0/token"})

    async def _login_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                "client_credentials", APP_ID, APP_PASSWORD):
            return web.json_response({"error": "invalid_client", "error_description": "fake: wrong credentials"},
                                     status=401)
        self.issued.append(f"fake-connector-token-{len(self.issued) + 1}")
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": self.issued[-1]})


@contextlib.contextmanager
def authenticated(monkeypatch: Any) -> Iterator[FakeBotFramework]:
    """A started ``FakeBotFramework`` whose login service MSAL trusts (for this test only)."""
    with FakeBotFramework() as bf:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bf.ca_file)
        yield bf
