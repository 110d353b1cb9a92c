"""The learner's view, in a real browser: Debian's chromium on a real JupyterLab.

- solved run (French and English): the notebook prepared with autosolve=True, then
  Run → Run All Cells from JupyterLab's menu; all 8 result boxes pass, the progress
  bar reaches 8/8, no error output;
- learner run (French): run the cells one by one, type the snapshot command into its
  cell, see *passed*; run the next check without acting, see *failed* with its hint;
  ask for the hint twice (the nudge, then the exact command);
- result boxes stored in an untrusted notebook survive JupyterLab's sanitiser, read
  well in the light and dark themes (WCAG contrast measured in the page), and render
  in Notebook 7 too;
- the terminal report (`labkit check` on a TTY) reads on light and dark terminals and
  wraps without splitting French typography or a quoted command.

Screenshots land in build/browser/ (git-ignored) for a human to look at.

Each run gets its own freshly launched instance and journal; JupyterLab runs once per
session on loopback with a random token (see conftest.py).
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labkit.grading import render
from labkit.grading.engine import Result, Score, Status
from labkit.i18n import M
from labkit.labs.snapshots.steps import CHAPTER

from .conftest import JupyterLab, NotebookPage, prepare, require

pytestmark = [pytest.mark.integration, pytest.mark.browser]

STEPS = [step.id for step in CHAPTER.steps]
WORDS = {"fr": {"passed": "✔ réussie", "failed": "✘ échouée", "hint": "Indice\u00a0:", "solution": "Solution\u00a0:"},
         "en": {"passed": "✔ passed", "failed": "✘ failed", "hint": "Hint:", "solution": "Solution:"}}
# AA contrast for normal text (WCAG 2.x, 1.4.3).
READABLE = 4.5
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "browser"  # screenshots, git-ignored


def status_of(box: Any) -> str:
    return re.search(r"labkit-(passed|failed|not_verified)\b", box.get_attribute("class")).group(1)


def open_notebook(browser: Any, lab: JupyterLab, path: str, workspace: str) -> NotebookPage:
    nb = NotebookPage(browser.new_page(), lab).open(path, workspace)
    assert nb.dialogs() == 0, "a dialog (kernel picker?) opened with the notebook"
    assert nb.kernel_name().startswith("Python 3"), nb.kernel_name()  # python3, started by itself
    return nb


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_solved_run_from_the_run_menu(jupyterlab: JupyterLab, browser: Any, fresh_instance: str,
                                      tmp_path: Path, lang: str) -> None:
    path = prepare(jupyterlab, lang, f"solved-{fresh_instance}", notebook=CHAPTER.notebook, container=fresh_instance,
                   autosolve=True, journal=str(tmp_path / "journal.json"))
    nb = open_notebook(browser, jupyterlab, path, fresh_instance)
    nb.menu("Run", "Run All Cells")
    nb.page.wait_for_function("() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .labkit-summary,"
                              " .jp-NotebookPanel:not(.lm-mod-hidden) "
                              ".jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]').length > 0",
                              timeout=180_000)
    nb.wait_idle()
    assert nb.errors() == []
    boxes = nb.boxes()
    assert boxes.count() == len(STEPS) == 8
    for i in range(boxes.count()):
        box = boxes.nth(i)
        assert status_of(box) == "passed", box.text_content()
        assert box.text_content().startswith(WORDS[lang]["passed"]), box.text_content()
    progress = [boxes.nth(i).locator(".labkit-progress").text_content().strip() for i in range(boxes.count())]
    assert progress == [f"{n}/8" for n in range(1, 9)], progress  # reaches 8/8
    bar = boxes.nth(7).locator(".labkit-progress-bar")
    assert bar.evaluate("el => el.style.width") == "100%"
    summary = nb.panel.locator(".labkit-summary").text_content()
    total = sum(step.points for step in CHAPTER.steps)
    assert render.SCORE.bind(earned=total, possible=total).render(lang) in summary


# -- result boxes stored in an untrusted notebook ------------------------------------
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "observations"
PARAMS = {"container": "ubuntu-test", "snapshot": "ubuntu-test-1"}


def graded(scenario: str, passed: set[str] = frozenset()) -> list[Result]:
    """Real results of the chapter's checks on an observation recorded from a real daemon."""
    import json
    from datetime import datetime, timezone

    from labkit.grading.engine import Baseline, History, grade
    from labkit.labs.snapshots.observe import Observation

    data = json.loads((FIXTURES / f"{scenario}.json").read_text())
    base = data["baseline"]
    history = History(frozenset(passed),
                      Baseline(base["uuid"], base["generation"], datetime(2026, 1, 1, tzinfo=timezone.utc)))
    return grade(CHAPTER, Observation.from_json(data["observation"]), history, PARAMS)


def one_of_each() -> list[Result]:
    """A passed check (with evidence), a failed one (with a hint), a not verified one."""
    return [graded("snapshot_taken")[1], graded("fresh")[2],
            next(r for r in graded("restored_running") if r.status is Status.NOT_VERIFIED)]


