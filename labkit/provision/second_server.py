"""The lab's "snapshot server": a second Incus daemon the learner copies snapshots to.

On a lab machine it is a second incusd beside the main one (its own INCUS_DIR, its own
socket, HTTPS on loopback only), started here; on a training server the instructor
names a real second server instead (`point_at`).  Everything is idempotent but the
token: a second `ensure_running` starts nothing, and gives a fresh one-time token whenever the
caller's own Incus client is not trusted yet (each named after its user and time).
Facts behind it: docs/incus-facts.md §3b.
"""
from __future__ import annotations

import json
import os
import signal
import socket as socketlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabkitError, SetupError, SnapshotServerMissing
from ..i18n import M, Message
from ..incus import client_config
from ..incus.certs import read_remote
from ..incus.client import Endpoint, IncusClient, find_endpoint
from ..incus.client_config import split_address
from . import daemon
from .snapshot_server_tokens import Caller, caller_client, learner_token
from .storage import ensure_root_disk, ensure_storage

DEFAULT_DIR = Path("/var/lib/labkit-snapshot-server")
DEFAULT_PORT = 8444
REMOTE_NAME = "incus-snapshot"
LEARNER_NAME = "learner"
# So the guide's `incus copy ubuntu-test/SNAP incus-snapshot:…` (pull mode) works: the
# target fetches from the source, which must listen too. Only set when it listens nowhere.
MAIN_LISTEN = "127.0.0.1:8443"
CONFIG_FILE = "snapshot-server.json"


@dataclass(frozen=True)
class SnapshotServer:
    incus_dir: Path = DEFAULT_DIR
    port: int = DEFAULT_PORT

    @property
    def socket(self) -> Path:
        return self.incus_dir / "unix.socket"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.incus_dir / "labkit-incusd.pid"

    @property
    def log(self) -> Path:
        return self.incus_dir / "labkit-incusd.log"

    def client(self, timeout: float = 30.0) -> IncusClient:
        return IncusClient(Endpoint(self.socket, "default"), timeout=timeout)


@dataclass(frozen=True)
class Started:
    pid: int | None  # None: it was already running
    token: str | None  # None: the caller's client certificate is already trusted
    remote_command: str | None
    caller: Caller | None = None
    token_name: str | None = None


@dataclass(frozen=True)
class Status:
    running: bool
    address: str | None = None
    version: str | None = None
    storage: str | None = None
    pid: int | None = None


def remote_add_command(address: str, token: str, remote: str = REMOTE_NAME) -> str:
    return f"incus remote add {remote} {address} --token {token} --accept-certificate"


def ensure_running(server: SnapshotServer, *, learner: str = LEARNER_NAME, main: IncusClient | None = None,
                   timeout: float = 60.0, caller: Caller | None = None) -> Started:
    """Start the second daemon if needed, give it storage and a loopback address, and a token for
    the caller's client unless the server already trusts it."""
    caller = caller or caller_client()
    pid = None
    if not daemon.daemon_answers(server.socket):
        daemon.require_incusd()
        _refuse_taken_port(server.port)
        server.incus_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(server.incus_dir, 0o711)
        proc = daemon.spawn_incusd(server.log, server.pid_file, server.incus_dir)
        pid = proc.pid
        daemon.wait_until_answers(server.socket, server.log, timeout, proc)
    with server.client() as client:
        pool = ensure_storage(client, drivers=["dir"])
        ensure_root_disk(client, pool.pool)
        config = client.server().get("config", {})
        if config.get("core.https_address") != server.address:
            _refuse_taken_port(server.port)
            client.request("PATCH", "/1.0", json={"config": {"core.https_address": server.address}}, project=False)
        token, name = learner_token(client, learner, caller)
    if main is not None:
        _ensure_main_listens(main)
    command = remote_add_command(server.address, token) if token else None
    return Started(pid, token, command, caller, name)


def _refuse_taken_port(port: int) -> None:
    probe = socketlib.socket(socketlib.AF_INET, socketlib.SOCK_STREAM)
    try:
        probe.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    except OSError:
        raise SetupError(M("snapshot_server.port_taken",
            "The port {port} on 127.0.0.1 is already used by another program, so the snapshot server "
            "cannot listen there. Free it, or choose another port with --snapshot-server-port.", port=port)) from None
    finally:
        probe.close()


def _ensure_main_listens(main: IncusClient) -> None:
    config = main.server().get("config", {})
    if not config.get("core.https_address"):
        main.request("PATCH", "/1.0", json={"config": {"core.https_address": MAIN_LISTEN}}, project=False)


def status(server: SnapshotServer) -> Status:
    if not daemon.daemon_answers(server.socket):
        return Status(False)
    try:
        with server.client(timeout=10) as client:
            info = client.server()
            pools = client.request("GET", "/1.0/storage-pools", params={"recursion": 1}, project=False) or []
    except LabkitError:
        return Status(False)
    storage = ", ".join(f"{p['name']} ({p['driver']})" for p in pools) or None
    return Status(True, info.get("config", {}).get("core.https_address") or None,
                  info.get("environment", {}).get("server_version"), storage, _recorded_pid(server))


