"""A cluster member dies during a class (SIGKILL to its daemon), and comes back.

`class status` must mark that member's learners as not observed within seconds, grade
the others, keep every journal as it was, and grade everyone again once the member is
back; `destroy` must remove what it can, say what it could not, and finish when run
again.  The member is always restarted, even when a test fails.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from scripts.cluster import Cluster

from .conftest import unique
from .test_class_on_cluster import Spread, class_projects

pytestmark = pytest.mark.cluster
DOWN_WITHIN = 10.0  # seconds for a `class status` with a member dead (a timeout-bound hang would be 30+)


@pytest.fixture(scope="module")
def klass(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    made = Spread(unique(), tmp_path_factory.mktemp("cluster-faults"), cluster)
    result = made.run("create", made.name, "--learners", "3", "--target", "m1", "--target", "m2", "--target", "m3")
    assert result.returncode == 0, result.stderr
    try:
        yield made
    finally:
        m3 = cluster.member("m3")
        if not member_alive(cluster, m3):
            cluster.restart(m3)
        if class_projects(cluster, made.name):
            made.run("destroy", made.name, "--yes")


def member_alive(cluster: Cluster, member) -> bool:
    from scripts.cluster import process_alive

    return bool(member.pid and process_alive(member.pid))


def steps(data: dict, learner: str) -> dict[str, tuple[str, str | None]]:
    found = next(ls for ls in data["learners"] if ls["learner"] == learner)
    return {s["id"]: (s["status"], s["diagnosis"]) for s in found["steps"]}


def journal(klass: Spread, learner: str) -> bytes:
    return (klass.root / klass.name / "journals" / f"{learner}.json").read_bytes()


def timed_status(klass: Spread) -> tuple[dict, float]:
    started = time.monotonic()
    data = klass.status()
    return data, time.monotonic() - started


def test_a_dead_member_is_reported_in_seconds_and_the_others_are_graded(klass: Spread) -> None:
    cluster = klass.cluster
    made = klass.as_learner("learner03", "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    assert made.returncode == 0, made.stderr
    before = klass.status()
    assert steps(before, "learner03")["snapshot"][0] == "passed"
    kept = journal(klass, "learner03")

    cluster.kill(cluster.member("m3"))
    for moment in ("just after the kill", "once m3 is Offline"):
        if moment == "once m3 is Offline":
            deadline = time.monotonic() + 60
            while cluster.wait_online(timeout=0).get("m3") == "Online" and time.monotonic() < deadline:
                time.sleep(1)
        data, seconds = timed_status(klass)
        print(f"class status with m3 dead, {moment}: {seconds:.1f} s")
        assert seconds < DOWN_WITHIN, moment
        assert data["members_down"] == ["m3"], moment
        assert {status for status, _ in steps(data, "learner03").values()} == {"not_verified"}
        assert {diagnosis for _, diagnosis in steps(data, "learner03").values()} == {"member-unreachable"}
        for learner in ("learner01", "learner02"):  # graded as usual
            assert steps(data, learner)["prerequisites"] == ("passed", None)
            assert steps(data, learner)["snapshot"][0] == "failed"
        assert journal(klass, "learner03") == kept, "nothing may be journaled for a learner nobody could see"
    text = klass.run("status", klass.name)
    assert "m3 (not answering)" in text.stdout and "do not answer: m3" in text.stdout
    assert "Not observed" not in text.stdout, "a member down is said once, not as every step's common mistake"

    back = time.monotonic()
    cluster.restart(cluster.member("m3"))
    print(f"m3 restarted and reachable through m1 in {time.monotonic() - back:.1f} s")
    assert cluster.wait_online()["m3"] == "Online"
    after = klass.status()
    assert after["members_down"] == []
    assert steps(after, "learner03")["snapshot"][0] == "passed"
    assert steps(after, "learner03") == steps(before, "learner03")


def test_destroy_with_a_member_down_says_what_remains_and_finishes_later(klass: Spread) -> None:
    cluster = klass.cluster
    cluster.kill(cluster.member("m3"))
    first = klass.run("destroy", klass.name, "--yes")
    assert first.returncode == 2, first.stdout + first.stderr
    assert f"{klass.name}-learner03" in first.stderr and "again" in first.stderr
    assert "Traceback" not in first.stderr
    # What could go is gone; what stays is still the class's, with its journals.
    assert class_projects(cluster, klass.name) == sorted([klass.name, f"{klass.name}-learner03"])
    assert (klass.root / klass.name / "journals" / "learner03.json").exists()

    cluster.restart(cluster.member("m3"))
    assert cluster.wait_online()["m3"] == "Online"
    second = klass.run("destroy", klass.name, "--yes")
    assert second.returncode == 0, second.stderr
    assert class_projects(cluster, klass.name) == []
    assert not Path(klass.root / klass.name).exists()
    listed = json.loads(cluster.incus("query", "/1.0/instances?recursion=1&all-projects=true").stdout)
    assert not [i for i in listed if i["project"].startswith(klass.name)]
