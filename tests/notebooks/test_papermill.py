"""Both notebooks, executed end to end with papermill on a real Incus daemon.

Each run gets its own freshly launched instance and journal.  With `autosolve=True`
every check passes and `labkit check --json` agrees; with no learner action every
step after `prerequisites` fails with a hint, and papermill still completes.
Executed notebooks are kept in build/notebooks/ (git-ignored) as artefacts.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from labkit.grading import render
from labkit.labs.snapshots.steps import CHAPTER
from tests.integration.conftest import incus, labkit

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "build" / "notebooks"
STEPS = [step.id for step in CHAPTER.steps]
BOX = re.compile(r'class="labkit-result labkit-(passed|failed|not_verified)"')
FACES = {"passed": "✔", "failed": "✘", "not_verified": "?"}
SCORE = re.compile(r"(\d+)/(\d+)\s*$")


def run_notebook(lang: str, name: str, journal: Path, autosolve: bool) -> nbformat.NotebookNode:
    import papermill

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTEFACTS / f"snapshots-{lang}-{'autosolve' if autosolve else 'no-action'}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / lang / "snapshots.ipynb"), str(output),
        parameters={"container": name, "autosolve": autosolve, "journal": str(journal)},
        kernel_name="python3", cwd=str(ROOT / "notebooks" / lang), execution_timeout=120,
        progress_bar=False, log_output=False, request_save_on_cell_execute=False)
    return nbformat.read(output, as_version=4)


def tagged(nb: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if tag in cell.metadata.get("tags", [])]


def displayed(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """(HTML, text) of the one box a check or summary cell displays."""
    shown = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result") and "text/html" in o.data]
    assert len(shown) == 1, (cell.id, cell.outputs)
    return shown[0].data["text/html"], shown[0].data["text/plain"]


def statuses(nb: nbformat.NotebookNode) -> dict[str, tuple[str, str]]:
    """step -> (status, plain text) read from each check cell's result box."""
    found = {}
    for cell in tagged(nb, "check"):
        step = next(t for t in cell.metadata["tags"] if t.startswith("step:"))[5:]
        html, text = displayed(cell)
        status = BOX.search(html).group(1)
        assert text.startswith(FACES[status]), (step, text)
        found[step] = (status, text)
    return found


def summary_score(nb: nbformat.NotebookNode) -> tuple[int, int]:
    (cell,) = tagged(nb, "summary")
    _, text = displayed(cell)
    earned, possible = SCORE.search(text).groups()
    return int(earned), int(possible)


def cli_report(name: str, journal: Path, lang: str) -> tuple[int, dict]:
    result = labkit("--lang", lang, "--container", name, "--journal", str(journal), "check", "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_autosolve_passes_every_step(fresh_instance: str, tmp_path: Path, lang: str) -> None:
    journal = tmp_path / "journal.json"
    nb = run_notebook(lang, fresh_instance, journal, autosolve=True)
    found = statuses(nb)
    assert list(found) == STEPS
    assert {step: status for step, (status, _) in found.items()} == {step: "passed" for step in STEPS}
    earned, possible = summary_score(nb)
    assert earned == possible == sum(step.points for step in CHAPTER.steps)
    code, report = cli_report(fresh_instance, journal, lang)
    assert code == 0
    assert (report["score"]["earned"], report["score"]["possible"]) == (earned, possible)
    assert [s["status"] for s in report["steps"]] == ["passed"] * len(STEPS)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_learner_action_fails_every_step_with_a_hint(fresh_instance: str, tmp_path: Path, lang: str) -> None:
    journal = tmp_path / "journal.json"
    nb = run_notebook(lang, fresh_instance, journal, autosolve=False)  # completes: a failed check is a result
    found = statuses(nb)
    assert found.pop("prerequisites")[0] == "passed"
    hint_label = f"{render.HINT.render(lang)}{render.colon(lang)}"
    for step, (status, text) in found.items():
        assert status == "failed", (step, text)
        assert hint_label in text, (step, text)
    earned, possible = summary_score(nb)
    assert earned == CHAPTER.step("prerequisites").points and possible == sum(step.points for step in CHAPTER.steps)
    assert incus("snapshot", "list", fresh_instance, "--format", "csv").stdout.strip() == ""  # nothing was done
    code, report = cli_report(fresh_instance, journal, lang)
    assert code == 1
    assert (report["score"]["earned"], report["score"]["possible"]) == (earned, possible)
    assert [s["status"] for s in report["steps"]] == ["passed"] + ["failed"] * (len(STEPS) - 1)
