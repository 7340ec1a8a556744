"""The columns of the expertise index's tables, in the order its bulk statements
(``bot.db.bulk``) take their rows."""

from __future__ import annotations

from skills.expertise.model import KINDS

COUNT_COLS = tuple(f"{k}_n" for k in KINDS)
SUM_COLS = tuple(f"{k}_s" for k in KINDS)
MESSAGE_COLS = ("workspace", "conversation_id", "conversation_name", "ts", "thread_ts", "parent_user_id", "user_id",
                "answer", "at", "permalink", "question")
EVIDENCE_COLS = ("workspace", "user_id", "topic_key", "kind", "weight", "at", "conversation_id", "ts", "permalink",
                 "conversation_name")
SCORE_COLS = ("workspace", "user_id", "topic_key", "last_at", "strength", *COUNT_COLS, *SUM_COLS)
TOPIC_COLS = ("workspace", "key", "display", "lang", "people_n")
PERSON_COLS = ("workspace", "user_id", "messages_n", "answers_n", "answers_s", "last_at")

