"""hint, watch, reset, report and the notebook API on a real daemon."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from labkit.notebooks.api import Lab

from .conftest import ROOT, check_json, incus, labkit

SNAP = "ubuntu-test-1"
FILE = "/root/this_file.txt"


def test_hints_nudge_first_then_give_the_command_and_are_recorded(instance: str, tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    base = ["--container", instance, "--journal", str(journal)]
    first = labkit("--lang", "fr", *base, "hint", "snapshot")
    second = labkit("--lang", "fr", *base, "hint", "snapshot")
    assert first.returncode == second.returncode == 0
    assert "incus snapshot create" not in first.stdout and "«" in first.stdout
    assert f"incus snapshot create {instance} {SNAP}" in second.stdout
    report = json.loads(labkit(*base, "report", "--json").stdout)
    assert next(s for s in report["steps"] if s["id"] == "snapshot")["hints"] == 2
    unknown = labkit("--lang", "en", *base, "hint", "snapshots")
    assert unknown.returncode == 2 and "prerequisites" in unknown.stderr


def recorded(journal: Path, action: str, timeout: float) -> bool:
    """Whether the journal holds an event `action` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(e.get("action") == action for e in json.loads(journal.read_text()).get("events", [])):
                return True
        except (OSError, ValueError):  # not written yet
            pass
        time.sleep(0.2)
    return False


def test_watch_records_the_stop_that_a_later_start_erases(instance: str, tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    base = ["--container", instance, "--journal", str(journal)]
    check_json(instance, journal, "en", "prerequisites")
    watcher = subprocess.Popen([sys.executable, "-m", "labkit", *base, "watch"], cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # It says so once its websocket is open (seconds on a loaded machine: never a fixed sleep).
        assert "Watching" in watcher.stderr.readline()
        incus("snapshot", "create", instance, SNAP)
        time.sleep(1.1)
        incus("exec", instance, "--", "touch", FILE)
        incus("stop", instance)
        incus("snapshot", "restore", instance, SNAP)
        incus("start", instance)
        incus("snapshot", "delete", instance, SNAP)
        # The last event reaches the journal when it does (a moment, or seconds on a busy machine).
        assert recorded(journal, "instance-snapshot-deleted", timeout=120), journal.read_text()
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    _, data = check_json(instance, journal, "en")
    statuses = {s["id"]: s["status"] for s in data["steps"]}
    # The listener saw the snapshot and the stop; only the file's creation left no trace.
    assert statuses["snapshot"] == "passed" and statuses["stop"] == "passed"
    assert statuses["touch"] == "not_verified"
    assert all(statuses[s] == "passed" for s in ("restore", "start"))
    # Nothing saw the file before the restore: its absence proves nothing; cleanup has its own
    # evidence (snapshot gone, instance kept, restore proven) and is never failed for verify's doubt.
    assert statuses["verify"] == "not_verified" and statuses["cleanup"] == "passed"


def test_reset_brings_the_instance_back_to_the_start_and_archives_the_attempt(instance: str, tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    base = ["--container", instance, "--journal", str(journal)]
    check_json(instance, journal, "en", "prerequisites")
    incus("snapshot", "create", instance, SNAP)
    incus("exec", instance, "--", "touch", FILE)
    incus("stop", instance)
    refused = labkit("--lang", "fr", *base, "reset")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = labkit("--lang", "en", *base, "reset", "--yes")
    assert done.returncode == 0, done.stderr
    state = json.loads(incus("query", f"/1.0/instances/{instance}?recursion=1").stdout)
    assert state["status"] == "Running" and not state.get("snapshots")
    assert incus("exec", instance, "--", "test", "-e", FILE, check=False).returncode == 1
    assert (tmp_path / "j.attempt-1.json").exists()
    assert json.loads(journal.read_text())["attempt"] == 2
    _, data = check_json(instance, journal, "en")
    assert [s["status"] for s in data["steps"]][:2] == ["passed", "failed"]


def test_the_notebook_api_follows_the_chapter_with_its_listener(instance: str, tmp_path: Path) -> None:
    lab = Lab(container=instance, lang="fr", journal=tmp_path / "j.json")
    try:
        assert lab.listener is not None and lab.listener.alive
        assert lab.check("prerequisites").passed
        assert not lab.check("snapshot").passed
        for step in ("snapshot", "touch", "stop", "restore", "start", "verify", "cleanup"):
            lab.solve(step)
            result = lab.check(step)
            assert result.passed, (step, result.message.render("fr"))
        score = lab.summary()
        assert score.earned == score.possible == 12
        assert any(e["action"] == "instance-restored" for e in lab.session.journal.data["events"])
    finally:
        lab.close()
    assert lab.listener is None


def test_the_notebook_api_shows_errors_instead_of_raising_on_check(instance: str, tmp_path: Path) -> None:
    lab = Lab(container=instance, lang="en", journal=tmp_path / "j.json", listen=False)
    incus("delete", "--force", instance)
    result = lab.check("snapshot")
    assert result is not None and not result.passed and result.diagnosis == "instance_deleted"
