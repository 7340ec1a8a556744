"""Adaptive Cards for buttons: a neutral ``Button`` becomes an ``Action.Submit`` whose data
carries the action id and value back; pressing it posts a ``message`` activity with that data
in ``value``, which translate.py turns into ActionInvoked.

``Action.Submit`` works in every Teams client and scope (personal, group chat, channel); the
data also reaches us from ``Action.Execute`` (``invoke`` ``adaptiveCard/action``), should a
card be sent with that kind of action.
"""

from __future__ import annotations

import base64
from typing import Any, Sequence

from adapters.teams.translate import ACTION_KEY, VALUE_KEY
from bot.events import Attachment, Button

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"

_STYLES = {"primary": "positive", "danger": "destructive"}


def button_card(buttons: Sequence[Button], *, text: str | None = None) -> dict[str, Any]:
    """An attachment holding one Adaptive Card with a submit action per button (and the text
    above them, when given: buttons sent without a message text still say what they are for)."""
    body: list[dict[str, Any]] = []
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    actions = []
    for b in buttons:
        action: dict[str, Any] = {
            "type": "Action.Submit",
            "title": b.label,
            "data": {ACTION_KEY: b.action_id, VALUE_KEY: b.value},
        }
        if b.style in _STYLES:
            action["style"] = _STYLES[b.style]
        actions.append(action)
    return {
        "contentType": CARD_CONTENT_TYPE,
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION,
            "body": body,
            "actions": actions,
        },
    }


def image_attachment(f: Attachment) -> dict[str, Any]:
    """A file as an inline image attachment: its bytes in a data URL (Teams shows inline images
    of up to 1 MB in PNG, JPEG or GIF; the charts are far smaller)."""
    data = base64.b64encode(f.data).decode("ascii")
    return {"contentType": f.mime, "contentUrl": f"data:{f.mime};base64,{data}", "name": f.name}
