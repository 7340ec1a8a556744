"""Is a reply in someone else's thread help, or chatter? A small rule that reads the reply
itself, in English and French, and says why.

Not help:
- chatter: acknowledgements and agreement ("ok", "+1", "agreed", "d'accord", "exact"), thanks
  ("thanks X", "merci !"), "me too" / "moi aussi", joining ("I'll join!", "je serai là aussi"),
  greetings and welcomes, praise ("great idea", "très bonne analogie"), status lines ("fixed",
  "c'est en cours"), emoji alone;
- a follow-up question from a bystander ("same problem here, any news?");
- a reply with too few content words to hold an answer ("staging only to start").

Help: code (backticks or a code block), a link, or enough distinct content words; after a leading
acknowledgement ("Exact. Et on devrait…") twice as many. A reply that opens with thanks thanks. Nothing here knows a
platform, a channel or a person; the rule has no weights learned from data.

What follows, when it is known (``followed``): the asker's next message in the thread after the
reply. When the asker thanks or says it worked ("Works, thanks!", "C'était les requests, merci !")
or reacts to the reply, a short reply or a clarifying question before it was help ("Did you
restart the kernel?" → "That was it, thanks"); chatter stays chatter (the thanks is for someone
else). When the asker asks again without thanking ("still failing, any other idea?"), a reply
that was help by a few words only (fewer than twice the minimum) was not enough; code and links
stay help. When the asker says nothing more (stops asking), the reply's own verdict stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words a reply needs, besides chatter and function words, to be able to say how to do
# something: "Pin the module version in the lockfile" has five, "staging only to start" two.
MIN_CONTENT_WORDS = 4

_CODE = re.compile(r"`|^\s{4}\S", re.MULTILINE)
_LINK = re.compile(r"<https?://|https?://\S")
_MENTION = re.compile(r"<[@#!][^>]*>|@\w+")
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")
_WORD = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)

# Leading chatter: what a reply opens with when it agrees, thanks or joins. What follows it is
# read on its own.
_OPENERS = [
    # English
    r"\+1", r"\+\d+", r"me too", r"same here", r"same", r"agreed", r"agree", r"i agree", r"exactly", r"indeed",
    r"ok(?:ay)?", r"k", r"cool", r"nice", r"great", r"awesome", r"perfect", r"sure", r"yes", r"yep", r"yeah",
    r"no", r"nope", r"right", r"true", r"good (?:point|idea|call|catch)", r"great (?:idea|point|job|work)",
    r"makes sense", r"got it", r"noted", r"done", r"fixed", r"lol", r"haha", r"wow", r"congrats",
    r"thanks?(?: you)?(?: (?:so much|a lot|again|both|all|everyone))?", r"thx", r"ty", r"cheers",
    r"hi", r"hello", r"hey", r"welcome(?: aboard)?", r"good morning", r"i'?ll join", r"count me in",
    r"i'?ll be there", r"see you there", r"sounds good", r"looks good", r"lgtm", r"will do", r"on it",
    # French
    r"merci(?: beaucoup| bien| à (?:toi|vous|tous))?", r"d'accord", r"d’accord", r"ok", r"exact", r"exactement",
    r"oui", r"non", r"parfait", r"top", r"super", r"génial", r"bien vu", r"bonne idée", r"moi aussi",
    r"pareil", r"idem", r"bonjour", r"salut", r"coucou", r"bienvenue", r"bravo", r"je serai là(?: aussi)?",
    r"j'en suis", r"c'est fait", r"c'est noté", r"noté", r"ça marche", r"vu", r"tout à fait", r"carrément",
]
_OPENER = re.compile(r"^(?:(?:" + "|".join(_OPENERS) + r")\b[\s!.,;:)\-–—]*)+", re.IGNORECASE)

# Words that carry no answer: function words, chatter, names of the people thanked are
# mentions (removed before). Small on purpose: content words are everything else.
_FILLER = set("""
a an the and or but so to of in on at by for with from as is are was were be been being it its it's this that
these those there here i i'm i'll i've i'd you you're your we we're our they them their he she him her me my mine
do does did done doing have has had not no yes too also just only very really much more most some any all
can could would should will shall may might must let let's lets get got go going now then than when what which
who how why where if else again still even ever about into out up down over under off one thanks thank please
ok okay yeah yep sure great nice cool good awesome perfect exactly agreed indeed same lol haha
le la les l un une des du de d et ou mais donc car à a au aux en dans sur sous par pour avec sans chez ce cet
cette ces c ça ca cela ceci il elle ils elles on je j tu te toi moi me m nous vous se s y lui leur leurs mon ma
mes ton ta tes son sa ses notre nos votre vos qui que qu quoi dont où est sont été être était avoir ai as avons
avez ont eu fait faire pas ne n plus très trop aussi bien tout tous toute toutes oui non si déjà encore alors
merci super top parfait exact d'accord génial bon bonne bonnes bons là ici cours vais va vas allons allez
that's it's what's there's here's we'll i'll you'll they'll we've you've don't doesn't didn't can't won't isn't
c'est j'ai j'en n'est qu'il qu'on s'il d'un d'une l'on
""".split())
_THANKS = re.compile(r"^(?:thanks?|thx|ty|cheers|merci)\b", re.IGNORECASE)
# What an asker says when a reply solved it, anywhere in their message.
_SOLVED = re.compile(
    r"\b(?:thanks?|thank you|thx|ty|cheers|merci|works|worked|working now|that did it|did the trick|that was it|"
    r"fixed it|solved|found it|got it working|(?:it'?s|it is|now) (?:running|working)|"
    r"ça marche|ça tourne|ca marche|ça fonctionne|ça a marché|c'était ça|c’était ça|"
    r"c'était (?:les?|la|le|l'|un|une)\b|résolu|trouvé)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """Whether a reply is help, and the rule that decided it (for logs and tests)."""

    help: bool
    why: str
    words: int = 0  # distinct content words, when they decided it

    def __bool__(self) -> bool:
        return self.help


def content_words(text: str) -> list[str]:
    """The words of ``text`` that may carry an answer (no mentions, emoji, links or fillers)."""
    text = _EMOJI.sub(" ", _MENTION.sub(" ", text))
    words = (w.lower().strip("'’-") for w in _WORD.findall(text))
    return [w for w in words if len(w) > 1 and w not in _FILLER]


def judge(text: str) -> Verdict:
    """Decide whether a reply in someone else's thread helps (see the module docstring)."""
    text = (text or "").strip()
    if not text:
        return Verdict(False, "empty")
    if _CODE.search(text):
        return Verdict(True, "code")
    if _LINK.search(text):
        return Verdict(True, "link")
    bare = _EMOJI.sub(" ", _MENTION.sub(" ", text)).strip()
    rest = _OPENER.sub("", bare).strip()
    opened = rest != bare
    if _THANKS.match(bare):
        # Thanking someone ("Thanks Nicolas, that's exactly what we needed") is not answering.
        return Verdict(False, "thanks")
    words = sorted(set(content_words(rest)))
    if not words:
        return Verdict(False, "chatter" if opened or bare else "emoji")
    if rest.rstrip().endswith("?") and len(words) < 2 * MIN_CONTENT_WORDS:
        # A question of its own: a follow-up ("same here, any news?"), not an answer.
        return Verdict(False, "question")
    if len(words) < MIN_CONTENT_WORDS * (2 if opened else 1):
        # After "agreed," or "+1," a reply needs twice as much to be more than agreement.
        return Verdict(False, "chatter" if opened else "short")
    return Verdict(True, "content", len(words))


