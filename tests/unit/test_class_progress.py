"""Where each learner of a class stands, on observations recorded from a real daemon
(tests/fixtures/observations): “not started” as its own state, never a mistake; the step a
learner is on, for how long, stuck past the class's threshold, and the message of the check
that fails there; the views (terminal, JSON, HTML, CSV) headed by the steps' titles."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from labkit.classroom.progress import NOT_STARTED, STARTED
from labkit.classroom.report import status_json, text_status
from labkit.classroom.report_files import report_csv, report_html
from labkit.classroom.status import class_status
from labkit.grading.engine import Status

from .test_class import fake_class, fake_client

NASTY = "snap\x1b]0;pwned\x07<b>"


def graded(tmp_path, scenarios, **options):
    handler, _ = fake_class(scenarios)
    journals: dict = {}
    status = class_status(client=fake_client(handler), name="demo", folder=tmp_path, journals=journals, **options)
    return status, journals, {ls.learner: ls for ls in status.learners}


def test_a_learner_who_has_not_started_is_not_a_mistake(tmp_path):
    status, journals, by = graded(tmp_path, {"carol": "fresh", "dave": "fresh", "frank": "wrong_snapshot_name"})
    assert by["carol"].not_started and by["dave"].not_started and not by["frank"].not_started
    # Their results are what `labkit check` says; only the views show them apart.
    assert by["carol"].results[1].diagnosis == "no_snapshot"
    assert by["carol"].shown() == ["✔"] + [NOT_STARTED] * (len(status.chapter.steps) - 1)
    assert "✘" in by["frank"].shown()
    found, count = status.most_common("snapshot")
    assert (found.diagnosis, count) == ("wrong_snapshot_name", 1)
    assert status.counts("snapshot") == {NOT_STARTED: 2, "✘": 1}
    data = status_json(status, "fr")
    carol = next(ls for ls in data["learners"] if ls["learner"] == "carol")
    assert carol["not_started"] is True and carol["current"] is None and carol["last_failure"] is None
    assert carol["steps"][1]["status"] == "failed" and carol["steps"][1]["shown"] == "not_started"
    summary = next(s for s in data["summary"] if s["id"] == "snapshot")
    assert summary["most_common"]["count"] == 1 and summary["title"] == "Prendre un instantané"
    assert (summary["failed"], summary["not_started"]) == (3, 2)  # statuses as graded; the view's count apart
    for lang, word in (("en", "not started"), ("fr", "pas commencé")):
        text = text_status(status, lang)
        carol_line = next(line for line in text.splitlines() if line.startswith("carol"))
        assert "✘" not in carol_line and NOT_STARTED in carol_line and word in carol_line
        page = report_html(status, journals, lang)
        assert f"{NOT_STARTED}</span>{word}" in page
        assert "1 " in page and "2 " not in page.split("<ol>")[1]  # one learner in the mistakes, not three
        rows = list(csv.reader(io.StringIO(report_csv(status, journals, lang)), delimiter=";" if lang == "fr" else ","))
        assert word in next(r for r in rows if r[0] == "carol")


def test_the_same_look_after_a_restore_or_with_events_is_started(tmp_path):
    # cleaned_up ends as fresh looks (running, no snapshot, no file), but its generation moved: a restore.
    status, journals, by = graded(tmp_path, {"carol": "fresh", "olga": "cleaned_up"})
    assert by["carol"].not_started and not by["olga"].not_started
    # Events the watch saw (a snapshot made, then deleted) are the server's: carol has started.
    journals["carol"].record_events([{"action": "instance-snapshot-created",
                                      "time": datetime.now(timezone.utc).isoformat(), "context": {"name": "x"}}])
    _, _, again = graded(tmp_path, {"carol": "fresh"})
    assert not again["carol"].not_started
    # Seen started once, started for the rest of the attempt, even with the events gone.
    path = tmp_path / "journals" / "carol.json"
    data = json.loads(path.read_text())
    assert STARTED in data["marks"]
    data["events"] = []
    path.write_text(json.dumps(data))
    _, _, later = graded(tmp_path, {"carol": "fresh"})
    assert not later["carol"].not_started
    # A new attempt (a reset archives the journal) starts not started again.
    data["attempt"], data["marks"] = 2, {}
    path.write_text(json.dumps(data))
    _, _, reset = graded(tmp_path, {"carol": "fresh"})
    assert reset["carol"].not_started


def test_only_the_baseline_the_class_holds_can_say_not_started(tmp_path, monkeypatch):
    """A class made before it held baselines (the instance's own keys only) never shows “not started”."""
    from labkit.classroom import status as status_module

    monkeypatch.setattr(status_module.ClassInfo, "baseline", lambda self, learner: None)
    _, _, by = graded(tmp_path, {"carol": "fresh"})
    assert not by["carol"].not_started


def test_step_time_stuck_mark_and_last_failure(tmp_path):
    status, journals, by = graded(tmp_path, {"frank": "wrong_snapshot_name", "alice": "restored_running",
                                             "bob": "rm_instead_of_restore"})
    frank = by["frank"].progress
    assert frank.step == "snapshot" and not frank.stuck and frank.failure.diagnosis == "wrong_snapshot_name"
    assert by["alice"].progress.step == "cleanup" and by["alice"].progress.failure.diagnosis
    # 12 minutes later on the same step: stuck past the default 10 minutes, not past 15.
    for learner in ("frank", "bob"):
        path = tmp_path / "journals" / f"{learner}.json"
        data = json.loads(path.read_text())
        earlier = lambda when: (datetime.fromisoformat(when) - timedelta(minutes=12)).isoformat()  # noqa: E731
        data["marks"] = {k: earlier(v) for k, v in data["marks"].items()}
        data["first_pass"] = {k: earlier(v) for k, v in data["first_pass"].items()}
        path.write_text(json.dumps(data))
    status, _, by = graded(tmp_path, {"frank": "wrong_snapshot_name", "alice": "restored_running",
                                      "bob": "rm_instead_of_restore"})
    assert by["frank"].progress.stuck and by["bob"].progress.stuck and by["bob"].progress.step == "touch"
    assert 715 <= by["frank"].progress.seconds(status.taken_at) <= 730
    _, _, patient = graded(tmp_path, {"frank": "wrong_snapshot_name"}, stuck_after=timedelta(minutes=15))
    assert not patient["frank"].progress.stuck
    data = status_json(status, "en")
    frank_json = next(ls for ls in data["learners"] if ls["learner"] == "frank")
    assert frank_json["current"]["step"] == "snapshot" and frank_json["current"]["title"] == "Take a snapshot"
    assert frank_json["current"]["stuck"] is True and frank_json["current"]["seconds"] >= 715
    assert frank_json["last_failure"]["message"].startswith("There is no snapshot named")
    assert data["stuck_after_seconds"] == 600
    text = text_status(status, "en")
    assert "⏳ frank has been on “Take a snapshot” for 12\u00a0min" in text and "⚠ stuck" in text
    assert "⏳ bob has been on “Create a file”" in text


def test_a_failure_message_is_bounded_and_shown_never_obeyed(tmp_path, monkeypatch):
    """The message quotes the learner's snapshot names: bounded in JSON, escaped on a terminal."""
    from labkit.classroom.progress import MESSAGE_LIMIT, progress_of
    from labkit.grading.engine import Result
    from labkit.i18n import M

    status, _, by = graded(tmp_path, {"frank": "wrong_snapshot_name"})
    hostile = M("snap.snapshot.wrong_name", "There is no snapshot named “{snapshot}”, but “{container}” has: {found}.",
                snapshot="ubuntu-test-1", container="ubuntu-test", found=NASTY * 200)
    results = [r if r.step != "snapshot"
               else Result(r.step, Status.FAILED, 0, r.possible, hostile, None, (), "wrong_snapshot_name")
               for r in by["frank"].results]
    ls = by["frank"]
    stuck = progress_of(results, None, False, status.taken_at, timedelta(0))
    ls = type(ls)(ls.learner, ls.project, results, ls.score, ls.observation, False, stuck)
    status = type(status)(status.info, status.chapter, status.snapshot, [ls], status.taken_at, status.seconds)
    shown = status_json(status, "en")["learners"][0]["last_failure"]["message"]
    assert len(shown) <= MESSAGE_LIMIT and shown.endswith("…")
    text = text_status(status, "en")
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;pwned" in text


def test_the_second_chapters_start_is_read_from_what_the_learner_cannot_write():
    """The snapshot-server chapter on API answers recorded from real daemons (tests/fixtures/api):
    untouched before the remote is added (the token's certificate is the server's record), not after
    any step, whatever its kind."""
    from pathlib import Path

    from labkit.grading.engine import History
    from labkit.labs.snapshot_server.observe import build
    from labkit.labs.snapshot_server.steps import CHAPTER

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "api" / "snapshot-server"
    seen = {}
    for path in sorted(folder.glob("*.json")):
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict) or "primary" not in raw:
            continue  # events, not a look
        params = {**CHAPTER.defaults, **raw["params"]}
        seen[path.stem] = CHAPTER.untouched(build(raw, params), History(), params)
    assert seen.pop("fresh") is True
    assert seen and not any(seen.values()), [name for name, fresh in seen.items() if fresh]
    # Another learner's certificate on the server does not make this one started.
    raw = json.loads((folder / "remote_added.json").read_text())
    params = {**CHAPTER.defaults, **raw["params"], "learner": "labkit:demo:bob"}
    assert CHAPTER.untouched(build(raw, params), History(), params)
