"""Which serviceUrls the bot trusts (adapters/teams/trust.py): Microsoft's Bot Connector hosts,
https only, no credentials, no control characters, and plain http only to a loopback address the
setting lists; a wrong entry in the setting stops the start and says which."""

from __future__ import annotations

import pytest

from adapters.teams.trust import DEFAULT_SERVICE_HOSTS, ServiceUrlPolicy
from bot.config import ConfigError

NO_AUTH = {"LIAISON_TEAMS_NO_AUTH": "1"}


@pytest.mark.parametrize("url", [
    "https://smba.trafficmanager.net/amer/",
    "https://smba.trafficmanager.net/emea/",
    "https://smba.trafficmanager.net/teams/",
    "https://SMBA.trafficmanager.net/apac/",
    "https://smba.infra.gcc.teams.microsoft.com/teams",
    "https://smba.infra.gov.teams.microsoft.us/teams",
    "https://smba.infra.dod.teams.microsoft.us/teams",
    "https://skype.botframework.com",
    "https://europe.webchat.botframework.com/",
    "https://contoso.enterprisechannel.botframework.com/",
    "https://directline.botframework.azure.us/",
])
def test_microsofts_bot_connector_endpoints_are_trusted(url) -> None:  # noqa: ANN001
    assert ServiceUrlPolicy(DEFAULT_SERVICE_HOSTS).problem(url) is None


@pytest.mark.parametrize("url, why", [
    ("http://smba.trafficmanager.net/amer/", "plain http"),
    ("https://alice:secret@smba.trafficmanager.net/amer/", "credentials"),
    ("https://alice@smba.trafficmanager.net/amer/", "credentials"),
    ("https://smba.trafficmanager.net/amer/\r\nX-Injected: 1", "control characters"),
    ("https://smba.trafficmanager.net/amer/\n", "control characters"),
    ("https://smba.trafficmanager.net/am er/", "control characters"),
    ("https://smba.trafficmanager.net\\@evil.example/", "backslash"),
    ("https://smba.trafficmanager.net/amer/?next=https://evil.example", "query"),
    ("https://smba.trafficmanager.net/amer/#x", "fragment"),
    ("https://évil.botframework.com/", "non-ASCII"),
    ("https://evil.com%2f.botframework.com/", "not a host name"),
    ("https://evil.trafficmanager.net/amer/", "'evil.trafficmanager.net'"),
    ("https://smba.trafficmanager.net.evil.example/amer/", "not one of"),
    ("https://evilbotframework.com/", "not one of"),
    ("https://botframework.com.evil.example/", "not one of"),
    ("https://localhost/amer/", "'localhost'"),
    ("https://127.0.0.1/amer/", "'127.0.0.1'"),
    ("https://169.254.169.254/latest/meta-data/", "not one of"),
    ("file:///etc/passwd", "scheme is 'file'"),
    ("gopher://127.0.0.1:70/_POST%20/", "scheme is 'gopher'"),
    ("ftp://smba.trafficmanager.net/", "scheme is 'ftp'"),
    ("//smba.trafficmanager.net/amer/", "scheme is 'missing'"),
    ("https://[::1/", "not a URL"),
    ("", "missing"),
    (None, "missing"),
    ({"url": "https://smba.trafficmanager.net/"}, "missing"),
    ("https://smba.trafficmanager.net/" + "a" * 3000, "longer than"),
])
def test_every_other_url_is_refused_with_its_reason(url, why) -> None:  # noqa: ANN001
    problem = ServiceUrlPolicy(DEFAULT_SERVICE_HOSTS).problem(url)
    assert problem is not None and why in problem
    assert "secret" not in problem  # the reason never repeats credentials


def test_loopback_http_and_ports_only_as_listed() -> None:
    policy = ServiceUrlPolicy(["http://127.0.0.1:3978", "http://localhost", "smba.trafficmanager.net:8443"])
    assert policy.problem("http://127.0.0.1:3978/amer/") is None
    assert policy.problem("http://localhost:51234/") is None  # no port listed: any port
    assert policy.problem("https://smba.trafficmanager.net:8443/amer/") is None
    assert "not one of" in policy.problem("http://127.0.0.1:3979/amer/")
    assert "not one of" in policy.problem("https://smba.trafficmanager.net/amer/")  # port 443, not 8443
    assert "not one of" in policy.problem("http://127.0.0.2:3978/")


@pytest.mark.parametrize("entry, why", [
    ("http://smba.trafficmanager.net", "plain http is only allowed for a loopback address"),
    ("http://*.botframework.com", "plain http is only allowed for a loopback address"),
    ("ftp://smba.trafficmanager.net", "the scheme must be https"),
    ("*.com", "a wildcard needs a domain"),
    ("*", "not a host name"),
    ("smba.trafficmanager.net/amer/", "nothing else"),
    ("user@smba.trafficmanager.net", "nothing else"),
    ("", "nothing else"),
])
def test_a_wrong_entry_in_the_setting_stops_the_start(make_app, entry, why) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=why):
        make_app(platforms=["teams"], env=NO_AUTH, teams={"allowed_service_hosts": [entry]})


def test_the_key_url_must_be_https(make_app) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="openid_metadata_url must be an https URL"):
        make_app(platforms=["teams"], env=NO_AUTH, teams={"openid_metadata_url": "http://login.botframework.com/x"})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443/", "login.microsoftonline.us", "https://"])
def test_the_login_url_must_be_https(make_app, url) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="login_url must be an https URL"):
        make_app(platforms=["teams"], env=NO_AUTH, teams={"login_url": url})


def test_loopback_addresses() -> None:
    from adapters.teams.trust import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.2", "::ffff:192.0.2.2", "example.org", "", None))
