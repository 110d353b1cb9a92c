"""Bad input and faults of `labkit class serve`: one paragraph in the user's language, exit 2,
never a traceback, nothing lost (a killed learner server, a hub killed with -9, a workspace stopped
by the idle culler: each comes back with the learner's files)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from .conftest import ServedClass, in_workspace, labkit, require_hub, served_class

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedClass]:
    # Stopped after a minute without activity: the idle culler's test below waits for it.
    with served_class(tmp_path_factory.mktemp("hub-faults"), learners=1, prefix="lkf", workspace="idle=1") as cls:
        yield cls


def login(cls: ServedClass, who: str) -> httpx.Client:
    row = cls.credentials()[who]
    client = httpx.Client(base_url=cls.url, follow_redirects=True, timeout=180)
    client.get("hub/login")
    done = client.post("hub/login?next=", data={"username": row["login"], "password": row["password"],
                                                "_xsrf": client.cookies.get("_xsrf")})
    assert done.status_code == 200, done.status_code
    return client


def wait_lab(client: httpx.Client, url: str) -> httpx.Response:
    for _ in range(120):
        answer = client.get(url)
        if answer.status_code == 200 and "/lab" in str(answer.url):
            return answer
        time.sleep(1)
    raise AssertionError(f"no JupyterLab at {url}: {answer.status_code} {answer.url}")


@pytest.mark.parametrize("lang, words", [("en", "There is no class"), ("fr", "Il n’y a pas de classe")])
def test_unknown_class(tmp_path: Path, lang: str, words: str) -> None:
    require_hub()
    done = labkit("serve", "no-such-class-here", folder=tmp_path, lang=lang)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_port_taken(hub: ServedClass) -> None:
    done = labkit("serve", hub.name, "--listen", "127.0.0.1:1", folder=hub.root)
    assert done.returncode == 2 and "already being served" in done.stderr, done.stderr  # one hub per class
    hub.stop()
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            for lang, words in (("en", "already in use"), ("fr", "déjà utilisée")):
                done = labkit("serve", hub.name, "--listen", f"127.0.0.1:{port}", folder=hub.root, lang=lang)
                assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
    finally:
        hub.serve()


def mark_notebook(hub: ServedClass) -> None:
    done = in_workspace(hub, "learner01",
                        "sed -i 's/Incus container snapshots/Incus container snapshots (mine)/' ~/snapshots.ipynb")
    assert done.returncode == 0, done.stderr


def notebook_is_mine(hub: ServedClass) -> bool:
    return "(mine)" in in_workspace(hub, "learner01", "cat ~/snapshots.ipynb").stdout


def servers_of(hub: ServedClass) -> list[int]:
    """The PIDs of learner01's single-user server, found by the workspace's cgroup."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if b"jupyterhub-singleuser" in (proc / "cmdline").read_bytes() and \
                    f"lxc.payload.{hub.name}_ws-learner01" in (proc / "cgroup").read_text():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def test_a_killed_learner_server_restarts_with_its_notebook(hub: ServedClass) -> None:
    client = login(hub, "learner01")
    wait_lab(client, "hub/spawn")
    mark_notebook(hub)
    servers = servers_of(hub)
    assert servers
    for pid in servers:
        os.kill(pid, signal.SIGKILL)
    time.sleep(2)
    page = wait_lab(client, "hub/spawn")  # what the hub page's “Start My Server” does
    assert "/user/" in str(page.url)
    assert notebook_is_mine(hub)


def test_a_hub_killed_with_kill_9_resumes(hub: ServedClass) -> None:
    password = hub.credentials()["learner01"]["password"]
    os.kill(hub.hub_pid(), signal.SIGKILL)
    assert hub.process.wait(timeout=60) == 2
    said = "".join(hub.output)
    assert "The hub was killed (signal 9)" in said and "Traceback" not in said, said
    hub.process = None
    hub.serve()
    assert hub.credentials()["learner01"]["password"] == password
    client = login(hub, "learner01")
    wait_lab(client, "hub/spawn")


def workspace_status(hub: ServedClass) -> str:
    listed = subprocess.run(["incus", "list", "ws-learner01", "--project", hub.name, "--format", "json"],
                            capture_output=True, text=True, check=True)
    return json.loads(listed.stdout)[0]["status"]


def test_an_idle_workspace_is_stopped_and_comes_back_with_its_files(hub: ServedClass) -> None:
    client = login(hub, "learner01")
    wait_lab(client, "hub/spawn")
    mark_notebook(hub)
    client.close()  # the learner leaves: no more activity
    deadline = time.monotonic() + 300
    while workspace_status(hub) != "Stopped" and time.monotonic() < deadline:
        time.sleep(5)
    assert workspace_status(hub) == "Stopped", "the idle culler did not stop the workspace within 5 min"
    client = login(hub, "learner01")
    wait_lab(client, "hub/spawn")
    assert workspace_status(hub) == "Running" and notebook_is_mine(hub)
