"""`labkit class serve`: JupyterHub in front of an existing class, in the foreground.

Prepares what the hub needs (the logins, the runtime, the proxy package, the learners' API,
the workspace image, one started workspace container per learner, the configuration), runs
`jupyterhub` as a child, and on SIGINT or SIGTERM stops it: the hub then stops the proxy, the
dashboard and every learner's server, whose workspace stops with it.  Running it again resumes
with the same database, passwords and workspaces (their files are kept).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from ..classroom.info import ClassInfo
from ..classroom.server_kinds import kinds_for
from ..errors import LabkitError, UsageError
from ..i18n import M, Message
from ..incus.client import IncusClient
from ..keys import WORKSPACE_KEY
from ..provision.install import InstallPlan, PackageGroup, install_packages
from . import access, workspaces
from . import accounts as accts
from .config import HubPorts, render_config
from .runtime import ensure_runtime
from .state import Accounts, HubState
from .workspace_image import ensure_workspace_image
from .workspace_limits import WorkspaceLimits

PROXY_PACKAGE = "node-configurable-http-proxy"
NODE_PATH = "/usr/share/nodejs"  # a Node.js build that does not search Debian's modules by itself
READY_SECONDS = 90


class HubError(LabkitError):
    """The hub could not start, or stopped on its own."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise UsageError(M("hub.serve.bad_listen", "“{listen}” is not an address and port: write ADDR:PORT, for "
                                                   "example 127.0.0.1:8000 or 0.0.0.0:8000.", listen=listen))
    return host.strip("[]"), int(port)


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def ensure_proxy(log: Path) -> None:
    """Debian's configurable-http-proxy, installed with apt as `labkit setup` installs Incus."""
    if shutil.which("configurable-http-proxy"):
        return
    install_packages(InstallPlan((PackageGroup((PROXY_PACKAGE,)),)), log)
    if not shutil.which("configurable-http-proxy"):
        raise HubError(M("hub.serve.no_proxy", "JupyterHub's proxy “configurable-http-proxy” is missing. Install it "
                                               "with “apt-get install {package}”, then run the command again.",
                         package=PROXY_PACKAGE))


def stored_ports(state: HubState, bind_url: str) -> HubPorts:
    """The hub's own ports are kept: learners' servers that outlived a killed hub find it again."""
    path = state.root / "ports.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    chosen = {}
    for name in ("hub", "proxy_api", "dashboard"):
        port = saved.get(name)
        chosen[name] = port if port and port_free("127.0.0.1", port) else access.free_port()
    path.write_text(json.dumps(chosen) + "\n")
    return HubPorts(bind_url, chosen["hub"], chosen["proxy_api"], chosen["dashboard"])


def prepare(*, client: IncusClient, cls: str, folder: Path, lang: str, say: Callable[[Message], None]) -> HubState:
    """Everything but the hub process and the workspaces: logins, runtime, proxy."""
    if os.geteuid() != 0:
        raise HubError(M("hub.serve.needs_root", "Serving a class needs root: labkit runs each learner's JupyterLab in "
                                                 "an Incus container of their own, from a runtime it installs in "
                                                 "/opt/labkit. Run the command again with sudo."))
    info = class_info(client, cls)
    missing = [n for n in info.learners if not (folder / "learners" / n / "client.key").exists()]
    if missing:
        raise UsageError(M("hub.serve.no_bundles", "The access folders of {learners} are not in {folder}: serve the "
                                                   "class with the same --dir it was created with, or run “labkit "
                                                   "class create {name}” again to write them.",
                           learners=", ".join(missing), folder=str(folder / "learners"), name=cls))
    state = HubState(folder).ensure()
    accts.ensure_accounts(state, tuple(info.learners), lang)  # the first serve sets the language
    ensure_runtime(say=say)
    ensure_proxy(state.root / "apt.log")
    return state


def class_info(client: IncusClient, cls: str) -> ClassInfo:
    return ClassInfo.from_projects(cls, client.request("GET", "/1.0/projects", params={"recursion": 1},
                                                       project=False) or [])


def workspace_limits(client: IncusClient, cls: str, learners: int) -> WorkspaceLimits:
    """The class's choice (`class create --workspace`) over the defaults for its size."""
    project = client.request("GET", f"/1.0/projects/{cls}", project=False) or {}
    return WorkspaceLimits.default_for(learners).with_text((project.get("config") or {}).get(WORKSPACE_KEY))


def start_workspaces(*, client: IncusClient, state: HubState, cls: str, info: Any, accounts: Accounts,
                     limits: WorkspaceLimits, hub_port: int, say: Callable[[Message], None]) -> None:
    """Every learner's workspace made, wired to this run's ports and started, ahead of the logins."""
    address = access.ensure_learner_api(client, cls)
    image = ensure_workspace_image(client, state.root / "image.log", say)
    pool = (((client.request("GET", "/1.0/profiles/default", params={"project": cls}) or {}).get("devices") or {})
            .get("root", {}).get("pool"))
    wiring = workspaces.Wiring(api=address, hub_port=hub_port, servers=server_addresses(info.lab))
    files = {learner: accts.workspace_files(bundle=state.folder / "learners" / learner, remote=cls, project=project,
                                            lang=accounts.lang, lab=info.lab)
             for learner, project in info.learners.items()}
    workspaces.ensure_all(client, cls, files, image=image, config=limits.instance_config(),
                          root={"type": "disk", "path": "/", "pool": pool, "size": limits.disk}, wiring=wiring, say=say)


def server_addresses(lab: str) -> tuple[tuple[str, str], ...]:
    """Where a class reaches each server its lab declares (learners' workspaces get a way there)."""
    return tuple((kind.server.id, access.loopback_address(kind.learner_address())) for kind in kinds_for(lab))


