"""Starting the Incus daemon where nobody else does (no systemd as PID 1).

We only ever stop a daemon we started ourselves, by the PID we recorded.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import SetupError
from ..i18n import M
from ..incus import unix_http
from ..incus.client import ADMIN_GROUP, SYSTEM_SOCKET

INCUSD = Path("/usr/libexec/incus/incusd")
STATE_DIR = Path(os.environ.get("LABKIT_STATE_DIR", "/var/lib/labkit"))


def systemd_is_init() -> bool:
    try:
        return Path("/proc/1/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def daemon_answers(socket: Path = SYSTEM_SOCKET, timeout: float = 2.0) -> bool:
    if not socket.exists():
        return False
    try:
        return unix_http.request(socket, "GET", "/1.0", timeout=timeout).status_code == 200
    except (unix_http.ProtocolError, OSError):
        return False


def start_daemon(state_dir: Path = STATE_DIR, socket: Path = SYSTEM_SOCKET, timeout: float = 60.0) -> int | None:
    """Start incusd and wait until it answers; return the PID we started, if any."""
    if daemon_answers(socket):
        return None
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "incusd.log"
    pid: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    if systemd_is_init():
        _run(["systemctl", "enable", "--now", "incus.socket", "incus.service"], log)
    else:
        require_incusd()
        proc = spawn_incusd(log, state_dir / "incusd.pid")
        pid = proc.pid
    wait_until_answers(socket, log, timeout, proc)
    return pid


def require_incusd() -> None:
    if not INCUSD.exists():
        raise SetupError(M("setup.no_incusd", "The Incus daemon ({path}) is not installed. Install the “incus” package "
                                              "first (“labkit setup” does it when run as root).", path=str(INCUSD)))


def spawn_incusd(log: Path, pid_file: Path, incus_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """Start one incusd in the background, its output in `log` and its PID in `pid_file`.

    With `incus_dir`, a second daemon with its own state and socket in that folder
    (second_server.py), beside the main one.
    """
    env = dict(os.environ)
    # incusd finds its helpers (dnsmasq, qemu…) and LXC hooks through PATH.
    env["PATH"] = "/usr/libexec/incus:/usr/sbin:/usr/bin:/sbin:/bin:" + env.get("PATH", "")
    if incus_dir is not None:
        env["INCUS_DIR"] = str(incus_dir)
    else:
        env.pop("INCUS_DIR", None)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # cwd "/": the daemon outlives the command that starts it, and every rsync of a migration
        # inherits its working folder; started from a checkout later deleted, `incus copy` then fails
        # with "getcwd(): No such file or directory" (docs/incus-facts.md).
        proc = subprocess.Popen([str(INCUSD), "--group", ADMIN_GROUP], stdin=subprocess.DEVNULL, cwd="/",
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def wait_until_answers(socket: Path, log: Path, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon_answers(socket):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SetupError(M("setup.daemon_not_ready", "The Incus daemon did not come up within "
                                                 "{seconds} seconds. Its log is {log}; "
                                                 "the last lines usually say why.", seconds=int(timeout), log=str(log)))


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SetupError(M("setup.command_failed", "The command “{command}” failed (exit "
                                                   "code {code}). Its output is in {log}.",
                           command=" ".join(cmd), code=result.returncode, log=str(log)))


def incus_installed() -> bool:
    return INCUSD.exists() or shutil.which("incus") is not None
