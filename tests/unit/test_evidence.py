"""Evidence a learner cannot write, on observations recorded from a real daemon: a baseline held by
the class, file times ordered honestly, a file request skipped only where it cannot change a verdict,
and a learner who cannot be observed shown as such while the others are graded."""
from __future__ import annotations

import dataclasses
import itertools
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from labkit.classroom import observe as class_observe
from labkit.classroom.status import class_status
from labkit.grading.engine import Baseline, Event, History, grade
from labkit.labs.snapshots.class_view import file_matters
from labkit.labs.snapshots.observe import Instance, Observation, candidate_places
from labkit.labs.snapshots.steps import CHAPTER

from .test_checks import FIXTURES, PARAMS, T0, load
from .test_class import SCENARIOS, fake_class, fake_client


def graded(obs: Observation, base: Baseline | None, passed: set[str] = frozenset(), events=()) -> dict:
    return {r.step: r for r in grade(CHAPTER, obs, History(frozenset(passed), base, tuple(events)), PARAMS)}


def observed(scenario: str) -> tuple[Observation, dict]:
    data = load(scenario)
    return Observation.from_json(data["observation"]), data["baseline"]


def with_keys(obs: Observation, key_uuid: str | None, generation: str | None, **changes) -> Observation:
    inst = dataclasses.replace(obs.instance, baseline_uuid=key_uuid, baseline_generation=generation, **changes)
    return dataclasses.replace(obs, instance=inst)


# -- 1. a baseline the learner cannot write --------------------------------------------------
def test_a_forged_generation_key_proves_no_restore_against_the_class_baseline():
    obs, base = observed("stopped")  # file there, instance stopped, never restored
    trusted = Baseline(base["uuid"], base["generation"], T0, trusted=True)
    honest = with_keys(obs, base["uuid"], base["generation"])
    assert graded(honest, trusted, {"prerequisites", "snapshot", "touch"})["restore"].diagnosis == "no_restore"
    forged = with_keys(obs, base["uuid"], "f0f0f0f0-forged")
    restore = graded(forged, trusted, {"prerequisites", "snapshot", "touch"})["restore"]
    assert restore.status.value == "failed" and restore.diagnosis == "baseline_changed"
    assert "user.labkit.baseline" in restore.message.render("en") and "«" in restore.hint.render("fr")


def test_a_replaced_instance_gets_no_restore_from_its_generation_but_events_still_count():
    obs, base = observed("restored_running")
    trusted = Baseline(base["uuid"], base["generation"], T0, trusted=True)
    twin = with_keys(obs, "new-uuid", "whatever", uuid="new-uuid")
    got = graded(twin, trusted, {"prerequisites", "snapshot", "touch", "stop"})
    assert got["restore"].diagnosis == "instance_replaced" and not got["start"].passed and not got["verify"].passed
    seen = Event("instance-restored", T0, {"snapshot": "ubuntu-test/ubuntu-test-1"})
    assert graded(twin, trusted, {"prerequisites", "snapshot", "touch", "stop"}, [seen])["restore"].passed
    # The same instance, honestly restored: its new generation is the proof.
    assert graded(with_keys(obs, base["uuid"], base["generation"]), trusted)["restore"].passed


def test_without_a_class_baseline_the_keys_keep_working_for_a_self_paced_learner():
    obs, base = observed("restored_running")
    mine = Baseline(base["uuid"], base["generation"], T0)
    assert graded(with_keys(obs, "anything", "else"), mine)["restore"].passed


# -- 2. file times ---------------------------------------------------------------------------
def tie(offset_us: int, fine_us: int | None, running: bool = True) -> Observation:
    obs, _ = observed("file_after_snapshot")
    created = obs.snapshot.created_at.replace(microsecond=500000)
    snap = dataclasses.replace(obs.snapshot, created_at=created)
    fine = None if fine_us is None else created + timedelta(microseconds=fine_us)
    return dataclasses.replace(obs, snapshots=(snap,),
                               file_modified=created.replace(microsecond=0) + timedelta(microseconds=offset_us),
                               file_modified_fine=fine,
                               instance=dataclasses.replace(obs.instance, status="Running" if running else "Stopped"))


@pytest.mark.parametrize("fine_us, status, diagnosis", [(-1000, "failed", "file_before_snapshot"),
                                                         (1000, "passed", None),
                                                         (None, "not_verified", "not_verified"),
                                                         (0, "not_verified", "not_verified")])
def test_a_same_second_tie_is_decided_by_the_finer_time_or_not_at_all(fine_us, status, diagnosis):
    touch = graded(tie(0, fine_us), None, {"prerequisites", "snapshot"})["touch"]
    assert (touch.status.value, touch.diagnosis) == (status, diagnosis)


def test_a_tie_seen_passing_before_stays_passed():
    assert graded(tie(0, None), None, {"prerequisites", "snapshot", "touch"})["touch"].passed


