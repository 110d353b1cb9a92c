"""The virtual environment learners' JupyterLab runs from.

A learner's account must be able to execute the single-user server, its kernel and
`labkit`: a virtual environment under /root (or made from an interpreter living there,
as pyenv's) is out of their reach.  So `serve` builds one from the system's Python in
/opt/labkit/hub-runtime (world-readable, root-owned), once; later runs only reinstall
labkit itself when its source changed.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import SetupError
from ..i18n import M

RUNTIME = Path("/opt/labkit/hub-runtime")
SYSTEM_PYTHON = Path("/usr/bin/python3")
SOURCE = Path(__file__).resolve().parents[2]
# What a learner's server needs besides labkit (whose own dependencies come with it).
PACKAGES = ("jupyterhub>=6.1", "jupyterlab>=4.2", "ipykernel>=6.29")
QUIET_LAB = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def source_stamp(source: Path = SOURCE) -> str:
    digest = hashlib.sha256(" ".join(PACKAGES).encode())
    for path in sorted([source / "pyproject.toml", *(source / "labkit").rglob("*.py"), *(source / "labkit").rglob("*.mo")]):
        digest.update(str(path.relative_to(source)).encode() + path.read_bytes())
    return digest.hexdigest()


def ensure_runtime(root: Path = RUNTIME, say=lambda message: None) -> Path:
    """The runtime's bin folder, built or brought up to date; everyone may read and run it."""
    root.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(root.parent, 0o755)
    stamp_file, wanted = root / ".labkit-stamp", source_stamp()
    with open(root.parent / ".hub-runtime.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two classes served at once build it once
        current = stamp_file.read_text().strip() if stamp_file.exists() else ""
        if current == wanted and (root / "bin" / "jupyterhub-singleuser").exists():
            return root / "bin"
        log = root.parent / "hub-runtime.log"
        python = root / "bin" / "python"
        if not python.exists():
            say(M("hub.runtime.building", "Building the learners' Python environment in {path} (once; about a minute)…", path=str(root)))
            interpreter = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys.executable)
            _run([str(interpreter), "-m", "venv", str(root)], log)
            _run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES, str(SOURCE)], log)
        else:  # labkit itself changed: reinstall it alone (not editable: learners cannot read this checkout)
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
        raise SetupError(M("hub.runtime.failed", "The learners' Python environment could not be built (“{command}” failed). Read the end of {log}; on Debian, “apt-get install python3-venv” is often what is missing.", command=" ".join(argv[:4]), log=str(log)))
