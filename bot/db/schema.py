"""Imports every model module so that ``Base.metadata`` knows every table (for Alembic)."""

from bot.db import Base
from bot.db import models  # noqa: F401
from bot.db import expertise  # noqa: F401
from bot.db import kudos  # noqa: F401
from bot.db import coffee, scheduler  # noqa: F401
from bot.db import insights  # noqa: F401
from bot.db import routing  # noqa: F401

metadata = Base.metadata
