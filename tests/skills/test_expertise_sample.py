"""Who knows, on the bundled sample company, through the real `liaison chat` entry point: the
people who really answered come first, and chatter ("I'll join!", "Thanks Nicolas") is not
evidence."""

from __future__ import annotations

import re

import pytest

from bot.app.cli import main


@pytest.fixture(scope="module")
def chat(tmp_path_factory):  # noqa: ANN001, ANN201
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("sample")
    mp.chdir(home)
    mp.setenv("DATABASE_URL", f"sqlite:///{home / 'chat.db'}")
    mp.delenv("LIAISON_CONFIG", raising=False)

    def ask(who: str, text: str, capsys) -> list[str]:  # noqa: ANN001
        capsys.readouterr()
        assert main(["chat", "--as", who, "--say", text]) == 0
        out = capsys.readouterr().out
        return [line.strip() for line in out.splitlines() if re.match(r"\s*\d\. \*", line)]

    yield ask
    mp.undo()


def names(lines: list[str]) -> list[str]:
    return [re.match(r"\d\. \*([^*]+)\*", line).group(1) for line in lines]


def test_terraform_puts_nicolas_first_and_chatter_is_not_evidence(chat, capsys) -> None:  # noqa: ANN001
    lines = chat("Priya", "who knows terraform?", capsys)
    assert names(lines)[0] == "Nicolas Girard"
    assert lines[0].split("— ", 1)[1].startswith("answered 4 questions about Terraform")
    # Hannah only said "I'll join!" under Nicolas's session announcement; Stefan only thanked him.
    assert "Hannah Okafor" not in names(lines)
    stefan = [line for line in lines if "Stefan Keller" in line]
    assert not stefan or "answered" not in stefan[0]


def test_stripe_puts_chloe_in_the_top_two(chat, capsys) -> None:  # noqa: ANN001
    lines = chat("Priya", "who knows stripe?", capsys)
    assert "Chloé Lambert" in names(lines)[:2]
    assert "answered 6 questions about Stripe" in lines[names(lines).index("Chloé Lambert")]


def test_links_go_to_helpful_replies_only(chat, capsys) -> None:  # noqa: ANN001
    lines = chat("Priya", "who knows terraform?", capsys)
    for line in lines:
        reason = line.split("— ", 1)[1]
        if reason.startswith("wrote about"):
            assert "https://" not in line  # mentioning a topic is not help: nothing to link
        else:
            assert "(https://alderbrook.example/archives/" in line, line


def test_kubernetes_is_named_as_people_write_it(chat, capsys) -> None:  # noqa: ANN001
    # The workspace first says "k8s" (the topic "kubernetes"), later "Kubernetes": answers use the name.
    reasons = [line.split("— ", 1)[1] for line in chat("Priya", "who knows kubernetes?", capsys)]
    assert sum("about Kubernetes" in r for r in reasons) >= 3
    assert not any("about kubernetes" in r for r in reasons)
    # The answer's first line names the topic the same way, whatever case the question used.
    capsys.readouterr()
    assert main(["chat", "--as", "Priya", "--say", "who knows kubernetes?"]) == 0
    assert "People who know about *Kubernetes*:" in capsys.readouterr().out


# Why it fails, measured: only one of Aisha's three Kubernetes answers names it ("k8s"); the
# others say pod, kubectl and HPA, which this workspace links to Kubernetes in one thread (pod:
# 1 of the 4 threads that say it; kubectl, HPA: none), so nothing learned from its own history
# can credit them much. And even with all three counted in full as Kubernetes answers she is
# third (3.07) under the default ranking (the sample has too few answered threads to learn its
# own), below Tomás (3.15), whose announcement of the Kubernetes lunch & learn and question about
# Strimzi count as writing about it (the default weighs that half as much as help).
@pytest.mark.xfail(strict=True, reason="issue 15: two of Aisha's three Kubernetes answers say only pod, kubectl, HPA, "
                   "which the sample links to Kubernetes once; counted in full, she is still third under the default "
                   "ranking, below Tomás's writing about Kubernetes")
def test_kubernetes_puts_aisha_in_the_top_two(chat, capsys) -> None:  # noqa: ANN001
    lines = chat("Priya", "who knows kubernetes?", capsys)
    assert "Aisha Rahman" in names(lines)[:2]


def test_terraform_and_stripe_stay_right_when_asked_in_french(chat, capsys) -> None:  # noqa: ANN001
    assert names(chat("Priya", "qui connaît terraform ?", capsys))[0] == "Nicolas Girard"
    assert "Chloé Lambert" in names(chat("Priya", "qui connaît stripe ?", capsys))[:2]
