"""The snapshot-server chapter against a learner who wants its points without its work.

forged_copy.json and forged_refresh.json were recorded with tests/fixtures/api/snapshot-server/record.py
on the real daemons (Incus 6.0.4), after these commands as the learner (their trusted certificate):

    forged_refresh: incus create --empty incus-snapshot:r2-prim   # no copy at all
                    incus snapshot create r2-prim ubuntu-test-1
                    incus config set incus-snapshot:r2-prim volatile.base_image=<primary's> volatile.apply_template=copy
                    incus snapshot create incus-snapshot:r2-prim ubuntu-test-1   # by hand, on the "copy"
                    incus config set incus-snapshot:r2-prim volatile.uuid=<primary's> boot.autostart=false
    forged_copy:    incus delete incus-snapshot:r2-prim; incus create --empty incus-snapshot:r2-prim
                    incus config set incus-snapshot:r2-prim volatile.base_image=<primary's> volatile.apply_template=copy

Incus accepts every one of these `volatile.*` writes (exit 0); only unknown volatile keys are refused.
Other tests change one recorded field, and say which.  Hostile client folders are real files, FIFOs
and symlinks in tmp_path.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from labkit.grading.engine import Status
from labkit.incus.client_config import LIMIT as CLIENT_FILE_LIMIT
from labkit.labs.snapshot_server.keys import pattern_problem
from labkit.labs.snapshot_server.observe import MAX_LOOKUPS, read_client

from .test_snapshot_server_checks import ORDER, instance_of, load, migrated, run


# -- forged volatile keys ------------------------------------------------------------
def test_an_empty_instance_with_written_volatile_keys_is_not_a_copy() -> None:
    """Not a copy, and not proven wrong either: keys a client can write say nothing either way (issue 19)."""
    results = run("forged_copy", {"remote", "snapshot"})
    assert results["copy"].status is Status.NOT_VERIFIED and results["copy"].points == 0
    for lang in ("en", "fr"):
        hint = results["copy"].hint.render(lang)
        assert "labkit --lab snapshot-server watch" in hint and "incus delete" not in hint
    # The same state with the recorder's report of the snapshot copy is a copy.
    raw = load("forged_copy")
    assert run(raw, events=(migrated(raw, "r2-prim/ubuntu-test-1"),))["copy"].passed


def test_an_instance_only_copy_unseen_by_the_recorder_is_not_a_snapshot_copy() -> None:
    # `incus copy --instance-only` leaves what a snapshot copy leaves (facts (b)): without the event, no proof.
    assert run("copied", {"remote", "snapshot"}, events=())["copy"].status is Status.NOT_VERIFIED
    assert run("copied", set(ORDER), events=())["copy"].passed  # seen passing earlier: kept


def test_a_written_uuid_and_a_snapshot_taken_on_the_copy_are_not_a_refresh() -> None:
    result = run("forged_refresh", set(ORDER) - {"refresh"})["refresh"]
    assert result.status is Status.FAILED and result.diagnosis == "snapshot_made_on_copy", result
    assert "incus snapshot delete incus-snapshot:r2-prim ubuntu-test-1" in result.hint.render("en")


@pytest.mark.parametrize("fraction", [".000001", ".5"])
def test_a_snapshot_taken_on_the_copy_in_the_same_second_is_not_brought_by_a_refresh(fraction: str) -> None:
    raw = load("refreshed")  # changed: the copy's newest snapshot has a fraction of a second (made there, by
    # hand under the primary's name, or sent back by `incus copy --refresh incus-snapshot:C C`)
    newest = max(raw["copy_snapshots"], key=lambda s: s["created_at"])
    newest["created_at"] = newest["created_at"].replace("Z", f"{fraction}Z")
    assert run(raw, set(ORDER) - {"refresh"})["refresh"].diagnosis == "snapshot_made_on_copy"


# -- snapshots.pattern that passes without naming snapshots by date --------------------
@pytest.mark.parametrize("pattern, problem", [
    ("ubuntu-test-{# {{ creation_date|date:'2006-01-02_15-04-05' }} #}", "pattern_malformed"),
    ("ubuntu-test-{{ creation_date|date:'2006-01-02'|cut:'2' }}", "pattern_malformed"),
    ("ubuntu-test-{{ creation_date|date:'2006' }}", "pattern_partial_date"),
    ("ubuntu-test-{{ creation_date|date:'15-04-05' }}", "pattern_partial_date"),
    ("ubuntu-test-{{ creation_date|date:'2026-12-02' }}", "pattern_partial_date"),
    ("ubuntu-test-{{ creation_date|date:'YYYY-2006' }}", "pattern_partial_date"),
    # Real dates in other Go layouts.
    ("ubuntu-test-{{ creation_date|date:'06-01-02' }}", None),
    ("ubuntu-test-{{ creation_date|date:'Jan-02-2006' }}", None),
    ("ubuntu-test-{{ creation_date|date:'Jan_2_2006' }}", "pattern_bad_characters"),  # _2: space-padded day
    ("ubuntu-test-{{ creation_date|date:'2006.002' }}", None),
])
def test_patterns_that_only_look_dated(pattern: str, problem: str | None) -> None:
    assert pattern_problem(pattern) == problem


def test_a_partial_date_is_named_in_both_languages() -> None:
    raw = load("pattern_set")  # changed: a year alone
    for part in ("config", "expanded_config"):
        raw["primary"][part]["snapshots.pattern"] = "ubuntu-test-{{ creation_date|date:'2006' }}"
    result = run(raw, set(ORDER) - {"pattern"})["pattern"]
    assert result.diagnosis == "pattern_partial_date"
    assert result.message.render("fr") != result.message.render("en")


# -- the learner's client folder -----------------------------------------------------
def _client(tmp_path: Path, config: bytes | None = b"remotes: {}\n") -> Path:
    conf = tmp_path / "incus"
    conf.mkdir()
    if config is not None:
        (conf / "config.yml").write_bytes(config)
    return conf


def _within(seconds: float, func, *args):
    """func(*args) in a thread: its result, or a failure when it has not returned in time."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(func(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"{func.__name__} did not return within {seconds} s"
    return out[0]


