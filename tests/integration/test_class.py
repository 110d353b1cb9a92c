"""Training sessions on a real daemon: `labkit class create|status|report|destroy`.

One class of three learners (HTTPS listener on a free loopback port, turned off by
`destroy`) is shared by the tests of this module, which run in order: each learner
does the chapter with nothing but their own bundle, the instructor watches, a learner
tries to reach other projects and to lift their restrictions, the report is rendered
in Debian's chromium, and `destroy` must leave the server as it found it.  Other
tests make small classes of their own.  Everything is removed even on failure.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from labkit.app.session import Session
from labkit.classroom import create as classroom
from labkit.classroom.spec import ClassSpec, numbered_learners
from labkit.errors import SetupError
from labkit.i18n import M
from labkit.incus import certs
from labkit.incus.client import SYSTEM_SOCKET, Endpoint, IncusClient
from labkit.incus.remote_transport import transport_for

from .conftest import ROOT, require_daemon, unique

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


def labkit_class(*args: str, lang: str = "en", timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`labkit --lang LANG class ...` as a command."""
    return subprocess.run([sys.executable, "-m", "labkit", "--lang", lang, "class", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def admin() -> IncusClient:
    return IncusClient(Endpoint(SYSTEM_SOCKET, "default"))


def inventory(prefix: str = "lkc-") -> dict[str, object]:
    """What a class could leave behind: projects, instances, volumes, profiles and certificates under
    its names, and the HTTPS listener (other engineers' tests share this server, hence the prefix)."""
    with admin() as client:
        get = lambda path, **p: client.request("GET", path, params=p, project=False) or []  # noqa: E731
        mine = lambda project: (project or "").startswith(prefix)  # noqa: E731
        volumes = []
        for pool in get("/1.0/storage-pools"):
            volumes += [(v.get("project"), v["type"], v["name"])
                        for v in get(f"{pool}/volumes", recursion=1, **{"all-projects": "true"})
                        if mine(v.get("project"))]
        return {"projects": sorted(p["name"] for p in get("/1.0/projects", recursion=1) if mine(p["name"])),
                "certificates": sorted(c["fingerprint"] for c in get("/1.0/certificates", recursion=1)
                                       if f":{prefix}" in c["name"] or any(mine(p) for p in c.get("projects") or [])),
                "instances": sorted((i["project"], i["name"])
                                    for i in get("/1.0/instances", recursion=1, **{"all-projects": "true"})
                                    if mine(i["project"])),
                "volumes": sorted(volumes),
                "profiles": sorted(p for p in get("/1.0/profiles", **{"all-projects": "true"})
                                   if f"project={prefix}" in p),
                "images": sorted((i.get("project"), i["fingerprint"])
                                 for i in get("/1.0/images", recursion=1, **{"all-projects": "true"})
                                 if mine(i.get("project"))),
                "https": client.server()["config"].get("core.https_address", "")}


def daemon_state(project: str) -> str:
    """What a stuck command leaves behind: the project's operations, file helpers, the daemon's last words."""
    ops = subprocess.run(["incus", "operation", "list", "--project", project, "-f", "csv"], capture_output=True,
                         text=True, timeout=30, check=False)
    helpers = subprocess.run(["pgrep", "-af", "forkfile|forkstart"], capture_output=True, text=True, check=False)
    log = Path("/var/lib/labkit/incusd.log")
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else "(no incusd.log)"
    return f"operations:\n{ops.stdout}{ops.stderr}\nhelpers:\n{helpers.stdout}\nincusd.log:\n{tail}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Klass:
    name: str
    root: Path
    address: str
    before: dict[str, object]
    created: subprocess.CompletedProcess[str]

    def bundle(self, learner: str) -> Path:
        return self.root / self.name / "learners" / learner

    def learner_client(self, learner: str) -> IncusClient:
        remote = certs.read_remote(self.bundle(learner))
        return IncusClient(Endpoint(Path("/nonexistent.socket"), remote.project), transport=transport_for(remote))

    def as_learner(self, learner: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The official client, with nothing but the learner's bundle."""
        for _ in range(3):
            try:
                done = subprocess.run(["incus", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                      timeout=120, env={**os.environ, "INCUS_CONF": str(self.bundle(learner))})
            except subprocess.TimeoutExpired:
                # Not retried: this is what the class watcher's file looks did during a learner's
                # restore or start (docs/second-lab-facts.md, file helper), and must not do again.
                raise AssertionError(f"incus {' '.join(args)} did not return in 120 s:\n"
                                     + daemon_state(f"{self.name}-{learner}")) from None
            # Seen once in a full run: Incus 6.0.4 answered “In use” to a restore while the instructor's
            # watcher was looking at the same instance; a learner just runs the command again.
            if "Error: In use" not in done.stderr:
                break
            time.sleep(1)
        assert not check or done.returncode == 0, done.stderr
        return done

    def status(self) -> dict:
        done = labkit_class("--dir", str(self.root), "status", self.name, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@contextmanager
def running_class(root: Path, *options: str) -> Iterator[Klass]:
    """A class on a loopback listener (the server's own, if it has one), destroyed afterwards even on failure."""
    name = unique("lkc")
    before = inventory(name)
    address = before["https"] or f"127.0.0.1:{free_port()}"
    try:
        created = labkit_class("--dir", str(root), "create", name, *options, "--listen", address)
        assert created.returncode == 0, created.stderr
        yield Klass(name, root, address, before, created)
    finally:
        labkit_class("--dir", str(root), "destroy", name, "--yes")
        if not before["https"] and inventory(name)["https"] == address:
            subprocess.run(["incus", "config", "unset", "core.https_address"], check=False)


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Klass]:
    require_daemon()
    with running_class(tmp_path_factory.mktemp("classes"), "--learners", "3") as made:
        yield made


def test_create_gives_three_isolated_labs(klass: Klass):
    assert "learner03 ready" in klass.created.stderr and f"connect to {klass.address}." in klass.created.stdout
    id_ranges = set()
    with admin() as client:
        for learner in ("learner01", "learner02", "learner03"):
            project = f"{klass.name}-{learner}"
            config = client.request("GET", f"/1.0/projects/{project}", project=False)["config"]
            assert config["restricted"] == "true" and config["restricted.snapshots"] == "allow"
            assert {"limits.instances", "limits.disk", "limits.memory", "limits.processes"} <= set(config)
            inst = client.request("GET", "/1.0/instances/ubuntu-test", params={"project": project})
            assert inst["status"] == "Running" and inst["expanded_config"]["security.idmap.isolated"] == "true"
            id_ranges.add(inst["config"]["volatile.idmap.base"])
            assert inst["config"]["user.labkit.baseline.uuid"] == inst["config"]["volatile.uuid"]
            assert inst["config"]["user.labkit.baseline.generation"] == inst["config"]["volatile.uuid.generation"]
            trusted = client.request("GET", f"/1.0/certificates/{config['user.labkit.certificate']}", project=False)
            assert trusted["restricted"] is True and trusted["projects"] == [project]
    assert len(id_ranges) == 3  # each learner's root maps to host ids of their own


def test_keys_and_certificates_on_disk_are_private(klass: Klass):
    folder = klass.root / klass.name / "learners"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"client.crt", "client.key", "config.yml", "README.txt", f"{klass.name}.crt"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in [p for p in folder.rglob("*") if p.is_dir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_create_again_changes_nothing(klass: Klass):
    fingerprints = sorted(certs.ClientCert(klass.bundle(n) / "client.crt", klass.bundle(n) / "client.key").fingerprint
                          for n in ("learner01", "learner02", "learner03"))
    plan = labkit_class("--dir", str(klass.root), "create", klass.name, "--dry-run")
    assert plan.returncode == 0 and "Nothing to do" in plan.stdout, plan.stdout + plan.stderr
    again = labkit_class("--dir", str(klass.root), "create", klass.name, "--listen", klass.address)
    assert again.returncode == 0, again.stderr
    assert fingerprints == sorted(certs.ClientCert(klass.bundle(n) / "client.crt",
                                                   klass.bundle(n) / "client.key").fingerprint
                                  for n in ("learner01", "learner02", "learner03"))


def learner_check(klass: Klass, learner: str, journal: Path, *steps: str) -> dict[str, str]:
    """`labkit check` as the learner runs it, through their certificate and project only: the real
    command with INCUS_CONF once labkit finds HTTPS remotes itself, else a Session on that remote."""
    if "remote" in getattr(Endpoint, "__dataclass_fields__", {}):
        done = subprocess.run([sys.executable, "-m", "labkit", "--journal", str(journal), "check", "--json", *steps],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL,
                              env={**os.environ, "INCUS_CONF": str(klass.bundle(learner))})
        assert done.returncode in (0, 1), done.stderr
        return {s["id"]: s["status"] for s in json.loads(done.stdout)["steps"]}
    session = Session(client=klass.learner_client(learner), journal=journal)
    try:
        report = session.check(list(steps) or None)
    finally:
        session.close()
    return {r.step: r.status.value for r in report.results}


def test_each_learner_does_the_chapter_with_their_bundle_and_the_instructor_agrees(klass: Klass, tmp_path: Path):
    watch = subprocess.Popen([sys.executable, "-m", "labkit", "class", "--dir", str(klass.root), "status", klass.name,
                              "--watch", "--json", "--seconds", "90"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(watch.stdout), daemon=True)  # never let the pipe fill up
    try:
        first = watch.stdout.readline()
        assert json.loads(first)["class"] == klass.name  # listening from here on
        reader.start()
        journals = {n: tmp_path / f"{n}.json" for n in ("learner01", "learner02", "learner03")}
        listing = klass.as_learner("learner01", "list", "--format", "csv", "--columns", "n").stdout.split()
        assert listing == ["ubuntu-test"]
        # learner01 follows the chapter, checking after each step.
        for step, command in [("snapshot", "snapshot create ubuntu-test ubuntu-test-1"),
                              ("touch", "exec ubuntu-test -- touch /root/this_file.txt"),
                              ("stop", "stop ubuntu-test"), ("restore", "snapshot restore ubuntu-test ubuntu-test-1"),
                              ("start", "start ubuntu-test"), ("verify", "exec ubuntu-test -- ls /root"),
                              ("cleanup", "snapshot delete ubuntu-test ubuntu-test-1")]:
            klass.as_learner("learner01", *command.split())
            assert learner_check(klass, "learner01", journals["learner01"], step) == {step: "passed"}
        # learner02 removes the file by hand instead of restoring; learner03 has not started.
        klass.as_learner("learner02", "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
        klass.as_learner("learner02", "exec", "ubuntu-test", "--", "touch", "/root/this_file.txt")
        assert learner_check(klass, "learner02", journals["learner02"], "touch") == {"touch": "passed"}
        time.sleep(1)  # at a person's pace: the watcher looks right after each command
        klass.as_learner("learner02", "exec", "ubuntu-test", "--", "rm", "/root/this_file.txt")
        time.sleep(1.5)  # let the watcher's last refresh land
    finally:
        watch.terminate()
        watch.wait(timeout=30)
        reader.join(timeout=30) if reader.is_alive() or reader.ident else None
    watched = last_json("".join(lines))
    mine = {n: learner_check(klass, n, journals[n]) for n in journals}
    assert set(mine["learner01"].values()) == {"passed"}
    assert mine["learner02"]["restore"] == "failed" and mine["learner03"]["snapshot"] == "failed"
    for instructor in (klass.status(), watched):
        seen = {ls["learner"]: {s["id"]: s["status"] for s in ls["steps"]} for ls in instructor["learners"]}
        assert seen == mine
    diagnosis = {s["id"]: s["diagnosis"]
                 for s in next(ls for ls in watched["learners"] if ls["learner"] == "learner02")["steps"]}
    assert diagnosis["restore"] == "rm_instead_of_restore"


def last_json(out: str) -> dict:
    """The watcher's last complete refresh (one JSON object per line)."""
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise AssertionError(f"no refresh from the watcher: {out[-500:]}")


def refused(response) -> bool:
    """403, or the 500 Incus gives a restricted client for another project (matched by its message)."""
    text = response.text.lower()
    return response.status_code == 403 or (response.status_code == 500 and any(
        w in text for w in ("permission", "not authorized", "restricted", "forbidden")))


def test_a_learner_cannot_reach_another_project(klass: Klass):
    other = f"{klass.name}-learner02"
    absent = unique("lkc-absent")
    with klass.learner_client("learner01") as client, admin() as root:
        before = root.request("GET", "/1.0/instances/ubuntu-test", params={"project": other, "recursion": 1})
        for project, name in ((other, "ubuntu-test"), ("default", absent), (klass.name, "golden")):
            attempts = {
                "list": ("GET", "/1.0/instances", None), "read": ("GET", f"/1.0/instances/{name}", None),
                "read file": ("HEAD", f"/1.0/instances/{name}/files?path=/etc/hostname", None),
                "snapshot": ("POST", f"/1.0/instances/{name}/snapshots", {"name": "evil"}),
                "restore": ("PUT", f"/1.0/instances/{name}", {"restore": "ubuntu-test-1"}),
                "exec": ("POST", f"/1.0/instances/{name}/exec", {"command": ["true"], "wait-for-websocket": False}),
                "delete": ("DELETE", f"/1.0/instances/{name}", None)}
            for what, (method, path, body) in attempts.items():
                response = client.raw(method, path, params={"project": project}, json=body)
                assert response.status_code in (403, 500) if method == "HEAD" else refused(response), \
                    (project, what, response.text)
        everything = client.request("GET", "/1.0/instances", params={"all-projects": "true", "recursion": 1},
                                    project=False)
        assert {(i["project"], i["name"]) for i in everything} == {(f"{klass.name}-learner01", "ubuntu-test")}
        after = root.request("GET", "/1.0/instances/ubuntu-test", params={"project": other, "recursion": 1})
        assert after["config"]["volatile.uuid"] == before["config"]["volatile.uuid"]
        assert [s["name"] for s in after["snapshots"]] == [s["name"] for s in before["snapshots"]]


def test_a_learner_cannot_lift_their_own_restrictions(klass: Klass, tmp_path: Path):
    mine = f"{klass.name}-learner01"
    fingerprint = certs.ClientCert(klass.bundle("learner01") / "client.crt",
                                   klass.bundle("learner01") / "client.key").fingerprint
    extra = certs.generate(tmp_path / "extra", "extra")
    with klass.learner_client("learner01") as client:
        attempts = [
            ("PUT", f"/1.0/projects/{mine}", {"config": {"restricted": "false"}}),
            ("PATCH", f"/1.0/certificates/{fingerprint}", {"restricted": False}),
            ("PUT", f"/1.0/certificates/{fingerprint}",
             {"name": "x", "type": "client", "restricted": True, "projects": [mine, "default"]}),
            ("POST", "/1.0/certificates",
             {"name": "extra", "type": "client", "certificate": certs.der_base64(extra.pem)}),
            ("POST", "/1.0/projects", {"name": unique("lkc-evil")}),
            ("PATCH", "/1.0", {"config": {"core.https_address": ""}}),
            ("PATCH", "/1.0/profiles/default", {"config": {"security.privileged": "true"}}),
        ]
        for method, path, body in attempts:
            response = client.raw(method, path, json=body)
            assert refused(response), (method, path, response.text)
    with admin() as root:
        assert root.request("GET", f"/1.0/projects/{mine}", project=False)["config"]["restricted"] == "true"
        trusted = root.request("GET", f"/1.0/certificates/{fingerprint}", project=False)
        assert trusted["restricted"] is True and trusted["projects"] == [mine]
        assert extra.fingerprint not in [c["fingerprint"] for c in root.request("GET", "/1.0/certificates",
                                                                                params={"recursion": 1}, project=False)]


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """A tiny PNG reader (8-bit RGB/RGBA, no interlace), enough to look at a screenshot without Pillow."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            size = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * size, [], bytearray(width * size)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - size] if i >= size else 0, previous[i]
            c = previous[i - size] if i >= size else 0
            p = a + b - c
            pred = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            line[i] = (line[i] + (0, a, b, (a + b) // 2, pred)[kind]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[x:x + 3]) for r in rows for x in range(0, stride, size)]


def test_report_renders_in_a_real_headless_browser(klass: Klass, tmp_path: Path):
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    page, table = tmp_path / "report.html", tmp_path / "report.csv"
    done = labkit_class("--dir", str(klass.root), "report", klass.name, "--html", str(page), "--csv", str(table),
                        lang="fr")
    assert done.returncode == 0, done.stderr
    assert table.read_text(encoding="utf-8").count("\n") == 4 and ";" in table.read_text(encoding="utf-8")
    shot = Path(os.environ.get("LABKIT_SCREENSHOT_DIR", tmp_path)) / f"class-report-{klass.name}.png"
    profile = tempfile.mkdtemp(prefix="lkc-chromium-")
    try:
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,720"]
        subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
        dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                             check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1280, 720)
    def near(colour: str) -> int:  # pixels of about this colour (the browser may shift a shade)
        want = bytes.fromhex(colour)
        return sum(1 for px in pixels if all(abs(a - b) <= 4 for a, b in zip(px, want)))

    # The pass and fail cell backgrounds (render.HTML_COLOURS) fill whole cells, and the page is not blank.
    assert near("e6f4ea") > 2000 and near("fdecea") > 1000 and len(set(pixels)) > 50
    for text in ("learner01", "learner02", "learner03", "12/12", "✔", "✘"):
        assert text in dom, (text, klass.status())
    print(f"screenshot: {shot}")


def test_destroy_asks_then_leaves_nothing_behind(klass: Klass):
    refused_run = labkit_class("--dir", str(klass.root), "destroy", klass.name)
    assert refused_run.returncode == 2 and inventory(klass.name)["projects"] != klass.before["projects"]
    done = labkit_class("--dir", str(klass.root), "destroy", klass.name, "--yes")
    assert done.returncode == 0, done.stderr
    assert inventory(klass.name) == klass.before
    assert not (klass.root / klass.name).exists()


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path):
    require_daemon()
    name = unique("lkc")
    before = inventory(name)
    done = labkit_class("--dir", str(tmp_path), "create", name, "--learners", "2", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"{name}-learner02" in done.stdout and "golden" in done.stdout and "Nothing was changed" in done.stderr
    assert inventory(name) == before and not (tmp_path / name).exists()


def test_a_project_of_someone_else_is_refused(tmp_path: Path):
    require_daemon()
    name = unique("lkc")
    subprocess.run(["incus", "project", "create", f"{name}-learner02"], check=True, capture_output=True)
    try:
        before = inventory(name)
        done = labkit_class("--dir", str(tmp_path), "create", name, "--learners", "2")
        assert done.returncode == 2 and f"{name}-learner02" in done.stderr and "do not belong" in done.stderr
        assert inventory(name) == before
    finally:
        subprocess.run(["incus", "project", "delete", f"{name}-learner02"], check=False, capture_output=True)


def test_a_failure_midway_can_be_completed_or_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    require_daemon()
    names = [unique("lkc"), unique("lkc")]
    before = [inventory(name) for name in names]
    real = classroom._ensure_learner

    def fails_for_learner02(client, spec, state, learner, *args):
        if learner == "learner02":
            raise SetupError(M("test.boom", "simulated failure"))
        return real(client, spec, state, learner, *args)

    try:
        for name in names:
            spec = ClassSpec(name, numbered_learners(2), tmp_path / name)
            with admin() as client:
                monkeypatch.setattr(classroom, "_ensure_learner", fails_for_learner02)
                with pytest.raises(SetupError) as err:
                    classroom.create(client=client, spec=spec, lang="en")
                assert err.value.message.key == "class.create.incomplete" and "learner02" in err.value.render("en")
                monkeypatch.setattr(classroom, "_ensure_learner", real)
        # The first is completed by a second run, the second is removed as it is.
        again = labkit_class("--dir", str(tmp_path), "create", names[0])
        assert again.returncode == 0 and "(learners: 2)" in again.stdout, again.stderr
        status = json.loads(labkit_class("--dir", str(tmp_path), "status", names[0], "--json").stdout)
        assert [(ls["learner"], ls["steps"][0]["status"]) for ls in status["learners"]] == [("learner01", "passed"),
                                                                                              ("learner02", "passed")]
    finally:
        for name in names:
            done = labkit_class("--dir", str(tmp_path), "destroy", name, "--yes")
            assert done.returncode == 0, done.stderr
    assert [inventory(name) for name in names] == before
