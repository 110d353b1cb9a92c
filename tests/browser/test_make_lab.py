"""`make lab` as the README says, then the notebook in Debian's chromium.

The README's first command runs on a copy of this checkout (without its .venv: the
Makefile's VENV points at the environment running these tests, which `-o` keeps make
from rebuilding), with no display and an SSH session in its environment (a variable
only: nothing is contacted), so the headless path is the one taken.  `labkit setup`
inside it is a no-op on an existing `ubuntu-test` and must leave it running.  Every
process is stopped by the process group the test created; a leftover is found by the
copy's unique path in its command line, which only our processes carry.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.browser.conftest import ROOT, SETTINGS, chromium, require

pytestmark = pytest.mark.browser
SSH_CONNECTION = "192.0.2.10 50022 192.0.2.1 22"  # TEST-NET addresses: a variable, never a connection
CONTAINER = "ubuntu-test"


class Output:
    """Lines of a pipe, collected by a thread, waited for by pattern."""

    def __init__(self, pipe: IO[str]):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float, process: subprocess.Popen[str]) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := re.search(pattern, line):
                    return found
            if process.poll() is not None and not self._thread.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.lines[-40:]))

    def text(self) -> str:
        self._thread.join(timeout=60)
        return "\n".join(self.lines)


def checkout_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "__pycache__", ".ipynb_checkpoints", "*.egg-info", ".pytest_cache"))
    return copy


def lab_environment(tmp_path: Path) -> dict[str, str]:
    """No display, an SSH session, and Jupyter's and labkit's state folders of our own."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_TTY", "LAB_LISTEN")}
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython", "XDG_STATE_HOME": "state"}
    env.update({k: str(tmp_path / v) for k, v in dirs.items()})
    for name, values in SETTINGS.items():  # no news or update toasts (no network here)
        path = tmp_path / "settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env["SSH_CONNECTION"] = SSH_CONNECTION
    return env


def our_processes(marker: Path) -> list[int]:
    """PIDs whose command line names our temporary folder (JupyterLab, its kernels)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(marker) in cmdline and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def gone(pids: list[int], marker: Path, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not set(pids) & set(our_processes(marker)):
            return True
        time.sleep(0.2)
    return False


def kill_leftovers(process: subprocess.Popen[str], marker: Path) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid in our_processes(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def instance_status(name: str) -> str | None:
    from tests.integration.conftest import incus

    done = incus("list", f"^{name}$", "--format", "csv", "--columns", "s", check=False)
    return done.stdout.strip() or None


def test_make_lab_serves_the_learners_notebook_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    require(incus=True)
    before = instance_status(CONTAINER)
    copy = checkout_copy(tmp_path)
    venv = Path(sys.prefix)
    argv = ["make", "--no-print-directory", "-C", str(copy), f"VENV={venv}", "-o", f"{venv}/bin/labkit",
            "lab", "LAB_LANG=fr"]
    make = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=lab_environment(tmp_path), start_new_session=True)
    out, err = Output(make.stdout), Output(make.stderr)
    try:
        found = out.wait_for(r"(http://127\.0\.0\.1:(\d+)/lab/tree/fr/snapshots\.ipynb\?token=[\w-]{32,})", 300, make)
        url, port = found.group(1), int(found.group(2))
        at = next(n for n, line in enumerate(out.lines) if url in line)
        assert out.lines[at] == f"Le TP est prêt, ouvrez\u00a0: {url}", out.lines
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
        out.wait_for("ssh -L", 120, make)
        assert out.lines[at + 1] == (f"Pas d’affichage graphique ici\u00a0: sur votre ordinateur, "
                                     f"lancez ssh -L {port}:127.0.0.1:{port} {user}@192.0.2.1, "
                                     f"puis ouvrez la même adresse dans son navigateur."), out.lines
        if os.geteuid() == 0:
            err.wait_for(r"--allow-root", 120, make)

        with chromium(tmp_path / "chromium-profile", locale="fr-FR") as context:
            page = context.new_page()
            page.goto(url)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=90_000)
            heading = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first
            assert heading.text_content().startswith("Les instantanés de conteneurs Incus")
            assert "snapshots.ipynb" in page.locator(".lm-TabBar-tab.jp-mod-current").first.text_content()
            # JupyterLab's own menus are French too (its language pack, chosen for the lab's language).
            menus = page.locator(".lm-MenuBar-itemLabel").all_text_contents()
            assert "Fichier" in menus and "File" not in menus, menus
            # The kernel starts from the notebook's metadata, with no picker: the lab is usable.
            page.wait_for_function("""() => [...document.querySelectorAll('.jp-KernelName')]
                                     .some(k => k.textContent.trim()
                                                && !/No Kernel|Aucun noyau/.test(k.textContent))""",
                                   timeout=90_000)
            page.wait_for_function("() => document.querySelector("
                                   "'.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')", timeout=90_000)
        found = {pid: Path(f"/proc/{pid}/cmdline").read_text() for pid in our_processes(tmp_path)}
        # `labkit setup` leaves the event recorder running (in its own session): it outlives the lab by design.
        recorders = [pid for pid, cmd in found.items() if "labkit.app.recorder" in cmd]
        ours = [pid for pid in found if pid not in recorders]
        assert any("jupyterlab" in found[pid] for pid in ours), found
        assert any("ipykernel" in found[pid] for pid in ours), "no kernel started"
        assert len(recorders) == 1, found

        # Ctrl+C as a terminal sends it: to the whole foreground group, make and labkit.
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=300)
        assert gone(ours, tmp_path), f"still running: {our_processes(tmp_path)}"
        assert set(recorders) <= set(our_processes(tmp_path)), "Ctrl+C in the lab stopped the event recorder"
        assert not answers(port)
        assert "JupyterLab est arrêté" in err.text(), err.lines
        assert "Traceback" not in err.text() + out.text()
        assert instance_status(CONTAINER) == before == "RUNNING"
    finally:
        kill_leftovers(make, tmp_path)


def test_labkit_lab_takes_the_next_free_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`labkit lab` alone: a taken port, then SIGTERM (a service manager's stop), no browser needed."""
    require(incus=False)
    env = {**lab_environment(tmp_path), "LANG": "en_GB.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    root = tmp_path / "repo"  # its path in JupyterLab's command line tells our processes apart
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        lab = subprocess.Popen([str(Path(sys.prefix) / "bin" / "labkit"), "lab", "--listen", f"127.0.0.1:{busy}",
                                "--root", str(root)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        marker = root
        out, err = Output(lab.stdout), Output(lab.stderr)
        try:
            found = out.wait_for(r"http://127\.0\.0\.1:(\d+)/lab/tree/en/snapshots\.ipynb\?token=", 180, lab)
            port = int(found.group(1))
            assert busy < port < busy + 20
            err.wait_for(f"Port {busy} is taken: JupyterLab uses port {port}", 5, lab)
            ours = our_processes(marker)
            assert ours and answers(port)
            lab.send_signal(signal.SIGTERM)  # to labkit alone: it stops JupyterLab's group
            assert lab.wait(timeout=60) == 0
            assert gone(ours, marker) and not answers(port)
            assert "JupyterLab is stopped" in err.text() and "Traceback" not in err.text()
        finally:
            kill_leftovers(lab, marker)
