"""Which Bot Connector endpoints Liaison will talk to, and which callers it trusts without a token.

Every activity names the ``serviceUrl`` the bot must answer through, and Liaison stores it in
conversation references for later messages. An activity is only a JSON body, so that URL is
accepted only when it is a Bot Connector endpoint of Microsoft's:

- printable ASCII only (no CR, LF or other control characters, no spaces, no backslash);
- ``https`` (plain ``http`` only for a loopback address listed in the setting: a test's fake
  connector or the Bot Framework Emulator);
- no credentials (``user:pass@``), query or fragment;
- a host named in ``[teams] allowed_service_hosts``: an exact host (``smba.trafficmanager.net``) or
  every host under a domain (``*.botframework.com``), optionally with a port.

The URL is parsed with yarl, the parser aiohttp connects with, so what is checked is where the
request would go. ``ConnectorClient`` checks every call again, so a reference stored before
these rules cannot be used either.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

from yarl import URL

from bot.config import ConfigError

# Where the Bot Framework's channels post from and are answered through (Teams' public cloud in
# every region — /amer/, /emea/, /apac/, /teams/ … are paths of the same host —, its government
# clouds, and the Bot Framework's own channel hosts).
DEFAULT_SERVICE_HOSTS: tuple[str, ...] = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
    "*.botframework.com",
    "*.botframework.azure.us",
)

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_MAX_URL = 2048


class UntrustedServiceUrl(ValueError):
    """A serviceUrl Liaison will not call; the message says why, without repeating the URL."""


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name or an address, IPv6 possibly in brackets) is this machine."""
    if not host:
        return False
    host = host.strip("[]").split("%")[0].lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def require_https(url: str, where: str) -> None:
    """ConfigError unless ``url`` is https (or plain http to a loopback address: a test's fake)."""
    try:
        parsed = URL(url)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.host and (parsed.scheme == "https" or (parsed.scheme == "http" and is_loopback(parsed.host))):
        return
    raise ConfigError(f"{where} must be an https URL (plain http only to a loopback address), not {url!r}")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if not host or not set(host) <= _HOST_CHARS:
        return False
    return all(label and not label.startswith("-") and not label.endswith("-") for label in host.split("."))


@dataclass(frozen=True)
class HostRule:
    """One entry of ``allowed_service_hosts``: ``host``, ``*.domain``, ``host:port`` or
    ``http://loopback-host[:port]``."""

    scheme: str
    host: str  # lower case; "*.domain" for every host under domain
    port: int | None  # None: any port

    @classmethod
    def parse(cls, entry: str) -> "HostRule":
        where = f"teams.allowed_service_hosts entry {entry!r}"
        text = entry.strip().lower()
        scheme = "https"
        if "://" in text:
            scheme, _, text = text.partition("://")
            if scheme not in ("https", "http"):
                raise ConfigError(f"{where}: the scheme must be https (or http for a loopback address)")
        if not text or any(c in text for c in "/@?#\\ "):
            raise ConfigError(f"{where}: write a host name, optionally with a port, nothing else")
        wildcard = text.startswith("*.")
        try:
            url = URL(f"{scheme}://{text[2:] if wildcard else text}")
            host, port = url.host or "", url.explicit_port
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if not _valid_host(host) or (wildcard and "." not in host):
            raise ConfigError(f"{where}: not a host name (a wildcard needs a domain, as in *.botframework.com)")
        if scheme == "http" and (wildcard or not is_loopback(host)):
            raise ConfigError(f"{where}: plain http is only allowed for a loopback address; Bot Connector endpoints use https")
        return cls(scheme=scheme, host=f"*.{host}" if wildcard else host, port=port)

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


class ServiceUrlPolicy:
    """Decides whether a serviceUrl may be stored and called (see the module docstring)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.rules = tuple(HostRule.parse(e) for e in entries)

    def problem(self, url: object) -> str | None:
        """Why ``url`` is refused, or None when it is a trusted Bot Connector endpoint."""
        if not isinstance(url, str) or not url:
            return "the serviceUrl is missing"
        if len(url) > _MAX_URL:
            return f"the serviceUrl is longer than {_MAX_URL} characters"
        if any(not 0x21 <= ord(c) <= 0x7E or c == "\\" for c in url):
            return "the serviceUrl contains control characters, spaces, a backslash or non-ASCII characters"
        try:
            parsed = URL(url)
            host, port = (parsed.host or "").lower(), parsed.port
        except ValueError:
            return "the serviceUrl is not a URL"
        scheme = parsed.scheme.lower()
        if scheme not in ("https", "http"):
            return f"the serviceUrl scheme is {scheme or 'missing'!r}; only https is accepted"
        if parsed.user is not None or parsed.password is not None or "@" in (parsed.raw_authority or ""):
            return "the serviceUrl carries credentials (user:password@)"
        if parsed.raw_query_string or parsed.raw_fragment or "?" in url or "#" in url:
            return "the serviceUrl has a query or a fragment"
        if not _valid_host(host):
            return "the serviceUrl host is not a host name"
        if any(rule.matches(scheme, host, port) for rule in self.rules):
            return None
        if scheme == "http" and any(rule.matches("https", host, port) for rule in self.rules):
            return "the serviceUrl uses plain http; Bot Connector endpoints use https"
        return (f"the serviceUrl host {host!r} (scheme {scheme}, port {port}) is not one of [teams] "
                "allowed_service_hosts")

    def check(self, url: object) -> str:
        """``url`` itself when trusted; UntrustedServiceUrl otherwise."""
        problem = self.problem(url)
        if problem is not None:
            raise UntrustedServiceUrl(problem)
        assert isinstance(url, str)
        return url