def test_a_fifo_as_config_yml_or_client_crt_does_not_block_the_check(tmp_path: Path) -> None:
    conf = _client(tmp_path, None)
    os.mkfifo(conf / "config.yml")
    os.mkfifo(conf / "client.crt")
    remotes, fingerprint, error = _within(5, read_client, conf)
    assert remotes == {} and fingerprint is None and "not a regular file" in error


def test_config_yml_linked_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    conf = _client(tmp_path, None)
    (conf / "config.yml").symlink_to("/dev/zero")
    remotes, _, error = _within(5, read_client, conf)
    assert remotes == {} and "not a regular file" in error


def test_a_huge_config_yml_is_not_read(tmp_path: Path) -> None:
    conf = _client(tmp_path, b"remotes:\n" + b"  r: {addr: 'https://x'}\n#" + b"x" * CLIENT_FILE_LIMIT)
    remotes, _, error = read_client(conf)
    assert remotes == {} and "larger than" in error


@pytest.mark.parametrize("config", [
    b"\xff\xfe\x00binary",
    b"remotes: [a, b]\n",
    b"remotes:\n  incus-snapshot: 5\n",
    # An alias tree as the remote's address: 91 lines, 10 million strings once written out.
    b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    b"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nremotes:\n  incus-snapshot: {addr: *g}\n",
])
def test_a_config_yml_of_another_shape_gives_no_traceback_and_no_remote(tmp_path: Path, config: bytes) -> None:
    remotes, _, _ = _within(5, read_client, _client(tmp_path, config))
    assert remotes is not None and all(entry["addr"] == "" for entry in remotes.values())


def test_an_unreadable_config_yml_is_not_a_class_view() -> None:
    raw = load("remote_other_name")  # changed: config.yml could not be read (what read_client then gives)
    raw["client_remotes"], raw["client_error"] = {}, "config.yml is not a regular file"
    result = run(raw)["remote"]
    assert result.status is Status.FAILED and result.diagnosis == "client_config_unreadable", result
    assert "not a regular file" in result.message.render("fr")


def test_an_unreadable_config_yml_read_by_observe_fails_the_remote(tmp_path: Path) -> None:
    from labkit.labs.snapshot_server.observe import build

    raw = load("remote_other_name")  # changed: the learner's config.yml, replaced by a binary file, read again
    conf = _client(tmp_path, b"\x00\xff" * 10)
    raw["client_remotes"], raw["client_fingerprint"], error = read_client(conf)
    if error is not None:
        raw["client_error"] = error
    assert build(raw, raw["params"]).remotes is not None  # not a class view
    result = run(raw)["remote"]
    assert result.status is Status.FAILED and result.diagnosis == "client_config_unreadable", result


def test_names_on_the_server_port_are_resolved_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from labkit.labs.snapshot_server import observe as snapshot_server_observe

    real, asked = socket.getaddrinfo, []

    def counting(host, *args, **kwargs):  # the real resolver, counted
        asked.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(snapshot_server_observe.socketlib, "getaddrinfo", counting)
    info = {"environment": {"addresses": ["127.0.0.1:55611"]}}
    remotes = {f"r{i}": {"addr": f"https://host{i}.invalid:55611"} for i in range(50)}
    remotes["incus-snapshot"] = {"addr": "https://localhost:55611"}
    found = snapshot_server_observe.server_addresses(info, remotes, first="incus-snapshot")
    assert len(asked) <= MAX_LOOKUPS and asked[0] == "localhost"
    assert "localhost:55611" in found


# -- thousands of snapshots ------------------------------------------------------------
def _many(raw: dict, key: str, count: int, whole: bool) -> None:
    template = raw[key][0]
    start = time.time()
    for i in range(count):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start - 86400 * 30 + i))
        raw[key].append({**template, "name": f"s{i}", "created_at": stamp + ("Z" if whole else ".5Z")})


