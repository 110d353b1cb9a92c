"""A class for the second lab (`--lab snapshot-server`) on the real main daemon and a real
snapshot server started here (its own INCUS_DIR under /var/lib, a free loopback port).

Two learners: each gets a project on both servers, and on the snapshot server a trust token
restricted to their project, in their access folder.  Learner A adds the server with nothing
but their folder and copies a snapshot there; the instructor's `class status` tells A from B;
neither certificate reaches the other's project; `destroy` leaves nothing on either server.
The tests of this module run in order and share the class; everything is removed even on failure.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pytest

from labkit.classroom.second_server import REMOTE_FILE
from labkit.keys import CLASS_KEY, LAB_KEY, TRUST_KEY
from labkit.provision.second_server import SnapshotServer

from .conftest import ROOT, require_daemon, unique
from .test_class import free_port, inventory
from .test_snapshot_server import setup_server

pytestmark = pytest.mark.integration
LINE = re.compile(r"^incus remote add incus-snapshot 127\.0\.0\.1:(\d+) --token (\S+) --accept-certificate$")


@dataclass
class Klass:
    name: str
    root: Path
    server: SnapshotServer
    created: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "LABKIT_SNAPSHOT_SERVER_DIR": str(self.server.incus_dir)}

    def run(self, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "labkit", "--lang", lang, "class", "--dir", str(self.root), *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, cwd=ROOT,
                              env=self.env)

    def bundle(self, learner: str) -> Path:
        return self.root / self.name / "learners" / learner

    def project(self, learner: str) -> str:
        return f"{self.name}-{learner}"

    def as_learner(self, learner: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The official client, with nothing but the learner's access folder."""
        env = {k: v for k, v in os.environ.items() if k not in ("INCUS_DIR", "INCUS_SOCKET")}
        done = subprocess.run(["incus", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                              env=env | {"INCUS_CONF": str(self.bundle(learner))})
        assert not check or done.returncode == 0, done.stderr
        return done

    def there(self, path: str) -> object:
        """labkit's own (admin) look at the snapshot server."""
        with self.server.client() as client:
            return client.request("GET", path, params={"recursion": 1}, project=False)

    def status(self) -> dict[str, dict[str, str]]:
        done = self.run("status", self.name, "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["lab"] == "snapshot-server"
        return {ls["learner"]: {s["id"]: s["status"] for s in ls["steps"]} for ls in data["learners"]}


def refused(stderr: str) -> bool:
    """Refused for want of rights (not for another reason that would hide a missing guard)."""
    return any(w in stderr.lower() for w in ("permission", "not authorized", "forbidden", "restricted"))


def server_inventory(klass: Klass) -> dict[str, list]:
    operations = klass.there("/1.0/operations") or {}
    return {"projects": sorted(p["name"] for p in klass.there("/1.0/projects") if p["name"].startswith(klass.name)),
            "certificates": sorted(c["name"] for c in klass.there("/1.0/certificates") if klass.name in c["name"]),
            "tokens": sorted(op["metadata"]["request"]["name"] for op in operations.get("running", [])
                             if op.get("class") == "token" and klass.name in op["metadata"]["request"]["name"])}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Klass]:
    require_daemon()
    server = SnapshotServer(Path("/var/lib") / unique("k2-snapsrv"), free_port())
    name = unique("k2")
    before = inventory(name)
    address = before["https"] or f"127.0.0.1:{free_port()}"
    root = tmp_path_factory.mktemp("classes")
    made = None
    try:
        started = setup_server(server.incus_dir, server.port)
        assert started.returncode == 0, started.stderr
        made = Klass(name, root, server, subprocess.CompletedProcess([], 0), 0.0)
        begin = time.monotonic()
        made.created = made.run("create", name, "--lab", "snapshot-server", "--learners", "2", "--listen", address)
        made.seconds = time.monotonic() - begin
        assert made.created.returncode == 0, made.created.stderr
        yield made
    finally:
        if made is not None:
            made.run("destroy", name, "--yes")
        if not before["https"] and inventory(name)["https"] == address:
            subprocess.run(["incus", "config", "unset", "core.https_address"], check=False)
        subprocess.run([sys.executable, "-m", "labkit", "setup", "--snapshot-server", "--snapshot-server-dir",
                        str(server.incus_dir), "--stop"], capture_output=True, cwd=ROOT, timeout=180)


def test_each_learner_gets_a_project_and_a_restricted_token_there(klass: Klass):
    projects = {p["name"]: p["config"] for p in klass.there("/1.0/projects")}
    for learner in ("learner01", "learner02"):
        project = klass.project(learner)
        assert projects[project][CLASS_KEY] == klass.name and projects[project]["restricted"] == "true"
        line = (klass.bundle(learner) / REMOTE_FILE).read_text().strip()
        match = LINE.match(line)
        assert match and int(match.group(1)) == klass.server.port, line
        assert f"{learner}: {line}" in klass.created.stdout  # the instructor's copy of the same line
        assert oct((klass.bundle(learner) / REMOTE_FILE).stat().st_mode & 0o777) == "0o600"
        assert REMOTE_FILE in (klass.bundle(learner) / "README.txt").read_text()
    pending = {op["metadata"]["request"]["name"]: op["metadata"]["request"]
               for op in (klass.there("/1.0/operations") or {}).get("running", []) if op.get("class") == "token"}
    for learner in ("learner01", "learner02"):
        request = pending[f"labkit:{klass.name}:{learner}"]
        assert request["restricted"] is True and request["projects"] == [klass.project(learner)]
    # The lab and each learner's trust name are recorded where learners cannot write (project config).
    main = json.loads(subprocess.run(["incus", "query", "/1.0/projects?recursion=1"], capture_output=True,
                                     text=True, check=True).stdout)
    mine = {p["name"]: p["config"] for p in main if p["name"].startswith(klass.name)}
    assert mine[klass.name][LAB_KEY] == "snapshot-server"
    assert mine[klass.project("learner01")][TRUST_KEY] == f"labkit:{klass.name}:learner01"
    print(f"\nclass create, 2 learners, lab 2: {klass.seconds:.1f} s")


def test_create_again_issues_no_new_token(klass: Klass):
    lines = {n: (klass.bundle(n) / REMOTE_FILE).read_text() for n in ("learner01", "learner02")}
    again = klass.run("create", klass.name)
    assert again.returncode == 0, again.stderr
    assert {n: (klass.bundle(n) / REMOTE_FILE).read_text() for n in lines} == lines
    assert len(server_inventory(klass)["tokens"]) == 2
    other = klass.run("create", klass.name, "--lab", "snapshots")
    assert other.returncode == 2 and "snapshot-server" in other.stderr and "Traceback" not in other.stderr


def test_learner_a_copies_a_snapshot_and_the_instructor_tells_a_from_b(klass: Klass):
    before = klass.status()
    assert before["learner01"]["remote"] == before["learner02"]["remote"] == "failed"
    line = (klass.bundle("learner01") / REMOTE_FILE).read_text().split()
    klass.as_learner("learner01", *line[1:])
    klass.as_learner("learner01", "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    # The instructor watches while the copy is made: the main server's report of it (instance-migrated of
    # ubuntu-test/ubuntu-test-1) is the copy's evidence, since a learner can write the copy's volatile.* keys
    # even in their restricted project (shown below).
    watch = subprocess.Popen([sys.executable, "-m", "labkit", "class", "--dir", str(klass.root), "status", klass.name,
                              "--watch", "--json", "--seconds", "120"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                             env=klass.env)
    try:
        time.sleep(4)  # its first refresh, then its event listener
        klass.as_learner("learner01", "copy", "ubuntu-test/ubuntu-test-1", "incus-snapshot:ubuntu-test")
        time.sleep(2)
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    trusted = next(c for c in klass.there("/1.0/certificates") if c["name"] == f"labkit:{klass.name}:learner01")
    assert trusted["restricted"] is True and trusted["projects"] == [klass.project("learner01")]
    begin = time.monotonic()
    seen = klass.status()
    print(f"\nclass status, 2 learners, lab 2 (as a command): {time.monotonic() - begin:.2f} s")
    assert {s: seen["learner01"][s] for s in ("remote", "snapshot", "copy")} \
        == dict.fromkeys(("remote", "snapshot", "copy"), "passed")
    assert seen["learner02"]["remote"] == "failed" and seen["learner02"]["copy"] == "failed"
    # Why the copy's keys alone are not evidence, even in a class: Incus takes these writes from the learner's
    # certificate, restricted to their restricted project (verified on Incus 6.0.4).
    done = klass.as_learner("learner01", "config", "set", "incus-snapshot:ubuntu-test", "volatile.apply_template=copy",
                            check=False)
    assert done.returncode == 0, done.stderr
    # B's token is still pending: A's certificate does not make B's remote step pass.
    assert server_inventory(klass)["tokens"] == [f"labkit:{klass.name}:learner02"]


def test_the_class_wide_look_sees_what_each_learners_own_look_sees_with_fewer_requests(klass: Klass, monkeypatch):
    """The class view asks the snapshot server once for all learners (the chapter's observe_class);
    the checks must not be able to tell its observation from the one a learner's own look makes."""
    from labkit.classroom.observe import learner_access
    from labkit.incus.client import IncusClient, find_endpoint
    from labkit.labs import chapter_named
    from labkit.servers import SNAPSHOT_SERVER

    chapter = chapter_named("snapshot-server")
    params = dict(chapter.defaults)
    projects = {learner: klass.project(learner) for learner in ("learner01", "learner02")}
    asked: list[str] = []
    real_raw = IncusClient.raw

    def counted(self, method, path, **kwargs):
        if self.endpoint.socket == klass.server.socket:
            asked.append(path)
        return real_raw(self, method, path, **kwargs)

    with IncusClient(find_endpoint()) as main, klass.server.client() as server:
        monkeypatch.setattr(IncusClient, "raw", counted)
        servers = {SNAPSHOT_SERVER.id: lambda: server}
        accesses = {learner: learner_access(main, project, servers) for learner, project in projects.items()}
        alone = {learner: chapter.observe(access, params) for learner, access in accesses.items()}
        asked_alone, asked[:] = len(asked), []
        for instances in (main.all_instances(recursion=1), None):  # a full view, and a partial refresh
            look = chapter.observe_class(main, params, projects, instances, {})
            for learner, access in accesses.items():
                together = look(learner, access, None)
                assert replace(together, taken_at=None) == replace(alone[learner], taken_at=None), learner
    assert alone["learner01"].copy is not None and alone["learner02"].copy is None  # both cases are compared
    # Alone: 4 requests to the snapshot server per learner (5 without a copy). Together: 3 for the class,
    # and the snapshots of each copy there is (one look of each kind).
    assert asked_alone >= 8 and len(asked) == 2 * (3 + 1), (asked_alone, asked)
    # A learner whose project is missing on both servers: Incus 6.0.4 lists no instances in a project that
    # does not exist (no error), so both looks see nothing there, and see it alike.
    ghost = {"ghost": f"{klass.name}-ghost"}
    with IncusClient(find_endpoint()) as main, klass.server.client() as server:
        access = learner_access(main, ghost["ghost"], {SNAPSHOT_SERVER.id: lambda: server})
        alone_ghost = chapter.observe(access, params)
        together = chapter.observe_class(main, params, ghost, main.all_instances(recursion=1),
                                         {})("ghost", access, None)
        assert replace(together, taken_at=None) == replace(alone_ghost, taken_at=None)
        assert alone_ghost.primary is None and alone_ghost.copy is None


def test_a_learner_checks_the_lab_with_their_own_access(klass: Klass, tmp_path: Path):
    """A hub account or a learner's laptop cannot open the snapshot server's socket: labkit then reads it
    through the learner's own restricted remote (the one at the address in their snapshot-server.txt)."""
    def own_check(learner: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("INCUS_DIR", "INCUS_SOCKET")}
        env |= {"INCUS_CONF": str(klass.bundle(learner)),
                "LABKIT_SNAPSHOT_SERVER_DIR": str(tmp_path / "no-socket-here"),
                "LABKIT_STATE_DIR": str(tmp_path / "state")}
        return subprocess.run([sys.executable, "-m", "labkit", "--lab", "snapshot-server", "--journal",
                               str(tmp_path / f"{learner}.json"), "check", "--json"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    mine = own_check("learner01")  # A added the remote in the test above
    assert mine.returncode == 1, mine.stderr
    steps = {s["id"]: s["status"] for s in json.loads(mine.stdout)["steps"]}
    assert steps["remote"] == steps["snapshot"] == "passed", steps
    # B has not added it yet: one clear paragraph naming the file, exit 2, no traceback.
    theirs = own_check("learner02")
    assert theirs.returncode == 2 and "snapshot-server.txt" in theirs.stderr and "Traceback" not in theirs.stderr, \
        theirs.stderr


def test_neither_certificate_reaches_the_other_project(klass: Klass):
    line = (klass.bundle("learner02") / REMOTE_FILE).read_text().split()
    klass.as_learner("learner02", *line[1:])
    a = klass.project("learner01")
    # B sees, changes and deletes nothing of A's copy on the snapshot server.
    for attempt in (["list", "incus-snapshot:", "--project", a],
                    ["config", "set", "incus-snapshot:ubuntu-test", "boot.autostart=false", "--project", a],
                    ["delete", "incus-snapshot:ubuntu-test", "--force", "--project", a],
                    ["copy", "ubuntu-test", "incus-snapshot:ubuntu-test", "--target-project", a, "--stateless"],
                    ["list", "incus-snapshot:", "--project", "default"],
                    ["config", "trust", "add", "incus-snapshot:k2-more"]):
        done = klass.as_learner("learner02", *attempt, check=False)
        assert done.returncode != 0 and refused(done.stderr), (attempt, done.stderr)
    assert klass.as_learner("learner02", "list", "incus-snapshot:", "--format", "csv").stdout.strip() == ""
    copy = json.loads(klass.as_learner("learner01", "query",
                                       f"incus-snapshot:/1.0/instances/ubuntu-test?project={a}").stdout)
    assert copy["config"].get("boot.autostart") is None
    # Nor A on the main server: B's instance and project stay out of reach.
    done = klass.as_learner("learner01", "list", "--project", klass.project("learner02"), check=False)
    assert done.returncode != 0 and refused(done.stderr), done.stderr
    seen = klass.status()
    assert seen["learner02"]["remote"] == "passed" and seen["learner02"]["copy"] == "failed"
    assert seen["learner01"]["copy"] == "passed"


def test_destroy_leaves_nothing_on_either_server(klass: Klass):
    done = klass.run("destroy", klass.name, "--yes")
    assert done.returncode == 0, done.stderr
    assert "On the snapshot server: 2 projects, 2 certificates and 0 unused tokens removed." in done.stdout
    assert server_inventory(klass) == {"projects": [], "certificates": [], "tokens": []}
    left = inventory(klass.name)
    assert (left["projects"], left["certificates"], left["instances"]) == ([], [], [])
    assert not (klass.root / klass.name).exists()


def test_destroy_removes_tokens_never_used(tmp_path: Path, klass: Klass):
    """A class whose learners never added the server: its tokens go with it (nothing else is left there)."""
    small = Klass(unique("k2"), tmp_path, klass.server, subprocess.CompletedProcess([], 0), 0.0)
    try:
        made = small.run("create", small.name, "--lab", "snapshot-server", "--learners", "1")
        assert made.returncode == 0, made.stderr
        assert server_inventory(small)["tokens"] == [f"labkit:{small.name}:learner01"]
    finally:
        done = small.run("destroy", small.name, "--yes")
    assert done.returncode == 0, done.stderr
    assert "1 unused tokens" in done.stdout
    assert server_inventory(small) == {"projects": [], "certificates": [], "tokens": []}


@pytest.mark.parametrize("lang, words", [("en", "none is set up"), ("fr", "aucun n’est installé")])
def test_without_the_snapshot_server_nothing_is_made(tmp_path: Path, lang: str, words: str):
    require_daemon()
    name = unique("k2")
    absent = SnapshotServer(Path("/var/lib") / unique("k2-absent"), free_port())
    klass = Klass(name, tmp_path, absent, subprocess.CompletedProcess([], 0), 0.0)
    try:
        done = klass.run("create", name, "--lab", "snapshot-server", "--learners", "2", lang=lang)
        assert done.returncode == 2 and words in done.stderr and "--snapshot-server" in done.stderr
        assert "Traceback" not in done.stderr
        assert inventory(name)["projects"] == [] and not (tmp_path / name).exists()
    finally:
        klass.run("destroy", name, "--yes")


def test_destroy_waits_for_a_server_that_is_down_and_goes_on_without_one_that_is_gone(tmp_path: Path):
    require_daemon()
    server = SnapshotServer(Path("/var/lib") / unique("k2-snapsrv"), free_port())
    klass = Klass(unique("k2"), tmp_path, server, subprocess.CompletedProcess([], 0), 0.0)
    stop = [sys.executable, "-m", "labkit", "setup", "--snapshot-server",
            "--snapshot-server-dir", str(server.incus_dir), "--stop"]
    try:
        assert setup_server(server.incus_dir, server.port).returncode == 0
        assert klass.run("create", klass.name, "--lab", "snapshot-server", "--learners", "1").returncode == 0
        env = {k: v for k, v in os.environ.items() if k != "INCUS_SOCKET"} | {"INCUS_DIR": str(server.incus_dir)}
        subprocess.run(["incus", "admin", "shutdown"], env=env, check=True, capture_output=True, timeout=120)
        down = klass.run("destroy", klass.name, "--yes")
        assert down.returncode == 2 and "not running" in down.stderr and "Traceback" not in down.stderr
        assert inventory(klass.name)["projects"] == [klass.name, f"{klass.name}-learner01"]  # kept whole
        subprocess.run(stop, capture_output=True, cwd=ROOT, timeout=180, check=True)
        gone = klass.run("destroy", klass.name, "--yes")
        assert gone.returncode == 0, gone.stderr
        assert "Nothing was removed on the snapshot server" in gone.stderr
        assert inventory(klass.name)["projects"] == []
    finally:
        klass.run("destroy", klass.name, "--yes")
        subprocess.run(stop, capture_output=True, cwd=ROOT, timeout=180)
