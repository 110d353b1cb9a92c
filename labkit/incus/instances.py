"""Starting, stopping, deleting an instance and waiting for its boot, through the API.

One place for it, used by setup, reset and classes: the API (not the `incus` CLI)
works the same on a local socket, a remote server or a cluster.
"""
from __future__ import annotations

from urllib.parse import quote

from ..errors import LabkitError
from .client import IncusClient, find_endpoint

# Waits for the instance's init to finish booting: until then systemd-tmpfiles may still
# clean /tmp, and an instance stopped during its boot can hang.  Images without systemd
# are not waited for.
BOOT_SCRIPT = ("command -v systemctl >/dev/null || exit 0; for i in $(seq 1 300); do "
               "s=$(systemctl is-system-running --wait 2>/dev/null); case \"$s\" in running|degraded) exit 0;; esac; "
               "sleep 0.2; done; exit 1")


def _params(project: str | None) -> dict[str, str] | None:
    return {"project": project} if project else None


def change_state(client: IncusClient, name: str, action: str, project: str | None = None, force: bool = False) -> None:
    client.request("PUT", f"/1.0/instances/{quote(name)}/state", params=_params(project), timeout=90,
                   json={"action": action, "force": force, "timeout": 60})


def delete(client: IncusClient, name: str, project: str | None = None) -> None:
    data = client.request("GET", f"/1.0/instances/{quote(name)}", params=_params(project)) or {}
    if data.get("status") != "Stopped":
        change_state(client, name, "stop", project, force=True)
    client.request("DELETE", f"/1.0/instances/{quote(name)}", params=_params(project), timeout=120)


def wait_booted(client: IncusClient, name: str, project: str | None = None) -> bool:
    """One exec operation that returns once init is up; False when it never got there."""
    meta = client.request("POST", f"/1.0/instances/{quote(name)}/exec", params=_params(project), timeout=90,
                          json={"command": ["sh", "-c", BOOT_SCRIPT], "wait-for-websocket": False,
                                "interactive": False, "record-output": False, "environment": {}})
    return ((meta or {}).get("metadata") or {}).get("return") == 0


def wait_until_booted(name: str, project: str | None = None) -> bool:
    """For scripts and tests: the same wait, on the default endpoint."""
    try:
        with IncusClient(find_endpoint(project)) as client:
            return wait_booted(client, name)
    except LabkitError:
        return False
