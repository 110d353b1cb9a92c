"""The second lab's notebook (snapshot-server), executed end to end with papermill on real daemons.

Each run gets a freshly launched instance, its own snapshot server (a second incusd started by
`labkit setup --snapshot-server` in a folder and on a port of its own, the main daemon's address
left alone, as tests/integration/test_snapshot_server.py does), a fresh Incus client folder
(INCUS_CONF: the learner's remotes) and a journal.  With `autosolve=True` the solution cells
run the guide's commands against both daemons (the copies in push mode, since the main daemon
does not listen here); every check passes, `labkit --lab snapshot-server check --json` agrees,
and both daemons show what the chapter asked for.  With no learner action every step fails
with a hint and papermill still completes.  Executed notebooks go to build/notebooks/.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from labkit.grading import render
from labkit.provision.second_server import REMOTE_NAME, SnapshotServer
from tests.integration.conftest import incus, labkit, unique
from tests.integration.test_snapshot_server import free_port, second, setup_server, token_of
from tests.notebooks.test_papermill import ARTEFACTS, ROOT, statuses, summary_score

pytestmark = pytest.mark.integration

LAB = "snapshot-server"
# The step ids and points are the chapter's contract (issue 12): the notebook is written against them.
POINTS = {"remote": 2, "snapshot": 1, "copy": 3, "autostart": 1, "schedule": 1, "pattern": 1, "expiry": 1, "refresh": 3}
STEPS = list(POINTS)
PREFIX = "nb2"  # names on the shared daemon
DATED = r"-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"  # what the pattern's Go layout 2006-01-02_15-04-05 gives


@pytest.fixture
def learner(kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SnapshotServer, str, Path]]:
    """(server, its token, the learner's INCUS_CONF): the kernel and the CLI inherit the environment."""
    server = SnapshotServer(Path("/var/lib") / unique(f"{PREFIX}-snapsrv"), free_port())
    conf = tmp_path / "incus-client"
    conf.mkdir()
    try:
        started = setup_server(server.incus_dir, server.port)
        assert started.returncode == 0, started.stderr
        monkeypatch.setenv("INCUS_CONF", str(conf))
        monkeypatch.setenv("LABKIT_SNAPSHOT_SERVER_DIR", str(server.incus_dir))
        yield server, token_of(started.stdout), conf
    finally:
        labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(server.incus_dir), "--stop")


def run_notebook(lang: str, name: str, journal: Path, autosolve: bool, address: str = "",
                 token: str = "") -> nbformat.NotebookNode:
    import papermill

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTEFACTS / f"{LAB}-{lang}-{'autosolve' if autosolve else 'no-action'}.ipynb"
    # A copy or a refresh took up to a minute with 8 agents on 2 cores (docs/second-lab-facts.md).
    papermill.execute_notebook(
        str(ROOT / "notebooks" / lang / f"{LAB}.ipynb"), str(output),
        parameters={"container": name, "autosolve": autosolve, "journal": str(journal), "address": address,
                    "token": token},
        kernel_name="python3", cwd=str(ROOT / "notebooks" / lang), execution_timeout=600,
        progress_bar=False, log_output=False, request_save_on_cell_execute=False)
    return nbformat.read(output, as_version=4)


def cli_report(name: str, journal: Path, lang: str) -> tuple[int, dict]:
    result = labkit("--lab", LAB, "--lang", lang, "--container", name, "--journal", str(journal), "check", "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def on_server(server: SnapshotServer, path: str) -> dict | list:
    return json.loads(second(server.incus_dir, "query", path).stdout)


def assert_both_daemons_show_the_chapter(name: str, server: SnapshotServer, conf: Path) -> None:
    """What the solved chapter leaves, read from the daemons and the client folder (not from labkit)."""
    remotes = json.loads(subprocess.run(["incus", "remote", "list", "--format", "json"],
                                        env={**os.environ, "INCUS_CONF": str(conf)},
                                        capture_output=True, text=True, check=True).stdout)
    assert remotes[REMOTE_NAME]["Addr"] == f"https://{server.address}"
    # One certificate, from the token `labkit setup --snapshot-server` named after the user who ran it.
    assert [c["name"].startswith("learner-") for c in on_server(server, "/1.0/certificates?recursion=1")] == [True]
    primary = json.loads(incus("query", f"/1.0/instances/{name}").stdout)
    assert {k: primary["config"].get(k) for k in ("snapshots.schedule", "snapshots.pattern", "snapshots.expiry")} == {
        "snapshots.schedule": "50 20 * * *", "snapshots.expiry": "1d",
        "snapshots.pattern": f"{name}-{{{{ creation_date|date:'2006-01-02_15-04-05' }}}}"}
    assert primary["config"].get("boot.autostart") is None  # set on the copy, not on the primary
    copy = on_server(server, f"/1.0/instances/{name}")
    assert copy["status"] == "Stopped" and copy["config"]["boot.autostart"] == "false"
    assert copy["config"]["volatile.uuid"] == primary["config"]["volatile.uuid"]  # refreshed from the primary
    snapshots = on_server(server, f"/1.0/instances/{name}/snapshots?recursion=1")
    dated = [s for s in snapshots if re.fullmatch(re.escape(name) + DATED, s["name"])]
    assert "ubuntu-test-1" in [s["name"] for s in snapshots] and len(dated) == 1, snapshots
    assert not dated[0]["expires_at"].startswith("0001-")  # the expiry applied to the new snapshot


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_autosolve_passes_every_step(fresh_instance: str, learner: tuple[SnapshotServer, str, Path], tmp_path: Path,
                                     lang: str) -> None:
    server, token, conf = learner
    journal = tmp_path / "journal.json"
    nb = run_notebook(lang, fresh_instance, journal, True, server.address, token)
    found = statuses(nb)
    assert list(found) == STEPS
    assert {step: status for step, (status, _) in found.items()} == {step: "passed" for step in STEPS}, found
    earned, possible = summary_score(nb)
    assert earned == possible == sum(POINTS.values())
    code, report = cli_report(fresh_instance, journal, lang)
    assert code == 0, report
    assert report["lab"] == LAB and (report["score"]["earned"], report["score"]["possible"]) == (earned, possible)
    assert [(s["id"], s["status"]) for s in report["steps"]] == [(step, "passed") for step in STEPS]
    assert_both_daemons_show_the_chapter(fresh_instance, server, conf)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_learner_action_fails_every_step_with_a_hint(fresh_instance: str, learner: tuple[SnapshotServer, str, Path],
                                                        tmp_path: Path, lang: str) -> None:
    server, _, conf = learner
    journal = tmp_path / "journal.json"
    nb = run_notebook(lang, fresh_instance, journal, autosolve=False)  # completes: a failed check is a result
    found = statuses(nb)
    assert list(found) == STEPS
    hint_label = f"{render.HINT.render(lang)}{render.colon(lang)}"
    for step, (status, text) in found.items():
        assert status == "failed", (step, text)
        assert hint_label in text, (step, text)
    assert summary_score(nb) == (0, sum(POINTS.values()))
    assert not (conf / "config.yml").exists() or REMOTE_NAME not in (conf / "config.yml").read_text()
    assert on_server(server, "/1.0/instances") == []  # nothing was copied
    code, report = cli_report(fresh_instance, journal, lang)
    assert code == 1 and [s["status"] for s in report["steps"]] == ["failed"] * len(STEPS)
