"""More attacks by a learner with nothing but their access folder, while the instructor runs
`labkit class status --watch`: the view must grant no pass the events contradict, and keep up.

One class, one learner per attack, removed even on failure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from labkit.grading.event_bounds import KEPT_PER_ACTION

from .conftest import ROOT, require_daemon
from .test_class import Klass, last_json, running_class
from .test_class_attacks import learner_of, status, steps_of

pytestmark = pytest.mark.integration
ATTACKERS = ("wrongsnap", "renamed", "flood")


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Klass]:
    require_daemon()
    root = tmp_path_factory.mktemp("classes")
    roster = root / "roster.txt"
    roster.write_text("\n".join(ATTACKERS) + "\n", encoding="utf-8")
    with running_class(root, "--roster", str(roster)) as made:
        yield made


class Watcher:
    """`labkit class status --watch --json` in the background, its output kept."""

    def __init__(self, klass: Klass, seconds: int = 240):
        self.process = subprocess.Popen([sys.executable, "-m", "labkit", "class", "--dir", str(klass.root), "status",
                                         klass.name, "--watch", "--json", "--seconds", str(seconds)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        self.lines: list[str] = []
        assert json.loads(self.process.stdout.readline())["class"] == klass.name  # listening from here on
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()

    def stop(self) -> dict:
        time.sleep(1.5)  # let the last refresh land
        self.process.terminate()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        return last_json("".join(self.lines))


def test_a_restore_of_another_snapshot_is_not_the_chapters_restore(klass: Klass):
    """Two commands, no ubuntu-test-1 ever: the generation changed, but the watcher saw the restore of “x”."""
    me = "wrongsnap"
    watcher = Watcher(klass)
    try:
        klass.as_learner(me, "snapshot", "create", "ubuntu-test", "x")
        klass.as_learner(me, "snapshot", "restore", "ubuntu-test", "x")
        klass.as_learner(me, "snapshot", "delete", "ubuntu-test", "x")
    finally:
        watched = watcher.stop()
    for data in (watched, status(klass)[0]):
        seen = steps_of(data, me)
        assert seen["restore"]["status"] == "failed" and seen["restore"]["diagnosis"] == "wrong_snapshot_restored", \
            seen["restore"]
        assert "“x”" in seen["restore"]["message"]
        assert all(seen[s]["status"] != "passed" for s in ("start", "verify", "cleanup")), seen
        assert learner_of(data, me)["score"]["earned"] <= 1


def test_a_restore_made_under_another_name_is_not_taken_on_the_generation_alone(klass: Klass):
    """Renamed away, restored from another snapshot, renamed back: no event names ubuntu-test's restore."""
    me = "renamed"
    watcher = Watcher(klass)
    try:
        klass.as_learner(me, "snapshot", "create", "ubuntu-test", "x")
        klass.as_learner(me, "stop", "ubuntu-test")
        klass.as_learner(me, "rename", "ubuntu-test", "elsewhere")
        klass.as_learner(me, "snapshot", "restore", "elsewhere", "x")
        klass.as_learner(me, "rename", "elsewhere", "ubuntu-test")
        klass.as_learner(me, "start", "ubuntu-test")
        klass.as_learner(me, "snapshot", "delete", "ubuntu-test", "x")
    finally:
        watched = watcher.stop()
    for data in (watched, status(klass)[0]):
        seen = steps_of(data, me)
        assert seen["restore"]["status"] == "failed" and seen["restore"]["diagnosis"] == "instance_renamed", \
            seen["restore"]
        assert all(seen[s]["status"] != "passed" for s in ("start", "verify", "cleanup")), seen
        assert learner_of(data, me)["alert"]["diagnosis"] == "instance_renamed"


def test_a_flood_of_events_leaves_the_instructors_journal_bounded(klass: Klass):
    """Snapshots made by the dozen: every one is an event the watcher journals; the journal keeps the
    newest of each kind only, and the watcher keeps up (its last view has the snapshot made last)."""
    me = "flood"
    project = f"{klass.name}-{me}"
    # One after the other: Incus 6.0.4 fails parallel snapshot creations of one instance
    # (“Instance snapshot record count doesn't match instance snapshot volume record count”).
    flood = (f"for i in $(seq 1 {KEPT_PER_ACTION + 10}); do incus query -X POST "
             f"'/1.0/instances/ubuntu-test/snapshots?project={project}' "
             f"-d '{{\"name\": \"s'$i'\"}}' --wait >/dev/null; done")
    watcher = Watcher(klass)
    try:
        subprocess.run(["sh", "-c", flood],
                       check=True, timeout=600, env={**os.environ, "INCUS_CONF": str(klass.bundle(me))})
        klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    finally:
        watched = watcher.stop()
    journal = json.loads(next(klass.root.rglob(f"journals/{me}.json")).read_text())
    made = [e for e in journal["events"] if e["action"] == "instance-snapshot-created"]
    # The flood's own events are cut to the newest KEPT_PER_ACTION; the chapter's snapshot is counted apart.
    assert len([e for e in made if e["context"]["name"] != "ubuntu-test-1"]) == KEPT_PER_ACTION, len(made)
    assert made[-1]["context"]["name"] == "ubuntu-test-1"
    assert steps_of(watched, me)["snapshot"]["status"] == "passed"
