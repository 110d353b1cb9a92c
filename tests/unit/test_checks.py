"""The chapter's pure checks on observations recorded from a real daemon (see tests/fixtures/observations)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labkit.grading.engine import FILE_SEEN, Baseline, Event, History, Status, grade
from labkit.labs.snapshots.observe import Observation
from labkit.labs.snapshots.steps import CHAPTER

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "observations"
PARAMS = {"container": "ubuntu-test", "snapshot": "ubuntu-test-1"}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def load(scenario: str) -> dict:
    return json.loads((FIXTURES / f"{scenario}.json").read_text())


def history(data: dict, passed: set[str] = frozenset(), events: bool = False) -> History:
    base = data["baseline"]
    seen = tuple(Event(e["action"], datetime.fromisoformat(e["time"]), e["context"])
                 for e in data["events"]) if events else ()
    return History(frozenset(passed), Baseline(base["uuid"], base["generation"], T0), seen)


def statuses(scenario: str, passed: set[str] = frozenset(), events: bool = False) -> dict[str, str]:
    data = load(scenario)
    results = grade(CHAPTER, Observation.from_json(data["observation"]), history(data, passed, events), PARAMS)
    return {r.step: r.status.value for r in results}


def result(scenario: str, step: str, passed: set[str] = frozenset(), events: bool = False):
    data = load(scenario)
    return grade(CHAPTER, Observation.from_json(data["observation"]), history(data, passed, events), PARAMS, [step])[0]


IN_ORDER = ["prerequisites", "snapshot", "touch", "stop", "restore", "start", "verify", "cleanup"]


def test_a_fresh_instance_passes_only_the_prerequisites() -> None:
    assert statuses("fresh") == {s: ("passed" if s == "prerequisites" else "failed") for s in IN_ORDER}


@pytest.mark.parametrize("scenario, done", [
    ("snapshot_taken", "snapshot"), ("file_after_snapshot", "touch"), ("stopped", "stop"),
    ("restored_not_started", "restore"), ("restored_running", "verify"), ("cleaned_up", "cleanup"),
])
def test_checking_after_each_step_passes_every_step_so_far(scenario: str, done: str) -> None:
    upto = IN_ORDER[: IN_ORDER.index(done) + 1]
    previous = set(upto[:-1])
    got = statuses(scenario, previous)
    assert all(got[s] == "passed" for s in upto), got
    assert all(got[s] == "failed" for s in IN_ORDER[len(upto):]), got


def test_snapshot_under_another_name_is_named_in_the_hint() -> None:
    r = result("wrong_snapshot_name", "snapshot")
    assert r.status is Status.FAILED and r.diagnosis == "wrong_snapshot_name"
    assert "snap0" in r.hint.render("en") and "snap0" in r.hint.render("fr")


def test_no_snapshot_hint_names_the_current_syntax_and_the_old_one() -> None:
    hint = result("fresh", "snapshot").hint
    for lang in ("en", "fr"):
        text = hint.render(lang)
        assert "incus snapshot create ubuntu-test ubuntu-test-1" in text
        assert "incus snapshot ubuntu-test ubuntu-test-1" in text


def test_file_older_than_the_snapshot_fails_touch() -> None:
    r = result("file_before_snapshot", "touch", {"prerequisites", "snapshot"})
    assert r.status is Status.FAILED and r.diagnosis == "file_before_snapshot"


def test_file_elsewhere_says_where() -> None:
    r = result("file_elsewhere", "touch", {"prerequisites", "snapshot"})
    assert r.diagnosis == "file_elsewhere" and "/tmp/this_file.txt" in r.message.render("fr")


def test_rm_is_not_a_restore() -> None:
    got = grade(CHAPTER, Observation.from_json(load("rm_instead_of_restore")["observation"]),
                history(load("rm_instead_of_restore"), {"prerequisites", "snapshot", "touch"}), PARAMS)
    by_step = {r.step: r for r in got}
    assert by_step["restore"].diagnosis == "rm_instead_of_restore"
    assert by_step["touch"].status is Status.FAILED
    assert by_step["verify"].status is Status.FAILED


def test_restore_without_start_is_diagnosed() -> None:
    r = result("restored_not_started", "start", {"prerequisites", "snapshot", "touch", "stop", "restore"})
    assert r.diagnosis == "restore_without_start"


def test_a_restore_is_proven_by_the_generation_even_without_events_or_journal() -> None:
    assert result("restored_running", "restore").status is Status.PASSED


def test_without_a_baseline_or_events_a_restore_is_not_proven_nor_failed() -> None:
    """The generation differs from the uuid: some restore happened, nothing says whether it was this one."""
    data = load("restored_running")
    obs = Observation.from_json(data["observation"])
    r = grade(CHAPTER, obs, History(), PARAMS, ["restore"])[0]
    assert r.status is Status.NOT_VERIFIED


def test_consumed_evidence_is_not_verified_without_the_journal_but_proven_by_events() -> None:
    # verify is not verified either: nothing saw the file that the restore should remove.
    # cleanup's own evidence is there (snapshot gone, instance kept, restore proven): it passes.
    assert statuses("cleaned_up", {"prerequisites"}) == {
        "prerequisites": "passed", "snapshot": "not_verified", "touch": "not_verified", "stop": "not_verified",
        "restore": "passed", "start": "passed", "verify": "not_verified", "cleanup": "passed"}
    with_events = statuses("cleaned_up", {"prerequisites"}, events=True)
    assert with_events["snapshot"] == "passed" and with_events["stop"] == "passed"
    assert with_events["touch"] == "not_verified"  # no event says a file was created
    # Checked after each step, the same final state passes everything.
    assert set(statuses("cleaned_up", set(IN_ORDER[:-1]), events=True).values()) == {"passed"}


def test_a_restore_of_a_running_instance_does_not_pass_the_stop() -> None:
    """Incus stops and restarts a running instance around a restore: its own stop is no learner's stop."""
    passed_before = {"prerequisites", "snapshot", "touch"}
    r = result("restored_while_running", "stop", passed_before, events=True)
    assert r.status is Status.FAILED and r.diagnosis == "restore_while_running"
    assert "incus stop ubuntu-test" in r.hint.render("fr")
    assert result("restored_while_running", "restore", passed_before, events=True).status is Status.PASSED


