"""A class grades the lab it records, through the chapter's own class-wide look or, for a chapter
without one, its `observe` per learner under the same limits; on API answers recorded from a real
daemon (tests/fixtures/api, through test_class.fake_class)."""
from __future__ import annotations

import dataclasses
import time

import httpx
import pytest

from labkit.classroom import observe as class_observe
from labkit.classroom.spec import spec_for
from labkit.classroom.status import class_status
from labkit.errors import UsageError
from labkit.i18n import M
from labkit.keys import LAB_KEY, TRUST_KEY
from labkit.labs import CHAPTERS
from labkit.labs.snapshots.steps import CHAPTER
from labkit.servers import Server

from .test_class import SCENARIOS, fake_class, fake_client


def outcome(status) -> dict[str, list[tuple[str, str | None]]]:
    return {ls.learner: [(r.status.value, r.diagnosis) for r in ls.results] for ls in status.learners}


def without_hook(monkeypatch: pytest.MonkeyPatch, seen: dict[str, dict[str, str]]) -> None:
    """The first chapter as a chapter without a class-wide look would be, noting each learner's params."""
    def observe(access, params):
        seen[access.main.project] = params
        return CHAPTER.observe(access, params)
    monkeypatch.setitem(CHAPTERS, CHAPTER.id, dataclasses.replace(CHAPTER, observe_class=None, observe=observe))


def test_the_per_learner_look_grades_as_the_chapter_hook_does(tmp_path, monkeypatch):
    handler, counts = fake_class(SCENARIOS)
    hooked = class_status(client=fake_client(handler), name="demo", folder=tmp_path / "hook")
    assert counts.get("snapshots", 0) == 0  # the hook read them from one volume listing
    seen: dict[str, dict[str, str]] = {}
    without_hook(monkeypatch, seen)
    plain = class_status(client=fake_client(handler), name="demo", folder=tmp_path / "plain")
    assert counts["snapshots"] >= len(SCENARIOS) - 1  # one request per learner with an instance
    assert outcome(plain) == outcome(hooked)
    assert {ls.learner for ls in plain.learners} == set(SCENARIOS)
    assert all(p["container"] == "ubuntu-test" and "learner" not in p for p in seen.values())


def test_each_learner_gets_the_trust_name_the_class_recorded(tmp_path, monkeypatch):
    handler, _ = fake_class({"alice": "fresh", "bob": "fresh"})

    def recorded(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        if request.url.path == "/1.0/projects":
            projects = answer.json()["metadata"]
            for p in projects:
                if p["name"] == "demo-alice":
                    p["config"][TRUST_KEY] = "labkit:demo:alice"
            return httpx.Response(200, json={"type": "sync", "metadata": projects})
        return answer

    seen: dict[str, dict[str, str]] = {}
    without_hook(monkeypatch, seen)
    class_status(client=fake_client(recorded), name="demo", folder=tmp_path / "none")
    assert "learner" not in seen["demo-alice"]  # a lab that declares no server is given no trust name
    # A lab that declares a server (opened only when a look asks, which this one never does) gets the
    # recorded name under the server's trust param.
    trusting = Server("trusting", M("test.servers.trusting", "a trusting server"), trust_param="learner")
    monkeypatch.setitem(CHAPTERS, CHAPTER.id, dataclasses.replace(CHAPTERS[CHAPTER.id], needs=(trusting,)))
    class_status(client=fake_client(recorded), name="demo", folder=tmp_path / "declared")
    assert seen["demo-alice"]["learner"] == "labkit:demo:alice"
    assert "learner" not in seen["demo-bob"]  # nothing recorded: the chapter's own default applies


def test_a_slow_learner_is_unobserved_in_the_per_learner_look_too(tmp_path, monkeypatch):
    monkeypatch.setattr(class_observe, "LEARNER_SECONDS", 0.5)
    handler, _ = fake_class(SCENARIOS)
    without_hook(monkeypatch, {})

    def slow_for_bob(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("project") == "demo-bob" and request.url.path.endswith("/snapshots"):
            time.sleep(3)
        return handler(request)

    started = time.monotonic()
    status = class_status(client=fake_client(slow_for_bob), name="demo", folder=tmp_path)
    assert time.monotonic() - started < 2
    by = {ls.learner: ls for ls in status.learners}
    assert {r.diagnosis for r in by["bob"].results} == {"unobserved"}
    assert by["alice"].results[4].passed


def test_a_class_is_graded_with_its_own_lab_only(tmp_path):
    handler, _ = fake_class({"alice": "fresh"})
    with pytest.raises(UsageError) as err:
        class_status(client=fake_client(handler), name="demo", folder=tmp_path, lab="snapshot-servers")
    assert "“snapshots”" in err.value.render("en") and "«\u00a0snapshots\u00a0»" in err.value.render("fr")
    assert class_status(client=fake_client(handler), name="demo", folder=tmp_path, lab="snapshots").chapter is CHAPTER


def test_create_keeps_the_lab_a_class_was_made_for(tmp_path):
    handler, _ = fake_class({"alice": "fresh"})
    # Made before classes recorded a lab: the first one.
    assert spec_for(fake_client(handler), "demo", learners=None, folder=tmp_path).lab == CHAPTER.id

    def recorded(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        if request.url.path == "/1.0/projects":
            projects = answer.json()["metadata"]
            projects[0]["config"][LAB_KEY] = CHAPTER.id
            return httpx.Response(200, json={"type": "sync", "metadata": projects})
        return answer

    with pytest.raises(UsageError) as err:
        spec_for(fake_client(recorded), "demo", learners=None, folder=tmp_path, lab="snapshot-server")
    assert "a class does one lab" in err.value.render("en")
    with pytest.raises(UsageError) as err:  # a new class for a lab labkit does not have
        spec_for(fake_client(recorded), "other", learners=("a",), folder=tmp_path, lab="nope")
    assert "“nope” is not a lab" in err.value.render("en")


def test_credentials_carry_each_learners_snapshot_server_line(tmp_path):
    from labkit.classroom.second_server import REMOTE_FILE
    from labkit.hub.credentials import Cards, as_json, as_text, sheet_html
    from labkit.hub.state import Account, Accounts

    line = "incus remote add incus-snapshot 127.0.0.1:8444 --token eyJ<x>== --accept-certificate"
    (tmp_path / "learners" / "alice").mkdir(parents=True)
    (tmp_path / "learners" / "alice" / REMOTE_FILE).write_text(line + "\n")
    accounts = Accounts("ipw", {n: Account(n, n, "pw", f"ws-{n}") for n in ("alice", "bob")}, "fr", "http://h:8000/")
    rows = {r["learner"]: r for r in as_json(Cards("demo", accounts, tmp_path))}
    assert rows["alice"]["snapshot_server"] == line and "snapshot_server" not in rows["bob"]
    assert line in as_text(Cards("demo", accounts, tmp_path), "fr")
    page = sheet_html(Cards("demo", accounts, tmp_path), "fr")
    assert "eyJ&lt;x&gt;==" in page and "Le serveur d’instantanés (à lancer une fois" in page
    assert "snapshot_server" not in as_json(Cards("demo", accounts))[0]  # a class of the first lab: logins only
