"""A learner who follows the printed chapter in a terminal and checks once, at the end (issue 14).

The instance is made by `labkit setup`, as the learner's is, and the chapter's commands are
typed as printed, `incus shell` included, through a real pseudo-terminal.  With the event
recorder that setup leaves running, every step is proven; without it, nothing is failed.
"""
from __future__ import annotations

import json
import os
import pty
import select
import time
from pathlib import Path

import pytest

from .conftest import ROOT, delete_instance, incus, labkit, unique

SNAP = "ubuntu-test-1"
CHAPTER_SOURCE = ROOT / "notebooks" / "source" / "snapshots.md"
# The commands the learner types, in the chapter's order (each is checked to be printed there).
BEFORE_SHELL = ["incus snapshot create ubuntu-test ubuntu-test-1", "incus info ubuntu-test"]
SHELL = "incus shell ubuntu-test"
IN_SHELL = ["touch this_file.txt", "exit"]
AFTER_SHELL = ["incus stop ubuntu-test", "incus snapshot restore ubuntu-test ubuntu-test-1",
               "incus start ubuntu-test", "incus snapshot delete ubuntu-test ubuntu-test-1"]


def test_the_commands_typed_here_are_the_printed_ones() -> None:
    printed = CHAPTER_SOURCE.read_text(encoding="utf-8")
    for command in BEFORE_SHELL + [SHELL] + AFTER_SHELL:
        assert command in printed, command
    for command in IN_SHELL:
        assert f"`{command}`" in printed, command


def type_in_shell(name: str, lines: list[str], timeout: float = 60) -> str:
    """`incus shell NAME` on a real pseudo-terminal: wait for the prompt, type each line."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes `incus shell` with the pty as its terminal
        os.execvp("incus", ["incus", *on(name, SHELL)])
    seen, deadline = b"", time.monotonic() + timeout
    try:
        for line in lines:
            seen += _read_until(fd, lambda text: text.rstrip().endswith((b"#", b"$")), deadline)
            os.write(fd, line.encode() + b"\r")
            time.sleep(0.2)
        seen += _read_until(fd, lambda text: False, deadline)  # until the shell exits (EOF)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace")


def _read_until(fd: int, done, deadline: float) -> bytes:
    got = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if got and done(got):
                return got
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side of the pty closed
            return got
        if not chunk:
            return got
        got += chunk
    raise AssertionError(f"timed out in incus shell; saw: {got.decode(errors='replace')!r}")


def on(name: str, command: str) -> list[str]:
    """The printed command's arguments, on the test's own instance (never the shared ubuntu-test)."""
    words = command.split()
    assert words[0] == "incus" and words[2 if words[1] == "snapshot" else 1:].count("ubuntu-test") >= 1, command
    args = [name if word == "ubuntu-test" else word for word in words[1:]]
    assert "ubuntu-test" not in args
    return args


def follow_the_chapter(name: str) -> None:
    for command in BEFORE_SHELL:
        incus(*on(name, command))
    # The snapshot's time and the file's are compared to the second (docs/incus-facts.md §3b); a
    # learner reading the next paragraph takes longer than this.
    time.sleep(1.1)
    type_in_shell(name, IN_SHELL)
    for command in AFTER_SHELL:
        incus(*on(name, command))


@pytest.fixture
def learner(tmp_path: Path, image: str):
    """A learner's own state folder, and an instance made by `labkit setup`, deleted afterwards."""
    name = unique("lk-pc")
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "LABKIT_TEST_IMAGE": image}
    try:
        yield name, env
    finally:
        labkit("--container", name, "record", "--stop", env=env)
        delete_instance(name)


def setup(name: str, env: dict[str, str], image: str, *extra: str) -> None:
    done = labkit("--container", name, "setup", "--yes", "--image", image, *extra, env=env, timeout=300)
    assert done.returncode == 0, done.stderr


def check(name: str, env: dict[str, str], lang: str) -> dict:
    done = labkit("--lang", lang, "--container", name, "check", "--json", env=env)
    assert done.returncode in (0, 1) and done.stdout, (done.returncode, done.stderr)
    return json.loads(done.stdout)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_with_the_recorder_setup_leaves_every_step_is_proven(learner, image: str, lang: str) -> None:
    name, env = learner
    setup(name, env, image)
    doctor = labkit("--lang", lang, "--container", name, "doctor", env=env)
    assert "recorder" in doctor.stdout and "✔ recorder" in doctor.stdout, doctor.stdout
    follow_the_chapter(name)
    report = check(name, env, lang)
    by_step = {s["id"]: s for s in report["steps"]}
    assert report["score"] == {"earned": 12, "possible": 12}, \
        {s: (v["status"], v["message"]) for s, v in by_step.items()}
    for step in by_step.values():
        assert step["status"] == "passed" and step["evidence"], step
    assert SNAP in " ".join(by_step["snapshot"]["evidence"])
    # The touch is proven by what the recorder saw of the file before the restore.
    recorder_word = "event recorder" if lang == "en" else "enregistreur d’événements"
    assert recorder_word in by_step["touch"]["evidence"][0]
    # The doctor counts what it recorded.
    doctor = labkit("--lang", "en", "--container", name, "doctor", "--json", env=env)
    assert doctor.stdout, doctor.stderr
    line = next(c for c in json.loads(doctor.stdout)["checks"] if c["id"] == "recorder")
    assert line["ok"] and " 5 event(s)" in line["message"], line


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_without_the_recorder_no_step_is_failed(learner, image: str, lang: str) -> None:
    name, env = learner
    setup(name, env, image, "--no-recorder")
    follow_the_chapter(name)
    report = check(name, env, lang)
    by_step = {s["id"]: s for s in report["steps"]}
    assert not [s for s in by_step.values() if s["status"] == "failed"], by_step
    for step in ("restore", "start", "cleanup"):
        assert by_step[step]["status"] == "passed", by_step[step]
    for step in ("snapshot", "touch", "stop", "verify"):
        assert by_step[step]["status"] == "not_verified" and by_step[step]["hint"], by_step[step]
        assert "labkit setup" in by_step[step]["hint"]
    assert report["score"]["earned"] == 7


@pytest.mark.parametrize("lang, words", [("en", "Take a snapshot"), ("fr", "instantané")])
def test_checking_restore_first_on_a_fresh_instance_says_take_the_snapshot_first(
        instance: str, tmp_path: Path, lang: str, words: str) -> None:
    """Issue 9: the “do this first” message names the first step not done, not the one just before."""
    done = labkit("--lang", lang, "--container", instance, "--journal", str(tmp_path / "j.json"),
                  "check", "--json", "restore")
    assert done.returncode == 1, done.stderr
    step = json.loads(done.stdout)["steps"][0]
    assert step["status"] == "failed" and words in step["message"], step
    assert "incus snapshot" in step["hint"]
