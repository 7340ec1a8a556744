"""Typed settings.

Secrets and deployment facts come only from the environment (see config/example.env); every
other setting lives in config/default.toml, with its default and a comment (installed with the
code as package data of the ``config`` package, and read from there). A deployment
overrides settings with its own TOML file named by ``LIAISON_CONFIG``; only the keys it names
change. Unknown sections or keys, and values of the wrong type, stop the start with a message
that names the file and the key.

Each skill reads its own section as a frozen dataclass: ``settings.section("coffee", CoffeeSettings)``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TypeVar

import config as config_files

T = TypeVar("T")

DEFAULT_TOML = config_files.file("default.toml")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which file and key, and why."""


@dataclass(frozen=True)
class BotSettings:
    name: str = "Liaison"
    default_language: str = "en"
    languages: tuple[str, ...] = ("en", "fr")
    hr_admins: tuple[str, ...] = ()
    log_level: str = "INFO"
    error_reference: bool = True


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///liaison.db"
    auto_migrate_sqlite: bool = True
    events_seen_days: int = 7
    sqlite_busy_timeout_ms: int = 5000


@dataclass(frozen=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 3000
    pages_dir: str = ""


@dataclass(frozen=True)
class IngestSettings:
    enabled: bool = True
    batch_size: int = 1000
    poll_seconds: float = 1.0
    max_text_chars: int = 20000
    max_attempts: int = 5


@dataclass(frozen=True)
class Secrets:
    """Everything read from the environment. Never logged (repr hides the values)."""

    database_url: str | None = field(default=None, repr=False)
    port: int | None = None
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = field(default=None, repr=False)
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: str | None = None
    teams_no_auth: bool = False
    secret_key: str | None = field(default=None, repr=False)
    public_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Secrets":
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        port = get("PORT")
        if port is not None and not port.isdigit():
            raise ConfigError(f"PORT must be a number, not {port!r}")
        return cls(
            database_url=get("DATABASE_URL"),
            port=int(port) if port else None,
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=get("SLACK_API_URL"),
            microsoft_app_id=get("MICROSOFT_APP_ID"),
            microsoft_app_password=get("MICROSOFT_APP_PASSWORD"),
            microsoft_app_tenant_id=get("MICROSOFT_APP_TENANT_ID"),
            microsoft_app_type=get("MICROSOFT_APP_TYPE"),
            teams_no_auth=(get("LIAISON_TEAMS_NO_AUTH") or "").lower() in ("1", "true", "yes"),
            secret_key=get("LIAISON_SECRET_KEY"),
            public_url=get("LIAISON_PUBLIC_URL"),
        )


def _merge(base: dict[str, Any], override: Mapping[str, Any], source: str) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in override.items():
        if section not in out:
            raise ConfigError(f"{source}: unknown section [{section}]; known sections: {', '.join(sorted(out))}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        for key, value in values.items():
            if key not in out[section]:
                raise ConfigError(f"{source}: unknown setting {section}.{key}; the settings are listed in {DEFAULT_TOML}")
            out[section][key] = value
    return out


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list")
        return tuple(_coerce(v, args[0], where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not (isinstance(value, hint) and not (hint is int and isinstance(value, bool))):
        raise ConfigError(f"{where} must be a {hint.__name__}, not {value!r}")
    return value


def build_section(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    """A frozen dataclass from a TOML table, with types checked."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown setting {where}.{sorted(unknown)[0]}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    return cls(**kwargs)


@dataclass(frozen=True)
class Settings:
    raw: Mapping[str, Mapping[str, Any]]
    secrets: Secrets
    sources: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def section(self, name: str, cls: type[T]) -> T:
        key = (name, cls)
        if key not in self._cache:
            self._cache[key] = build_section(cls, self.raw.get(name, {}), name)
        return self._cache[key]

    @property
    def bot(self) -> BotSettings:
        return self.section("bot", BotSettings)

    @property
    def database(self) -> DatabaseSettings:
        return self.section("database", DatabaseSettings)

    @property
    def server(self) -> ServerSettings:
        return self.section("server", ServerSettings)

    @property
    def ingest(self) -> IngestSettings:
        return self.section("ingest", IngestSettings)

    @property
    def database_url(self) -> str:
        return self.secrets.database_url or self.database.url

    @property
    def port(self) -> int:
        return self.secrets.port or self.server.port

    def with_overrides(self, **sections: Mapping[str, Any]) -> "Settings":
        """A copy with some settings changed (tests, the demo)."""
        return Settings(_merge(dict(self.raw), sections, "overrides"), self.secrets, self.sources)


def load_settings(env: Mapping[str, str] | None = None, *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read config/default.toml, then the file named by LIAISON_CONFIG, then ``overrides``."""
    env = os.environ if env is None else env
    try:
        raw: dict[str, Any] = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"the default settings file is missing ({DEFAULT_TOML}); reinstall Liaison (pip install liaison-bot)") from exc
    sources = [str(DEFAULT_TOML)]
    extra = env.get("LIAISON_CONFIG")
    if extra:
        path = Path(extra)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"LIAISON_CONFIG names {path}, which does not exist; give the path of your settings file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"LIAISON_CONFIG names {path}, which cannot be read ({exc}); give the path of a readable TOML file") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); correct that line") from exc
        raw = _merge(raw, data, str(path))
        sources.append(str(path))
    if overrides:
        raw = _merge(raw, overrides, "overrides")
    settings = Settings(raw, Secrets.from_env(env), tuple(sources))
    # Validate the core sections now, so a typo stops the start rather than a later request.
    settings.bot, settings.database, settings.server, settings.ingest  # noqa: B018
    return settings
