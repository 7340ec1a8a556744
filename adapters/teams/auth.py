"""The Bot Framework token on every POST /api/messages, checked without blocking the event loop.

botbuilder's own check (``JwtTokenExtractor``) fetches the signing keys with a blocking
``requests.get`` that has no timeout, inside a coroutine: while Microsoft's key endpoint is slow
every request of the process waits, and when it cannot be reached every token — forged ones
included — ends in an error that looks like an outage. This module applies the same rules as
botbuilder's channel validation, with the keys fetched by aiohttp (with a timeout) and cached:

1. ``Authorization: Bearer <JWT>`` signed with RS256, RS384 or RS512 and naming its key (``kid``);
2. issuer ``[teams] token_issuer`` (the Bot Framework: ``https://api.botframework.com``),
   audience the bot's app id, not expired (5 minutes of clock skew allowed), and the
   ``serviceurl`` claim equal to the activity's serviceUrl — so a token cannot be replayed to
   make the bot answer somewhere else;
3. checked before any key is fetched, so a token that fails them costs no network call;
4. the signature, with the key of that ``kid`` from the OpenID configuration at
   ``[teams] openid_metadata_url``, whose endorsements must name the activity's channel.

Keys are fetched on first use, again once a day, and when a token names a key not seen yet (at
most every 5 minutes); after a failed fetch the next try waits a minute, and the keys already
known keep being used. A token that cannot be verified — keys unavailable included — is refused
(401): nothing unverified is ever handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

import aiohttp
import jwt

log = logging.getLogger("liaison.teams")

ALGORITHMS = ("RS256", "RS384", "RS512")
CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE = 24 * 3600.0
UNKNOWN_KEY_REFRESH = 300.0
RETRY_AFTER_FAILURE = 60.0
MAX_KEYS_BYTES = 1024 * 1024


class InvalidToken(Exception):
    """The request's token is missing, malformed, not signed by the Bot Framework or not for
    this bot; the message says which, in one line."""


class KeysUnavailable(Exception):
    """The signing keys could not be fetched (and none are known)."""


@dataclass(frozen=True)
class SigningKey:
    key: Any
    endorsements: tuple[str, ...]


class SigningKeys:
    """The Bot Framework's token signing keys, fetched with aiohttp and cached (see above)."""

    def __init__(self, metadata_url: str, *, timeout: float, clock: Any = time.monotonic) -> None:
        self.metadata_url = metadata_url
        self.timeout = timeout
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> SigningKey | None:
        """The key ``kid``, fetching the keys when they are old, missing or lack it."""
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # another request may have fetched them meanwhile
                    await self._refresh()
        if not self._keys and self._failed_at is not None:
            raise KeysUnavailable(self._failure)
        return self._keys.get(kid)

    def _due(self, kid: str) -> bool:
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE:
            return False
        if self._fetched_at is None or now - self._fetched_at > KEYS_MAX_AGE:
            return True
        return kid not in self._keys and now - self._fetched_at > UNKNOWN_KEY_REFRESH

    async def _refresh(self) -> None:
        try:
            keys = await self._fetch()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError, TypeError) as exc:
            self._failed_at = self._clock()
            self._failure = f"the signing keys could not be fetched from {self.metadata_url}: {_say(exc)}"
            if self._keys:
                log.warning("%s; keeping the %d keys fetched before, trying again in %.0f s",
                            self._failure, len(self._keys), RETRY_AFTER_FAILURE)
            else:
                log.error("%s; Teams activities are refused (401) until it answers (next try in %.0f s). "
                          "Check that this host can reach it over HTTPS.", self._failure, RETRY_AFTER_FAILURE)
            return
        self._keys, self._fetched_at, self._failed_at = keys, self._clock(), None
        log.info("Teams: %d token signing keys fetched from %s", len(keys), self.metadata_url)

    async def _fetch(self) -> dict[str, SigningKey]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            metadata = await _get_json(session, self.metadata_url)
            jwks_uri = metadata["jwks_uri"]
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ValueError("its jwks_uri is not an http(s) URL")
            document = await _get_json(session, jwks_uri)
        keys: dict[str, SigningKey] = {}
        for entry in document["keys"]:
            if not isinstance(entry, Mapping) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
                continue
            try:
                key = jwt.PyJWK(dict(entry), algorithm="RS256").key
            except jwt.PyJWTError:
                continue  # a key we cannot read cannot have signed a token we accept
            endorsements = tuple(e for e in entry.get("endorsements") or () if isinstance(e, str))
            keys[entry["kid"]] = SigningKey(key, endorsements)
        if not keys:
            raise ValueError("the key set has no RSA key")
        return keys


async def _get_json(session: aiohttp.ClientSession, url: str) -> Mapping[str, Any]:
    async with session.get(url) as resp:
        if resp.status != 200:
            raise ValueError(f"{url} answered {resp.status}")
        raw = await resp.content.read(MAX_KEYS_BYTES + 1)
    if len(raw) > MAX_KEYS_BYTES:
        raise ValueError(f"{url} answered more than {MAX_KEYS_BYTES} bytes")
    body = json.loads(raw)
    if not isinstance(body, Mapping):
        raise ValueError(f"{url} did not answer a JSON object")
    return body


def _say(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer within the timeout"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TokenValidator:
    """Checks the Bot Framework JWT of one request (see the module docstring)."""

    def __init__(self, *, app_id: str, issuer: str, keys: SigningKeys) -> None:
        self.app_id = app_id
        self.issuer = issuer
        self.keys = keys

    async def validate(self, authorization: str, *, channel_id: str, service_url: str) -> dict[str, Any]:
        """The token's claims; InvalidToken when it must be refused."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as exc:
            raise InvalidToken(f"the token is not a JWT ({type(exc).__name__})") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"the token is signed with {alg!r}, not one of {', '.join(ALGORITHMS)}")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        self._check_claims(unverified, service_url)
        try:
            key = await self.keys.get(kid)
        except KeysUnavailable as exc:
            raise InvalidToken(f"the token cannot be verified: {exc}") from None
        if key is None:
            raise InvalidToken("the token is signed with a key the Bot Framework does not publish")
        if key.endorsements and channel_id not in key.endorsements:
            raise InvalidToken(f"the signing key is not endorsed for channel {channel_id[:40]!r}")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.app_id, issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {type(exc).__name__}: {exc}") from None
        self._check_claims(claims, service_url)
        return claims

    def _check_claims(self, claims: Mapping[str, Any], service_url: str) -> None:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the token was not issued by the Bot Framework")
        audience = claims.get("aud")
        if audience != self.app_id and not (isinstance(audience, list) and self.app_id in audience):
            raise InvalidToken("the token is for another app id than MICROSOFT_APP_ID")
        if not isinstance(claims.get("exp"), (int, float)):
            raise InvalidToken("the token has no expiry")
        if claims["exp"] + CLOCK_SKEW_SECONDS < time.time():
            raise InvalidToken("the token has expired")
        if claims.get("serviceurl") != service_url:
            raise InvalidToken("the token's serviceurl claim is not the activity's serviceUrl")


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise InvalidToken("the Authorization header is not 'Bearer <token>'")
    return token