def _recorded_pid(server: SnapshotServer) -> int | None:
    try:
        return int(server.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def stop(server: SnapshotServer, timeout: float = 60.0) -> bool:
    """Shut it down, unmount what it leaves, remove its folder. False when there was nothing."""
    if not server.incus_dir.exists():
        return False
    pid = _recorded_pid(server)
    if daemon.daemon_answers(server.socket):
        env = {**os.environ, "INCUS_DIR": str(server.incus_dir)}
        subprocess.run(["incus", "admin", "shutdown", "--timeout", str(int(timeout))], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 10)
    if pid is not None:
        _wait_gone(pid, timeout)
    for mount in sorted(_mounts_under(server.incus_dir), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], stdin=subprocess.DEVNULL, capture_output=True)
    subprocess.run(["rm", "-rf", "--one-file-system", str(server.incus_dir)], stdin=subprocess.DEVNULL,
                   capture_output=True)
    return True


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # Our own child (tests): reap it so it does not linger as a zombie.
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1].encode().decode("unicode_escape") for line in mounts]
    return [p for p in points if p.startswith(prefix) or p == prefix.rstrip("/")]


# -- a real second server, named by the instructor ---------------------------------
def point_at(url: str, remote: str, state_dir: Path, timeout: float = 10.0) -> tuple[str, int]:
    """Check that `url` is an Incus server (GET /1.0, as an untrusted client) and remember it for doctor.

    Returns its API version and number of API extensions (an untrusted client sees no server version)."""
    import httpx  # only here: a check of the chapter loads this module without the HTTP client

    base = url if url.startswith("https://") else f"https://{url}"
    try:
        # Self-signed, like every Incus server: the learner pins it with --accept-certificate.
        answer = httpx.get(f"{base.rstrip('/')}/1.0", verify=False, timeout=timeout)
        meta = answer.json().get("metadata") or {}
        version, extensions = meta.get("api_version"), len(meta.get("api_extensions") or [])
    except (httpx.HTTPError, ValueError, AttributeError):
        version, extensions = None, 0
    if not version:
        raise SetupError(M("snapshot_server.url_unreachable",
            "No Incus server answers at {url} (asked for /1.0). Check the address and port, and that "
            "the server listens on the network (core.https_address).", url=base))
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / CONFIG_FILE).write_text(json.dumps({"remote": remote, "url": base}) + "\n")
    return str(version), extensions


def configured(state_dir: Path) -> dict[str, str] | None:
    try:
        data = json.loads((state_dir / CONFIG_FILE).read_text())
        return data if isinstance(data, dict) and "url" in data else None
    except (OSError, ValueError):
        return None


def client_remote(address: str, conf: Path | None = None) -> str | None:
    """The name of the learner client's remote pointing at `address`, if any."""
    conf = conf or Path(os.environ.get("INCUS_CONF") or Path.home() / ".config" / "incus")
    try:
        data = client_config.parse(client_config.read(conf / "config.yml"))
    except (OSError, ValueError):
        return None
    want = address.removeprefix("https://").rstrip("/")
    for name, entry in (data.get("remotes") or {}).items():
        if str((entry or {}).get("addr", "")).removeprefix("https://").rstrip("/") == want:
            return str(name)
    return None


def started_message(started: Started, server: SnapshotServer) -> Message:
    caller = started.caller or Caller("?", None)
    if started.token is None:
        return M("snapshot_server.caller_trusted",
            "running on {address}; the Incus client of {user} (certificate {fingerprint}…) is already trusted there. "
            "Another user of this machine runs this same command to get a token of their own.",
            address=server.address, user=caller.user, fingerprint=(caller.fingerprint or "?")[:12])
    return M("snapshot_server.token_for",
        "running on {address}. For the Incus client of {user}, run this command (it holds a one-time token, "
        "named {name} on the snapshot server; each run of this setup by a user not trusted yet gives a new one):\n  "
        "{command}", address=server.address, user=caller.user, name=started.token_name or "?",
        command=started.remote_command)


def run_setup(*, lang: str, say: Any, incus_dir: Path, port: int, url: str | None, remote: str, stop_it: bool,
              main_listens: bool = True) -> None:
    """`labkit setup --snapshot-server [...]`: the CLI's whole work, so labkit/cli/main.py stays a thin layer."""
    from .install import is_root  # apt and its sources: not loaded with a check of the chapter

    if url:
        version, extensions = point_at(url, remote, daemon.STATE_DIR)
        say(M("snapshot_server.pointed",
            "Snapshot server: {url} (Incus API {version}, {extensions} extensions). The learner adds it"
            " with “incus remote add {remote} {url} --token TOKEN --accept-certificate”, with a token "
            "from that server (“incus config trust add NAME” there).",
            url=url, version=version, extensions=extensions, remote=remote))
        return
    if not is_root():
        raise SetupError(M("snapshot_server.needs_root",
            "Starting the snapshot server needs root: run “sudo labkit setup --snapshot-server”."))
    server = SnapshotServer(incus_dir, port)
    if stop_it:
        say(M("snapshot_server.stopped",
            "Snapshot server stopped and its folder {folder} removed.", folder=str(incus_dir)) if stop(server)
            else M("snapshot_server.absent", "No snapshot server in {folder}: nothing to stop.", folder=str(incus_dir)))
        return
    with IncusClient(find_endpoint()) as main:
        started = ensure_running(server, main=main if main_listens else None)
    say(started_message(started, server))