def test_a_deleted_instance_undoes_every_step_even_after_a_full_pass() -> None:
    got = statuses("instance_deleted", set(IN_ORDER))
    assert set(got.values()) == {"failed"}
    r = result("instance_deleted", "cleanup", set(IN_ORDER))
    assert r.diagnosis == "instance_deleted" and "labkit setup" in r.hint.render("fr")


def test_checking_too_early_names_the_step_to_do_first() -> None:
    r = result("snapshot_taken", "restore", {"prerequisites", "snapshot"})
    assert r.diagnosis == "order:touch"
    assert "Create a file" in r.message.render("en")


@pytest.mark.parametrize("step", ["stop", "restore", "start", "verify", "cleanup"])
def test_do_this_first_names_the_first_step_not_done(step: str) -> None:
    """Fresh instance: whatever later step is checked, the snapshot comes first (issue 9)."""
    r = result("fresh", step)
    assert r.status is Status.FAILED and r.diagnosis == "order:snapshot", (step, r.diagnosis)
    assert "Take a snapshot" in r.message.render("en")
    assert "instantané" in r.message.render("fr")
    assert "incus snapshot" in r.hint.render("en")


def test_a_stopped_fresh_instance_still_names_the_snapshot_not_the_prerequisites() -> None:
    """A learner who stopped too early: the stop made prerequisites fail, the snapshot is what is missing."""
    data = load("fresh")
    data["observation"]["instance"]["status"] = "Stopped"
    got = grade(CHAPTER, Observation.from_json(data["observation"]), history(data), PARAMS, ["restore"])[0]
    assert got.diagnosis == "order:snapshot"


def test_a_step_only_not_verified_never_fails_a_later_one() -> None:
    """The whole chapter done in a terminal without any check or listener (issue 14)."""
    got = grade(CHAPTER, Observation.from_json(load("cleaned_up")["observation"]), history(load("cleaned_up")), PARAMS)
    by_step = {r.step: r for r in got}
    assert not [r.step for r in got if r.status is Status.FAILED]
    assert by_step["cleanup"].status is Status.PASSED
    for lang in ("en", "fr"):
        assert all("first" not in r.message.render(lang) and "d’abord" not in r.message.render(lang) for r in got)
    # Every step not verified says why, in both languages.
    for r in got:
        if r.status is Status.NOT_VERIFIED:
            assert r.hint is not None and r.hint.render("fr") != r.hint.render("en")


