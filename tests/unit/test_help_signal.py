"""Help, not chatter: which replies in someone else's thread count as answers, in English and
French, on replies shaped like real ones."""

from __future__ import annotations

import pytest

from skills.expertise.help_signal import is_question, judge

CHATTER = [
    ("+1", "chatter"),
    ("+1 :pray:", "chatter"),
    ("Agreed, staging only to start.", "chatter"),
    ("Thanks Nicolas, that's exactly the guardrail we needed.", "thanks"),
    ("Thanks both, super helpful.", "thanks"),
    ("Merci <@U0XAXYTAMJO> !", "thanks"),
    ("I'll join!", "chatter"),
    ("Count me in (in English please :pray:)", "chatter"),
    ("Je serai là aussi.", "chatter"),
    ("Me too", "chatter"),
    ("moi aussi :sweat_smile:", "chatter"),
    ("Welcome Wei!", "chatter"),
    ("Bienvenue Wei !", "chatter"),
    ("Oui, c'est en cours.", "chatter"),
    ("Très bonne analogie pour une boîte de logistique :smile:", "short"),
    ("Monitoring charts fixed.", "short"),
    (":tada:", "emoji"),
    ("Same problem here, did anyone find a fix?", "question"),
    ("Est-ce que ça s'applique aussi au Canada en CAD ?", "question"),
]

HELP = [
    ("Try `kubectl logs <pod> --previous`: empty logs usually means you're looking at the fresh container.", "code"),
    ("See <https://wiki.example.com/runbooks/kafka|the runbook>", "link"),
    ("Ce ne sont pas les tags : engine_version a changé parce que le module est passé en 16, pin la version.", "content"),
    ("Exact. Et on devrait mettre un timeout sur le job CI pour qu'il libère le lock proprement.", "content"),
    ("Your pods don't have CPU requests set, so the HPA can't compute utilisation. Add requests and it'll work.", "content"),
    ("Stripe garantit une livraison at-least-once : il faut stocker l'identifiant et ignorer les doublons.", "content"),
]


@pytest.mark.parametrize(("text", "why"), CHATTER)
def test_chatter_is_not_help(text: str, why: str) -> None:
    verdict = judge(text)
    assert not verdict and verdict.why == why


@pytest.mark.parametrize(("text", "why"), HELP)
def test_answers_are_help(text: str, why: str) -> None:
    verdict = judge(text)
    assert verdict and verdict.why == why


def test_thread_openers_that_ask_are_questions() -> None:
    assert is_question("How do I get a GPU node in the k8s staging cluster?")
    assert is_question("Comment on gère les webhooks en double")
    assert is_question("Terraform plan wants to destroy the RDS instance. Help")
    assert not is_question("Kubernetes 1.31 upgrade on the prod clusters next Tuesday.")
    assert not is_question("Lunch & learn on Thursday: Kubernetes for non-engineers")
