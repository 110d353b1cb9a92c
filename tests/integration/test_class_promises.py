"""What a class promises, tried by a learner with nothing but their access folder.

One class of two learners (HTTPS listener on loopback, 300 MiB root disks) is shared
by the tests of this module: snapshot names made to drive the instructor's terminal,
containers that would share the host's user ids, and a disk filled past its limit.
Everything is removed even on failure.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from labkit.app.session import Session
from labkit.classroom.report import rich_status
from labkit.classroom.status import class_status
from labkit.grading import render
from labkit.provision import quotas
from labkit.provision import storage as server

from .conftest import ROOT, require_daemon, unique
from .test_class import Klass, admin, labkit_class, running_class

pytestmark = pytest.mark.integration
# Each would act on a terminal printed raw: colour, window title (OSC … BEL), bell, fake lines, rich markup.
NASTY = ["\x1b[31mred\x1b[0m", "\x1b]0;pwned\x07title", "tab\there", "two\nlines", "[red]markup"]
RAW = ("\x1b", "\x07", "\x9b")


@pytest.fixture(scope="module")
def pool() -> Iterator[str]:
    """A btrfs pool as `labkit setup` makes it, of this module's own: the disk test upsets its quota
    accounting, which must not touch other tests' instances."""
    require_daemon()
    name = unique("lkc-pool")
    with admin() as client:
        client.request("POST", "/1.0/storage-pools", json=server.pool_request(name, "btrfs"), project=False)
    try:
        yield name
    finally:
        with admin() as client:
            client.request("DELETE", f"/1.0/storage-pools/{name}", project=False)


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory, pool: str) -> Iterator[Klass]:
    with running_class(tmp_path_factory.mktemp("classes"), "--learners", "2", "--pool", pool,
                       "--limit-instances", "2", "--limit-disk", "600MiB") as made:
        yield made


