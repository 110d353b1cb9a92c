"""Learners served by the hub reach Incus as themselves: over the class's HTTPS API on
loopback, with their own restricted certificate (never the local socket).

A class made without --listen has no HTTPS listener: `serve` then turns one on at
127.0.0.1:<free port> and records it on the class project the way `class create
--listen` does (user.labkit.listen, and .owner when it turned it on), so `class destroy`
turns it off again with the same code.  A server that already listens is used as it is,
through loopback when it listens on every address.
"""
from __future__ import annotations

import socket

from ..classroom.projects import update_project
from ..errors import IncusRequestFailed, SetupError
from ..i18n import M
from ..incus.client import IncusClient
from ..keys import LISTEN_KEY, LISTEN_OWNER_KEY


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def loopback_address(listen: str) -> str:
    """Where a process on this machine reaches an address Incus listens on."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        host, port = listen, "8443"
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def ensure_learner_api(client: IncusClient, cls: str) -> str:
    """The address learners on this machine use (host:port), turning on a loopback listener if needed."""
    current = (client.server().get("config") or {}).get("core.https_address") or ""
    if current:
        # Recorded (not as owner) so that, if another class turned it on, destroying that
        # class hands the listener over to this one instead of turning it off under us.
        project = client.request("GET", f"/1.0/projects/{cls}", project=False) or {}
        if not (project.get("config") or {}).get(LISTEN_KEY):
            update_project(client, cls, {LISTEN_KEY: current})
        return loopback_address(current)
    listen = f"127.0.0.1:{free_port()}"
    update_project(client, cls, {LISTEN_KEY: listen, LISTEN_OWNER_KEY: "true"})
    try:
        client.request("PATCH", "/1.0", json={"config": {"core.https_address": listen}}, project=False)
    except IncusRequestFailed as exc:
        raise SetupError(M("hub.access.listen_failed", "Incus could not listen on {address} for the learners "
                                                       "served by the hub: {detail}",
                           address=listen, detail=str(exc))) from exc
    return listen
