"""Who knows what: "who knows X?" / "qui connaît X ?" and `/whoknows X` answer with people and
the evidence that they know; "what do you know about me?", "forget topic X", "stop indexing me"
and "forget me" give everyone control over what the index holds about them; "I know X" declares
expertise. Public-channel messages reach the index through the ingestion queue (``ingest``).
"""

from skills.expertise.handlers import routes, services

__all__ = ["routes", "services"]
