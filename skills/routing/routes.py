"""The routing skill's ``Routes`` (handlers.py and jobs.py decorate their functions with it)."""

from __future__ import annotations

from bot.router import Routes
from skills.routing.text import T

SWEEP_JOB = "routing.sweep"

routes = Routes("routing", help={"en": [T.get("en", "help_ask"), T.get("en", "help_opt")],
                                 "fr": [T.get("fr", "help_ask"), T.get("fr", "help_opt")]})
