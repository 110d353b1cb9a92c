"""Fixtures for tests on a real Incus daemon.

Each test gets its own uniquely named instance and removes it even on failure; a
learner's `ubuntu-test` is never touched.  In CI (CI=true) a missing daemon is a
failure, never a skip.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from labkit.incus.client import SYSTEM_SOCKET
from labkit.incus.instances import wait_until_booted
from labkit.provision.daemon import daemon_answers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def require_daemon() -> None:
    if daemon_answers(SYSTEM_SOCKET):
        return
    message = f"no Incus daemon answers on {SYSTEM_SOCKET}: run `labkit setup` (or .ci/run) first"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def incus(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["incus", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"incus {' '.join(args)} failed: {result.stderr}")
    return result


def test_image() -> str:
    if os.environ.get("LABKIT_TEST_IMAGE"):
        return os.environ["LABKIT_TEST_IMAGE"]
    aliases = json.loads(incus("image", "alias", "list", "--format", "json").stdout)
    names = sorted(a["name"] for a in aliases)
    local = [n for n in names if n.startswith("labkit/")]
    if local or names:
        return (local or names)[0]
    return "images:ubuntu/24.04"


test_image.__test__ = False  # a helper, not a test


def unique(prefix: str = "lk-t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def delete_instance(name: str, project: str = "default") -> None:
    incus("delete", name, "--force", "--project", project, check=False)


@pytest.fixture(scope="session")
def image() -> str:
    require_daemon()
    return test_image()


@pytest.fixture
def instance(image: str) -> Iterator[str]:
    """A fresh running instance, named uniquely, deleted afterwards."""
    name = unique()
    incus("launch", image, name)
    try:
        wait_until_booted(name)
        yield name
    finally:
        delete_instance(name)


def labkit(*args: str, env: dict[str, str] | None = None, user: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `labkit` command, as a learner would."""
    full_env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "labkit", *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *_interpreter_for(user, full_env), "-m", "labkit", *args]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT)


def _interpreter_for(user: str, env: dict[str, str]) -> list[str]:
    """The venv's interpreter may live in root's home, out of another user's reach:
    then use the system's Python of the same version, with our packages on its path."""
    if subprocess.run(["runuser", "-u", user, "--", "test", "-x", os.path.realpath(sys.executable)]).returncode == 0:
        return [sys.executable]
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not os.path.exists(system):
        pytest.fail(f"no Python that {user} may run: install Debian's python3 ({system})")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    return [system, "-s"]


def check_json(name: str, journal: Path, lang: str, *steps: str) -> tuple[int, dict]:
    result = labkit("--lang", lang, "--container", name, "--journal", str(journal), "check", "--json", *steps)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


# -- CPU pressure: the grade must not depend on how busy the server is (issue 19) ------------------
def current_load() -> float:
    return os.getloadavg()[0]


@contextmanager
def stress_every_core(seconds: int) -> Iterator[subprocess.Popen]:
    """Debian's stress-ng on every core (`labkit setup --test-tools` installs it), started here, bounded
    by its own --timeout, stopped here by its process group (the one it leads): nothing else."""
    stress = shutil.which("stress-ng")
    if stress is None:
        message = "stress-ng is not installed: run “sudo labkit setup --test-tools” (or apt-get install stress-ng)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    proc = subprocess.Popen([stress, "--cpu", "0", "--timeout", f"{seconds}s", "--quiet"],  # --cpu 0: one per core
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while current_load() < (os.cpu_count() or 1) * 0.8 and time.monotonic() < deadline:
            time.sleep(1)
        print(f"\n[load] {current_load():.1f} on {os.cpu_count()} cores with stress-ng (PID {proc.pid})")
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        print(f"\n[load] stress-ng stopped; load {current_load():.1f}")


@pytest.fixture(scope="session", autouse=True)
def cpu_pressure_on_request() -> Iterator[None]:
    """LABKIT_CPU_PRESSURE=1: the whole run under stress-ng (at most LABKIT_CPU_PRESSURE_SECONDS, 1800)."""
    if os.environ.get("LABKIT_CPU_PRESSURE") not in ("1", "true", "yes"):
        yield
        return
    with stress_every_core(int(os.environ.get("LABKIT_CPU_PRESSURE_SECONDS") or 1800)):
        yield