def test_thousands_of_snapshots_keep_a_check_short_and_its_messages_bounded() -> None:
    raw = load("copy_whole")  # changed: 20 000 more snapshots on the primary and on the copy
    _many(raw, "primary_snapshots", 20000, whole=False)
    _many(raw, "copy_snapshots", 20000, whole=True)
    started = time.monotonic()
    results = run(raw, {"remote", "snapshot"})
    assert time.monotonic() - started < 10
    assert results["copy"].diagnosis == "whole_instance_copied"
    assert all(len(e.render("en")) < 400 for e in results["copy"].evidence)
    raw["primary_snapshots"] = [s for s in raw["primary_snapshots"] if s["name"] != "ubuntu-test-1"]
    wrong = run(raw)["snapshot"]
    assert wrong.diagnosis == "wrong_snapshot_name" and len(wrong.message.render("en")) < 400


def test_a_refreshed_snapshot_is_told_by_its_time_alone() -> None:
    # The recorded refresh, as is: the copy's newest snapshot has whole seconds, the primary's the same second.
    raw = load("refreshed")
    newest = max(raw["copy_snapshots"], key=lambda s: s["created_at"])
    assert "." not in newest["created_at"]
    assert run(raw, set(ORDER) - {"refresh"})["refresh"].passed
    assert instance_of(raw, "c2-prim")["created_at"] < newest["created_at"]


# -- snapshots.schedule that Incus accepts but that never fires -------------------------
@pytest.mark.parametrize("schedule, never", [
    ("@never", True), ("@never, @never", True), ("0 0 31 2 *", True), ("0 0 30,31 2 *", True),
    ("0 0 30,31 2,4 *", False), ("50 20 * * *", False), ("@daily", False), ("@daily, @never", False),
    ("0 0 29 2 *", False), ("0 0 31 2 1", False), ("0 0 31 */2 *", False), ("@startup", False),
])
def test_schedules_that_never_fire(schedule: str, never: bool) -> None:
    from labkit.labs.snapshot_server.keys import schedule_never_fires

    assert schedule_never_fires(schedule) is never


def test_a_schedule_of_never_does_not_pass() -> None:
    raw = load("schedule_set")  # changed: “incus config set C snapshots.schedule=@never” (Incus accepts it, exit 0)
    for part in ("config", "expanded_config"):
        raw["primary"][part]["snapshots.schedule"] = "@never"
    result = run(raw, set(ORDER) - {"schedule"})["schedule"]
    assert result.status is Status.FAILED and result.diagnosis == "schedule_never"
    assert "50 20 * * *" in result.hint.render("fr")


@pytest.mark.parametrize("schedule, fails", [
    ("@startup", True), ("@startup, @never", True), ("@startup, 0 0 31 2 *", True),
    ("@startup, @daily", False), ("@startup, 50 20 * * *", False), ("50 20 * * *", False),
])
def test_a_schedule_at_startup_only_is_not_every_day(schedule: str, fails: bool) -> None:
    """Incus accepts “@startup” and snapshots at each start (verified), never on a server that keeps
    running (issue 19)."""
    raw = load("schedule_set")  # changed: the schedule
    for part in ("config", "expanded_config"):
        raw["primary"][part]["snapshots.schedule"] = schedule
    result = run(raw, set(ORDER) - {"schedule"})["schedule"]
    if not fails:
        assert result.passed, result
        return
    assert result.status is Status.FAILED and result.diagnosis == "schedule_startup_only"
    for lang in ("en", "fr"):
        assert "50 20 * * *" in result.hint.render(lang) and "@startup" in result.message.render(lang)


def _with_primary_key(name: str, key: str, value: str) -> dict:
    raw = load(name)
    for part in ("config", "expanded_config"):
        raw["primary"][part][key] = value
    return raw


@pytest.mark.parametrize("pattern", [
    # Checked on the real main daemon: “incus snapshot create C” then fails with
    # “Invalid instance snapshot name: Cannot contain space or / characters”.
    "r2-{{ creation_date|date:'2006-01-02 15:04:05' }}",
    "r2/{{ creation_date|date:'2006-01-02' }}",
    "r2-{{ creation_date|date:'2006-01-_2' }}",  # “ 2” on the 2nd of the month
])
def test_a_dated_pattern_that_makes_names_incus_refuses_does_not_pass(pattern: str) -> None:
    raw = _with_primary_key("pattern_set", "snapshots.pattern", pattern)  # changed: the learner's pattern
    result = run(raw, set(ORDER) - {"pattern"})["pattern"]
    assert result.diagnosis == "pattern_bad_characters", result
    assert "Cannot contain space or / characters" in result.message.render("fr")


@pytest.mark.parametrize("expiry, zero", [("0d", True), ("0H", True), ("0d 0H", True), ("1d", False), ("1d 0H", False),
                                          ("d", False)])
def test_an_expiry_of_zero_does_not_pass(expiry: str, zero: bool) -> None:
    # Incus accepts “0d” (exit 0) and gives each new snapshot an expires_at before its created_at.
    raw = _with_primary_key("expiry_set", "snapshots.expiry", expiry)  # changed: the learner's expiry
    result = run(raw, set(ORDER) - {"expiry"})["expiry"]
    assert (result.diagnosis == "expiry_zero") is zero and result.passed is not zero