def local_server() -> SnapshotServer:
    """The snapshot server this machine runs (tests point LABKIT_SNAPSHOT_SERVER_DIR at their own)."""
    return SnapshotServer(Path(os.environ.get("LABKIT_SNAPSHOT_SERVER_DIR") or DEFAULT_DIR))


# -- labkit's own way to the snapshot server, for grading ------------------------------
# In a class, the learner's access folder holds the `incus remote add` line for the snapshot server.
LEARNER_REMOTE_FILE = "snapshot-server.txt"


def learner_client(project: str) -> IncusClient | None:
    """The learner's own remote to the class's snapshot server: the one whose address is the one in
    their access folder's snapshot-server.txt (written by `labkit class create`), if they added it."""
    conf = Path(os.environ.get("INCUS_CONF") or Path.home() / ".config" / "incus")
    try:
        words = client_config.read(conf / LEARNER_REMOTE_FILE).split()
        wanted = split_address(words[words.index("add") + 2])
        remotes = client_config.parse(client_config.read(conf / "config.yml")).get("remotes") or {}
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    for name, entry in remotes.items():
        if (isinstance(entry, dict) and str(entry.get("addr", "")).startswith("https://")
                and split_address(str(entry["addr"])) == wanted):
            remote = read_remote(conf, str(name))
            if remote is not None:
                return IncusClient(Endpoint(conf / "config.yml", project, remote=remote))
    return None

def admin_client(project: str, lean_reads: bool = False) -> IncusClient:
    """labkit's admin client on the snapshot server, in `project`.

    The one `labkit setup --snapshot-server` started on this machine (its socket under its
    INCUS_DIR), else the real server the instructor named (`--snapshot-server-url`), reached with
    the certificate of a client folder whose remote has exactly that address.  Never the learner's
    remote as such: its address is the learner's to choose."""
    local = local_server()
    named = configured(Path(os.environ.get("LABKIT_STATE_DIR") or daemon.STATE_DIR))
    if local.incus_dir.exists() or named is None:
        mine = os.access(local.socket, os.R_OK | os.W_OK)
        if mine and daemon.daemon_answers(local.socket):
            return IncusClient(Endpoint(local.socket, project), lean_reads=lean_reads)
        if not mine:
            # A class learner (a hub account, their own laptop) has no way in but their own restricted
            # remote: it reads only their project there, and what it reads is still the server's word.
            own = learner_client(project)
            if own is not None:
                return own
            if local.socket.exists() or (Path(os.environ.get("INCUS_CONF") or Path.home() / ".config" / "incus")
                                         / LEARNER_REMOTE_FILE).exists():
                raise SnapshotServerMissing(M(
                    "snapsrv.snapshot_server_learner",
                    "labkit reads the snapshot server with your own access, and your Incus client has no remote "
                    "“{remote}” for it yet: add it first with the command in {file} (the lab's first step).",
                    file=LEARNER_REMOTE_FILE, remote=REMOTE_NAME))
        if local.incus_dir.exists() and (mine or not local.socket.exists()):
            raise SnapshotServerMissing(M(
                "snapsrv.snapshot_server_down",
                "The snapshot server in {folder} is not running. Start it again with "
                "“sudo labkit setup --snapshot-server”.", folder=str(local.incus_dir)))
        raise SnapshotServerMissing(M(
            "access.no_snapshot_server",
            "This lab needs the snapshot server, and none is set up. "
            "Run “sudo labkit setup --snapshot-server” (or, on a training server, ask your trainer)."))
    url = named["url"]
    conf = Path(named.get("conf") or os.environ.get("INCUS_CONF") or Path.home() / ".config" / "incus")
    try:
        data = client_config.parse(client_config.read(conf / "config.yml"))
    except (OSError, ValueError):
        data = {}
    wanted = split_address(url)
    for name, entry in (data.get("remotes") or {}).items():
        if str((entry or {}).get("addr", "")).startswith("https://") and split_address(str(entry["addr"])) == wanted:
            remote = read_remote(conf, str(name))
            if remote is not None:
                return IncusClient(Endpoint(conf / "config.yml", project, remote=remote))
    raise SnapshotServerMissing(M(
        "snapsrv.snapshot_server_no_access",
        "labkit has no certificate trusted by the snapshot server {url}: the client folder {conf} has no remote "
        "with that address. Add one there (“incus remote add NAME {url} --token TOKEN --accept-certificate”), "
        "or name another folder in {record} (key “conf”).",
        url=url, conf=str(conf),
        record=str(Path(os.environ.get("LABKIT_STATE_DIR") or daemon.STATE_DIR) / CONFIG_FILE)))
