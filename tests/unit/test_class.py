"""Training sessions without a daemon: names and rosters, limits, plans, certificates and
bundles, the class view and reports on observations recorded from a real daemon, and
`create` against a fake server whose disk fills up (tests/fixtures/observations)."""
from __future__ import annotations

import csv
import io
import json
import re
import stat
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from labkit.classroom import create as classroom
from labkit.classroom import spec as class_spec
from labkit.classroom.create import ServerState
from labkit.classroom.report import status_json, text_status
from labkit.classroom.report_files import report_csv, report_html
from labkit.classroom.spec import ClassSpec, Limits, numbered_learners, read_roster, validate_class_name
from labkit.classroom.status import TODO, class_status
from labkit.errors import InvalidName, SetupError, UsageError
from labkit.grading.journal import Journal
from labkit.incus import certs
from labkit.incus.client import Endpoint, IncusClient
from labkit.incus.remote_transport import RemoteTransport
from labkit.labs.snapshots.observe import Instance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "observations"


# -- names, rosters, limits -------------------------------------------------------
def test_numbered_learners_and_bounds():
    assert numbered_learners(3) == ("learner01", "learner02", "learner03")
    assert numbered_learners(120)[-1] == "learner120"
    with pytest.raises(UsageError):
        numbered_learners(0)


def test_roster_skips_blanks_and_comments(tmp_path):
    roster = tmp_path / "roster.txt"
    roster.write_text("# group A\nalice\n\n  bob  \nmarie.dupont\n", encoding="utf-8")
    assert read_roster(roster) == ("alice", "bob", "marie.dupont")


@pytest.mark.parametrize("bad", ["Marie Dupont", "a_b", "élodie", "-x", "x/y", "o'brien"])
def test_names_incus_would_reject_are_refused_with_the_list(tmp_path, bad):
    roster = tmp_path / "roster.txt"
    roster.write_text(f"alice\n{bad}\n", encoding="utf-8")
    with pytest.raises(InvalidName) as err:
        read_roster(roster)
    for lang in ("en", "fr"):
        text = err.value.render(lang)
        assert bad in text and str(roster) in text and "alice" not in text.split(":")[1]