def test_the_snapshot_still_there_fails_cleanup_on_its_own_evidence_even_if_verify_is_not_verified() -> None:
    data = load("restored_running")  # restored and running, snapshot still there, the file never seen
    got = {r.step: r for r in grade(CHAPTER, Observation.from_json(data["observation"]), history(data), PARAMS)}
    assert got["verify"].status is Status.NOT_VERIFIED
    assert got["cleanup"].status is Status.FAILED and got["cleanup"].diagnosis == "snapshot_not_deleted"


def test_every_message_of_every_scenario_renders_in_both_languages() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        for r in grade(CHAPTER, Observation.from_json(data["observation"]), history(data, set(IN_ORDER[:3]), True),
                       PARAMS):
            for lang in ("en", "fr"):
                as_json = r.to_json(lang)
                assert as_json["message"] and "{" not in as_json["message"], (path.name, r.step, lang)
            assert r.to_json("fr")["message"] != r.to_json("en")["message"], (path.name, r.step)


def _with_sighting(present: bool = True, seen: str = "2026-11-26T04:52:41.5+00:00",
                   modified: str | None = "2026-11-26T04:52:41+00:00", path: str = "/root/this_file.txt") -> History:
    """cleaned_up's events plus what the event recorder saw of the file (see labkit/app/recorder.py)."""
    data = load("cleaned_up")
    base = history(data, events=True)
    sighting = Event(FILE_SEEN, datetime.fromisoformat(seen), {"path": path, "present": present, "modified": modified})
    return History(base.passed, base.baseline, base.events + (sighting,))


def _graded(hist: History) -> dict:
    return {r.step: r for r in grade(CHAPTER, Observation.from_json(load("cleaned_up")["observation"]), hist, PARAMS)}


def test_the_recorders_sighting_before_the_restore_proves_touch_and_verify() -> None:
    """The chapter done in a terminal, checked once at the end, with the recorder running: 12/12."""
    got = _graded(_with_sighting())
    assert {s: r.status.value for s, r in got.items()} == {s: "passed" for s in IN_ORDER}
    for r in got.values():
        assert r.evidence, r.step
        for lang in ("en", "fr"):
            assert all("{" not in e.render(lang) for e in r.evidence), (r.step, lang)
    assert "04:52:41" in got["touch"].evidence[0].render("fr")


@pytest.mark.parametrize("sighting", [
    {"present": False, "modified": None},                 # it saw no file
    {"seen": "2026-11-26T04:52:42.4+00:00"},             # after the restore
    {"seen": "2026-11-26T04:52:40.0+00:00"},             # before the snapshot
    {"modified": "2026-11-26T04:52:39+00:00"},           # file older than the snapshot (touch -d)
    {"modified": None},                                  # no time to compare
    {"path": "/tmp/this_file.txt"},                      # another file
])
def test_a_sighting_that_proves_nothing_leaves_touch_not_verified(sighting: dict) -> None:
    got = _graded(_with_sighting(**sighting))
    assert got["touch"].status is Status.NOT_VERIFIED and got["verify"].status is Status.NOT_VERIFIED
    assert not [r.step for r in got.values() if r.status is Status.FAILED]


def test_a_sighting_older_than_the_snapshot_still_there_proves_nothing() -> None:
    """The file seen, then a snapshot taken after it (it contains the file): no proof of the touch."""
    data = load("restored_running")
    base = history(data, events=False)
    early = Event(FILE_SEEN, datetime.fromisoformat("2026-11-26T04:52:33.5+00:00"),
                  {"path": "/root/this_file.txt", "present": True, "modified": "2026-11-26T04:52:33+00:00"})
    r = grade(CHAPTER, Observation.from_json(data["observation"]), History(base.passed, base.baseline, (early,)),
              PARAMS, ["touch"])[0]
    assert r.status is Status.NOT_VERIFIED
