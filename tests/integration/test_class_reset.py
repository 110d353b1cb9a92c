"""Resetting one learner of a real class: `labkit class reset NAME LEARNER`, on a class of two.

learner01 takes the chapter as far as a restore (so their instance's generation moves), learner02
does nothing.  The class view shows learner01 started and learner02 not started; the reset asks
first (no terminal: refused, nothing changed), then with --yes puts learner01's instance back at
the chapter's start, makes its identity the baseline of a new attempt in the project (a restore
made before must not count after), archives the instructor's journal of learner01, and journals
who reset whom and when.  learner02 is left alone, then reset through the dashboard's handler
code.  The class is destroyed even on failure.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import require_daemon
from .test_class import admin, labkit_class, running_class

pytestmark = pytest.mark.integration


def learners(status: dict) -> dict[str, dict]:
    return {ls["learner"]: ls for ls in status["learners"]}


def steps(learner: dict) -> dict[str, str]:
    return {s["id"]: s["status"] for s in learner["steps"]}


def test_the_instructor_resets_one_learner_through_the_command(tmp_path: Path):
    require_daemon()
    with running_class(tmp_path, "--learners", "2") as klass:
        folder, project = klass.root / klass.name, f"{klass.name}-learner01"
        before = learners(klass.status())
        assert before["learner01"]["not_started"] and before["learner02"]["not_started"]
        assert all(s["shown"] in ("passed", "not_started") for s in before["learner01"]["steps"])

        klass.as_learner("learner01", "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
        klass.as_learner("learner01", "exec", "ubuntu-test", "--", "touch", "/root/this_file.txt")
        klass.as_learner("learner01", "stop", "ubuntu-test")
        klass.as_learner("learner01", "snapshot", "restore", "ubuntu-test", "ubuntu-test-1")
        worked = learners(klass.status())
        assert not worked["learner01"]["not_started"] and worked["learner02"]["not_started"]
        assert steps(worked["learner01"])["restore"] == "passed"
        assert worked["learner01"]["current"]["step"] == "start"
        assert "stopped" in worked["learner01"]["last_failure"]["message"]

        # Asked first: with no terminal to answer, nothing changes.
        refused = labkit_class("--dir", str(klass.root), "reset", klass.name, "learner01")
        assert refused.returncode == 2 and "--yes" in refused.stderr, refused.stderr
        assert not (folder / "resets.jsonl").exists()
        assert klass.as_learner("learner01", "snapshot", "list", "ubuntu-test", "--format", "csv").stdout.strip()
        unknown = labkit_class("--dir", str(klass.root), "reset", klass.name, "nobody", "--yes")
        assert unknown.returncode == 2 and "learner01, learner02" in unknown.stderr, unknown.stderr

        done = labkit_class("--dir", str(klass.root), "reset", klass.name, "learner01", "--yes")
        assert done.returncode == 0, done.stderr
        assert "resets.jsonl" in done.stdout

        # The instance: running, no snapshot, no file; its identity now is the new attempt's baseline.
        with admin() as client:
            inst = client.request("GET", "/1.0/instances/ubuntu-test", params={"project": project, "recursion": 1})
            held = client.request("GET", f"/1.0/projects/{project}", project=False)["config"]
            assert inst["status"] == "Running" and not inst.get("snapshots")
        config = inst["config"]
        for key, volatile in (("user.labkit.baseline.uuid", "volatile.uuid"),
                              ("user.labkit.baseline.generation", "volatile.uuid.generation")):
            assert held[key] == config[volatile] == config[key]
        pulled = klass.as_learner("learner01", "file", "pull", "ubuntu-test/root/this_file.txt", "-", check=False)
        assert pulled.returncode != 0  # the file is gone

        # Journaled: who reset whom, when, from where; the instructor's journal starts a new attempt.
        entries = [json.loads(line) for line in (folder / "resets.jsonl").read_text().splitlines()]
        assert len(entries) == 1
        entry = entries[0]
        assert entry["learner"] == "learner01" and entry["project"] == project and entry["via"] == "command"
        assert entry["by"] and entry["time"] and entry["attempt_closed"] == 1 and entry["lab"] == "snapshots"
        assert oct((folder / "resets.jsonl").stat().st_mode & 0o777) == "0o600"
        journal = json.loads((folder / "journals" / "learner01.json").read_text())
        assert journal["attempt"] == 2 and not journal["first_pass"].get("restore")
        assert (folder / "journals" / "learner01.attempt-1.json").exists()

        # Back at the start in the class view (the restore made before the reset no longer counts);
        # learner02 untouched.
        after = learners(klass.status())
        assert after["learner01"]["not_started"], after["learner01"]
        assert steps(after["learner01"])["restore"] == "failed"
        assert after["learner02"]["not_started"]

        # The dashboard's button runs the same reset, journaled with the hub user who asked.
        from labkit.hub.dashboard import Grading

        entry = Grading(klass.name, folder, "en").reset("learner02", "instructor")
        assert entry["via"] == "dashboard" and entry["by"] == "instructor" and entry["learner"] == "learner02"
        assert [e["learner"] for e in map(json.loads, (folder / "resets.jsonl").read_text().splitlines())] \
            == ["learner01", "learner02"]
        assert learners(klass.status())["learner02"]["not_started"]
