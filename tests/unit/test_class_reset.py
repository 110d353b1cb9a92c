"""One learner's reset without a daemon (tests/integration/test_class_reset.py does it on a real
class): the resets journal, an unknown learner, and a class view running meanwhile (the
dashboard's watch), which must read the class's new baselines and the closed attempt at once
rather than grade the new attempt with the old one's memory."""
from __future__ import annotations

import json
import os
import stat
import time

import pytest

from labkit.classroom import reset as resetting
from labkit.classroom.status import class_status, journal_for
from labkit.errors import UsageError

from .test_class import fake_class, fake_client


def test_the_resets_journal_is_private_appended_and_never_follows_a_link(tmp_path):
    resetting.record(tmp_path, {"learner": "alice", "by": "root"})
    resetting.record(tmp_path, {"learner": "bob", "by": "root"})
    assert [e["learner"] for e in resetting.resets(tmp_path)] == ["alice", "bob"]
    assert stat.S_IMODE((tmp_path / resetting.RESETS_FILE).stat().st_mode) == 0o600
    other = tmp_path / "other"
    other.mkdir()
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched\n")
    os.symlink(target, other / resetting.RESETS_FILE)
    with pytest.raises(OSError):
        resetting.record(other, {"learner": "alice"})
    assert target.read_text() == "untouched\n"


def test_an_unknown_learner_is_named_with_the_class_learners(tmp_path):
    handler, _ = fake_class({"alice": "fresh", "bob": "fresh"})
    with pytest.raises(UsageError) as raised:
        resetting.plan_reset(fake_client(handler), "demo", "mallory")
    text = raised.value.render("en")
    assert "mallory" in text and "alice, bob" in text
    plan = resetting.plan_reset(fake_client(handler), "demo", "bob")
    assert plan.project == "demo-bob" and "bob" in plan.question().render("en")


def test_a_view_running_during_a_reset_reads_the_new_attempt_at_once(tmp_path):
    handler, counts = fake_class({"frank": "wrong_snapshot_name", "alice": "snapshot_taken"})
    client, journals = fake_client(handler), {}
    first = class_status(client=client, name="demo", folder=tmp_path, journals=journals)
    assert "snapshot" in journals["alice"].attempt_view().first_pass and counts["instances"] == 1
    again = class_status(client=client, name="demo", folder=tmp_path, journals=journals, previous=first, only={"frank"})
    assert counts["instances"] == 1  # a partial refresh keeps the listing
    # Another process (`labkit class reset`, or the dashboard's handler) closes alice's attempt.
    other = journal_for(tmp_path, first.info, "alice", first.chapter, first.snapshot)
    other.archive()
    resetting.record(tmp_path, {"learner": "alice"})
    time.sleep(1.1)  # file times may be coarse: a view re-reads for a second after a reset
    after = class_status(client=client, name="demo", folder=tmp_path, journals=journals, previous=again, only={"frank"})
    assert counts["instances"] == 2  # the class's baselines are read again
    assert journals["alice"].attempt == 2  # and the journal kept in memory follows the disk
    later = class_status(client=client, name="demo", folder=tmp_path, journals=journals, previous=after, only={"frank"})
    assert counts["instances"] == 2 and later.listed_at == after.listed_at  # not again for the same reset
    data = json.loads((tmp_path / "journals" / "alice.json").read_text())
    assert data["attempt"] == 2
