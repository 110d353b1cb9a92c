"""The event recorder on real daemons: reconnection, one project only, exit on deletion,
reset, and the notebook's listener beside it.

Reconnection is tested on a second Incus daemon this test starts and stops itself (its own
INCUS_DIR under /tmp): the shared daemon is never restarted.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from labkit.app import recorder_service
from labkit.app.setup import start_recorder
from labkit.incus.client import Endpoint, IncusClient, find_endpoint
from labkit.notebooks.api import Lab
from labkit.provision.daemon import INCUSD, daemon_answers

from .conftest import ROOT, incus, labkit

SNAP = "ubuntu-test-1"
FILE = "/root/this_file.txt"


def wait_for(condition, seconds: float = 120.0, what: str = "") -> None:
    """Until `condition()` holds: a moment here, seconds on a busy machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def events(journal: Path) -> list[dict]:
    return json.loads(journal.read_text())["events"] if journal.exists() else []


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


# -- a second daemon of our own ------------------------------------------------
class SecondDaemon:
    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "unix.socket"
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "INCUS_DIR": str(self.folder), "INCUS_SOCKET": str(self.socket)}

    def start(self) -> None:
        env = {**self.env, "PATH": "/usr/libexec/incus:/usr/sbin:/usr/bin:/sbin:/bin"}
        log = open(self.folder.parent / "incusd.log", "ab")
        self.proc = subprocess.Popen([str(INCUSD)], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: daemon_answers(self.socket), 60, "the second daemon")

    def shutdown(self) -> None:
        self.incus("admin", "shutdown", check=False, timeout=60)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # only ever the daemon this test started, by its PID
                self.proc.wait()
            self.proc = None

    def incus(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["incus", *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"incus {' '.join(args)}: {done.stderr}")
        return done


@pytest.fixture
def second_daemon(image: str) -> Iterator[SecondDaemon]:
    if not INCUSD.exists() or os.geteuid() != 0:
        message = "a second Incus daemon needs root and /usr/libexec/incus/incusd"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    top = Path(tempfile.mkdtemp(prefix="lk-incusd-", dir="/tmp"))
    daemon = SecondDaemon(top / "incus")
    daemon.folder.mkdir()
    try:
        daemon.start()
        preseed = ("storage_pools:\n- name: default\n  driver: dir\nprofiles:\n- name: default\n  devices:\n"
                   "    root: {path: /, pool: default, type: disk}\n")
        done = subprocess.run(["incus", "admin", "init", "--preseed"], input=preseed, env=daemon.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        yield daemon
    finally:
        daemon.shutdown()
        # Mounts the daemon left (its shmounts, guestapi) go before the folder.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(top))]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(top, ignore_errors=True)


def test_the_recorder_reconnects_after_a_daemon_restart_reads_one_project_and_exits_on_deletion(
        second_daemon: SecondDaemon, state: Path, tmp_path: Path) -> None:
    daemon, journal = second_daemon, tmp_path / "j.json"
    daemon.incus("init", "--empty", "c1")
    # The same instance name in another project of the same daemon: never recorded.
    daemon.incus("project", "create", "other", "-c", "features.profiles=false")
    daemon.incus("init", "--empty", "c1", "--project", "other")
    params = {"container": "c1", "snapshot": SNAP, "file": FILE}
    status = recorder_service.ensure_running(Endpoint(daemon.socket, "default"), "snapshots", params, journal)
    assert status is not None and status.running and status.connected
    pid = status.pid
    daemon.incus("snapshot", "create", "c1", "before")
    daemon.incus("snapshot", "create", "c1", "elsewhere", "--project", "other")
    wait_for(lambda: any(e["context"].get("name") == "before" for e in events(journal)), what="the first event")

    daemon.shutdown()
    wait_for(lambda: not recorder_service.status("default", "c1").connected, what="the recorder to notice")
    assert recorder_service.status("default", "c1").running  # waiting, not dead
    daemon.start()
    wait_for(lambda: recorder_service.status("default", "c1").connected, 30, "the reconnection")
    daemon.incus("snapshot", "create", "c1", "after")
    wait_for(lambda: any(e["context"].get("name") == "after" for e in events(journal)),
             what="an event after the restart")
    assert recorder_service.status("default", "c1").pid == pid
    assert not any(e["context"].get("name") == "elsewhere" for e in events(journal))

    daemon.incus("delete", "c1")
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or not recorder_service.status("default", "c1").running,
             what="the recorder to exit")
    config = recorder_service.config_path("default", "c1")
    pid_file, state_file, log = recorder_service.files_for(config)
    assert not pid_file.exists() and not state_file.exists() and not config.exists()
    text = log.read_text()
    assert "connection lost" in text or "closed the event stream" in text
    assert "the instance was deleted" in text


def test_one_recorder_per_instance_and_reset_keeps_it_writing_into_the_new_attempt(
        instance: str, state: Path) -> None:
    journal = state / "labkit" / "journals" / f"snapshots--default--{instance}.json"
    env = {"XDG_STATE_HOME": str(state)}
    with IncusClient(find_endpoint()) as client:
        start_recorder(client, instance)
        first = recorder_service.status("default", instance)
        start_recorder(client, instance)  # a second `labkit setup`
    assert first.running and recorder_service.status("default", instance).pid == first.pid
    # Started by hand while one runs: it leaves at once.
    config = recorder_service.config_path("default", instance)
    again = subprocess.run([sys.executable, "-m", "labkit.app.recorder", "--config", str(config)], cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "another recorder" in again.stderr
    try:
        incus("snapshot", "create", instance, SNAP)
        wait_for(lambda: any(e["action"] == "instance-snapshot-created" for e in events(journal)), what="the snapshot")
        done = labkit("--container", instance, "reset", "--yes", env=env)
        assert done.returncode == 0, done.stderr
        assert recorder_service.status("default", instance).pid == first.pid
        time.sleep(1.0)  # the reset's own events (snapshot deleted) reach the recorder after the archive
        fresh = json.loads(journal.read_text())
        assert fresh["attempt"] == 2 and not [e for e in fresh["events"] if e["action"] != "labkit-file-seen"], fresh
        incus("snapshot", "create", instance, SNAP)
        wait_for(lambda: any(e["action"] == "instance-snapshot-created" for e in events(journal)), what="attempt 2")
        assert json.loads(journal.read_text())["attempt"] == 2
        doctor = labkit("--lang", "fr", "--container", instance, "doctor", env=env)
        assert "✔ recorder" in doctor.stdout and "Enregistreur d’événements en cours d’exécution" in doctor.stdout, \
            doctor.stdout
    finally:
        assert recorder_service.stop("default", instance)
    assert not recorder_service.status("default", instance).running
    doctor = labkit("--lang", "en", "--container", instance, "doctor", env=env)
    assert "! recorder" in doctor.stdout and "not running" in doctor.stdout


def test_the_notebook_listener_and_the_recorder_count_each_event_once(instance: str, state: Path) -> None:
    journal = state / "labkit" / "journals" / f"snapshots--default--{instance}.json"
    with IncusClient(find_endpoint()) as client:
        start_recorder(client, instance)
    lab = Lab(container=instance, lang="en")
    try:
        assert lab.listener is not None and lab.listener.alive
        for step in ("snapshot", "touch", "stop", "restore", "start", "verify", "cleanup"):
            lab.solve(step)
            assert lab.check(step).passed, step
        wait_for(lambda: any(e["action"] == "instance-snapshot-deleted" for e in events(journal)),
                 what="the cleanup's event")
        time.sleep(0.5)  # and a moment more, for a second copy of any event to (wrongly) land
        actions = [e["action"] for e in events(journal) if e["action"] != "labkit-file-seen"]
        assert actions.count("instance-restored") == 1 and actions.count("instance-snapshot-created") == 1, actions
        assert len(actions) == len(set((e["action"], e["time"]) for e in events(journal)
                                       if e["action"] != "labkit-file-seen")), actions
        assert lab.summary().earned == 12
    finally:
        lab.close()
        recorder_service.stop("default", instance)


def test_the_second_labs_setup_on_the_same_instance_keeps_the_first_labs_journal_fed(
        instance: str, state: Path) -> None:
    """Set up lab 1, then lab 2 on the same instance: one recorder, and a snapshot lands in both journals."""
    journals = {lab: state / "labkit" / "journals" / f"{lab}--default--{instance}.json"
                for lab in ("snapshots", "snapshot-server")}
    with IncusClient(find_endpoint()) as client:
        start_recorder(client, instance)
        start_recorder(client, instance, lab="snapshot-server")
    try:
        status = recorder_service.status("default", instance)
        assert status.running and status.connected
        incus("snapshot", "create", instance, "both")
        for lab, journal in journals.items():
            wait_for(lambda: any(e["context"].get("name") == "both" for e in events(journal)),
                     what=f"the snapshot in {lab}'s journal")
        # The first lab's file is looked at for the first lab only.
        assert not [e for e in events(journals["snapshot-server"]) if e["action"] == "labkit-file-seen"]
        with IncusClient(find_endpoint()) as client:
            start_recorder(client, instance)  # lab 1's setup again: nothing changes, the same process
        assert recorder_service.status("default", instance).pid == status.pid
    finally:
        recorder_service.stop("default", instance)
