"""The event recorder's light footprint and the service's bookkeeping (no daemon needed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.provision import recorder_service
from labkit.grading.recorder import Config, Recorder, files_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_recorder_imports_neither_the_http_client_nor_the_cli_libraries() -> None:
    probe = "import sys, labkit.grading.recorder; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'click', 'rich', 'httpcore') or m in ('labkit.incus.client', 'labkit.labs.snapshots_observe', 'labkit.cli.main'))))"
    done = subprocess.run([sys.executable, "-c", "import json; " + probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_its_files_live_in_the_learners_state_folder_keyed_by_project_and_instance(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    config = recorder_service.config_path("user-1000", "ubuntu-test", env)
    assert config == tmp_path / "labkit" / "recorders" / "user-1000--ubuntu-test.json"
    pid, state, log = files_for(config)
    assert (pid.name, state.name, log.name) == ("user-1000--ubuntu-test.pid", "user-1000--ubuntu-test.state.json",
                                                 "user-1000--ubuntu-test.log")


def test_a_pid_file_naming_another_process_is_not_a_running_recorder(tmp_path: Path, monkeypatch) -> None:
    """PIDs get reused: the PID file alone proves nothing, /proc/PID/cmdline must be ours."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = recorder_service.config_path("default", "c1")
    config.parent.mkdir(parents=True)
    pid, state, _ = files_for(config)
    pid.write_text(f"{os.getpid()}\n")  # this test process: alive, but no recorder
    state.write_text(json.dumps({"pid": os.getpid(), "started_at": "2026-01-01T00:00:00+00:00", "connected": True}))
    found = recorder_service.status("default", "c1")
    assert not found.running and found.pid is None and found.events == 0


def test_the_systemd_template_runs_the_recorder_on_the_instances_configuration(tmp_path: Path) -> None:
    text = recorder_service.unit_text("/venv/bin/python", tmp_path)
    assert f"ExecStart=/venv/bin/python -m labkit.grading.recorder --config {tmp_path}/%I.json" in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text


def test_a_configuration_round_trips(tmp_path: Path) -> None:
    params = {"container": "c1", "snapshot": "s1", "file": "/root/f"}
    config = Config("/var/lib/incus/unix.socket", "default", "snapshots", params, "/j.json")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config.__dict__))
    assert Config.read(path) == config
    assert (config.container, config.file) == ("c1", "/root/f")


def test_a_chapter_without_a_file_is_recorded_without_looking_for_one(tmp_path: Path) -> None:
    """The recorder takes any chapter's params: no `file`, no HEAD request (a chapter of two servers)."""
    config = Config("/nonexistent.socket", "default", "other-lab", {"container": "c1"}, str(tmp_path / "j.json"))
    assert config.file is None
    recorder = Recorder(config, tmp_path / "state.json")
    recorder._request = lambda *args: pytest.fail("asked Incus for a file")  # type: ignore[method-assign]
    recorder._look()
    assert recorder.state.sightings == 0


def test_a_configuration_from_before_the_params_is_refused_not_half_read(tmp_path: Path) -> None:
    """A recorder started by an older labkit left the old layout: setup rewrites it (TypeError → changed)."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"socket": "/s", "project": "default", "container": "c1", "snapshot": "s1",
                                "lab": "snapshots", "file": "/root/f", "journal": "/j.json"}))
    with pytest.raises(TypeError):
        Config.read(path)
    path.write_text(json.dumps({"socket": "/s", "project": "default", "lab": "snapshots", "params": {},
                                "journal": "/j"}))
    with pytest.raises(ValueError):
        Config.read(path)
