"""Each learner's workspace: an Incus container of their own where their JupyterLab runs.

A workspace lives in the class project, which no learner certificate reaches (theirs are
restricted to their own project), so a learner can neither change its limits or devices nor
delete it.  It has no network interface; its only ways out are proxy devices, whose
host-side sockets incusd holds:

- `lab`: the host's loopback port P → the workspace's JupyterLab (127.0.0.1:8888 inside),
  where the hub's proxy sends the learner's browser;
- `incus`: the workspace's 127.0.0.1:8443 → the class's HTTPS API, which the learner's own
  `incus` reaches with their restricted certificate (~/.config/incus, default remote set);
- `hub`: the workspace's 127.0.0.1:8081 → the hub's API, which JupyterLab needs to check
  logins (the learner's own hub token is all it carries there);
- and, for each server the lab declares (the snapshot server's id is `snapshot-server`), a device
  named by its id: its port on the workspace's loopback → that server, so the learner's
  `incus remote add` line works as given.

The hub runtime is attached read-only; the learner's notebooks, journal and files live in
the workspace's own root disk (`security.idmap.isolated`, with the class's size limit).
Root writes into a workspace only when it creates it, through the Incus API, before the
learner has ever had it: nothing root does later follows a path a learner can write.
"""
from __future__ import annotations

import hashlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from ..errors import IncusRequestFailed, SetupError
from ..i18n import M, Message
from ..incus import certs, instances
from ..incus.client import IncusClient
from .runtime import RUNTIME
from .workspace_image import HOME, LEARNER_UID, RUNTIME_MOUNT

LAB_PORT = 8888  # JupyterLab inside every workspace
API_PORT = 8443  # the class's Incus API, inside
HUB_PORT = 8081  # the hub's API, inside
WORKERS = 8
CONFIG_DIR = f"{HOME}/.config/incus"


def workspace_name(learner: str) -> str:
    """An instance name (letters, digits, hyphens) that only this learner's name gives."""
    plain = learner.lower().replace(".", "-")
    if plain == learner.lower():
        return f"ws-{plain}"
    return f"ws-{plain}-{hashlib.sha256(learner.encode()).hexdigest()[:6]}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Wiring:
    """Where a workspace's proxy devices lead on the host (the hub's port changes between serves)."""

    api: str  # host:port of the class's HTTPS API, from this machine
    hub_port: int
    # (server id, host:port) of each server the lab declares, reached at the same port inside.
    servers: tuple[tuple[str, str], ...] = ()


def devices(wiring: Wiring, lab_port: int) -> dict[str, dict[str, str]]:
    return {
        "lab": {"type": "proxy", "bind": "host", "listen": f"tcp:127.0.0.1:{lab_port}",
                "connect": f"tcp:127.0.0.1:{LAB_PORT}"},
        "incus": {"type": "proxy", "bind": "container", "listen": f"tcp:127.0.0.1:{API_PORT}",
                  "connect": f"tcp:{wiring.api}"},
        "hub": {"type": "proxy", "bind": "container", "listen": f"tcp:127.0.0.1:{HUB_PORT}",
                "connect": f"tcp:127.0.0.1:{wiring.hub_port}"},
        "runtime": {"type": "disk", "source": str(RUNTIME), "path": RUNTIME_MOUNT, "readonly": "true"},
    } | {server: {"type": "proxy", "bind": "container", "connect": f"tcp:{address}",
                  "listen": f"tcp:127.0.0.1:{address.rpartition(':')[2]}"} for server, address in wiring.servers}


def lab_port(instance: dict[str, Any]) -> int | None:
    """The host port of a workspace's JupyterLab, from its `lab` device (incusd holds it)."""
    listen = ((instance.get("devices") or {}).get("lab") or {}).get("listen", "")
    port = listen.rpartition(":")[2]
    return int(port) if port.isdigit() else None


@dataclass(frozen=True)
class Files:
    """What a new workspace is given: the class's notebooks and the learner's Incus client folder."""

    home: dict[str, bytes]  # path under the learner's home -> content (notebooks, JupyterLab settings)
    access: Path  # the learner's access folder on the instructor's side (client.crt, client.key, servercerts/)
    remote: str  # the class's remote name
    project: str  # the learner's project
    extra: dict[str, bytes]  # other files for the client folder (the line of each server the lab declares)


def _push(client: IncusClient, project: str, name: str, path: str, content: bytes | None, mode: int) -> None:
    headers = {"X-Incus-uid": str(LEARNER_UID), "X-Incus-gid": str(LEARNER_UID), "X-Incus-mode": f"{mode:04o}",
               "X-Incus-type": "directory" if content is None else "file"}
    answer = client.raw("POST", f"/1.0/instances/{quote(name)}/files", params={"project": project, "path": path},
                        content=content or b"", headers=headers, timeout=60)
    if answer.status_code >= 400:
        raise SetupError(M("hub.workspace.push_failed", "The file {path} could not be put into the "
                                                        "workspace {name}: {detail}",
                           path=path, name=name, detail=answer.text[:300]))


