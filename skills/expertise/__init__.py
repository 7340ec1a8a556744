"""Who knows what: "who knows X?" / "qui connaît X ?" and `/whoknows X` answer with people and
the evidence that they know; "what do you know about me?", "forget topic X", "stop indexing me"
and "forget me" give everyone control over what the index holds about them; "I know X" declares
expertise. Public-channel messages reach the index through the ingestion queue (``ingest``).

Where things are: ``ask.py`` ("who knows X?": its patterns, routes, answer and reason lines, and
the shared service that ranks) and ``handlers.py`` (the other chat routes), both on ``routes.py``;
the index in ``index.py`` (messages in), ``evidence.py`` and ``writer.py`` (writing, with
its tables' columns in ``columns.py`` and the core's bulk statements, ``bot/db/bulk.py``),
``ranking.py`` (questions, and what they read), ``personal.py`` (what it holds about a person); the
ranking each workspace learns in ``model.py`` (with what the index is made of), fitted in
``ranker_fit.py``; text to topics in ``nlp.py`` and ``topics.py`` (its rules and word classes);
whether a reply is help in ``help_signal.py``; the catalogues in ``text.py``. Other skills use ``api.py`` only.
"""

from skills.expertise import ask, handlers  # noqa: F401 - their handlers are declared on ``routes``
from skills.expertise.routes import routes
from skills.expertise.ask import services

__all__ = ["routes", "services"]
