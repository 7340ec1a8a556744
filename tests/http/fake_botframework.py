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
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
ISSUER = "https://api.botframework.com"
KID = "fake-botframework-key-1"


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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

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
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
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