def give_files(client: IncusClient, project: str, name: str, files: Files) -> None:
    config = certs.config_yml(files.remote, f"127.0.0.1:{API_PORT}", files.project).encode()
    for folder in (f"{HOME}/.config", CONFIG_DIR, f"{CONFIG_DIR}/servercerts"):
        _push(client, project, name, folder, None, 0o700)
    folders = sorted({str(parent) for relative in files.home for parent in Path(relative).parents
                      if str(parent) != "."}, key=len)
    for folder in folders:
        _push(client, project, name, f"{HOME}/{folder}", None, 0o755)
    for relative, content in files.home.items():
        _push(client, project, name, f"{HOME}/{relative}", content, 0o644)
    wanted = {"client.crt": (files.access / "client.crt").read_bytes(),
              "client.key": (files.access / "client.key").read_bytes(),
              f"servercerts/{files.remote}.crt": (files.access / "servercerts" / f"{files.remote}.crt").read_bytes(),
              "config.yml": config, **files.extra}
    for file_name, content in wanted.items():
        _push(client, project, name, f"{CONFIG_DIR}/{file_name}", content, 0o600)


def create(client: IncusClient, project: str, name: str, *, image: str, config: dict[str, str], root: dict[str, str],
           wiring: Wiring, files: Files, target: str | None = None) -> None:
    """A new workspace, started, with its files; a half-made one (killed serve) is made again."""
    body = {"name": name, "type": "container", "source": {"type": "image", "alias": image},
            "config": config | {"user.labkit.workspace": "incomplete"},
            "devices": devices(wiring, free_port()) | {"root": root}}
    # On a cluster, on the member the hub talks to: its proxy reaches the workspace's loopback port there.
    params = {"project": project} | ({"target": target} if target else {})
    client.request("POST", "/1.0/instances", params=params, json=body, timeout=300)
    instances.change_state(client, name, "start", project)
    give_files(client, project, name, files)
    patch(client, project, name, {"config": {"user.labkit.workspace": "ready"}})


def patch(client: IncusClient, project: str, name: str, changes: dict[str, Any]) -> None:
    client.request("PATCH", f"/1.0/instances/{quote(name)}", params={"project": project}, json=changes)


def rewire(client: IncusClient, project: str, instance: dict[str, Any], wiring: Wiring, limits: dict[str, str],
           root: dict[str, str]) -> None:
    """The hub's port and the API address may change between serves, the class's limits too."""
    wanted = devices(wiring, lab_port(instance) or free_port()) | {"root": root}
    current = instance.get("devices") or {}
    changed_devices = {k: v for k, v in wanted.items() if current.get(k) != v and k != "lab"}
    changed_config = {k: v for k, v in limits.items() if (instance.get("config") or {}).get(k) != v}
    if changed_devices or changed_config:
        patch(client, project, instance["name"], {"devices": current | changed_devices, "config": changed_config})


def ensure_running(client: IncusClient, project: str, name: str) -> int:
    """Start the workspace if it is not running; its JupyterLab's host port.  A port another
    program took while the workspace was stopped is replaced by a free one."""
    instance = client.request("GET", f"/1.0/instances/{quote(name)}", params={"project": project}) or {}
    if instance.get("status") == "Running":
        return lab_port(instance) or 0
    try:
        instances.change_state(client, name, "start", project)
    except IncusRequestFailed as exc:
        if "address already in use" not in str(exc).lower():
            raise
        lab = dict((instance.get("devices") or {})["lab"]) | {"listen": f"tcp:127.0.0.1:{free_port()}"}
        patch(client, project, name, {"devices": (instance.get("devices") or {}) | {"lab": lab}})
        instances.change_state(client, name, "start", project)
        instance = client.request("GET", f"/1.0/instances/{quote(name)}", params={"project": project}) or {}
    return lab_port(instance) or 0


def ensure_all(client: IncusClient, project: str, wanted: dict[str, Files], *, image: str, config: dict[str, str],
               root: dict[str, str], wiring: Wiring, say: Callable[[Message], None]) -> dict[str, int]:
    """Every learner's workspace made (the missing ones), wired and started: learner -> host port."""
    environment = client.server().get("environment") or {}
    target = environment.get("server_name") if environment.get("server_clustered") else None
    present = {i["name"]: i for i in client.request("GET", "/1.0/instances",
                                                    params={"project": project, "recursion": 1}) or []}
    started = time.monotonic()

    def one(learner: str) -> int:
        name = workspace_name(learner)
        instance = present.get(name)
        if instance is not None and (instance.get("config") or {}).get("user.labkit.workspace") != "ready":
            instances.delete(client, name, project)  # a serve killed while making it: made again, whole
            instance = None
        if instance is None:
            create(client, project, name, image=image, config=config, root=root, wiring=wiring, files=wanted[learner],
                   target=target)
        else:
            rewire(client, project, instance, wiring, config, root)
        return ensure_running(client, project, name)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        ports = dict(zip(wanted, pool.map(one, wanted)))
    say(M("hub.workspace.ready", "{count} workspaces running ({seconds} s).", count=len(ports),
          seconds=round(time.monotonic() - started, 1)))
    return ports


def stop(client: IncusClient, project: str, name: str) -> None:
    """Stop a workspace: its JupyterLab, kernels and terminals end, its files stay."""
    path = f"/1.0/instances/{quote(name)}/state"
    try:  # a clean shutdown first (JupyterLab saves what it can), then no more waiting
        client.request("PUT", path, params={"project": project}, json={"action": "stop", "timeout": 10}, timeout=30)
    except IncusRequestFailed:
        client.request("PUT", path, params={"project": project}, json={"action": "stop", "force": True}, timeout=60)