def run(*, client: IncusClient, state: HubState, cls: str, listen: str, lang: str, say: Callable[[Message], None],
        ssl_cert: Path | None = None, ssl_key: Path | None = None) -> int:
    """Start the hub, say where it is, and wait for a signal (or for the hub to stop)."""
    host, port = parse_listen(listen)
    if state.running_pid() is not None:
        raise HubError(M("hub.serve.already", "The class “{name}” is already being served (process {pid}). Stop that "
                                              "one first (Ctrl+C in its terminal).", name=cls, pid=state.running_pid()))
    _stop_orphan_hub(state)
    state.destroying.unlink(missing_ok=True)  # a destroy that did not finish: this run serves the class again
    proxy_pid = _alive(state.root / "proxy.pid")  # a killed hub's proxy: the hub replaces it itself
    if proxy_pid is None and not port_free(host, port):
        raise HubError(M("hub.serve.port_taken", "The address {listen} is already in use by another program. Choose "
                                                 "another one with --listen ADDR:PORT (for example 127.0.0.1:8010).",
                         listen=listen))
    scheme = "https" if ssl_cert else "http"
    public_host = ("localhost" if host in ("127.0.0.1", "::1")
                   else socket.getfqdn() if host in ("0.0.0.0", "::") else host)
    public = f"{scheme}://{public_host}:{port}/"
    ports = stored_ports(state, f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}")
    endpoint = client.endpoint
    env = {"INCUS_CONF": str(endpoint.remote.conf)} if endpoint.remote else {"INCUS_SOCKET": str(endpoint.socket)}
    # The dashboard grades a lab on the snapshot server with the same access as the instructor's command,
    # and knows the chapters registered outside labkit (LABKIT_CHAPTERS) as the instructor's command does.
    env |= {key: os.environ[key] for key in ("LABKIT_SNAPSHOT_SERVER_DIR", "LABKIT_STATE_DIR", "LABKIT_CHAPTERS")
            if os.environ.get(key)}
    info = class_info(client, cls)
    accounts = state.read_accounts()
    limits = workspace_limits(client, cls, len(info.learners))
    state.config.write_text(render_config(state=state, cls=cls, ports=ports, lang=accounts.lang, dashboard_env=env,
                                          ssl_cert=ssl_cert, ssl_key=ssl_key, lab=info.lab, idle_minutes=limits.idle),
                            encoding="utf-8")
    start_workspaces(client=client, state=state, cls=cls, info=info, accounts=accounts, limits=limits,
                     hub_port=ports.hub, say=say)
    accounts.url = public
    state.write_accounts(accounts)
    hub_env = {**os.environ, **env,
               "NODE_PATH": os.pathsep.join(filter(None, [os.environ.get("NODE_PATH"), NODE_PATH]))}
    with state.log.open("a", encoding="utf-8") as log:
        hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(state.config)], cwd=state.root,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=hub_env,
                               start_new_session=True)  # Ctrl+C reaches us; we stop the hub cleanly
    state.pid_file.write_text(f"{os.getpid()} {hub.pid}\n")
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        _wait_ready(hub, ports, state)
        say(M("hub.serve.ready", "The class “{name}” is served at {url} (instructor's dashboard: "
                                 "{url}services/labkit/). Hand out the logins with “labkit class credentials {name} "
                                 "--html FILE”. Ctrl+C stops the hub and every learner's server; "
                                 "their notebooks are kept.", name=cls, url=public))
        while hub.poll() is None:
            time.sleep(0.5)
    finally:
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        state.pid_file.unlink(missing_ok=True)
    if stopping and state.destroying.exists():
        say(M("hub.serve.destroyed", "The hub has stopped: the class “{name}” is being destroyed (labkit class "
                                     "destroy), its workspaces and notebooks with it. There is nothing to resume.",
              name=cls))
        return 0
    if stopping:
        say(M("hub.serve.stopped", "The hub has stopped, and so have the learners' servers. Their notebooks are kept: "
                                   "run the same command to resume."))
        return 0
    if hub.returncode < 0:
        raise HubError(M("hub.serve.killed", "The hub was killed (signal {signal}). The learners' notebooks are kept: "
                                             "run the same command again to resume.", signal=-hub.returncode))
    raise HubError(M("hub.serve.died", "The hub stopped by itself (exit status {code}). The learners' notebooks are "
                                       "kept; read the end of {log}, then run the same command again to resume.",
                     code=hub.returncode, log=str(state.log)))


def _wait_ready(hub: subprocess.Popen, ports: HubPorts, state: HubState) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            raise HubError(M("hub.serve.failed_start", "JupyterHub did not start (exit status {code}). The end "
                                                       "of its log, {log}:\n{tail}",
                             code=hub.returncode, log=str(state.log), tail=_tail(state.log)))
        try:  # through the proxy: ready when a browser would get an answer
            if httpx.get(f"{ports.bind_url}/hub/api/", timeout=2, verify=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise HubError(M("hub.serve.slow_start", "JupyterHub did not answer within {seconds} s. Read the end of {log}.",
                     seconds=READY_SECONDS, log=str(state.log)))


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_orphan_hub(state: HubState) -> None:
    """A hub whose `serve` was killed keeps running: stop it (by its PID, after checking it is ours)."""
    try:
        pid = int(state.pid_file.read_text().split()[1])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    if b"jupyterhub" in cmdline and str(state.config).encode() in cmdline:
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.2)


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop_running(state: HubState, timeout: float = 120) -> bool:
    """Stop a `serve` of this class still running (for `destroy`); True when there was one."""
    pid = state.running_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    return True
