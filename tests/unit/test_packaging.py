"""The runtime catalogue ships inside the wheel and is found from an installed copy."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_french_messages_load_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    # Built with the venv's own setuptools and wheel (requirements.txt, at the versions pyproject.toml asks
    # for): an isolated build environment would install them afresh at every run, most of this test's time.
    # The build backend pyproject.toml names is called as a PEP 517 front end calls it (what
    # `pip wheel --no-build-isolation` does, after starting pip and asking the backend for the metadata
    # first: twice this build's time).
    build = ("import importlib, sys, tomllib; system = tomllib.load(open('pyproject.toml', 'rb'))['build-system']; "
             "module, _, name = system['build-backend'].partition(':'); backend = importlib.import_module(module); "
             "print((getattr(backend, name) if name else backend).build_wheel(sys.argv[1]))")
    # setuptools stages the package in build/ and packs whatever it finds there: a module moved or
    # removed since an earlier build would ship again.  Its staging folder is this test's own.
    staging = tmp_path / "setup.cfg"
    staging.write_text(f"[build]\nbuild_base = {tmp_path / 'build'}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-c", build, str(wheels)], check=True, capture_output=True, cwd=ROOT,
                   env={**os.environ, "DIST_EXTRA_CONFIG": str(staging)})
    wheel = next(wheels.glob("labkit-*.whl"))
    packed = zipfile.ZipFile(wheel).namelist()
    assert "labkit/locale/fr/LC_MESSAGES/labkit.mo" in packed
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "labkit").rglob("*.py")}
    assert {name for name in packed if name.endswith(".py")} == modules
    target = tmp_path / "site"
    # --no-compile: the probe below imports a handful of the package's modules, not its 130 .py files.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    probe = ("import labkit.i18n as i, sys; from labkit.i18n import M; "
             "assert i.__file__.startswith(sys.argv[1]), i.__file__; "
             "print(M('render.failed', 'failed').render('fr'))")
    out = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "échouée"  # agrees with « étape »
