"""Who may see the admin page: signed links and sessions.

A link is a token signed with HMAC-SHA256 under the server secret (``LIAISON_SECRET_KEY``),
naming the admin, the workspace, a random nonce and an expiry (``link_minutes``). Opening it
records the nonce in ``insights_link_uses`` (a unique key): a second use fails. It then starts a
session: a cookie holding another signed token (admin, workspace, expiry), HttpOnly,
SameSite=Strict, and Secure when the page is reached over HTTPS. Every page checks the session
and that its holder is still an admin of that workspace.

Without ``LIAISON_SECRET_KEY`` each process makes up a random secret at start and logs that
links then work only on that process and until it stops.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("liaison.skills.insights")

LINK = "link"
SESSION = "session"


class Refused(Exception):
    """A link or session that cannot be used; ``reason`` is a key of the text catalogue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """What a valid token says: who, in which workspace, until when."""

    workspace: str
    user_id: str
    lang: str
    expires: dt.datetime
    nonce: str = ""


class Signer:
    def __init__(self, secret: str | None) -> None:
        if secret:
            self._key = hashlib.sha256(b"liaison-insights:" + secret.encode("utf-8")).digest()
        else:
            self._key = secrets.token_bytes(32)
            log.warning("LIAISON_SECRET_KEY is not set: admin-page links are signed with a secret made up by this "
                        "process, so they work only on it and until it stops; set LIAISON_SECRET_KEY to a long "
                        "random string, the same in every process")

    def _mac(self, purpose: str, body: str) -> str:
        mac = hmac.new(self._key, f"{purpose}.{body}".encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def sign(self, purpose: str, grant: Grant) -> str:
        payload = {"w": grant.workspace, "u": grant.user_id, "l": grant.lang, "e": int(grant.expires.timestamp()),
                   "n": grant.nonce}
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8")).decode("ascii").rstrip("=")
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str | None, now: dt.datetime) -> Grant:
        """The grant of a token signed for ``purpose``; Refused when it is missing, forged,
        malformed or expired."""
        if not token:
            raise Refused("refused_no_link")
        body, _, mac = token.strip().partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise Refused("refused_bad")
        try:
            payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            grant = Grant(str(payload["w"]), str(payload["u"]), str(payload.get("l") or "en"),
                          dt.datetime.fromtimestamp(int(payload["e"]), dt.timezone.utc), str(payload.get("n") or ""))
        except (ValueError, KeyError, TypeError):
            raise Refused("refused_bad") from None
        if grant.expires <= now:
            raise Refused("refused_expired")
        return grant


def new_link_grant(workspace: str, user_id: str, lang: str, now: dt.datetime, minutes: int) -> Grant:
    return Grant(workspace, user_id, lang, now + dt.timedelta(minutes=minutes), secrets.token_urlsafe(18))
