"""Text said back to people: no mention markup survives ``quote``."""

import time

from bot.text import quote


def test_slack_broadcasts_become_plain_words() -> None:
    assert quote("<!here> and <!channel> and <!everyone>") == "@here and @channel and @everyone"
    assert quote("ping <!here|here>") == "ping @here"


def test_user_groups_and_dates_keep_their_label() -> None:
    assert quote("for <!subteam^S123|@platform-team>") == "for @platform-team"
    assert quote("the <!subteam^S123> folks") == "the @subteam folks"
    assert quote("since <!date^1392734382^{date_short}|Feb 18, 2014>") == "since Feb 18, 2014"


def test_user_mentions_read_as_names_when_known() -> None:
    names = {"U0DAN": "Dan Brown"}.get
    assert quote("pairing with <@U0DAN> and <@U0ZED>", names) == "pairing with @Dan Brown and @U0ZED"
    assert quote("ask <@U0ADA|ada>") == "ask @ada"
    # Teams mentions arrive in the same form, and stray <at> tags become plain names too.
    assert quote("with <@29:1abc> and <at>Everyone</at>") == "with @29:1abc and @Everyone"
    assert quote("<AT id='0'>General</AT> <at>") == "@General "


def test_links_channels_and_plain_text_are_left_alone() -> None:
    text = "see <https://example.com|the doc> in <#C0GENERAL|general>, a < b > c, x@y.com"
    assert quote(text) == text
    assert quote("") == "" and quote(None) == ""


def test_nothing_with_an_angle_bracket_special_survives() -> None:
    nasty = "<!here><!channel|x><@U1|<!everyone>><<!subteam^S1|@t>><at><at>x</at></at>"
    out = quote(nasty)
    assert "<!" not in out and "<@" not in out and "<at" not in out.lower()


def test_quote_is_linear_on_unclosed_markup() -> None:
    # Every pattern stops at the next angle bracket: thousands of unclosed openings stay fast.
    for text in ("<!" * 20_000, "<@" * 20_000, "<at>" * 10_000, "<!x|" + "y" * 50_000):
        started = time.perf_counter()
        quote(text)
        assert time.perf_counter() - started < 0.5  # generous: it takes milliseconds