def test_duplicates_in_a_roster_are_refused_case_insensitively(tmp_path):
    roster = tmp_path / "roster.txt"
    roster.write_text("alice\nbob\nAlice\ncarol\nbob\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        read_roster(roster)
    assert "alice, bob" in err.value.render("en")


def test_empty_roster_and_bad_class_names(tmp_path):
    roster = tmp_path / "roster.txt"
    roster.write_text("# nobody yet\n", encoding="utf-8")
    with pytest.raises(UsageError):
        read_roster(roster)
    for bad in ("1demo", "demo_", "de mo", "a" * 31, "demo-"):
        with pytest.raises(InvalidName):
            validate_class_name(bad)


def test_limits_give_each_instance_an_equal_share():
    limits = Limits()
    assert limits.project_config() == {"restricted": "true", "restricted.snapshots": "allow", "limits.instances": "2",
                                       "limits.disk": "6GiB", "limits.memory": "2GiB", "limits.processes": "2000"}
    assert limits.profile_config() == {"limits.memory": "1024MiB", "limits.processes": "1000"}
    assert limits.root_size == "3072MiB"
    again = Limits.from_text(limits.to_text(), disk="10GiB", instances=None)
    assert again == Limits(disk="10GiB")
    with pytest.raises(UsageError):
        Limits(disk="lots")
    with pytest.raises(UsageError):
        Limits(instances=0)


def test_spec_names_projects_within_incus_limits(tmp_path):
    spec = ClassSpec("demo", ("alice",), tmp_path)
    assert (spec.class_project, spec.project("alice"), spec.certificate_name("alice")) == ("demo", "demo-alice",
                                                                                           "labkit:demo:alice")
    longest = ClassSpec("a" * 30, ("b" * 32,), tmp_path)
    assert len(longest.project("b" * 32)) == 63
    with pytest.raises(InvalidName):
        ClassSpec("demo", ("b" * 33,), tmp_path)



def test_a_class_container_is_its_labs_own_unless_named(tmp_path):
    from labkit.labs import CHAPTERS

    for lab, chapter in CHAPTERS.items():
        assert ClassSpec("demo", ("alice",), tmp_path, lab=lab).container == chapter.defaults["container"]
    assert ClassSpec("demo", ("alice",), tmp_path, container="web").container == "web"


# -- planning against a server's state ---------------------------------------------
def state(projects=(), instances=(), certificates=()) -> ServerState:
    return ServerState({p["name"]: p for p in projects}, dict(instances), list(certificates), {}, "")


def test_foreign_project_is_never_touched(tmp_path):
    spec = ClassSpec("demo", ("alice", "bob"), tmp_path, image="labkit/x")
    foreign = state([{"name": "demo-bob", "config": {}},
                     {"name": "demo", "config": {"user.labkit.class": "demo", "user.labkit.role": "class"}}])
    with pytest.raises(UsageError) as err:
        classroom.plan(client=None, spec=spec, state=foreign)
    assert "demo-bob" in err.value.render("en") and "“demo”" not in err.value.render("en").split(":")[1]
    other_class = state([{"name": "demo-alice", "config": {"user.labkit.class": "demo2", "user.labkit.role": "learner",
                                                           "user.labkit.learner": "alice"}}])
    with pytest.raises(UsageError):
        classroom.plan(client=None, spec=spec, state=other_class)


def test_plan_lists_only_what_is_missing(tmp_path):
    spec = ClassSpec("demo", ("alice", "bob"), tmp_path, image="labkit/x", listen="127.0.0.1:8443")
    empty = [m.key for m in classroom.plan(client=None, spec=spec, state=state())]
    assert empty == ["class.plan.class_project", "class.plan.golden", "class.plan.listen"] + [
        "class.plan.project", "class.plan.copy", "class.plan.certificate"] * 2
    bundle = spec.bundle("alice")
    certs.generate(bundle, "test")
    half = state(projects=[{"name": "demo", "config": {"user.labkit.class": "demo", "user.labkit.role": "class"}},
                           {"name": "demo-alice", "config": {"user.labkit.class": "demo", "user.labkit.role": "learner",
                                                             "user.labkit.learner": "alice"}}],
                 instances=[(("demo", "golden"), "Stopped"), (("demo-alice", "ubuntu-test"), "Stopped")],
                 certificates=[{"name": "labkit:demo:alice", "fingerprint": "x"}])
    lines = classroom.plan(client=None, spec=spec, state=half)
    assert [m.key for m in lines] == ["class.plan.listen", "class.plan.project", "class.plan.copy",
                                      "class.plan.certificate"]
    assert all(m.params.get("learner") in (None, "bob") for m in lines)


# -- a fake server, for failures a real one cannot be made to show on demand ----------
SERVER_CERT = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


class FakeIncus:
    """Just enough of the API for `create`, with copies failing on a full disk."""

    def __init__(self):
        self.projects = {"default": {"name": "default", "config": {}}}
        self.instances = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.copies_fail = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method, params = request.url.path, request.method, request.url.params
        self.requests.append((method, path, dict(params)))
        body = json.loads(request.content) if request.content else {}
        if path == "/1.0":
            return ok({"config": {}, "environment": {"certificate": SERVER_CERT}})
        if path == "/1.0/projects" and method == "GET":
            return ok(list(self.projects.values()))
        if path == "/1.0/projects" and method == "POST":
            self.projects[body["name"]] = body
            return ok(None)
        if path.startswith("/1.0/projects/"):
            return ok(self.projects[path.rsplit("/", 1)[1]]) if method == "GET" else ok(None)
        if path == "/1.0/instances" and method == "GET":
            return ok([{"name": n, "project": p, "status": "Stopped"} for p, n in self.instances])
        if path == "/1.0/instances" and method == "POST":
            if body["source"]["type"] == "copy" and self.copies_fail:
                return error(500, "Failed creating instance from copy: Create instance from copy: write "
                                  "/var/lib/incus/storage-pools/default/containers/x: no space left on device")
            self.instances[(params["project"], body["name"])] = body
            return ok(None)
        if path == "/1.0/certificates":
            return ok([])
        if path == "/1.0/profiles/default":
            return ok({"config": {}, "devices": {"root": {"type": "disk", "path": "/", "pool": "default"}}})
        if path.endswith("/state") or path.endswith("/exec"):
            return ok(None)
        if path.startswith("/1.0/instances/"):
            return ok({"name": "ubuntu-test", "status": "Running",
                       "config": {"volatile.uuid": "u", "volatile.uuid.generation": "u"}})
        return error(404, f"not found: {path}")


def ok(metadata) -> httpx.Response:
    return httpx.Response(200, json={"type": "sync", "status_code": 200, "metadata": metadata})


def error(code: int, message: str) -> httpx.Response:
    return httpx.Response(code, json={"type": "error", "error_code": code, "error": message})


def fake_client(handler) -> IncusClient:
    return IncusClient(Endpoint(Path("/nonexistent.socket"), "default"), transport=httpx.MockTransport(handler))


def test_full_disk_during_the_copies_says_so_and_how_to_go_on(tmp_path):
    fake = FakeIncus()
    spec = ClassSpec("demo", ("alice", "bob"), tmp_path / "demo", image="labkit/x")
    with pytest.raises(SetupError) as err:
        classroom.create(client=fake_client(fake), spec=spec, lang="en")
    assert err.value.message.params["reason"].key == "class.create.disk_full"
    text = err.value.render("en")
    assert "“default” is full" in text and "no space left on device" in text
    assert "2 of 2" in text and "0 are ready" in text
    assert "labkit class create demo" in text and "labkit class destroy demo" in text
    assert err.value.render("fr")  # renders in French too (the catalogue may not have it yet)
    # What was made carries the class's mark, so a re-run or a destroy finds it.
    assert {p["config"]["user.labkit.class"] for n, p in fake.projects.items() if n != "default"} == {"demo"}


def test_cluster_members_take_the_learners_in_turn(tmp_path):
    """On a cluster, --target spreads the copies; everything goes through the API."""
    fake = FakeIncus()
    fake.copies_fail = False
    spec = ClassSpec("demo", ("alice", "bob", "carol"), tmp_path / "demo", image="labkit/x", targets=("m1", "m2"))
    classroom.create(client=fake_client(fake), spec=spec, lang="en")
    placed = {params["project"]: params.get("target") for method, path, params in fake.requests
              if (method, path) == ("POST", "/1.0/instances")}
    assert placed == {"demo": "m1", "demo-alice": "m1", "demo-bob": "m2", "demo-carol": "m1"}
    for learner in spec.learners:
        assert (spec.bundle(learner) / "client.key").exists()


def test_every_copy_is_made_before_any_learner_starts(tmp_path):
    """A btrfs copy commits the pool's transaction: made while containers boot, each costs far more."""
    fake = FakeIncus()
    fake.copies_fail = False
    spec = ClassSpec("demo", tuple(f"l{n}" for n in range(6)), tmp_path / "demo", image="labkit/x")
    classroom.create(client=fake_client(fake), spec=spec, lang="en")
    # A learner's start begins with a look at their copy (started unless it runs already).
    learners = [(method, path) for method, path, params in fake.requests
                if params.get("project") != "demo"]  # not golden
    order = [("copy" if method == "POST" else "look") for method, path in learners
             if (method, path) == ("POST", "/1.0/instances") or (method, path) == ("GET", "/1.0/instances/ubuntu-test")]
    assert order == ["copy"] * 6 + ["look"] * 6, order


# -- certificates and bundles ------------------------------------------------------
def test_certificates_are_private_and_fingerprinted_like_openssl(tmp_path):
    cert = certs.generate(tmp_path / "alice", "labkit demo alice")
    assert stat.S_IMODE((tmp_path / "alice").stat().st_mode) == 0o700
    for path in (cert.cert, cert.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    out = subprocess.run(["openssl", "x509", "-in", str(cert.cert), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    assert cert.fingerprint == out.split("=", 1)[1].strip().replace(":", "").lower()
    usage = subprocess.run(["openssl", "x509", "-in", str(cert.cert), "-noout", "-ext", "extendedKeyUsage"],
                           capture_output=True, text=True).stdout
    assert "clientAuth" in usage.replace("TLS Web Client Authentication", "clientAuth")
    assert "-----" not in certs.der_base64(cert.pem)


def test_bundle_is_an_incus_conf_folder(tmp_path):
    folder = tmp_path / "bundle"
    certs.generate(folder, "x")
    certs.write_bundle(folder, remote="demo", address="127.0.0.1:8443", project="demo-alice",
                       server_cert=certs.generate(tmp_path / "srv", "srv").pem, readme="hello\n")
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    remote = certs.read_remote(folder)
    assert (remote.name, remote.address, remote.project) == ("demo", "127.0.0.1:8443", "demo-alice")
    assert remote.server_cert.exists() and remote.client.exists()
    certs.write_bundle(folder, remote="demo", address=None, project="demo-alice", server_cert="x",
                       readme="no listener\n")
    assert certs.read_remote(folder) is None and (folder / "README.txt").read_text() == "no listener\n"


def test_readme_without_listener_explains_what_the_instructor_must_do():
    text = certs.bundle_readme(cls="demo", learner="alice", project="demo-alice", container="ubuntu-test",
                               address=None, server_cert="", lang="en")
    assert "--listen" in text and "INCUS_CONF" not in text
    text = certs.bundle_readme(cls="demo", learner="alice", project="demo-alice", container="ubuntu-test",
                               address="srv:8443", server_cert="", lang="en")
    assert 'export INCUS_CONF="$PWD"' in text and "incus remote add demo https://srv:8443 --project demo-alice" in text


def test_public_address_and_remote_transport():
    assert certs.public_address("127.0.0.1:9443") == "127.0.0.1:9443"
    assert certs.public_address("0.0.0.0:8443").endswith(":8443")
    assert not certs.public_address("0.0.0.0:8443").startswith("0.0.0.0")
    assert certs.public_address("[::]:8443").endswith(":8443")
    seen = []
    transport = RemoteTransport("[::1]:9443", context=None)
    transport._inner = httpx.MockTransport(lambda r: seen.append(str(r.url)) or ok({}))
    with httpx.Client(transport=transport, base_url="http://incus") as http:
        http.get("/1.0/instances", params={"project": "demo-alice"})
    assert seen == ["https://[::1]:9443/1.0/instances?project=demo-alice"]


# -- the class view, graded from recorded observations -------------------------------
def api_instance(scenario: str, project: str) -> tuple[dict, bool, datetime | None]:
    """The recursion=2 entry a real daemon gives for a recorded scenario, and its file."""
    data = json.loads((FIXTURES / f"{scenario}.json").read_text())
    obs, base = data["observation"], data["baseline"]
    inst = obs["instance"]
    api = None if inst is None else {
        "name": "ubuntu-test", "project": project, "status": inst["status"], "created_at": inst["created_at"],
        "config": {"volatile.uuid": inst["uuid"], "volatile.uuid.generation": inst["generation"],
                   "user.labkit.baseline.uuid": base["uuid"], "user.labkit.baseline.generation": base["generation"]},
        "expanded_devices": {"root": {"type": "disk", "path": "/", "pool": "default"}},
        "snapshots": [{"name": s["name"], "created_at": s["created_at"], "stateful": s["stateful"]}
                      for s in obs["snapshots"]]}
    modified = datetime.fromisoformat(obs["file_modified"]) if obs["file_modified"] else None
    return api, obs["file_present"], modified


# carol and dave have not started; frank and gina share a mistake.
SCENARIOS = {"alice": "restored_running", "bob": "rm_instead_of_restore", "carol": "fresh", "dave": "fresh",
             "erin": "instance_deleted", "frank": "wrong_snapshot_name", "gina": "wrong_snapshot_name"}


def fake_class(scenarios: dict[str, str], before_restore: bool = False):
    projects = [{"name": "demo", "config": {"user.labkit.class": "demo", "user.labkit.role": "class",
                                            "user.labkit.container": "ubuntu-test"}}]
    instances, files = [], {}
    for learner, scenario in scenarios.items():
        project = f"demo-{learner}"
        api, present, modified = api_instance(scenario, project)
        # `class create` holds the instance's identity in the project too (the learner cannot write it there).
        held = {} if api is None else {k: api["config"][k]
                                       for k in ("user.labkit.baseline.uuid", "user.labkit.baseline.generation")}
        projects.append({"name": project, "config": {"user.labkit.class": "demo", "user.labkit.role": "learner",
                                                     "user.labkit.learner": learner, **held}})
        if before_restore:  # the same instance a moment earlier: file there, generation untouched
            api["config"]["volatile.uuid.generation"] = api["config"]["user.labkit.baseline.generation"]
            present, modified = True, datetime.fromisoformat(api["snapshots"][0]["created_at"]) + timedelta(seconds=2)
        if api:
            instances.append(api)
        files[project] = (present, modified)
    projects.append({"name": "other-x", "config": {"user.labkit.class": "other", "user.labkit.role": "learner",
                                                   "user.labkit.learner": "x"}})
    counts = {"instances": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/1.0/projects":
            return ok(projects)
        if path == "/1.0/instances":
            counts["instances"] += 1
            assert params["recursion"] == "1" and params["all-projects"] == "true"
            return ok([{k: v for k, v in i.items() if k != "snapshots"} for i in instances])
        if path.endswith("/snapshots"):
            counts["snapshots"] = counts.get("snapshots", 0) + 1
            return ok(next(i["snapshots"] for i in instances if i["project"] == params["project"]))
        if path == "/1.0/storage-pools":
            return ok(["/1.0/storage-pools/default"])
        if path == "/1.0/storage-pools/default/volumes":  # the snapshots of every learner at once
            assert params["all-projects"] == "true"
            return ok([{"name": f"{i['name']}/{s['name']}", "project": i["project"], "type": "container",
                        "created_at": s["created_at"]} for i in instances for s in i["snapshots"]])
        if path == "/1.0/instances/ubuntu-test" and request.method == "GET":
            found = [i for i in instances if i["project"] == params["project"]]
            return (ok({k: v for k, v in found[0].items() if k != "snapshots"}) if found
                    else error(404, "Instance not found"))
        if path.endswith("/files"):
            present, modified = files[params["project"]]
            if request.method == "GET":  # /home listing
                return httpx.Response(200, json={"type": "sync", "metadata": []}, headers={"X-Incus-Type": "directory"})
            if present and params["path"] == "/root/this_file.txt":
                modified_at = modified.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
                return httpx.Response(200, headers={"X-Incus-Type": "file", "X-Incus-Modified": modified_at})
            return httpx.Response(404)
        return error(404, path)
    return handler, counts


def test_class_status_grades_each_learner_from_one_request(tmp_path):
    handler, counts = fake_class(SCENARIOS)
    status = class_status(client=fake_client(handler), name="demo", folder=tmp_path)
    assert counts["instances"] == 1
    assert [ls.learner for ls in status.learners] == sorted(SCENARIOS)
    by = {ls.learner: {r.step: r for r in ls.results} for ls in status.learners}
    assert by["alice"]["restore"].passed and by["alice"]["start"].passed
    assert by["bob"]["restore"].status.value == "failed"
    assert by["carol"]["snapshot"].diagnosis == "no_snapshot"
    assert by["erin"]["prerequisites"].diagnosis == "instance_deleted"
    # The most shared failure of a step, with its hint, for the instructor to address the room.
    found, count = status.most_common("snapshot")
    assert (found.diagnosis, count) == ("wrong_snapshot_name", 2) and found.hint is not None
    text = text_status(status, "en")
    assert "✔" in text and "✘" in text and TODO in text and "Hint: " in text
    # Headed and summed up by the steps' titles, not their ids.
    assert "Take a snapshot: 2 of 7 learners" in text and "2. Take a snapshot" in text.splitlines()[0]
    data = status_json(status, "fr")
    alice = next(ls for ls in data["learners"] if ls["learner"] == "alice")
    assert [s["id"] for s in alice["steps"]] == list(status.chapter.step_ids)
    assert set(alice["steps"][0]) >= {"id", "status", "passed", "points", "message", "hint", "evidence"}
    assert next(s for s in data["summary"] if s["id"] == "snapshot")["most_common"]["count"] == 2


def test_the_instructors_journal_remembers_consumed_evidence(tmp_path):
    """Seen passing once (here: alice's file before the restore), a step stays passed, as in the learner's journal."""
    handler, _ = fake_class({"alice": "restored_running"}, before_restore=True)
    first = class_status(client=fake_client(handler), name="demo", folder=tmp_path)
    assert next(r for r in first.learners[0].results if r.step == "touch").passed
    handler, _ = fake_class({"alice": "restored_running"})
    later = class_status(client=fake_client(handler), name="demo", folder=tmp_path)
    touch = next(r for r in later.learners[0].results if r.step == "touch")
    assert touch.passed
    journal = json.loads((tmp_path / "journals" / "alice.json").read_text())
    assert journal["project"] == "demo-alice" and "touch" in journal["first_pass"]
    assert len(journal["checks"]) < 2 * len(later.chapter.steps)  # the second look records only what changed


def test_baseline_from_the_instance_config_wins_and_a_reset_starts_a_new_attempt(tmp_path):
    journal = Journal(tmp_path / "j.json", "snapshots", "demo-alice", "ubuntu-test", "ubuntu-test-1")
    def seen(uuid: str, generation: str, recorded_uuid: str | None, recorded: str | None) -> Instance:
        return Instance("ubuntu-test", "Running", uuid, generation, None, recorded_uuid, recorded)
    journal.ensure_baseline(seen("u1", "g-after-restore", "u1", "u1"))
    assert journal.data["baseline"]["generation"] == "u1"
    journal.ensure_baseline(seen("u1", "g-after-restore", "u1", "g-after-restore"))
    assert journal.attempt == 2 and journal.data["baseline"]["generation"] == "g-after-restore"
    journal.ensure_baseline(seen("u2", "u2", None, None))
    assert journal.attempt == 3 and journal.data["baseline"]["uuid"] == "u2"


# -- reports -----------------------------------------------------------------------
def graded(tmp_path):
    handler, _ = fake_class(SCENARIOS)
    journals: dict = {}
    status = class_status(client=fake_client(handler), name="demo", folder=tmp_path, journals=journals)
    start = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    journals["alice"].data["first_pass"] = {step: (start + timedelta(seconds=65 * i)).isoformat()
                                            for i, step in enumerate(status.chapter.step_ids)}
    return status, journals


def test_html_report_is_self_contained_and_readable_without_colour(tmp_path):
    status, journals = graded(tmp_path)
    page = report_html(status, journals, "fr")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    assert not re.search(r"""(src|href)\s*=|<script|<link|@import|url\(|https?://""", page)
    for symbol in ("✔", "✘", TODO):
        assert f'<span class="sym" aria-hidden="true">{symbol}</span>' in page
    assert "1\u00a0min 05\u00a0s" in page and "alice" in page and page.count("<tr>") == 1 + len(SCENARIOS) + 1


def test_csv_report_for_the_lms(tmp_path):
    status, journals = graded(tmp_path)
    for lang, delimiter in (("en", ","), ("fr", ";")):
        rows = list(csv.reader(io.StringIO(report_csv(status, journals, lang)), delimiter=delimiter))
        assert len(rows) == 1 + len(SCENARIOS) and all(len(r) == len(rows[0]) for r in rows)
        alice = next(r for r in rows if r[0] == "alice")
        earned = status.learners[0].score.earned
        assert alice[1:5] == ["demo-alice", str(earned), "12", str(round(100 * earned / 12))] and "65" in alice


# -- the command line, before any daemon is asked ----------------------------------
def run_cli(*args: str):
    from labkit.cli.main import main

    return CliRunner().invoke(main, list(args))


def test_cli_refuses_bad_input_with_exit_code_2(tmp_path):
    roster = tmp_path / "roster.txt"
    roster.write_text("alice\nalice\n", encoding="utf-8")
    result = run_cli("--lang", "en", "class", "create", "demo", "--roster", str(roster))
    assert result.exit_code == 2 and "alice" in result.output and "more than once" in result.output
    result = run_cli("class", "create", "demo", "--learners", "2", "--roster", str(roster))
    assert result.exit_code == 2
    result = run_cli("class", "report", "demo")
    assert result.exit_code == 2 and "--html" in result.output


def test_a_refresh_for_a_few_learners_keeps_the_others(tmp_path):
    handler, counts = fake_class(SCENARIOS)
    client = fake_client(handler)
    journals: dict = {}
    first = class_status(client=client, name="demo", folder=tmp_path, journals=journals)
    again = class_status(client=client, name="demo", folder=tmp_path, journals=journals, previous=first, only={"bob"})
    assert counts["instances"] == 1  # no new listing: bob alone was asked for
    assert [ls.learner for ls in again.learners] == [ls.learner for ls in first.learners]
    assert all(a is b for a, b in zip(again.learners, first.learners) if a.learner != "bob")
    assert next(ls for ls in again.learners if ls.learner == "bob") \
        is not next(ls for ls in first.learners if ls.learner == "bob")


@pytest.mark.parametrize("address", [None, "192.0.2.7:8443"])
def test_create_ends_with_what_is_true_of_serve_and_of_access_folders(tmp_path, monkeypatch, address):
    """`class serve` turns on a loopback listener itself: without --listen, `create` must not ask for a
    restart with --listen as if learners could not connect, and it says when --listen is needed."""
    from contextlib import nullcontext

    from labkit.cli import classes as class_cli
    from labkit.hub.workspace_limits import WorkspaceLimits

    spec = type("Spec", (), {"learners": ("alice",), "folder": tmp_path / "demo", "lab": "snapshots"})()
    monkeypatch.setattr(class_cli, "_client", lambda: nullcontext(None))
    monkeypatch.setattr(class_cli, "_workspace_limits", lambda *a: WorkspaceLimits())
    monkeypatch.setattr(class_spec, "spec_for", lambda *a, **k: spec)
    monkeypatch.setattr(classroom, "create", lambda **k: classroom.Created(spec, ["alice"], address, 1.0))
    for lang, serve, again in (("en", "run “labkit class serve demo”: it needs no --listen",
                                "run this command again with --listen"),
                               ("fr", "lancez «\u00a0labkit class serve demo\u00a0»\u00a0: "
                                      "elle n’a pas besoin de --listen", "relancez cette commande avec --listen")):
        result = run_cli("--lang", lang, "class", "--dir", str(tmp_path), "create", "demo", "--learners", "1")
        assert result.exit_code == 0, result.output
        assert serve in result.output
        assert "incus remote add" not in result.output  # a lab with no other server has no line to hand out
        if address:
            assert f"{address}." in result.output and "--listen ADDR" not in result.output
            assert again not in result.output
        else:
            assert again in result.output and "not listen on the network yet" not in result.output