def gallery() -> nbformat.NotebookNode:
    """Every kind of box labkit shows, in both languages, as stored outputs (so untrusted)."""
    titles = {s.id: s.title for s in CHAPTER.steps}
    shown = one_of_each()
    summary = graded("restored_running", {"prerequisites", "snapshot", "touch"})
    step = CHAPTER.step("touch")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    for lang in ("fr", "en"):
        def cell(source: str, html: str) -> None:
            nb.cells.append(nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output(
                "execute_result", {"text/html": html, "text/plain": source}, execution_count=1)]))

        nb.cells.append(nbformat.v4.new_markdown_cell(f"## {lang}"))
        for result in shown:
            cell(f'lab.check("{result.step}")', render.html_result(result, titles[result.step], lang, (3, 8)))
        for label, message in ((M("lab.hint.nudge", "Hint"), step.nudge),
                               (M("lab.hint.solution", "Solution"), step.solution)):
            cell('lab.hint("touch")', render.html_hint(label.render(lang), message.bind(**PARAMS).render(lang), lang))
        cell("lab = Lab(...)", render.html_error(M(
            "incus.instance_not_found",
            "There is no instance named “{name}” in project “{project}”. Check the name (--container), "
            "or create the lab instance with “labkit setup”.", name="ubuntu-test", project="default").render(lang)))
        cell("lab.summary()", render.html_summary(summary, Score.of(summary), titles, lang))
    return nb


def assert_boxes_styled_and_readable(nb: NotebookPage, where: str) -> None:
    # Every output of the gallery rendered: 3 results, 2 hints, 1 error and 1 summary per language.
    nb.page.wait_for_function("""() => document.querySelectorAll('.labkit-result').length === 6
        && document.querySelectorAll('.labkit-hint').length === 4
        && document.querySelectorAll('.labkit-summary').length === 2""")
    boxes = nb.page.locator(".labkit-result")
    for i in range(boxes.count()):
        style = boxes.nth(i).evaluate("el => { const s = getComputedStyle(el); return "
                                      "[s.borderLeftWidth, s.backgroundColor]; }")
        assert style[0] == "6px" and style[1] != "rgba(0, 0, 0, 0)", (where, style)  # inline styles survived
    texts = nb.contrast()
    assert len(texts) > 40
    poor = [t for t in texts if t["ratio"] < READABLE]
    assert not poor, (where, poor)


def test_untrusted_boxes_survive_the_sanitiser_and_read_in_light_and_dark(jupyterlab: JupyterLab, browser: Any) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    notebook = gallery()
    for html in (o.data["text/html"] for c in notebook.cells if c.cell_type == "code" for o in c.outputs):
        assert not re.search(r"<script|<style|var\(--|javascript:", html), html  # inline HTML and CSS only
    nbformat.write(notebook, jupyterlab.root / "gallery.ipynb")
    served = jupyterlab.api("GET", "api/contents/gallery.ipynb").json()["content"]["cells"]
    assert all(c["metadata"].get("trusted") is False for c in served if c["cell_type"] == "code")  # untrusted
    nb = NotebookPage(browser.new_page(), jupyterlab).open("gallery.ipynb", "gallery")
    # Wait for them: JupyterLab renders a long notebook's outputs progressively (13 of 14 were there
    # at the first count once, in CI under load).
    nb.page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output.jp-RenderedHTMLCommon')"
                              ".length >= 14",
                              timeout=60_000)
    assert nb.page.locator("script").filter(has_text="labkit").count() == 0
    try:
        for theme in ("light", "dark"):
            nb.theme(theme)
            assert_boxes_styled_and_readable(nb, theme)
            # The notebook panel alone: headless chromium may repaint a whole-window capture stale.
            nb.panel.screenshot(path=str(ARTEFACTS / f"gallery-{theme}.png"))
    finally:
        nb.theme("light")  # the theme is a setting of the session's server: leave it as we found it


def test_boxes_render_in_notebook_7(jupyterlab: JupyterLab, browser: Any) -> None:
    require(incus=False, notebook7=True)
    nbformat.write(gallery(), jupyterlab.root / "gallery7.ipynb")
    page = browser.new_page()
    page.goto(jupyterlab.url("notebooks/gallery7.ipynb"))
    page.locator(".labkit-result").first.wait_for(timeout=60_000)
    nb = NotebookPage(page, jupyterlab)
    assert_boxes_styled_and_readable(nb, "notebook 7")
    page.screenshot(path=str(ARTEFACTS / "gallery-notebook7.png"), full_page=True)


# -- a learner, step by step --------------------------------------------------------
def cell_index(path: Path, cell_id: str) -> int:
    """Where a cell of the source sits in the prepared notebook (papermill keeps the ids)."""
    return [c.get("id") for c in nbformat.read(path, as_version=4).cells].index(cell_id)


