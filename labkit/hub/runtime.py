"""The virtual environment learners' JupyterLab runs from, inside their workspaces.

`serve` builds it from the system's Python in /opt/labkit/hub-runtime (world-readable,
root-owned) and attaches it read-only to every workspace at the same path: the workspace
image has the same Debian release, hence the same /usr/bin/python3 the venv points to.
Built once; later runs install the packages again only when their list changed, and labkit
itself when its source changed.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from pathlib import Path

from ..errors import SetupError
from ..i18n import M

RUNTIME = Path("/opt/labkit/hub-runtime")
SYSTEM_PYTHON = Path("/usr/bin/python3")
SOURCE = Path(__file__).resolve().parents[2]
# What a learner's server needs besides labkit (whose own dependencies come with it).
PACKAGES = ("jupyterhub>=6.1", "jupyterlab>=4.2", "jupyterlab-language-pack-fr-FR>=4.2", "ipykernel>=6.29")
QUIET_LAB = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def packages_stamp() -> str:
    return hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()


def source_stamp(source: Path = SOURCE) -> str:
    digest = hashlib.sha256(b"")
    for path in sorted([source / "pyproject.toml", *(source / "labkit").rglob("*.py"),
                        *(source / "labkit").rglob("*.mo")]):
        digest.update(str(path.relative_to(source)).encode() + path.read_bytes())
    return digest.hexdigest()


def ensure_runtime(root: Path = RUNTIME, say=lambda message: None) -> Path:
    """The runtime's bin folder, built or brought up to date; everyone may read and run it."""
    root.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(root.parent, 0o755)
    stamp_file, wanted = root / ".labkit-stamp", f"{packages_stamp()} {source_stamp()}"
    with open(root.parent / ".hub-runtime.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two classes served at once build it once
        current = stamp_file.read_text().strip() if stamp_file.exists() else ""
        if current == wanted and (root / "bin" / "jupyterhub-singleuser").exists():
            return root / "bin"
        log = root.parent / "hub-runtime.log"
        python = root / "bin" / "python"
        if not python.exists():
            say(M("hub.runtime.building", "Building the learners' Python environment in {path} (once; about a minute)…",
                  path=str(root)))
            # The system's interpreter: the workspaces have the same one at the same path.
            _run([str(SYSTEM_PYTHON), "-m", "venv", str(root)], log)
        if current.split(" ")[0] != packages_stamp() or not (root / "bin" / "jupyterhub-singleuser").exists():
            _run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES, str(SOURCE)], log)
        else:  # labkit itself changed: reinstall it alone (not editable: the workspaces cannot see this checkout)
            _run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(SOURCE)], log)
        # No news or update toasts in the learners' JupyterLab: nothing for them to decide there.
        settings = root / "share" / "jupyter" / "lab" / "settings"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(QUIET_LAB, indent=2) + "\n")
        stamp_file.write_text(wanted + "\n")
    subprocess.run(["chmod", "-R", "go+rX", str(root)], check=False)
    return root / "bin"


def _run(argv: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SetupError(M("hub.runtime.failed", "The learners' Python environment could not be built (“{command}” "
                                                 "failed). Read the end of {log}; on Debian, “apt-get install "
                                                 "python3-venv” is often what is missing.",
                           command=" ".join(argv[:4]), log=str(log)))
