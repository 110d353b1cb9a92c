"""A real three-member Incus cluster for the tests of this folder (scripts/cluster.py).

Formed once per session (about 6-15 s), removed at the end of the session, and also
by an atexit hook and on SIGTERM/SIGHUP, so that a failed or interrupted run leaves
no daemon, namespace, bridge, mount or folder behind.  The machine's main daemon is
never touched.  In CI (CI=true) what the cluster needs must be there: a missing part
is a failure, never a skip.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from scripts.cluster import IMAGE_ALIAS, IMAGE_CACHE, INCUSD, Cluster

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster


def require_cluster_parts() -> None:
    missing = [what for what, ok in (
        ("root", os.geteuid() == 0), (INCUSD, os.access(INCUSD, os.X_OK)),
        ("nsenter", shutil.which("nsenter") is not None), ("ip", shutil.which("ip") is not None),
        (f"labkit's image, in its cache {IMAGE_CACHE} or the main daemon (run `labkit setup`)", image_available()))
        if not ok]
    if not missing:
        return
    message = "an Incus cluster test needs: " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def image_available() -> bool:
    if (IMAGE_CACHE / "rootfs.tar.gz").exists():
        return True
    main = {k: v for k, v in os.environ.items() if not k.startswith("INCUS_")}
    found = subprocess.run(["incus", "image", "info", IMAGE_ALIAS], env=main, capture_output=True, text=True)
    return found.returncode == 0


class Cleanup:
    """Removes the clusters it was given exactly once, from whichever path comes first."""

    def __init__(self) -> None:
        self.clusters: list[Cluster] = []
        self.previous: dict[int, object] = {}
        atexit.register(self.run)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self.previous[sig] = signal.signal(sig, self._on_signal)

    def add(self, cluster: Cluster) -> Cluster:
        self.clusters.append(cluster)
        return cluster

    def run(self) -> list[str]:
        problems = []
        while self.clusters:
            problems += self.clusters.pop().down()
        return problems

    def _on_signal(self, signum: int, frame: object) -> None:
        self.run()
        signal.signal(signum, self.previous.get(signum) or signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@pytest.fixture(scope="session")
def cleanup() -> Cleanup:
    return Cleanup()


@pytest.fixture(scope="session")
def cluster(cleanup: Cleanup) -> Iterator[Cluster]:
    """Three members m1, m2, m3, a dir pool on each, labkit's image; labkit talks to m1's socket."""
    require_cluster_parts()
    made = cleanup.add(Cluster.new(3))
    made.up()
    yield made
    cleanup.clusters.remove(made)
    problems = made.down()
    assert not problems and not any(made.leftovers().values()), (problems, made.leftovers())


def unique(prefix: str = "lkcl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def labkit(cluster: Cluster, *args: str, lang: str = "en", env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `labkit` command, talking to the cluster through member 1's socket."""
    full = {**os.environ, "INCUS_SOCKET": cluster.members[0].socket, **(env or {})}
    return subprocess.run([sys.executable, "-m", "labkit", "--lang", lang, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=full, timeout=timeout, cwd=ROOT)