def test_learner_run_in_french(jupyterlab: JupyterLab, browser: Any, fresh_instance: str, tmp_path: Path) -> None:
    lang = "fr"
    path = prepare(jupyterlab, lang, f"learner-{fresh_instance}", notebook=CHAPTER.notebook, container=fresh_instance,
                   autosolve=False, journal=str(tmp_path / "journal.json"))
    command_at = cell_index(jupyterlab.root / path, "snapshot-command")
    check_at = cell_index(jupyterlab.root / path, "snapshot-check")
    nb = open_notebook(browser, jupyterlab, path, fresh_instance)
    cells = nb.cells()

    # Run the cells one by one, as a learner reads, up to the first command cell.
    nb.select(cells.nth(0))
    nb.run_selected(times=command_at)
    assert nb.active_index() == command_at
    prerequisites = nb.boxes()
    assert prerequisites.count() == 1 and status_of(prerequisites.first) == "passed", prerequisites.first.text_content()

    # Type the command, run it, then its check: Shift+Enter from the command lands on the check.
    nb.type_into(cells.nth(command_at), f"incus snapshot create {fresh_instance} ubuntu-test-1")
    nb.run_selected()
    assert nb.active_index() == check_at, "the check cell should come right after the command cell"
    nb.run_selected()
    box = nb.boxes(cells.nth(check_at))
    assert box.count() == 1 and status_of(box) == "passed", box.text_content()
    assert box.text_content().startswith(WORDS[lang]["passed"])
    assert nb.errors() == []

    # The next check, without acting: failed, with its hint.
    touch_check = cells.nth(cell_index(jupyterlab.root / path, "touch-check"))
    nb.run_cell(touch_check)
    box = nb.boxes(touch_check)
    assert status_of(box) == "failed", box.text_content()
    text = box.text_content()
    assert text.startswith(WORDS[lang]["failed"]) and WORDS[lang]["hint"] in text, text
    assert f"incus exec {fresh_instance} -- touch /root/this_file.txt" in text

    # Ask for the hint twice, in a new cell under the check: first the nudge, then the exact command.
    nb.select(touch_check)
    nb.page.keyboard.press("b")
    new = cells.nth(cell_index(jupyterlab.root / path, "touch-check") + 1)
    nb.type_into(new, 'lab.hint("touch")')
    nb.run_cell(new)
    first = new.locator(".labkit-hint").text_content()
    assert WORDS[lang]["hint"] in first and "incus exec" in first and fresh_instance not in first, first
    nb.run_cell(new)
    second = new.locator(".labkit-hint").text_content()
    assert WORDS[lang]["solution"] in second, second
    assert f"incus exec {fresh_instance} -- touch /root/this_file.txt" in second, second
    nb.panel.screenshot(path=str(ARTEFACTS / "learner-fr.png"))


# -- the terminal report (`labkit check` on a TTY), looked at in the same browser ----
# Tango's palette (GNOME Terminal, many distributions' default) on a light and a dark background.
TANGO = ([(46, 52, 54), (204, 0, 0), (78, 154, 6), (196, 160, 0),
          (52, 101, 164), (117, 80, 123), (6, 152, 154), (211, 215, 207)],
         [(85, 87, 83), (239, 41, 41), (138, 226, 52), (252, 233, 79),
          (114, 159, 207), (173, 127, 168), (52, 226, 226), (238, 238, 236)])
TERMINALS = {"light": ((255, 255, 255), (23, 20, 33)), "dark": ((23, 20, 33), (208, 207, 204))}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_terminal_report_reads_on_light_and_dark_terminals(browser: Any, lang: str) -> None:
    from rich.console import Console
    from rich.terminal_theme import TerminalTheme

    results = one_of_each()
    titles = {s.id: s.title for s in CHAPTER.steps}
    console = Console(record=True, width=64, force_terminal=True, color_system="truecolor", file=io.StringIO())
    render.rich_report(console, results, Score.of(results), titles, lang)
    lines = console.export_text(clear=False).splitlines()
    badges = tuple(f" {render.verdict(status, lang)} " for status in Status)
    score = Score.of(results)
    assert lines[-1] == render.SCORE.bind(earned=score.earned, possible=score.possible).render(lang), lines
    for line in lines[:-1]:  # a badge line, or a line of an indented paragraph
        assert line.startswith(badges + ("    ",)), lines
        assert len(line) <= 64, lines
        # French no-break spaces and quoted commands stay on one line.
        assert not line.rstrip().endswith(("«", "“")) and not line.lstrip().startswith(("»", "”", ":", ";")), lines
    assert any("incus snapshot --help" in line for line in lines), lines
    page = browser.new_page()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for name, (background, foreground) in TERMINALS.items():
        theme = TerminalTheme(background, foreground, *TANGO)
        page.set_content(f'<div class="labkit-terminal">'
                         f'{console.export_html(theme=theme, inline_styles=True, clear=False)}</div>')
        texts = NotebookPage(page, None).contrast(".labkit-terminal pre")
        poor = [t for t in texts if t["ratio"] < READABLE]
        assert texts and not poor, (name, poor)
        page.screenshot(path=str(ARTEFACTS / f"terminal-{lang}-{name}.png"), full_page=True)