def test_a_time_to_come_fails_whatever_the_snapshot():
    obs, _ = observed("file_after_snapshot")
    for when in (datetime(2099, 1, 1, tzinfo=timezone.utc),
                 datetime(2042, 1, 1, tzinfo=timezone.utc),  # year 0001, wrapped
                 obs.taken_at + timedelta(seconds=30)):
        touch = graded(dataclasses.replace(obs, file_modified=when), None, {"prerequisites", "snapshot"})["touch"]
        assert touch.diagnosis == "file_time_future", when
    # A few seconds of clock skew are not a forgery.
    skewed = dataclasses.replace(obs, file_modified=obs.taken_at + timedelta(seconds=3))
    assert graded(skewed, None, {"prerequisites", "snapshot"})["touch"].passed


# -- 3. a bounded look -----------------------------------------------------------------------
def test_the_misplaced_file_search_asks_a_fixed_handful_of_places():
    places = candidate_places("/root/this_file.txt")
    assert len(places) <= 5 and "/tmp/this_file.txt" in places and all(not p.startswith("/root/") for p in places)


def test_skipping_the_file_request_never_changes_a_verdict():
    """file_matters says no only where the file's presence and time change nothing: checked against
    every recorded scenario, file there or not, with every history that allows the skip."""
    for path in sorted(FIXTURES.glob("*.json")):
        data = load(path.stem)
        obs = Observation.from_json(data["observation"])
        if obs.instance is None:
            continue
        obs = with_keys(obs, data["baseline"]["uuid"], data["baseline"]["generation"])  # untouched keys
        api = {"config": {"volatile.uuid": obs.instance.uuid, "volatile.uuid.generation": obs.instance.generation}}
        listing = [{"name": s.name} for s in obs.snapshots]
        base = Baseline(data["baseline"]["uuid"], data["baseline"]["generation"], T0, trusted=True)
        for size in range(4):
            for passed in itertools.combinations(["prerequisites", "snapshot", "touch", "stop"], size):
                history = History(frozenset(passed), base)
                if file_matters(api, listing, "ubuntu-test-1", history):
                    continue
                absent = dataclasses.replace(obs, file_present=False, file_modified=None, file_elsewhere=())
                present = dataclasses.replace(obs, file_present=True, file_modified=T0)
                a = {r.step: (r.status, r.diagnosis) for r in grade(CHAPTER, absent, history, PARAMS)}
                b = {r.step: (r.status, r.diagnosis) for r in grade(CHAPTER, present, history, PARAMS)}
                assert a == b, (path.stem, passed)


def test_a_learner_who_cannot_be_observed_is_shown_as_such_and_the_class_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(class_observe, "LEARNER_SECONDS", 0.5)
    handler, _ = fake_class(SCENARIOS)

    def slow_for_bob(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("project") == "demo-bob" and request.url.path.endswith("/files"):
            time.sleep(3)  # a wedged instance
        return handler(request)

    started = time.monotonic()
    status = class_status(client=fake_client(slow_for_bob), name="demo", folder=tmp_path)
    assert time.monotonic() - started < 2
    by = {ls.learner: ls for ls in status.learners}
    assert {r.diagnosis for r in by["bob"].results} == {"unobserved"} and by["bob"].score.earned == 0
    assert "within 0.5 s" in by["bob"].results[0].message.render("en")
    assert "Observation impossible" in by["bob"].results[0].message.render("fr")
    assert "0,5\u00a0s" in by["bob"].results[0].message.render("fr")
    assert by["alice"].results[4].passed  # the others are graded as usual
    from labkit.classroom.report import status_json, text_status
    assert "⚠ bob" in text_status(status, "en")
    assert next(ls for ls in status_json(status, "en")["learners"]
                if ls["learner"] == "bob")["alert"]["diagnosis"] == "unobserved"
    # Named once in the alerts, never counted as the class's most common mistake.
    assert all((found := status.most_common(s)) is None or found[0].diagnosis != "unobserved" for s in CHAPTER.step_ids)


def test_an_instance_that_errors_makes_only_its_learner_unobserved(tmp_path):
    handler, _ = fake_class(SCENARIOS)

    def broken_for_carol(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("project") == "demo-carol" and request.url.path.endswith("/files"):
            raise httpx.ReadError("connection reset")
        return handler(request)

    # carol is at the start: no file request is made for her, so nothing fails.
    status = class_status(client=fake_client(broken_for_carol), name="demo", folder=tmp_path)
    assert all(r.diagnosis != "unobserved" for ls in status.learners for r in ls.results)


def test_a_class_at_its_start_costs_no_file_request(tmp_path):
    handler, counts = fake_class({"carol": "fresh", "dave": "fresh"})
    files = []

    def counting(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/files"):
            files.append(request)
        return handler(request)

    class_status(client=fake_client(counting), name="demo", folder=tmp_path)
    assert files == [] and counts.get("snapshots", 0) == 0


def test_instance_keys_are_read_for_the_identity_check():
    assert Instance.from_api({"name": "x",
                              "config": {"user.labkit.baseline.generation": "g"}}).baseline_generation == "g"
