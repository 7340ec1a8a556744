"""Settings: defaults from config/default.toml, overrides, typed checks, secrets from the env."""

import tomllib

import pytest

from bot.config import DEFAULT_TOML, ConfigError, load_settings


def test_defaults_load_and_every_setting_has_a_comment() -> None:
    s = load_settings({})
    assert s.database_url == "sqlite:///liaison.db"
    assert s.port == 3000 and s.bot.default_language == "en"
    lines = DEFAULT_TOML.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#") or "=" in lines[i - 1], f"no comment above: {line}"


def test_environment_overrides(tmp_path) -> None:  # noqa: ANN001
    s = load_settings({"DATABASE_URL": "postgresql://x@h/db", "PORT": "8080", "SLACK_BOT_TOKEN": "xoxb-secret"})
    assert s.database_url == "postgresql://x@h/db" and s.port == 8080
    assert "xoxb-secret" not in repr(s.secrets)


def test_a_deployment_file_changes_only_what_it_names(tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "site.toml"
    f.write_text('[bot]\ndefault_language = "fr"\nhr_admins = ["hr@acme.example"]\n')
    s = load_settings({"LIAISON_CONFIG": str(f)})
    assert s.bot.default_language == "fr" and s.bot.hr_admins == ("hr@acme.example",)
    assert s.bot.name == "Liaison"


@pytest.mark.parametrize(
    "content, message",
    [
        ("[bot]\nnmae = 'x'\n", "unknown setting bot.nmae"),
        ("[bots]\nname = 'x'\n", "unknown section [bots]"),
        ("[server]\nport = 'eighty'\n", "server.port must be a int"),
        ("[bot\n", "not valid TOML"),
    ],
)
def test_bad_settings_stop_the_start_with_a_clear_message(tmp_path, content, message) -> None:  # noqa: ANN001
    f = tmp_path / "site.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings({"LIAISON_CONFIG": str(f)})


def test_missing_deployment_file_and_bad_port() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"LIAISON_CONFIG": "no-such-file.toml"})
    with pytest.raises(ConfigError, match="PORT must be a number"):
        load_settings({"PORT": "http"})


def test_example_env_lists_every_variable_the_code_reads() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    example = (root / "config" / "example.env").read_text(encoding="utf-8")
    source = (root / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source)) | {"LIAISON_CONFIG"}
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z_]+)=", example, re.MULTILINE))
    assert read - listed == set()
    assert tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
