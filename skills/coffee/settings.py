"""The ``[coffee]`` section of the settings (see config/default.toml) and the check that stops
the start when one of its defaults cannot be used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import scheduler
from bot.config import ConfigError
from bot.context import SkillContext
from skills.coffee.commands import DAY_WORDS


@dataclass(frozen=True)
class CoffeeSettings:
    """The ``[coffee]`` section of the settings (see config/default.toml)."""

    default_timezone: str = "UTC"
    default_weekday: str = "monday"
    default_time: str = "10:00"
    group_size: int = 2
    avoid_rounds: int = 12
    max_tz_gap_hours: float = 6.0
    missed_round_grace_hours: float = 24.0
    followup_after: float = 0.5
    sweep_cron: str = "*/15 * * * *"
    tie_scale: float = 5.0
    max_snooze_weeks: int = 26
    intro_max_attempts: int = 5
    claim_seconds: float = 60.0
    announce_rounds: bool = True
    stats_rounds: int = 6
    min_participants: int = 2


def settings_of(ctx: SkillContext) -> CoffeeSettings:
    return ctx.settings.section("coffee", CoffeeSettings)


def check_settings(cfg: CoffeeSettings) -> None:
    """Stop the start with a clear message when a [coffee] default cannot be used."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", cfg.default_time)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"coffee.default_time must be a time of day like \"10:00\", not {cfg.default_time!r}")
    if cfg.default_weekday.lower() not in DAY_WORDS:
        raise ConfigError(f"coffee.default_weekday must be a day such as \"monday\", not {cfg.default_weekday!r}")
    try:
        scheduler.parse_timezone(cfg.default_timezone)
    except ValueError as exc:
        raise ConfigError(f"coffee.default_timezone: {exc}") from None
    if cfg.group_size not in (2, 3, 4):
        raise ConfigError(f"coffee.group_size must be 2, 3 or 4, not {cfg.group_size}")
    if not cfg.claim_seconds > 0:
        raise ConfigError(f"coffee.claim_seconds must be more than 0 (seconds), not {cfg.claim_seconds}")
