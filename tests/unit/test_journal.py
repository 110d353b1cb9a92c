"""The journal: atomic, shared between processes, never lost, never overwritten when corrupt."""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from labkit.grading.contract import Retention
from labkit.grading.engine import Result, Status
from labkit.grading.journal import Journal, default_path, now
from labkit.i18n import M
from labkit.labs import CHAPTERS
from labkit.labs.snapshots.observe import Instance

IDENTITY = ("snapshots", "default", "ubuntu-test", "ubuntu-test-1")


def journal(path: Path | None, retention: Retention | None = None) -> Journal:
    """The first chapter's journal, with that chapter's retention rule (its hook), unless told otherwise."""
    return Journal(path, *IDENTITY, CHAPTERS["snapshots"].retention if retention is None else retention)


def result(step: str, status: Status) -> Result:
    return Result(step, status, 1 if status is Status.PASSED else 0, 1, M("t", "t"))


def instance(uuid: str = "u1", generation: str = "g1") -> Instance:
    return Instance("ubuntu-test", "Running", uuid, generation, None)


def test_default_path_is_in_the_xdg_state_folder(tmp_path: Path) -> None:
    path = default_path("snapshots", "default", "ubuntu-test", {"XDG_STATE_HOME": str(tmp_path)})
    assert path == tmp_path / "labkit" / "journals" / "snapshots--default--ubuntu-test.json"


def test_results_hints_and_first_pass_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = journal(path)
    j.ensure_baseline(instance())
    j.record_results([result("snapshot", Status.FAILED)])
    j.record_results([result("snapshot", Status.PASSED)])
    assert j.record_hint("touch") == 1 and j.record_hint("touch") == 2
    again = journal(path)
    assert again.data["attempts"]["snapshot"] == 2
    assert again.data["hints"]["touch"] == 2
    assert "snapshot" in again.history().passed
    assert again.history().baseline.generation == "g1"


def test_two_writers_do_not_lose_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    checker, watcher = journal(path), journal(path)
    checker.ensure_baseline(instance())
    watcher.record_events([{"action": "instance-shutdown", "time": "2026-01-01T00:00:00+00:00", "context": {}}])
    checker.record_results([result("stop", Status.PASSED)])
    final = json.loads(path.read_text())
    assert final["events"] and final["first_pass"].get("stop") and final["baseline"]


def test_a_corrupt_journal_is_kept_aside_and_grading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text("{ this is not json")
    j = journal(path)
    assert j.warnings and j.data["checks"] == []
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_text() == "{ this is not json"
    j.record_results([result("prerequisites", Status.PASSED)])
    assert json.loads(path.read_text())["first_pass"]["prerequisites"]
    assert "corrupt" in j.warnings[0].render("en") or "could not be read" in j.warnings[0].render("en")
    assert "«" not in j.warnings[0].render("en")


