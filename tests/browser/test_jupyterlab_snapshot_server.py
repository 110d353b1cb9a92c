"""The second lab (snapshot-server) in a real browser: its solved path in JupyterLab, in French.

The notebook is prepared with autosolve=True and the address and token of a snapshot server
brought up for the test (a second incusd started by `labkit setup --snapshot-server` in a folder
and on a port of its own, the main daemon left alone, as tests/integration/test_snapshot_server.py
does), then run with Run → Run All Cells from JupyterLab's menu, on a freshly launched instance.
Every one of the 8 result boxes must say *passed* (each box is read in its step's check cell:
one failed box fails the test), the progress bar reaches 8/8, the summary shows the chapter's
full score (13 points, read from the chapter), and no cell shows an error.

This test runs a JupyterLab server of its own: its kernel must see the test's snapshot server
(LABKIT_SNAPSHOT_SERVER_DIR) and the learner's Incus client folder (INCUS_CONF), and a kernel
inherits the environment of the server that starts it.  The copies run in push mode (the
solution's fallback), since the main daemon does not listen here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from labkit.grading import render
from labkit.labs import chapter_named
from labkit.provision.second_server import SnapshotServer
from tests.integration.conftest import labkit, unique
from tests.integration.test_snapshot_server import free_port, setup_server, token_of

from .conftest import JupyterLab, assert_kernel_is_ours, instance, prepare, require
from .test_jupyterlab import ARTEFACTS, WORDS, cell_index, open_notebook, status_of

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHAPTER = chapter_named("snapshot-server")
STEPS = [step.id for step in CHAPTER.steps]
PREFIX = "b2"  # names of what this test makes on the shared daemon and under /var/lib
# A copy or a refresh took up to a minute on a loaded machine (docs/second-lab-facts.md).
RUN_TIMEOUT_MS = 900_000


@pytest.fixture
def learner(tmp_path: Path) -> Iterator[tuple[SnapshotServer, str, Path]]:
    """(a fresh snapshot server, its trust token, the learner's empty Incus client folder)."""
    require(incus=True)
    server = SnapshotServer(Path("/var/lib") / unique(f"{PREFIX}-snapsrv"), free_port())
    conf = tmp_path / "incus-client"
    conf.mkdir()
    try:
        started = setup_server(server.incus_dir, server.port)
        assert started.returncode == 0, started.stderr
        yield server, token_of(started.stdout), conf
    finally:
        labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(server.incus_dir), "--stop")


@pytest.fixture
def lab_server(learner: tuple[SnapshotServer, str, Path], tmp_path: Path) -> Iterator[JupyterLab]:
    """A JupyterLab whose kernels see the test's snapshot server and client folder."""
    server, _, conf = learner
    env = {"LABKIT_SNAPSHOT_SERVER_DIR": str(server.incus_dir), "INCUS_CONF": str(conf)}
    with JupyterLab(tmp_path / "jupyterlab", env=env) as lab:
        assert_kernel_is_ours(lab)
        yield lab


@pytest.fixture
def fresh_instance() -> Iterator[str]:
    require(incus=True)
    with instance(f"{PREFIX}-br") as name:
        yield name


def test_solved_run_in_french(lab_server: JupyterLab, learner: tuple[SnapshotServer, str, Path], browser: Any,
                              fresh_instance: str, tmp_path: Path) -> None:
    lang = "fr"
    server, token, _ = learner
    path = prepare(lab_server, lang, f"solved-{fresh_instance}", notebook=CHAPTER.notebook, container=fresh_instance,
                   autosolve=True, address=server.address, token=token, journal=str(tmp_path / "journal.json"))
    nb = open_notebook(browser, lab_server, path, fresh_instance)
    nb.menu("Run", "Run All Cells")
    # Until the summary is shown, or a cell failed (JupyterLab then drops the cells queued after it).
    nb.page.wait_for_function(
        """() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .labkit-summary, '
             + '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'
             + '[data-mime-type="application/vnd.jupyter.error"]').length > 0""", timeout=RUN_TIMEOUT_MS)
    nb.wait_idle()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    nb.panel.screenshot(path=str(ARTEFACTS / "snapshot-server-solved-fr.png"))
    assert nb.errors() == []

    # Each step's box, in its own check cell: passed, in French (a failed one names its step).
    cells = nb.cells()
    for step in STEPS:
        box = nb.boxes(cells.nth(cell_index(lab_server.root / path, f"{step}-check")))
        assert box.count() == 1, (step, box.count())
        assert status_of(box) == "passed", (step, box.text_content())
        assert box.text_content().startswith(WORDS[lang]["passed"]), (step, box.text_content())
    boxes = nb.boxes()
    assert boxes.count() == len(STEPS) == 8
    assert nb.panel.locator(".labkit-failed, .labkit-not_verified").count() == 0

    progress = [boxes.nth(i).locator(".labkit-progress").text_content().strip() for i in range(boxes.count())]
    assert progress == [f"{n}/8" for n in range(1, 9)], progress  # reaches 8/8
    assert boxes.nth(7).locator(".labkit-progress-bar").evaluate("el => el.style.width") == "100%"

    total = sum(step.points for step in CHAPTER.steps)
    assert total == 13
    summary = nb.panel.locator(".labkit-summary").text_content()
    assert render.SCORE.bind(earned=total, possible=total).render(lang) in summary, summary
