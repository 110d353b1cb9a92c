"""`labkit check` as a command: the console script's fast path, against answers recorded from a real daemon.

The fast path (entry.py) must print what the click command prints, exit with the same
code, and import neither click, httpx, rich (on a pipe) nor PyYAML: each test here
fails if one of those guards is removed.
"""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.entry import parse_check

from .fake_incus import FakeIncus

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"click", "httpx", "httpcore", "h11", "ssl", "rich", "pygments", "yaml", "certifi", "anyio"}
# The official client's config.yml as `incus` writes it (default remote: the local socket).
CONFIG = ("default-remote: local\nremotes:\n  images:\n    addr: https://images.linuxcontainers.org\n"
          "    protocol: simplestreams\n    public: true\n  local:\n    addr: unix://\n    protocol: incus\n"
          "    public: false\naliases: {}\n")


@pytest.fixture
def daemon(tmp_path: Path):
    """A fake daemon in $INCUS_DIR and a client config folder in incus' shape: what find_endpoint reads."""
    incus_dir, conf = tmp_path / "incus", tmp_path / "conf"
    incus_dir.mkdir()
    conf.mkdir()
    (conf / "config.yml").write_text(CONFIG)
    with FakeIncus(incus_dir / "unix.socket") as fake:
        fake.env = {**{k: v for k, v in os.environ.items()
                       if k not in ("INCUS_SOCKET", "LANG", "LC_ALL", "LC_MESSAGES")},
                    "INCUS_DIR": str(incus_dir), "INCUS_CONF": str(conf), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        fake.tmp = tmp_path
        yield fake


def start(daemon: FakeIncus, *args: str, program: list[str] | None = None, journal: str = "j.json",
          extra: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    cmd = [sys.executable, *(extra or ()), *(program or ["-m", "labkit"]), "--journal", str(daemon.tmp / journal),
           *args]
    return subprocess.Popen(cmd, env=daemon.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def labkit(daemon: FakeIncus, *args: str, program: list[str] | None = None, journal: str = "j.json",
           extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return finish(start(daemon, *args, program=program, journal=journal, extra=extra))


def imported(stderr: str) -> set[str]:
    """Top-level packages in a -X importtime listing."""
    return {line.split("|")[-1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:")}


def test_the_fast_path_takes_only_the_plain_forms_of_check() -> None:
    parsed = parse_check(["--lang", "fr", "--container=c1", "check", "snapshot", "--json", "touch", "-v"])
    assert parsed == {"lang": "fr", "lab": None, "container": "c1", "snapshot": None, "project": None, "journal": None,
                      "steps": ("snapshot", "touch"), "as_json": True, "verbose": True}
    assert parse_check(["--journal", "/tmp/j", "check"])["journal"] == Path("/tmp/j")
    for argv in (["check", "--help"], ["check", "-h"], ["--help"], [], ["hint", "snapshot"], ["--lang", "de", "check"],
                 ["--container"], ["--container", "check"], ["--container", "", "check"],
                 ["--lang", "fr", "--lang", "en", "check"],
                 ["--nope", "x", "check"], ["check", "--", "touch"], ["check", "--json=1"], ["-h", "check"],
                 ["--container", "-x", "check"], ["class", "check"]):
        assert parse_check(argv) is None, argv


def test_a_check_on_a_pipe_imports_neither_click_httpx_rich_nor_yaml(daemon: FakeIncus) -> None:
    done = labkit(daemon, "--container", "ubuntu-test", "check", "snapshot", "touch", extra=("-X", "importtime"))
    assert done.returncode == 0, done.stderr
    assert "✔ passed  touch" in done.stdout
    assert not imported(done.stderr) & HEAVY, imported(done.stderr) & HEAVY
    assert "GET /1.0/instances/ubuntu-test?project=default" in daemon.requests


# What a check in English uses none of: concurrent.futures (and logging with it), the other chapter,
# gettext (English needs no catalogue), html (the notebook's markup), socket.py (the C module serves).
NOT_NEEDED = {"concurrent.futures", "logging", "labkit.labs.snapshot_server.steps", "gettext", "html", "socket"}


def test_a_check_in_english_imports_only_what_it_uses(daemon: FakeIncus) -> None:
    # sys.modules at exit: -X importtime does not list what importlib.import_module loads.
    probe = ("import atexit, sys; atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr)); "
             "sys.argv[0] = 'labkit'; from labkit.entry import main; main()")
    done = labkit(daemon, "--lang", "en", "--container", "ubuntu-test", "check", "snapshot", "touch",
                  program=["-c", probe])
    assert done.returncode == 0, done.stderr
    modules = set(next(line for line in done.stderr.splitlines() if line.startswith("MODULES ")).split()[1:])
    assert "labkit.labs.snapshots.steps" in modules and not modules & NOT_NEEDED, modules & NOT_NEEDED


def test_on_a_terminal_the_check_uses_rich(daemon: FakeIncus) -> None:
    leader, follower = pty.openpty()
    cmd = [sys.executable, "-X", "importtime", "-m", "labkit", "--journal", str(daemon.tmp / "j.json"),
           "--container", "ubuntu-test", "check", "snapshot", "touch"]
    proc = subprocess.Popen(cmd, env={**daemon.env, "TERM": "xterm-256color", "COLUMNS": "100"}, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE, text=True)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, err = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, err
    assert b"\x1b[" in out and "rich" in imported(err)


@pytest.mark.parametrize("args, code", [
    (("--container", "ubuntu-test", "check", "snapshot", "touch"), 0),
    (("--lang", "fr", "--container", "ubuntu-test", "check"), 1),
    (("--lang", "en", "--container", "ubuntu-test", "check", "--verbose"), 1),
    (("--lang", "fr", "--container", "ubuntu-test", "check", "--json", "touch", "stop"), 1),
    (("--lang", "fr", "--container", "lk-no-such-instance", "check"), 2),
    (("--container", "ubuntu-test", "check", "snapshots"), 2),
])
def test_the_fast_path_prints_what_the_click_command_prints(
        daemon: FakeIncus, args: tuple[str, ...], code: int) -> None:
    # Both at once, on two CPUs: each has its own journal (the only file a check writes), and the fake
    # daemon answers each connection in a thread of its own.
    running = (start(daemon, *args, journal="fast.json"),
               start(daemon, *args, journal="click.json", program=["-c", "from labkit.cli.main import main; main()"]))
    fast, click = (finish(proc) for proc in running)
    assert fast.returncode == code, fast.stderr
    # Evidence quotes the time of the look ("running at 07:32:53 UTC"): the two runs are seconds apart.
    same = lambda text: re.sub(r"\d\d:\d\d:\d\d", "HH:MM:SS", text)  # noqa: E731
    assert (fast.returncode, same(fast.stdout), fast.stderr) == (click.returncode, same(click.stdout), click.stderr)
