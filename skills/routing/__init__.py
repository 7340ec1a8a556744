""""Ask them for me": under a who-knows answer, the asker can have the bot send the question,
privately, to the people of the answer (best first, at most ``expertise.route_to`` at once), each
in their language and working hours, with "I can help" / "Not me" / "Not now". The first "I can
help" opens a conversation between the asker and the helper and tells the others it is taken;
nobody within ``expertise.route_timeout_hours`` working hours: the asker may have a coffee with
an expert instead. An accepted question is "answered" evidence for the helper; "Not me" puts the
person lower on those topics in that asker's later answers.

- ``store.py``: the rows and their moves (conditional UPDATEs: a click or a run that comes twice
  acts once), who may be asked, the figures;
- ``delivery.py``: each offer sent under its own claim, and edited later ("taken");
- ``offer.py``: the service "routing" the expertise skill calls under a who-knows answer ("Not
  me" puts people lower; the *Ask them for me* button), and the lines of "what do you know about me";
- ``handlers.py``: the buttons, "ask them", "don't send me questions", "routing stats";
- ``typed.py``: the same answers typed ("I'll help", "not me", "thank them"), and the demo;
- ``jobs.py``: the sweep job, and ``services`` (the job and the "routing" service);
- ``hours.py``: working hours in each person's time zone; ``text.py``: the words.
"""

from __future__ import annotations

from skills.routing import handlers, jobs, typed  # noqa: F401 - their handlers are declared on ``routes``
from skills.routing.jobs import services
from skills.routing.routes import routes

__all__ = ["routes", "services"]
