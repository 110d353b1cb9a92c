"""The hub's spawner: each learner's JupyterLab inside their workspace container.

JupyterHub's documented extension point (`start` says where the server answers, `poll`
whether it still runs, `stop` ends it), modelled on DockerSpawner and SystemdSpawner: the
server runs in an isolated unit with limits, here an Incus container (workspaces.py).

`start` makes sure the workspace runs (`serve` started it ahead of the login), then runs
`jupyterhub-singleuser` in it as the unprivileged `learner`, with no terminal, through the
exec API; the operation lives as long as the server, which is what `poll` asks about.  The
hub's proxy reaches the server through the workspace's `lab` device on a host loopback port.
`stop` stops the workspace: its processes end, its files stay (the idle culler calls it too).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyterhub.spawner import Spawner
from traitlets import Unicode

from ..incus.client import IncusClient
from . import workspaces
from .workspace_image import HOME, LEARNER, RUNTIME_MOUNT

# Run as root inside the workspace: end a server an earlier start left (its PID in /run, which
# the learner cannot write), wait for its port, then become the learner and run the new one.
LAUNCH = ('old=$(cat /run/labkit-lab.pid 2>/dev/null); '
          'if [ -n "$old" ]; then kill "$old" 2>/dev/null; i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; '
          'do sleep 0.1; i=$((i+1)); done; fi; '
          'echo $$ > /run/labkit-lab.pid; mkdir -p /home/learner/.local/state; '
          'chown learner: /home/learner/.local /home/learner/.local/state; '
          'exec setpriv --reuid=learner --regid=learner --init-groups -- "$@" >>/var/log/labkit-lab.log 2>&1')


class WorkspaceSpawner(Spawner):
    project = Unicode(help="The class project, where the workspaces live.").tag(config=True)
    accounts_file = Unicode(help="The class's hub/accounts.json: hub user -> learner.").tag(config=True)
    lang_env = Unicode("C.UTF-8", help="LANG of the learner's JupyterLab and terminals.").tag(config=True)
    operation = Unicode("")

    def _learner(self) -> str:
        data = json.loads(Path(self.accounts_file).read_text(encoding="utf-8"))
        for learner, account in data.get("learners", {}).items():
            if account.get("login") == self.user.name:
                return learner
        raise ValueError(f"{self.user.name} is no learner of this class")

    @property
    def workspace(self) -> str:
        return workspaces.workspace_name(self._learner())

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.operation:
            state["operation"] = self.operation
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.operation = state.get("operation", "")

    def clear_state(self) -> None:
        super().clear_state()
        self.operation = ""

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update({"HOME": HOME, "USER": LEARNER, "LOGNAME": LEARNER, "SHELL": "/bin/bash", "LANG": self.lang_env,
                    "PATH": f"{RUNTIME_MOUNT}/bin:/usr/local/bin:/usr/bin:/bin",
                    "JUPYTER_CONFIG_DIR": f"{HOME}/.jupyter",
                    "INCUS_CONF": workspaces.CONFIG_DIR})
        return env

    async def start(self) -> tuple[str, int]:
        # What the server binds inside, and how it reaches the hub from there (the `hub` device).
        self.ip, self.port = "127.0.0.1", workspaces.LAB_PORT
        self.hub_connect_url = f"http://127.0.0.1:{workspaces.HUB_PORT}"
        env, argv = self.get_env(), [f"{RUNTIME_MOUNT}/bin/jupyterhub-singleuser", *self.get_args()]
        name = self.workspace
        port, operation = await asyncio.to_thread(self._start, name, env, argv)
        self.operation = operation
        return "127.0.0.1", port

    def _start(self, name: str, env: dict[str, str], argv: list[str]) -> tuple[int, str]:
        with IncusClient(timeout=120) as client:
            port = workspaces.ensure_running(client, self.project, name)
            answer = client.request("POST", f"/1.0/instances/{quote(name)}/exec", params={"project": self.project},
                                    json={"command": ["sh", "-c", LAUNCH, "launch", *argv], "environment": env,
                                          "cwd": HOME, "wait-for-websocket": False, "interactive": False,
                                          "record-output": False},
                                    timeout=60, wait=False)
        return port, str((answer or {}).get("id", ""))

    async def poll(self) -> int | None:
        return await asyncio.to_thread(self._poll)

    def _poll(self) -> int | None:
        if not self.operation:
            return 0
        with IncusClient(timeout=30) as client:
            answer = client.raw("GET", f"/1.0/operations/{quote(self.operation)}", project=False)
        if answer.status_code == 404:
            return 0  # ended (Incus forgets an ended operation after a few seconds) or the daemon restarted
        meta = (answer.json() or {}).get("metadata") or {}
        if meta.get("status") == "Running":
            return None
        return int((meta.get("metadata") or {}).get("return", 1) or 0)

    async def stop(self, now: bool = False) -> None:
        name = self.workspace
        await asyncio.to_thread(self._stop, name)
        self.operation = ""

    def _stop(self, name: str) -> None:
        with IncusClient(timeout=60) as client:
            workspaces.stop(client, self.project, name)