def is_help(text: str) -> bool:
    return judge(text).help


def follow_up(text: str) -> str:
    """What the asker's next message in their thread says of the replies before it: "thanks"
    (thanks, or it worked; a thanks with a new question is still a thanks), "question" (asks
    again), or "other"."""
    text = (text or "").strip()
    bare = _EMOJI.sub(" ", _MENTION.sub(" ", text)).strip()
    if _SOLVED.search(bare):
        return "thanks"
    if bare.endswith("?") or bare.endswith("？") or _QUESTION_START.match(bare):
        return "question"
    return "other"


def followed(verdict: Verdict, after: str | None) -> Verdict:
    """A reply's verdict given what the asker did next (``follow_up``'s answer, "reaction" for
    a reaction of theirs to the reply, None when they said nothing more): see the module
    docstring."""
    if after in ("thanks", "reaction") and verdict.why in ("short", "question"):
        return Verdict(True, "thanked after")
    if after == "question" and verdict.why == "content" and verdict.words < 2 * MIN_CONTENT_WORDS:
        return Verdict(False, "asked again")
    return verdict


_QUESTION_START = re.compile(
    r"^(?:how|what|why|where|when|which|who|is|are|can|could|does|do|did|should|would|has|have|anyone|any|"
    r"comment|pourquoi|quel|quelle|quels|quelles|où|quand|qui|est-ce|peut-on|faut-il|quelqu['’]un|y a-t-il)\b",
    re.IGNORECASE)


def is_question(text: str) -> bool:
    """Whether a thread's first message asks something: a question mark, or a sentence opening
    like a question ("How do I…", "Comment on gère…"), or asking for help ("Help?", "any idea")."""
    text = (text or "").strip()
    if "?" in text or "？" in text:
        return True
    return bool(_QUESTION_START.match(text)) or bool(re.search(r"\b(?:help|any idea|aide|une idée)\b", text, re.IGNORECASE))
