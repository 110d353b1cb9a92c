"""A step is *failed* only on evidence that it was not done or done wrong; when the evidence is gone
or was never seen it is *not verified*, with the reason and how to get it verified (issue 19).

On observations recorded from a real daemon (tests/fixtures/observations), first lab.  The second
lab's side of the rule is in test_snapshot_server_checks.py.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from labkit.grading.engine import FILE_SEEN, Baseline, Event, History, Status, grade
from labkit.labs.snapshots.observe import Observation
from labkit.labs.snapshots.steps import CHAPTER

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "observations"
PARAMS = {"container": "ubuntu-test", "snapshot": "ubuntu-test-1"}
STEPS = list(CHAPTER.step_ids)


def load(scenario: str) -> dict:
    return json.loads((FIXTURES / f"{scenario}.json").read_text())


def observation(scenario: str) -> Observation:
    return Observation.from_json(load(scenario)["observation"])


def graded(obs: Observation, history: History) -> dict:
    return {r.step: r for r in grade(CHAPTER, obs, history, PARAMS)}


def first_check_now(obs: Observation) -> History:
    """What `labkit check` has on an instance labkit did not set up, checked for the first time:
    the journal's baseline is the instance as it is now (Journal.ensure_baseline), nothing else."""
    inst = obs.instance
    return History(frozenset(), Baseline(inst.uuid, inst.generation, obs.taken_at), ())


# -- item 1: the chapter followed on an instance labkit did not set up, one check at the end --------
def test_a_chapter_done_on_an_instance_labkit_did_not_set_up_is_not_verified_never_failed() -> None:
    obs = observation("cleaned_up")  # restored (generation ≠ uuid), snapshot deleted, file gone
    got = graded(obs, first_check_now(obs))
    assert got["prerequisites"].status is Status.PASSED
    assert [s for s, r in got.items() if r.status is Status.FAILED] == []
    for step in STEPS[1:]:
        r = got[step]
        assert r.status is Status.NOT_VERIFIED, (step, r.message.render("en"))
        for lang in ("en", "fr"):
            # The reason, and how to get it verified, in the learner's language.
            assert "labkit reset --yes" in r.hint.render(lang), (step, lang)
    why = got["restore"].message.render("en")
    assert "volatile.uuid.generation" in why and "did not set it up" in why
    assert got["restore"].message.render("fr") != why
    assert any("volatile.uuid" in e.render("fr") for e in got["restore"].evidence)


def test_the_same_end_state_with_a_baseline_from_before_the_snapshot_proves_the_restore() -> None:
    obs = observation("cleaned_up")
    inst = obs.instance
    before = History(frozenset(), Baseline(inst.uuid, inst.uuid, obs.taken_at - timedelta(minutes=5)), ())
    assert graded(obs, before)["restore"].status is Status.PASSED


def test_a_baseline_taken_after_an_old_restore_but_before_the_snapshot_still_fails_a_missing_restore() -> None:
    """Known from the start: a snapshot made after the baseline; the generation has not moved since."""
    obs = observation("stopped")  # snapshot taken, file made, instance stopped, never restored
    data = load("stopped")["observation"]
    data["instance"]["generation"] = "0ld-restore-0000"  # restored long before this attempt
    obs = Observation.from_json(data)
    snap = obs.snapshot
    base = History(frozenset(), Baseline(obs.instance.uuid, "0ld-restore-0000", snap.created_at - timedelta(seconds=5)),
                   ())
    r = graded(obs, base)["restore"]
    assert r.status is Status.FAILED and r.diagnosis == "no_restore"


def test_an_instance_never_restored_with_no_snapshot_fails_on_that_evidence() -> None:
    """generation == uuid: no restore ever happened, so no chapter's cleanup can explain the missing snapshot."""
    obs = observation("fresh")
    got = graded(obs, first_check_now(obs))
    assert got["snapshot"].status is Status.FAILED and got["snapshot"].diagnosis == "no_snapshot"
    assert got["restore"].status is Status.FAILED