def test_an_unwritable_journal_warns_and_keeps_results_in_memory(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    # Root writes through file modes; the immutable attribute stops root too (ext4, btrfs, tmpfs).
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        j = journal(folder / "j.json")
        j.record_results([result("prerequisites", Status.PASSED)])
        assert j.warnings and "prerequisites" in j.history().passed
        assert not (folder / "j.json").exists()
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_journal_path_that_cannot_be_created_warns_and_keeps_results(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    j = journal(blocker / "sub" / "j.json")  # a folder under a plain file: fails even for root
    j.record_results([result("prerequisites", Status.PASSED)])
    assert j.warnings and "prerequisites" in j.history().passed


def test_a_recreated_instance_starts_a_new_attempt(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = journal(path)
    j.ensure_baseline(instance("old"))
    j.record_results([result("snapshot", Status.PASSED)])
    j.ensure_baseline(instance("new"))
    assert j.attempt == 2 and j.history().passed == frozenset()
    assert (tmp_path / "j.attempt-1.json").exists()


def test_writes_are_atomic_no_temporary_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    j = journal(path)
    for _ in range(5):
        j.record_results([result("snapshot", Status.FAILED)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.json", "j.json.lock"]


def test_a_folder_given_as_journal_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "mywork"
    folder.mkdir()
    j = journal(folder)
    j.record_results([result("prerequisites", Status.PASSED)])
    assert folder.is_dir() and not any(p.name.startswith("mywork.corrupt") for p in tmp_path.iterdir())
    assert j.warnings and "prerequisites" in j.history().passed


def test_an_old_attempt_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    """A notebook holding attempt 1 must not undo a `labkit reset` made meanwhile."""
    path = tmp_path / "j.json"
    notebook, terminal = journal(path), journal(path)
    notebook.ensure_baseline(instance())
    notebook.record_results([result("snapshot", Status.PASSED)])
    terminal.refresh()
    archived = terminal.archive()  # the reset
    notebook.record_events([{"action": "instance-started", "time": now().isoformat(), "context": {}}])
    on_disk = json.loads(path.read_text())
    assert on_disk["attempt"] == 2 and on_disk["first_pass"] == {} and len(on_disk["events"]) == 1
    assert json.loads(archived.read_text())["first_pass"]["snapshot"]
    # A second archive of the same attempt number gets a name of its own.
    again = journal(path)
    again.data["attempt"] = 1
    assert again.archive() != archived and archived.exists()


def test_an_event_reported_by_two_listeners_is_kept_once(tmp_path: Path) -> None:
    """The background recorder and a notebook's Lab (or `labkit watch`) both see every event."""
    path = tmp_path / "j.json"
    recorder, notebook = journal(path), journal(path)
    event = {"action": "instance-restored", "time": now().isoformat(), "context": {"snapshot": "c/s"}}
    assert recorder.record_events([event]) == 1
    assert notebook.record_events([dict(event)]) == 0
    other = {**event, "context": {"snapshot": "c/other"}}
    assert notebook.record_events([other, other]) == 1
    assert len(json.loads(path.read_text())["events"]) == 2
    assert len(recorder.history().events) == 1  # in memory until it writes again
    recorder.refresh()
    assert len(recorder.history().events) == 2


def test_events_from_before_a_reset_stay_out_of_the_new_attempt(tmp_path: Path) -> None:
    """The reset's own snapshot deletion and start reach a listener after the reset archived the attempt."""
    path = tmp_path / "j.json"
    recorder, terminal = journal(path), journal(path)
    before = now().isoformat()
    terminal.archive()
    assert recorder.record_events([{"action": "instance-started", "time": before, "context": {}}]) == 0
    assert recorder.attempt == 2 and json.loads(path.read_text())["events"] == []
    assert recorder.record_events([{"action": "instance-started", "time": now().isoformat(), "context": {}}]) == 1


def test_the_first_attempt_keeps_events_older_than_its_file(tmp_path: Path) -> None:
    """Attempt 1's journal is created by its first writer, a moment after the first event."""
    path = tmp_path / "j.json"
    assert journal(path).record_events([{"action": "instance-started", "time": "2020-01-01T00:00:00+00:00",
                                         "context": {}}]) == 1


def test_a_flood_of_events_and_status_changes_leaves_the_journal_bounded(tmp_path: Path):
    """Thousands of snapshots made and deleted, a step flipping at each stop and start: the journal keeps
    the newest of each kind, the latest status of each step and every count, and stays small."""
    from datetime import timedelta

    from labkit.grading.event_bounds import KEPT_PER_ACTION
    from labkit.grading.journal import KEPT_PER_STEP

    j = journal(tmp_path / "j.json")
    start = now()
    restored = {"action": "instance-restored", "time": start.isoformat(), "context": {"snapshot": "c/s"}}
    j.record_events([restored])
    for i in range(3 * KEPT_PER_ACTION):
        when = (start + timedelta(seconds=i + 1)).isoformat()
        j.record_events([{"action": "instance-snapshot-created", "time": when, "context": {"name": f"s{i}"}},
                         {"action": "instance-snapshot-deleted", "time": when, "context": {"name": f"s{i}"}}])
        j.record_results([result("stop", Status.PASSED if i % 2 else Status.FAILED)])
    # A late copy of an old event (another listener's) does not come back in.
    j.record_events([{"action": "instance-snapshot-created", "time": start.isoformat(), "context": {"name": "old"}}])
    data = json.loads((tmp_path / "j.json").read_text())
    kinds = [e["action"] for e in data["events"]]
    assert kinds.count("instance-snapshot-created") == KEPT_PER_ACTION == kinds.count("instance-snapshot-deleted")
    assert restored in data["events"] and data["events"][-1]["context"]["name"] == f"s{3 * KEPT_PER_ACTION - 1}"
    assert len(data["checks"]) == KEPT_PER_STEP and data["checks"][-1]["status"] == "passed"
    assert data["attempts"]["stop"] == 3 * KEPT_PER_ACTION
    assert (tmp_path / "j.json").stat().st_size < 20_000


def flooded(path: Path, retention: Retention | None = None) -> tuple[list[dict], dict, dict, dict]:
    """The chapter's snapshot made, the file seen, the restore; then a flood of other snapshots and later
    looks at the file.  Returns the events the journal kept, and those three."""
    from datetime import timedelta

    from labkit.grading.engine import FILE_SEEN
    from labkit.grading.event_bounds import KEPT_PER_ACTION

    _, _, container, snapshot = IDENTITY
    j = journal(path, retention)
    start = now()
    at = lambda s: (start + timedelta(seconds=s)).isoformat()  # noqa: E731
    created = {"action": "instance-snapshot-created", "time": at(0), "context": {"name": snapshot}}
    seen = {"action": FILE_SEEN, "time": at(1), "context": {"path": "/root/this_file.txt", "present": True}}
    restored = {"action": "instance-restored", "time": at(2), "context": {"snapshot": f"{container}/{snapshot}"}}
    j.record_events([created, seen, restored])
    for i in range(KEPT_PER_ACTION + 10):
        j.record_events([{"action": "instance-snapshot-created", "time": at(3 + i), "context": {"name": f"x{i}"}},
                         {"action": FILE_SEEN, "time": at(3 + i), "context": {"path": "/root/this_file.txt",
                                                                              "present": True, "n": i}}])
    return json.loads(path.read_text())["events"], created, seen, restored


def test_a_flood_about_other_snapshots_or_later_looks_keeps_the_chapters_own_evidence(tmp_path: Path):
    """Bounding the journal never drops the chapter snapshot's creation, nor the last look at the file
    before the restore (what `touch` is graded on), however many events come after them."""
    from labkit.grading.engine import FILE_SEEN
    from labkit.grading.event_bounds import KEPT_PER_ACTION

    events, created, seen, restored = flooded(tmp_path / "j.json")
    assert created in events and seen in events and restored in events
    assert [e["action"] for e in events].count(FILE_SEEN) == KEPT_PER_ACTION + 1


def test_the_evidence_stays_by_the_chapters_rule_not_the_journals(tmp_path: Path):
    """The journal knows no chapter: without the chapter's retention hook, the same flood pushes the
    chapter's snapshot and its last look at the file out (so the test above proves the hook works)."""
    events, created, seen, restored = flooded(tmp_path / "j.json", Retention())
    assert restored in events
    assert created not in events and seen not in events
