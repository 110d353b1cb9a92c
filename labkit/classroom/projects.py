"""A class's Incus projects: made or completed, their config changed, removed with all they hold.
Shared by the class's own projects (create.py) and its projects on the snapshot server
(second_server.py)."""
from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from ..incus import instances
from ..incus.client import IncusClient


class KnowsProjects(Protocol):
    """What a server looked like when the run began: its projects by name."""

    projects: dict[str, Any]


def ensure_project(client: IncusClient, state: KnowsProjects, name: str, config: dict[str, str],
                   description: str) -> None:
    if name not in state.projects:
        client.request("POST", "/1.0/projects", project=False,
                       json={"name": name, "description": description, "config": config})
    else:
        # features.* cannot change once a project holds instances; they are set at creation only.
        update_project(client, name, {k: v for k, v in config.items() if not k.startswith("features.")})


def update_project(client: IncusClient, name: str, changes: dict[str, str]) -> None:
    """PUT, not PATCH: Incus 6.0 resets the features a PATCH leaves out (and then refuses)."""
    current = client.request("GET", f"/1.0/projects/{quote(name)}", project=False) or {}
    config = dict(current.get("config") or {})
    if all(config.get(k) == v for k, v in changes.items()):
        return
    client.request("PUT", f"/1.0/projects/{quote(name)}", project=False,
                   json={"config": config | changes, "description": current.get("description", "")})


def delete_project(client: IncusClient, project: str) -> str:
    for inst in client.request("GET", "/1.0/instances", params={"project": project, "recursion": 1}) or []:
        if inst.get("status") != "Stopped":
            instances.change_state(client, inst["name"], "stop", project, force=True)
    # projects_force_delete (Incus ≥ 6.0): instances, images, volumes and profiles go with it.
    client.request("DELETE", f"/1.0/projects/{quote(project)}", params={"force": "true"}, project=False, timeout=300)
    return project