# -- the general rule, whatever the first lab's end state ----------------------------------------
@pytest.mark.parametrize("scenario", ["cleaned_up", "restored_running"])
def test_the_chapters_end_states_without_any_history_fail_no_step(scenario: str) -> None:
    """Evidence gone (no journal, no listener, no baseline): nothing known not done, so nothing failed."""
    obs = observation(scenario)
    for history in (History(), first_check_now(obs)):
        got = graded(obs, history)
        failed = {s: r.diagnosis for s, r in got.items() if r.status is Status.FAILED}
        # restored_running still has its snapshot: that, and only that, is evidence (cleanup not done).
        assert failed == ({"cleanup": "snapshot_not_deleted"} if scenario == "restored_running" else {}), failed
        for r in got.values():
            if r.status is Status.NOT_VERIFIED:
                assert r.hint is not None and r.hint.render("fr") != r.hint.render("en")


# -- item 8: the rules that only a real-daemon test guarded ------------------------------------------
def _restored_from_start(events: tuple[Event, ...]) -> dict:
    obs = observation("restored_running")
    inst = obs.instance
    return graded(obs, History(frozenset({"prerequisites", "snapshot", "touch", "stop"}),
                               Baseline(inst.uuid, inst.uuid, obs.taken_at - timedelta(minutes=5)), events))


def test_a_restore_of_another_snapshot_is_not_the_chapters_restore_though_the_generation_changed() -> None:
    when = observation("restored_running").taken_at - timedelta(seconds=3)
    other = Event("instance-restored", when, {"snapshot": "ubuntu-test/snap-x"})
    r = _restored_from_start((other,))["restore"]
    assert r.status is Status.FAILED and r.diagnosis == "wrong_snapshot_restored"
    assert "snap-x" in r.message.render("en") and "snap-x" in r.message.render("fr")
    # Without that event the new generation is proof: the doubt, not the generation, failed it.
    assert _restored_from_start(())["restore"].status is Status.PASSED


def test_a_restore_done_under_another_name_is_not_counted() -> None:
    when = observation("restored_running").taken_at - timedelta(seconds=3)
    renamed = Event("instance-renamed", when, {"name": "elsewhere", "old_name": "ubuntu-test"})
    r = _restored_from_start((renamed,))["restore"]
    assert r.status is Status.FAILED and r.diagnosis == "instance_renamed"
    assert "elsewhere" in r.message.render("fr")


def _touch_with_sighting(modified: datetime) -> object:
    data = load("cleaned_up")
    obs = Observation.from_json(data["observation"])
    events = tuple(Event(e["action"], datetime.fromisoformat(e["time"]), e["context"]) for e in data["events"])
    seen_at = datetime.fromisoformat("2026-11-26T04:52:41.5+00:00")
    sighting = Event(FILE_SEEN, seen_at, {"path": "/root/this_file.txt", "present": True,
                                          "modified": modified.isoformat()})
    inst = obs.instance
    return graded(obs, History(frozenset(), Baseline(inst.uuid, inst.uuid, obs.taken_at - timedelta(minutes=5)),
                               events + (sighting,)))["touch"]


@pytest.mark.parametrize("ahead", [timedelta(seconds=6), timedelta(days=3), timedelta(days=365 * 70)])
def test_a_sighting_of_a_file_dated_after_the_sighting_itself_proves_nothing(ahead: timedelta) -> None:
    """touch -d 2099…: a time set by hand, later than the moment the recorder saw the file."""
    seen_at = datetime(2026, 11, 26, 4, 52, 41, 500000, tzinfo=timezone.utc)
    assert _touch_with_sighting(seen_at + ahead).status is Status.NOT_VERIFIED
    # The same sighting with a possible time proves the touch.
    assert _touch_with_sighting(seen_at - timedelta(seconds=0.5)).status is Status.PASSED


