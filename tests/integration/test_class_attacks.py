"""A determined learner against a real class: each attack is made with nothing but that learner's
access folder (INCUS_CONF, the official client over the class's loopback HTTPS listener), and the
instructor's `labkit class status` must grant no pass it did not earn, and stay whole and quick.

One class, one learner per attack (the attacks never meet), removed even on failure.
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Iterator

import pytest

from labkit.incus.timestamps import parse_incus_time

from .conftest import require_daemon
from .test_class import Klass, admin, labkit_class, running_class

pytestmark = pytest.mark.integration
FILE = "/root/this_file.txt"
ATTACKS = ("forged", "recreated", "future", "tie", "fifo", "sparse", "many")
QUICK = 15.0  # seconds a whole class status may take on this loaded machine (it used to fail after 30 s)


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Klass]:
    require_daemon()
    root = tmp_path_factory.mktemp("classes")
    roster = root / "roster.txt"
    roster.write_text("\n".join(ATTACKS) + "\n", encoding="utf-8")
    with running_class(root, "--roster", str(roster)) as made:
        yield made


def status(klass: Klass) -> tuple[dict, float]:
    started = time.monotonic()
    done = labkit_class("--dir", str(klass.root), "status", klass.name, "--json", timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), took


def steps_of(data: dict, learner: str) -> dict[str, dict]:
    return {s["id"]: s for s in next(ls for ls in data["learners"] if ls["learner"] == learner)["steps"]}


def learner_of(data: dict, learner: str) -> dict:
    return next(ls for ls in data["learners"] if ls["learner"] == learner)


def sh(klass: Klass, learner: str, script: str, timeout: float = 120) -> None:
    klass.as_learner(learner, "exec", "ubuntu-test", "--", "sh", "-c", script)


def test_a_forged_baseline_key_proves_no_restore(klass: Klass):
    me = "forged"
    klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    time.sleep(1.1)
    klass.as_learner(me, "exec", "ubuntu-test", "--", "touch", FILE)
    assert steps_of(status(klass)[0], me)["touch"]["status"] == "passed"
    klass.as_learner(me, "stop", "ubuntu-test")
    klass.as_learner(me, "config", "set", "ubuntu-test", f"user.labkit.baseline.generation={uuid.uuid4()}")
    seen = steps_of(status(klass)[0], me)
    assert seen["restore"]["status"] == "failed" and seen["restore"]["diagnosis"] == "baseline_changed", seen["restore"]
    klass.as_learner(me, "start", "ubuntu-test")
    klass.as_learner(me, "exec", "ubuntu-test", "--", "rm", FILE)
    klass.as_learner(me, "snapshot", "delete", "ubuntu-test", "ubuntu-test-1")
    data, _ = status(klass)
    seen = steps_of(data, me)
    assert seen["restore"]["status"] != "passed" and seen["restore"]["diagnosis"] == "baseline_changed"
    assert learner_of(data, me)["score"]["earned"] < 12
    assert learner_of(data, me)["alert"]["diagnosis"] == "baseline_changed"
    text = labkit_class("--dir", str(klass.root), "status", klass.name, lang="fr").stdout
    assert f"⚠ {me}" in text and "user.labkit.baseline" in text


def test_a_deleted_and_recreated_instance_with_forged_keys_is_seen_as_replaced(klass: Klass):
    me = "recreated"
    klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    time.sleep(1.1)
    klass.as_learner(me, "exec", "ubuntu-test", "--", "touch", FILE)
    status(klass)
    # A copy made from the snapshot (no file in it), renamed over the original, keys set to match it.
    klass.as_learner(me, "copy", "ubuntu-test/ubuntu-test-1", "twin")
    klass.as_learner(me, "delete", "--force", "ubuntu-test")
    klass.as_learner(me, "rename", "twin", "ubuntu-test")
    klass.as_learner(me, "start", "ubuntu-test")
    fresh = json.loads(klass.as_learner(me, "query", f"/1.0/instances/ubuntu-test?project={klass.name}-{me}").stdout)
    klass.as_learner(me, "config", "set", "ubuntu-test",
                     f"user.labkit.baseline.uuid={fresh['config']['volatile.uuid']}",
                     f"user.labkit.baseline.generation={uuid.uuid4()}")
    klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    data, _ = status(klass)
    seen = steps_of(data, me)
    assert seen["restore"]["status"] != "passed" and seen["restore"]["diagnosis"] == "instance_replaced", \
        seen["restore"]
    assert all(seen[s]["status"] != "passed" for s in ("start", "verify", "cleanup"))
    assert learner_of(data, me)["alert"]["diagnosis"] == "instance_replaced"


def test_a_file_time_set_in_the_future_fails(klass: Klass):
    me = "future"
    klass.as_learner(me, "exec", "ubuntu-test", "--", "touch", FILE)  # made before the snapshot
    klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    klass.as_learner(me, "exec", "ubuntu-test", "--", "touch", "-d", "2099-01-01", FILE)
    touch = steps_of(status(klass)[0], me)["touch"]
    assert touch["status"] == "failed" and touch["diagnosis"] == "file_time_future", touch


def test_a_file_made_in_the_same_second_just_before_the_snapshot_fails(klass: Klass):
    me = "tie"
    project = f"{klass.name}-{me}"
    with admin() as instructor:
        for _ in range(12):
            klass.as_learner(me, "exec", "ubuntu-test", "--", "touch", FILE)
            klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
            view = instructor.request("GET", "/1.0/instances/ubuntu-test/snapshots/ubuntu-test-1",
                                      params={"project": project})
            instructor.project = project
            modified = instructor.file_info("ubuntu-test", FILE).modified
            instructor.project = "default"
            if int(modified.timestamp()) == int(parse_incus_time(view["created_at"]).timestamp()):
                break
            klass.as_learner(me, "snapshot", "delete", "ubuntu-test", "ubuntu-test-1")
            klass.as_learner(me, "exec", "ubuntu-test", "--", "rm", FILE)
        else:
            pytest.fail("the file and the snapshot never shared a second")
    touch = steps_of(status(klass)[0], me)["touch"]
    assert touch["status"] == "failed" and touch["diagnosis"] == "file_before_snapshot", touch


def home_attack(klass: Klass, me: str, script: str) -> None:
    """With a snapshot taken and no file in /root, the misplaced-file search is what runs."""
    klass.as_learner(me, "snapshot", "create", "ubuntu-test", "ubuntu-test-1")
    sh(klass, me, script)
    data, took = status(klass)
    assert took < QUICK, took
    touch = steps_of(data, me)["touch"]
    assert touch["status"] == "failed" and touch["diagnosis"] == "no_file", touch
    assert all(learner_of(data, n)["alert"] is None or learner_of(data, n)["alert"]["diagnosis"] != "unobserved"
               for n in ATTACKS)


def test_home_as_a_fifo_neither_blocks_the_class_nor_wedges_the_instance(klass: Klass):
    home_attack(klass, "fifo", "rm -rf /home && mkfifo /home")
    # The instance's file helper is not left blocked: its snapshot operations still answer.
    done = subprocess.run(["incus", "snapshot", "create", "ubuntu-test", "after-fifo"], capture_output=True, text=True,
                          timeout=60, env={**__import__("os").environ, "INCUS_CONF": str(klass.bundle("fifo"))})
    assert done.returncode == 0, done.stderr
    _, took = status(klass)
    assert took < QUICK


def test_home_as_a_large_sparse_file_is_never_read(klass: Klass):
    home_attack(klass, "sparse", "rm -rf /home && truncate -s 1G /home")


def test_home_with_thousands_of_folders_costs_a_few_requests(klass: Klass):
    home_attack(klass, "many", "cd /home && seq -f d%g 5000 | xargs mkdir")