def learner_labkit(klass: Klass, learner: str, journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `labkit` command as the learner runs it: their access folder only."""
    return subprocess.run([sys.executable, "-m", "labkit", "--lang", "en", "--journal", str(journal), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "INCUS_CONF": str(klass.bundle(learner))})


def test_snapshot_names_never_drive_a_terminal(klass: Klass, tmp_path: Path):
    for learner in ("learner01", "learner02"):
        with klass.learner_client(learner) as client:
            for name in NASTY:
                client.request("POST", "/1.0/instances/ubuntu-test/snapshots", json={"name": name}, timeout=60)
    # The instructor's table: the most common failure quotes the learners' names, and its hint the first one.
    shown = labkit_class("--dir", str(klass.root), "status", klass.name)
    assert shown.returncode == 0, shown.stderr
    assert "There is no snapshot named" in shown.stdout and "\\x1b]0;pwned\\x07title" in shown.stdout
    assert not any(c in shown.stdout + shown.stderr for c in RAW), shown.stdout
    assert "two\\nlines" in shown.stdout and not any(line.startswith("lines") for line in shown.stdout.splitlines())
    # The learner's own check, as text.
    checked = learner_labkit(klass, "learner01", tmp_path / "journal.json", "check", "snapshot")
    assert checked.returncode == 1, checked.stderr
    assert "\\x1b[31mred" in checked.stdout and not any(c in checked.stdout + checked.stderr for c in RAW)
    # The same, through rich on a terminal: its own colours only, markup in a name shown as written.
    with admin() as client:
        status = class_status(client=client, name=klass.name, folder=klass.root / klass.name)
    session = Session(client=klass.learner_client("learner01"), journal=tmp_path / "rich.json")
    try:
        report = session.check(["snapshot"])
        titles = {s.id: s.title for s in session.chapter.steps}
    finally:
        session.close()
    from rich.console import Console

    for draw in (lambda c: c.print(rich_status(status, "en")),
                 lambda c: render.rich_report(c, report.results, report.score, titles, "en")):
        out = io.StringIO()
        draw(Console(file=out, force_terminal=True, color_system="truecolor", width=200))
        text = out.getvalue()
        assert "\x1b]" not in text and "\x07" not in text and "\x1b[31m" not in text, repr(text)
        assert "[red]markup" in text
    # JSON keeps the names whole (json escapes them).
    message = next(s for s in klass.status()["summary"] if s["id"] == "snapshot")["most_common"]["message"]
    assert all(name in message for name in NASTY), message


def test_a_learner_cannot_make_a_container_that_shares_host_ids(klass: Klass):
    refused = klass.as_learner("learner02", "copy", "ubuntu-test", "shared", "-c", "security.idmap.isolated=false",
                               check=False)
    assert refused.returncode != 0 and "Non-isolated containers are forbidden" in refused.stderr, refused.stderr
    for attempt in (("config", "set", "ubuntu-test", "security.idmap.isolated=false"),
                    ("profile", "unset", "default", "security.idmap.isolated"),
                    ("profile", "set", "default", "security.idmap.isolated=false")):
        done = klass.as_learner("learner02", *attempt, check=False)
        assert done.returncode != 0 and "Non-isolated containers are forbidden" in done.stderr, (attempt, done.stderr)
    # Incus 6.0.4 does not check an instance that leaves the key out (no profile): the instructor is told.
    with klass.learner_client("learner02") as client:
        client.request("POST", "/1.0/instances", timeout=120, json={
            "name": "bare", "profiles": [], "source": {"type": "copy", "source": "ubuntu-test", "instance_only": True},
            "config": {"limits.memory": "256MiB", "limits.processes": "100"},
            "devices": {"root": {"type": "disk", "path": "/", "pool": _pool(klass), "size": "300MiB"}}})
    try:
        with admin() as root:
            bare = root.request("GET", "/1.0/instances/bare", params={"project": f"{klass.name}-learner02"})
        assert '"Hostid":1000000,"Nsid":0,"Maprange":1000000000' in bare["config"]["volatile.idmap.next"]  # shared
        data = klass.status()
        assert any("learner02" in w and "“bare”" in w for w in data["warnings"]), data.get("warnings")
        shown = labkit_class("--dir", str(klass.root), "status", klass.name)
        assert "learner02: the container “bare”" in shown.stdout, shown.stdout
        page = klass.root / "report.html"
        assert labkit_class("--dir", str(klass.root), "report", klass.name, "--html", str(page)).returncode == 0
        assert "learner02: the container “bare”" in page.read_text(encoding="utf-8")
        assert not any("learner01" in w for w in data["warnings"])
    finally:
        klass.as_learner("learner02", "delete", "bare", "--force", check=False)


def _pool(klass: Klass) -> str:
    with admin() as client:
        profile = client.request("GET", "/1.0/profiles/default", params={"project": f"{klass.name}-learner02"})
    return profile["devices"]["root"]["pool"]


def fill(klass: Klass, mib: int) -> tuple[subprocess.CompletedProcess[str], int]:
    """learner01 writes `mib` MiB into their 300 MiB root: what dd said, and how much was written."""
    wrote = klass.as_learner("learner01", "exec", "ubuntu-test", "--", "dd", "if=/dev/zero", "of=/root/fill", "bs=1M",
                             f"count={mib}", "conv=fsync", check=False)
    size = int(klass.as_learner("learner01", "exec", "ubuntu-test", "--", "stat", "-c", "%s", "/root/fill").stdout)
    # sync: btrfs counts the freed space at its next commit, and Incus needs room for a snapshot's backup.yaml.
    klass.as_learner("learner01", "exec", "ubuntu-test", "--", "sh", "-c", "rm -f /root/fill && sync")
    return wrote, size


def test_writing_past_the_disk_limit_is_stopped(klass: Klass, pool: str):
    wrote, size = fill(klass, 400)
    assert wrote.returncode != 0 and "Disk quota exceeded" in wrote.stderr and size < 300 * 2**20, (wrote.stderr, size)
    # What the kernel did to the shared pool here after other classes' deletions: it marks the quota data
    # inconsistent and stops counting writes. Deleting a subvolume whose tree reaches
    # drop_subtree_threshold does the same: with 0, a learner's snapshot deletion is enough.
    with admin() as client:
        path = quotas.pool_path(client, pool)
    assert path is not None and quotas.state(path) == "counted"
    threshold = quotas._sysfs(path) / "qgroups" / "drop_subtree_threshold"
    kept = threshold.read_text()
    threshold.write_text("0")
    try:
        klass.as_learner("learner01", "snapshot", "create", "ubuntu-test", "spare")
        klass.as_learner("learner01", "snapshot", "delete", "ubuntu-test", "spare")
        subprocess.run(["btrfs", "subvolume", "sync", str(path)], check=True, timeout=120)
    finally:
        threshold.write_text(kept)
    assert quotas.state(path) == "inconsistent"
    # The instructor looks at the class: told, and the count starts again.
    shown = labkit_class("--dir", str(klass.root), "status", klass.name)
    assert f"Disk limits do not hold on the pool “{pool}”" in shown.stdout, shown.stdout
    deadline = time.monotonic() + 30
    while quotas.state(path) != "counted" and time.monotonic() < deadline:
        time.sleep(0.5)
    wrote, size = fill(klass, 400)
    assert wrote.returncode != 0 and "Disk quota exceeded" in wrote.stderr and size < 300 * 2**20, (wrote.stderr, size)
    assert not [w for w in klass.status()["warnings"] if "Disk limits" in w]