# -- item 2: the touch proven by the daemon's report of the command, whatever the typing speed ---------
def _with_exec(command: list, code: int = 0, at: str = "2026-11-26T04:52:41.2+00:00") -> dict:
    from labkit.grading.engine import EXEC_ENDED

    data = load("cleaned_up")
    obs = Observation.from_json(data["observation"])
    events = tuple(Event(e["action"], datetime.fromisoformat(e["time"]), e["context"]) for e in data["events"])
    ran = Event(EXEC_ENDED, datetime.fromisoformat(at),
                {"path": "/root/this_file.txt", "command": command, "return": code})
    inst = obs.instance
    return graded(obs, History(frozenset(), Baseline(inst.uuid, inst.uuid, obs.taken_at - timedelta(minutes=5)),
                               events + (ran,)))


def test_a_touch_the_daemon_reported_between_the_snapshot_and_the_restore_proves_touch_and_verify() -> None:
    """The chapter typed as fast as a script, checked once at the end with the recorder: 12/12, no look needed."""
    got = _with_exec(["touch", "/root/this_file.txt"])
    assert {s: r.status for s, r in got.items()} == dict.fromkeys(STEPS, Status.PASSED)
    for lang in ("en", "fr"):
        assert "touch /root/this_file.txt" in got["touch"].evidence[0].render(lang)


@pytest.mark.parametrize("command, code, at", [
    (["touch", "/root/this_file.txt"], 1, "2026-11-26T04:52:41.2+00:00"),           # it failed
    (["touch", "/tmp/this_file.txt"], 0, "2026-11-26T04:52:41.2+00:00"),            # another file
    (["touch", "-d", "2099-01-01", "/root/this_file.txt"], 0, "2026-11-26T04:52:41.2+00:00"),  # a time by hand
    (["sh", "-c", "touch /root/this_file.txt; rm /root/this_file.txt"], 0, "2026-11-26T04:52:41.2+00:00"),
    (["touch", "/root/this_file.txt"], 0, "2026-11-26T04:52:40.2+00:00"),           # before the snapshot
    (["touch", "/root/this_file.txt"], 0, "2026-11-26T04:52:42.4+00:00"),           # after the restore
])
def test_a_command_that_does_not_prove_the_touch_leaves_it_not_verified(command: list, code: int, at: str) -> None:
    got = _with_exec(command, code, at)
    assert got["touch"].status is Status.NOT_VERIFIED and got["verify"].status is Status.NOT_VERIFIED
    assert not [s for s, r in got.items() if r.status is Status.FAILED]


def test_a_file_made_in_the_snapshots_second_is_ordered_by_the_daemons_report_of_the_touch() -> None:
    """Typed fast, the touch lands in the snapshot's second; without the finer time read inside the
    instance that is a tie (not verified); the recorder's record of the touch orders them."""
    from labkit.grading.engine import EXEC_ENDED

    data = load("file_after_snapshot")["observation"]
    data["file_modified"] = "2026-11-26T04:52:20+00:00"  # changed: the snapshot's own second (…:20.948)
    obs = Observation.from_json(data)
    base = Baseline(obs.instance.uuid, obs.instance.uuid, obs.taken_at - timedelta(minutes=5))
    tie = graded(obs, History(frozenset({"snapshot"}), base, ()))["touch"]
    assert tie.status is Status.NOT_VERIFIED
    made = Event(EXEC_ENDED, datetime.fromisoformat("2026-11-26T04:52:20.990+00:00"),
                 {"path": "/root/this_file.txt", "command": ["touch", "/root/this_file.txt"], "return": 0})
    assert graded(obs, History(frozenset({"snapshot"}), base, (made,)))["touch"].status is Status.PASSED
    before = Event(EXEC_ENDED, datetime.fromisoformat("2026-11-26T04:52:20.900+00:00"),
                   made.context)  # before the snapshot
    assert graded(obs, History(frozenset({"snapshot"}), base, (before,)))["touch"].status is Status.NOT_VERIFIED
