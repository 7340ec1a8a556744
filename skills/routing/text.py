"""Every user-facing word of "Ask them for me" (question routing), in English and French."""

from __future__ import annotations

from bot.i18n import Catalog

T = Catalog("routing")
