"""The snapshot-server chapter on the real main daemon and a real snapshot server.

The snapshot server is started like test_snapshot_server.py does (its own INCUS_DIR, a free
port, the main daemon's address left alone), so copies use `--mode push`; the learner is a
fresh client folder (INCUS_CONF) running the real `incus`.  Each step fails before its
commands and passes after; the main near-misses fail with their diagnosis.  labkit reaches
the snapshot server through labkit.provision.second_server.admin_client() (LABKIT_SNAPSHOT_SERVER_DIR), never
through the learner's remote.  Times of the copy, the refresh and the checks are printed
(`pytest -s`).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from labkit.grading.access import Access
from labkit.grading.engine import Event, History, Status, grade
from labkit.incus.client import IncusClient, find_endpoint
from labkit.incus.events import Listener
from labkit.labs.snapshot_server.steps import CHAPTER
from labkit.provision.second_server import SnapshotServer
from labkit.provision.second_server import admin_client as open_snapshot_server
from labkit.servers import SNAPSHOT_SERVER

from .conftest import delete_instance, incus, labkit, unique
from .test_snapshot_server import free_port, second, setup_server, token_of

pytestmark = pytest.mark.integration
ORDER = list(CHAPTER.step_ids)
TIMES: dict[str, list[float]] = {}


def timed(what: str, seconds: float) -> None:
    TIMES.setdefault(what, []).append(seconds)
    print(f"\n[time] {what}: {seconds:.2f} s")


@pytest.fixture(scope="module")
def server(image: str) -> Iterator[SnapshotServer]:
    srv = SnapshotServer(Path("/var/lib") / unique("c2-snapsrv"), free_port())
    try:
        result = setup_server(srv.incus_dir, srv.port)
        assert result.returncode == 0, result.stderr
        yield srv
    finally:
        labkit("setup", "--snapshot-server", "--snapshot-server-dir", str(srv.incus_dir), "--stop")


def fresh_token(srv: SnapshotServer) -> str:
    """A token as a new learner gets it: the earlier learner's certificate is forgotten first."""
    trusted = json.loads(second(srv.incus_dir, "query", "/1.0/certificates?recursion=1").stdout)
    for cert in trusted:
        second(srv.incus_dir, "config", "trust", "remove", cert["fingerprint"])
    result = setup_server(srv.incus_dir, srv.port)
    assert result.returncode == 0, result.stderr
    return token_of(result.stdout)


class Learner:
    """One learner: a primary instance, a client folder, and labkit's view of both servers."""

    def __init__(self, srv: SnapshotServer, name: str, conf: Path):
        self.srv, self.name, self.conf = srv, name, conf
        self.params = {**CHAPTER.defaults, "container": name}
        self.passed: set[str] = set()
        self.events: list[Event] = []
        self.main = IncusClient(find_endpoint("default", environ={}))
        self.access = Access(self.main, {SNAPSHOT_SERVER.id: lambda: open_snapshot_server("default")}, conf)
        self.listener = Listener(self.main.endpoint, name, self._seen).start()

    def _seen(self, entry: dict) -> None:
        self.events.append(Event(entry["action"], datetime.fromisoformat(entry["time"]), entry["context"]))

    def incus(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command as the learner types it (a chapter command, formatted), run by the real client."""
        args = _split(command.format(**self.params, address=self.srv.address, token=getattr(self, "token", "")))
        if args[:2] == ["incus", "copy"]:
            args.append("--mode=push")  # the main daemon does not listen here (see the module's docstring)
        env = {**os.environ, "INCUS_CONF": str(self.conf)}
        env.pop("INCUS_SOCKET", None)
        started = time.monotonic()
        result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if args[:2] == ["incus", "copy"] and result.returncode == 0:
            timed("refresh" if "--refresh" in args else "copy", time.monotonic() - started)
        assert not check or result.returncode == 0, (command, result.stderr)
        return result

    def grade(self) -> dict:
        time.sleep(0.3)  # the listener's last event
        started = time.monotonic()
        obs = CHAPTER.observe(self.access, self.params)
        results = grade(CHAPTER, obs, History(frozenset(self.passed), None, tuple(self.events)), self.params)
        timed("check", time.monotonic() - started)
        self.passed |= {r.step for r in results if r.passed}
        return {r.step: r for r in results}

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "labkit", "--lab", "snapshot-server", "--container", self.name,
                "--journal", str(self.conf / "journal.json"), *args]

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "INCUS_CONF": str(self.conf), "LABKIT_SNAPSHOT_SERVER_DIR": str(self.srv.incus_dir)}
        env.pop("INCUS_SOCKET", None)
        return env

    def command_check(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`labkit --lab snapshot-server check …` as the learner runs it (their client folder, one journal)."""
        command = self._command("check", *args)
        return subprocess.run([command[0], "-X", "importtime", *command[1:]], env=self._env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    def wait_journaled(self, action: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                events = json.loads((self.conf / "journal.json").read_text()).get("events", [])
            except (OSError, ValueError):
                events = []
            if any(e.get("action") == action for e in events):
                return
            time.sleep(0.2)
        raise AssertionError(f"labkit watch journaled no {action} in {seconds} s")

    def watch(self) -> subprocess.Popen:
        """`labkit --lab snapshot-server watch`, what a terminal learner keeps running (the copy's evidence is
        the main server's instance-migrated event); stopped by the caller, by its PID."""
        proc = subprocess.Popen(self._command("watch"), env=self._env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if (self.conf / "journal.json").exists():
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.5)  # the listener's websocket
        return proc

    def close(self) -> None:
        self.listener.stop()
        self.access.close()
        self.main.close()


def _split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)


@pytest.fixture
def learner(server: SnapshotServer, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Learner]:
    monkeypatch.setenv("LABKIT_SNAPSHOT_SERVER_DIR", str(server.incus_dir))
    name = unique("c2-t")
    incus("launch", image, name)
    conf = tmp_path / "incus"
    conf.mkdir()
    one = Learner(server, name, conf)
    one.token = fresh_token(server)
    try:
        yield one
    finally:
        one.close()
        second(server.incus_dir, "delete", name, "--force", check=False)
        delete_instance(name)


def test_following_the_chapter_in_order_gives_the_full_score(learner: Learner) -> None:
    watcher = learner.watch()
    try:
        follow_the_chapter(learner)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)


def follow_the_chapter(learner: Learner) -> None:
    for step in ORDER:
        commands = CHAPTER.step(step).commands
        before = learner.grade()[step]
        assert before.status is Status.FAILED and before.hint is not None, (step, before)
        for command in commands:
            learner.incus(command)
            if step == "refresh" and command == commands[0]:
                assert learner.grade()[step].status is Status.FAILED  # a new snapshot alone is not the refresh
            if step == "refresh" and command == commands[1]:
                # The refresh itself earns its points; it wrote the primary's config over the copy's, so
                # boot.autostart must be set again (the chapter's last command).
                now = learner.grade()
                assert now[step].passed and now["autostart"].diagnosis == "autostart_lost_on_refresh", now["autostart"]
        after = learner.grade()
        assert after[step].status is Status.PASSED, (step, after[step])
        if step == "copy":
            learner.wait_journaled("instance-migrated")  # `labkit watch` is another process: its write may lag
        by_command = learner.command_check(step)
        assert by_command.returncode == 0, (step, by_command.stdout, by_command.stderr[-1500:])
        assert after[step].message.render("fr") != after[step].message.render("en")
    final = learner.grade()
    assert all(r.passed for r in final.values()), {s: r.diagnosis for s, r in final.items()}
    assert sum(r.points for r in final.values()) == 13
    # The snapshot copy was seen by the listener as the main daemon's instance-migrated of NAME/SNAP.
    assert any(e.action == "instance-migrated" and e.context.get("snapshot") == f"{learner.name}/ubuntu-test-1"
               for e in learner.events)
    # The command a learner types, checked after each step with one journal (as a learner would: a step
    # whose evidence a later step consumes counts once seen), gives the same full score on a pipe, and the
    # fast path's promise holds for this lab too: no httpx, click or rich (bench/second_lab.py times it).
    done = learner.command_check("--json")
    assert done.returncode == 0, done.stdout[-3000:]
    assert json.loads(done.stdout)["score"] == {"earned": 13, "possible": 13}
    heavy = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
             if line.startswith("import time:")} & {"httpx", "httpcore", "click", "rich", "yaml", "certifi"}
    assert not heavy, heavy
    # Back to the start: everything but the remote (its trust stays) fails again.
    CHAPTER.reset(learner.access, learner.params)
    learner.passed.clear()
    again = learner.grade()
    assert again["remote"].passed and not any(again[s].passed for s in ORDER[1:])


