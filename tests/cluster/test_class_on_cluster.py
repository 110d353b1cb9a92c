"""`labkit class` on a real three-member Incus cluster (tests/cluster/conftest.py).

labkit talks to the cluster through member 1's socket (INCUS_SOCKET), as an instructor
on that member would; learners use only their access folder, against any member's
address.  One class spread with --target is shared by the tests of this module, in
order; another is left to Incus' placement.  Everything is destroyed, even on failure.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from scripts.cluster import Cluster

from .conftest import labkit, unique

pytestmark = pytest.mark.cluster


@dataclass
class Spread:
    name: str
    root: Path
    cluster: Cluster

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return labkit(self.cluster, "class", "--dir", str(self.root), *args, **kwargs)

    def bundle(self, learner: str) -> Path:
        return self.root / self.name / "learners" / learner

    def as_learner(self, learner: str, *args: str, member: str = "m1") -> subprocess.CompletedProcess[str]:
        """The official client with nothing but the learner's folder, pointed at MEMBER's address."""
        return run_incus(learner_conf(self, learner, member), *args)

    def status(self) -> dict:
        result = self.run("status", self.name, "--json", timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def learner_conf(klass: Spread, learner: str, member: str) -> Path:
    """A copy of the learner's folder whose remote is MEMBER's address (the cluster shares one certificate)."""
    conf = klass.root / "as" / f"{learner}-{member}"
    if not conf.exists():
        shutil.copytree(klass.bundle(learner), conf)
        text = (conf / "config.yml").read_text()
        (conf / "config.yml").write_text(text.replace(klass.cluster.members[0].https,
                                                      klass.cluster.member(member).https))
    return conf


def run_incus(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(conf), "INCUS_CONF": str(conf)}
    return subprocess.run(["incus", *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def locations(cluster: Cluster, name: str) -> dict[str, str]:
    """learner project → member, from the cluster itself."""
    listed = json.loads(cluster.incus("query", "/1.0/instances?recursion=1&all-projects=true").stdout)
    return {i["project"]: i["location"] for i in listed if i["project"].startswith(f"{name}-")}


def class_projects(cluster: Cluster, name: str) -> list[str]:
    projects = json.loads(cluster.incus("query", "/1.0/projects?recursion=1").stdout)
    return sorted(p["name"] for p in projects if p["config"].get("user.labkit.class") == name)


@pytest.fixture(scope="module")
def spread(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    klass = Spread(unique(), tmp_path_factory.mktemp("cluster-class"), cluster)
    try:
        yield klass
    finally:
        if class_projects(cluster, klass.name):
            klass.run("destroy", klass.name, "--yes")


def test_create_with_targets_puts_each_learner_on_the_next_member(spread: Spread) -> None:
    m1 = spread.cluster.members[0].https
    started = time.monotonic()
    result = spread.run("create", spread.name, "--learners", "3", "--target", "m1", "--target", "m2",
                        "--target", "m3", "--listen", m1)
    assert result.returncode == 0, result.stderr
    print(f"class of 3 on the cluster: {time.monotonic() - started:.1f} s")
    # core.https_address was set by the cluster already: the class uses it and does not own it.
    assert f"connect to {m1}." in result.stdout
    assert locations(spread.cluster, spread.name) == {f"{spread.name}-learner01": "m1",
                                                      f"{spread.name}-learner02": "m2",
                                                      f"{spread.name}-learner03": "m3"}


def test_status_and_report_show_each_learners_member(spread: Spread) -> None:
    data = spread.status()
    assert {ls["learner"]: ls["member"] for ls in data["learners"]} == {
        "learner01": "m1", "learner02": "m2", "learner03": "m3"}
    assert data["members_down"] == []
    assert all(ls["steps"][0]["status"] == "passed" for ls in data["learners"])
    text = spread.run("status", spread.name)
    header, _, *rows = text.stdout.splitlines()
    assert header.split()[:2] == ["Learner", "Member"] and rows[2].split()[:3] == ["learner03", "m3", "✔"]
    csv_path = spread.root / "report.csv"
    assert spread.run("report", spread.name, "--csv", str(csv_path),
                      "--html", str(spread.root / "r.html")).returncode == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["Learner", "Project", "Member"]
    assert [line.split(",")[2] for line in lines[1:]] == ["m1", "m2", "m3"]
    assert "<th scope=\"col\">Member</th>" in (spread.root / "r.html").read_text()
    french = spread.run("status", spread.name, lang="fr")
    assert "Membre" in french.stdout.splitlines()[0]


@pytest.mark.parametrize("member", ["m2", "m3"])
def test_a_learners_certificate_works_against_any_members_address(spread: Spread, member: str) -> None:
    listed = spread.as_learner("learner03", "list", "--format", "json", member=member)
    assert listed.returncode == 0, listed.stderr
    assert [(i["name"], i["location"]) for i in json.loads(listed.stdout)] == [("ubuntu-test", "m3")]
    # Still restricted to their own project, whichever member answers.
    other = spread.as_learner("learner03", "list", "--project", f"{spread.name}-learner01", member=member)
    assert other.returncode != 0 and "permissions" in other.stderr
    check = labkit(spread.cluster, "check", "prerequisites", "--json",
                   env={"INCUS_SOCKET": "", "INCUS_CONF": str(learner_conf(spread, "learner03", member)),
                        "HOME": str(spread.root)})
    assert check.returncode == 0, check.stdout + check.stderr


def test_watch_sees_actions_on_every_member(spread: Spread) -> None:
    """One event stream from member 1 carries the lifecycle events of instances on m2 and m3."""
    watch = subprocess.Popen([*labkit_command(), "class", "--dir", str(spread.root), "status", spread.name, "--watch",
                              "--json", "--seconds", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=labkit_env(spread.cluster), cwd=Path(__file__).resolve().parents[2])
    seen: list[dict] = []
    reader = threading.Thread(target=lambda: seen.extend(json.loads(line) for line in watch.stdout), daemon=True)
    reader.start()
    try:
        time.sleep(4)  # the first table, and the event stream is open
        for learner, member in (("learner02", "m3"), ("learner03", "m2")):
            made = spread.as_learner(learner, "snapshot", "create", "ubuntu-test", "ubuntu-test-1", member=member)
            assert made.returncode == 0, made.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not both_snapshots(seen):
            time.sleep(0.3)
        assert both_snapshots(seen), seen[-1:] if seen else watch.stderr
    finally:
        watch.terminate()
        watch.wait(20)


def labkit_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "labkit", "--lang", "en"]


def labkit_env(cluster: Cluster) -> dict[str, str]:
    import os

    return {**os.environ, "INCUS_SOCKET": cluster.members[0].socket}


def both_snapshots(seen: list[dict]) -> bool:
    if not seen:
        return False
    steps = {ls["learner"]: {s["id"]: s["status"] for s in ls["steps"]} for ls in seen[-1]["learners"]}
    return steps["learner02"]["snapshot"] == "passed" and steps["learner03"]["snapshot"] == "passed"


def test_destroy_removes_the_class_from_every_member(spread: Spread) -> None:
    result = spread.run("destroy", spread.name, "--yes")
    assert result.returncode == 0, result.stderr
    assert class_projects(spread.cluster, spread.name) == []
    assert locations(spread.cluster, spread.name) == {}
    certificates = json.loads(spread.cluster.incus("query", "/1.0/certificates?recursion=1").stdout)
    assert not [c for c in certificates if c["name"].startswith(f"labkit:{spread.name}:")]
    # The cluster's own listener stays: it was not the class's to turn off.
    server = json.loads(spread.cluster.incus("query", "/1.0").stdout)
    assert server["config"]["core.https_address"] == spread.cluster.members[0].https
    assert not (spread.root / spread.name).exists()


def test_without_target_incus_places_the_learners(cluster: Cluster, tmp_path: Path) -> None:
    name = unique()
    klass = Spread(name, tmp_path, cluster)
    try:
        result = klass.run("create", name, "--learners", "3")
        assert result.returncode == 0, result.stderr
        placed = locations(cluster, name)
        # Incus' scheduler puts each new instance on the member holding the fewest.
        assert len(placed) == 3 and set(placed.values()) <= {"m1", "m2", "m3"} and len(set(placed.values())) >= 2
        print(f"Incus placed the learners on: {sorted(placed.values())}")
        data = klass.status()
        assert {ls["member"] for ls in data["learners"]} == set(placed.values())
    finally:
        assert klass.run("destroy", name, "--yes").returncode == 0
    assert class_projects(cluster, name) == []
