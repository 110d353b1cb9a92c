"""`labkit check` output: the first step not done in full, the steps waiting on it on one line each."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from labkit.grading import render
from labkit.grading.engine import Score, Status, grade
from labkit.labs.snapshots.observe import Observation
from labkit.labs.snapshots.steps import CHAPTER

from .test_checks import PARAMS, history, load

TITLES = {s.id: s.title for s in CHAPTER.steps}
LATER = ["touch", "stop", "restore", "start", "verify", "cleanup"]
TODO = {"en": "· to do", "fr": "· à faire"}
HINT = {"en": "    Hint: ", "fr": "    Indice\u00a0: "}


def graded(scenario: str, steps: list[str] | None = None):
    data = load(scenario)
    return grade(CHAPTER, Observation.from_json(data["observation"]), history(data), PARAMS, steps)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_fresh_instance_shows_the_next_step_in_full_and_the_rest_as_to_do_lines(lang: str) -> None:
    results = graded("fresh")
    lines = render.text_report(results, Score.of(results), TITLES, lang).splitlines()
    snapshot = next(i for i, line in enumerate(lines) if "  snapshot — " in line)
    assert lines[snapshot].startswith("✘ ")
    assert lines[snapshot + 2].startswith(HINT[lang]) and "incus snapshot" in lines[snapshot + 2]
    todo = lines[snapshot + 3:-1]
    assert todo == [f"{TODO[lang]}  {step} — {TITLES[step].render(lang)} "
                    f"(0/{CHAPTER.step(step).points})" for step in LATER]
    assert sum(line.startswith(HINT[lang]) for line in lines) == 1
    assert lines[-1] == render.SCORE.bind(earned=1, possible=12).render(lang)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_verbose_shows_every_step_in_full(lang: str) -> None:
    results = graded("fresh")
    text = render.text_report(results, Score.of(results), TITLES, lang, verbose=True)
    assert TODO[lang] not in text
    assert text.count(HINT[lang]) == 7
    for r in results:
        assert r.message.render(lang) in text


def test_a_step_asked_alone_is_in_full_even_when_it_waits_on_an_earlier_one() -> None:
    results = graded("fresh", ["restore"])
    assert render.waits_on_earlier(results[0])
    text = render.text_report(results, Score.of(results), TITLES, "en")
    assert TODO["en"] not in text and HINT["en"] in text and results[0].message.render("en") in text


def test_only_order_failures_after_the_first_step_not_done_are_folded() -> None:
    # A deleted instance fails every step for its own reason: every one is shown in full.
    gone = graded("instance_deleted")
    assert all(r.status is Status.FAILED and not render.waits_on_earlier(r) for r in gone)
    assert render.folded(gone) == set()
    fresh = graded("fresh")
    assert render.folded(fresh) == set(LATER)
    # Passed steps before the first failure change nothing; the first failure itself is never folded.
    assert render.folded(graded("fresh", ["touch", "stop", "restore"])) == {"stop", "restore"}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_terminal_report_folds_the_same_steps(lang: str) -> None:
    results = graded("fresh")
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor", file=io.StringIO())
    render.rich_report(console, results, Score.of(results), TITLES, lang)
    lines = console.export_text().splitlines()
    todo = [line for line in lines if line.startswith(f" {TODO[lang]} ")]
    assert todo == [f" {TODO[lang]}  {TITLES[s].render(lang)} ({s}, 0/{CHAPTER.step(s).points})" for s in LATER]
    assert sum(line.lstrip().startswith(HINT[lang].strip()) for line in lines) == 1
    console = Console(record=True, width=100, force_terminal=True, file=io.StringIO())
    render.rich_report(console, results, Score.of(results), TITLES, lang, verbose=True)
    assert TODO[lang] not in console.export_text()


def test_json_keeps_every_step_in_full() -> None:
    results = graded("fresh")
    data = render.report_json(results, Score.of(results), lab="snapshots", container="ubuntu-test",
                              snapshot="ubuntu-test-1", lang="en")
    later = [s for s in data["steps"] if s["id"] in LATER]
    assert [s["status"] for s in later] == ["failed"] * len(LATER)
    assert all(s["message"] and s["hint"] for s in later)
    assert set(data["steps"][0]) == {"id", "status", "passed", "points", "message", "hint", "evidence"}
