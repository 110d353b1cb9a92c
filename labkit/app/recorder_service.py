"""Starting, finding and stopping the event recorder (recorder.py) of one lab instance.

One recorder per learner and instance: its files live in the learner's state folder
($XDG_STATE_HOME/labkit/recorders/PROJECT--INSTANCE.*), and a lock on its PID file keeps
it unique.  Where systemd is PID 1 it runs as an enabled unit (a template, one unit per
project and instance; a user unit for learners, a system unit for root); elsewhere as a
detached process of its own.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..grading.contract import INSTANCE_PARAM
from ..incus.client import Endpoint
from ..paths import state_dir
from ..provision.daemon import systemd_is_init
from .recorder_config import Config, Watch, files_for

UNIT = "labkit-recorder"
READY_SECONDS = 10.0


@dataclass(frozen=True)
class RecorderStatus:
    running: bool
    pid: int | None
    since: datetime | None
    connected: bool
    events: int
    sightings: int
    log: Path
    systemd_unit: str | None = None


def folder(environ: dict[str, str] | None = None) -> Path:
    return state_dir(environ) / "recorders"


def config_path(project: str, container: str, environ: dict[str, str] | None = None) -> Path:
    return folder(environ) / f"{project}--{container}.json"


def status(project: str, container: str, environ: dict[str, str] | None = None) -> RecorderStatus:
    config = config_path(project, container, environ)
    pid_path, state_path, log = files_for(config)
    pid = _recorder_pid(pid_path, config)
    state: dict = {}
    if pid is not None:
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
    since = state.get("started_at")
    return RecorderStatus(pid is not None, pid, datetime.fromisoformat(since) if since else None,
                          bool(state.get("connected")), int(state.get("events", 0)), int(state.get("sightings", 0)),
                          log, unit_name(project, container) if systemd_is_init() else None)


def _recorder_pid(pid_path: Path, config: Path) -> int | None:
    """The PID in the file, if that process really is this instance's recorder (PIDs get reused)."""
    try:
        pid = int(pid_path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    args = [a.decode(errors="replace") for a in cmdline]
    # labkit.recorder and labkit.grading.recorder: the module's earlier names, still running after an
    # upgrade until `labkit setup` replaces it (it holds the PID lock: not recognising it would block the new one).
    return pid if ({"labkit.app.recorder", "labkit.grading.recorder", "labkit.recorder"} & set(args)
                   and str(config) in args) else None


def ensure_running(endpoint: Endpoint, lab: str, params: dict[str, str], journal: Path,
                   wait: float = READY_SECONDS, others: tuple[Watch, ...] = ()) -> RecorderStatus | None:
    """Start the recorder of the chapter `lab`'s instance (`params[INSTANCE_PARAM]`) unless it runs;
    None when it cannot apply (an HTTPS remote: the notebook's listener and `labkit watch` still
    record there)."""
    if endpoint.remote is not None:
        return None
    project, container = endpoint.project, params[INSTANCE_PARAM]
    config, changed = write_config(endpoint, lab, params, journal, others)
    current = status(project, container)
    if current.running and not changed:
        return current
    if current.running:
        stop(project, container)  # its journal or socket changed: start it afresh
    if systemd_is_init():
        _start_unit(project, container, config)
        started = _wait_connected(project, container, wait)
        if started.running:
            return started
        # No user manager to talk to (an SSH session without one, a container): run it ourselves.
    subprocess.run([sys.executable, "-m", "labkit.app.recorder", "--config", str(config), "--background"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return _wait_connected(project, container, wait)


def write_config(endpoint: Endpoint, lab: str, params: dict[str, str], journal: Path,
                 others: tuple[Watch, ...] = ()) -> tuple[Path, bool]:
    """The recorder's configuration file with this lab's watch in it, and whether it changed.

    The other labs already watching the same instance (through the same socket and project) stay;
    `others` (the other labs' watches with their defaults) are added only for labs not watched yet."""
    config = config_path(endpoint.project, params[INSTANCE_PARAM])
    config.parent.mkdir(parents=True, exist_ok=True)
    watch = Watch(lab, dict(params), str(journal.absolute()))
    # Read, add, replace under a lock: two setups at once (both labs) must not lose a watch.
    with open(config.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current: Config | None = Config.read(config)
        except (OSError, ValueError, TypeError, KeyError):
            current = None
        if current is not None and (current.socket, current.project) == (str(endpoint.socket), endpoint.project):
            wanted = current.with_watch(watch)
        else:
            wanted = Config(str(endpoint.socket), endpoint.project, params[INSTANCE_PARAM], (watch,))
        for other in others:
            if (other.params.get(INSTANCE_PARAM) == params[INSTANCE_PARAM]
                    and other.lab not in {w.lab for w in wanted.watches}):
                wanted = wanted.with_watch(other)
        changed = wanted != current
        if changed:
            fd, tmp = tempfile.mkstemp(dir=config.parent, prefix=config.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(wanted.to_json())
            os.replace(tmp, config)  # the recorder (or a systemd restart) never reads half a file
    return config, changed


def _wait_connected(project: str, container: str, wait: float) -> RecorderStatus:
    """Return once it listens, so that the learner's first command after setup is recorded."""
    deadline = time.monotonic() + wait
    while True:
        current = status(project, container)
        if current.connected or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def disable_unit(project: str, container: str, now: bool = False) -> None:
    if systemd_is_init():
        _systemctl("disable", *(["--now"] if now else []), unit_name(project, container))


def stop(project: str, container: str, wait: float = 5.0) -> bool:
    """Stop it (and disable its unit under systemd); False when none was running."""
    disable_unit(project, container, now=True)
    current = status(project, container)
    if not current.running or current.pid is None:
        return False
    os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and status(project, container).running:
        time.sleep(0.05)
    return True


# -- systemd ---------------------------------------------------------------
def unit_name(project: str, container: str) -> str:
    # Instance and project names hold no "/" or spaces (names.py); systemd-escape does the rest.
    escaped = subprocess.run(["systemd-escape", f"{project}--{container}"], capture_output=True, text=True,
                             check=False).stdout.strip() if systemd_is_init() else f"{project}--{container}"
    return f"{UNIT}@{escaped}.service"


def unit_text(python: str, recorders: Path) -> str:
    """The template unit: %I is PROJECT--INSTANCE, the name of the recorder's configuration."""
    return ("[Unit]\n"
            "Description=labkit event recorder for the lab instance %I\n"
            "After=incus.service\n\n"
            "[Service]\n"
            f"ExecStart={python} -m labkit.app.recorder --config {recorders}/%I.json\n"
            # Exit 0 means the instance was deleted: stay stopped.  A crash is restarted.
            "Restart=on-failure\nRestartSec=5\n\n"
            "[Install]\nWantedBy=default.target\n")


def _unit_folder() -> Path:
    if os.geteuid() == 0:
        return Path("/etc/systemd/system")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "systemd" / "user"


def _start_unit(project: str, container: str, config: Path) -> None:
    unit = _unit_folder() / f"{UNIT}@.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    text = unit_text(sys.executable, config.parent)
    if not unit.exists() or unit.read_text() != text:
        unit.write_text(text)
        _systemctl("daemon-reload")
    _systemctl("enable", unit_name(project, container))
    _systemctl("restart", unit_name(project, container))


def _systemctl(*args: str) -> None:
    scope = [] if os.geteuid() == 0 else ["--user"]
    subprocess.run(["systemctl", *scope, *args], stdin=subprocess.DEVNULL, capture_output=True, check=False)
