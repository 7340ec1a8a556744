"""What a platform says about a person fits the people table, on SQLite and PostgreSQL: free text
cut to the column sizes the model declares, identifiers that do not fit left out, NUL characters
(which PostgreSQL text cannot hold) removed."""

from __future__ import annotations

from bot import people
from bot.db import Database, column_length
from bot.db.migrate import upgrade
from bot.db.models import PersonRow
from bot.events import Person


def test_directory_fields_fit_their_columns(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    upgrade(db)
    try:
        long_email = "a" * 400 + "@acme.example"
        with db.session("slack:T1") as s:
            people.upsert(s, Person(id="U1", name="Ada\x00 Lovelace", team="Platform\x00", tz="Europe/Paris",
                                    locale="en-US", email="ada@acme.example"))
            people.sync_person(s, Person(id="U2", name="B" * 5000, team="T" * 5000, tz="Z" * 500,
                                         locale="x" * 100, email=long_email, is_admin=True))
        with db.session("slack:T1") as s:
            ada, bob = people.get(s, "U1"), people.get(s, "U2")
            assert (ada.name, ada.team, ada.tz, ada.email) == ("Ada Lovelace", "Platform", "Europe/Paris", "ada@acme.example")
            assert bob.name == "B" * column_length(PersonRow.name) and bob.team == "T" * column_length(PersonRow.team)
            assert (bob.tz, bob.locale, bob.email, bob.is_admin) == (None, None, None, True)
            # A later value that does not fit leaves the known one in place.
            people.upsert(s, Person(id="U1", tz="Y" * 500, email=long_email))
        with db.session("slack:T1") as s:
            ada = people.get(s, "U1")
            assert (ada.tz, ada.email) == ("Europe/Paris", "ada@acme.example")
    finally:
        db.dispose()
