"""For developers: write a new migration from the models (``python -m bot.db.newrev "message" 0007_name``).

The new revision descends from the core revision (``0001_core``) unless ``--after REV`` says
otherwise, so features can add tables independently; read the file it writes and keep only what
belongs to your change."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command

from bot.db import Database
from bot.db.migrate import alembic_config, upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("message")
    parser.add_argument("rev_id")
    parser.add_argument("--after", default="0001_core")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'newrev.db'}")
        upgrade(db)
        command.revision(alembic_config(db), message=args.message, autogenerate=True, rev_id=args.rev_id,
                         head=args.after, splice=True)
        db.dispose()


if __name__ == "__main__":
    main()