def test_near_misses(learner: Learner) -> None:
    def diagnosis(step: str) -> str | None:
        return learner.grade()[step].diagnosis

    learner.incus("incus remote add snapsrv {address} --token {token} --accept-certificate")
    assert diagnosis("remote") == "remote_other_name"
    learner.incus("incus remote rename snapsrv {remote}")
    assert learner.grade()["remote"].passed

    old = learner.incus("incus snapshot {container} {snapshot}", check=False)
    assert old.returncode == 1 and "unknown command" in old.stderr
    result = learner.grade()["snapshot"]
    assert result.diagnosis == "no_snapshot" and "unknown command" in result.hint.render("fr")
    learner.incus("incus snapshot create {container} {snapshot}")

    learner.incus("incus copy {container} {remote}:{container} --stateless")  # the whole instance
    assert diagnosis("copy") == "whole_instance_copied"
    learner.incus("incus delete {remote}:{container}")
    learner.incus("incus copy {container}/{snapshot} {remote}:{container}")
    assert learner.grade()["copy"].passed

    learner.incus("incus snapshot create {container}")
    again = learner.incus("incus copy {container}/{snapshot} {remote}:{container}", check=False)
    assert again.returncode == 1 and "UNIQUE constraint failed" in again.stderr
    result = learner.grade()["refresh"]
    assert result.diagnosis == "not_refreshed" and "UNIQUE constraint failed" in result.hint.render("en")
    whole = learner.incus("incus copy {container}/{snapshot} {remote}:{container} --refresh", check=False)
    assert whole.returncode == 1 and "--refresh can only be used with instances" in whole.stderr

    learner.incus("incus config set {container} boot.autostart=false")
    assert diagnosis("autostart") == "autostart_on_primary"
    learner.incus("incus config unset {container} boot.autostart")

    learner.incus("incus config set {container} snapshots.pattern=snap%d")
    assert diagnosis("pattern") == "pattern_without_date"
    bad = learner.incus("incus config set {container} snapshots.schedule=\"61 20 * * *\"", check=False)
    assert bad.returncode == 1 and "Error parsing schedule" in bad.stderr
    assert diagnosis("schedule") == "no_schedule"


def teardown_module() -> None:
    if TIMES:
        print("\n[times] " + ", ".join(f"{k}: median {statistics.median(v):.2f} s, "
                                       f"{min(v):.2f}–{max(v):.2f} s (n={len(v)})"
                                      for k, v in TIMES.items()))
