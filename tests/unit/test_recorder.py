"""The event recorder's light footprint and the service's bookkeeping (no daemon needed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.app import recorder_service
from labkit.app.recorder import Recorder
from labkit.app.recorder_config import Config, Watch, files_for
from labkit.incus.client import Endpoint

ROOT = Path(__file__).resolve().parents[2]


def test_the_recorder_imports_neither_the_http_client_nor_the_cli_libraries() -> None:
    probe = ("import sys, labkit.app.recorder; print(json.dumps(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('httpx', 'click', 'rich', 'httpcore') "
             "or m in ('labkit.incus.client', 'labkit.labs.snapshots.observe', 'labkit.cli.main'))))")
    done = subprocess.run([sys.executable, "-c", "import json; " + probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []



def test_a_recorder_whose_instance_is_gone_forgets_it_and_disables_its_unit(tmp_path: Path, monkeypatch) -> None:
    """Its config goes, so nothing starts it at the next boot; the unit is disabled through
    recorder_service, imported only then (it brings the HTTP client's module along)."""
    from labkit.app import recorder as recorder_module

    disabled: list[tuple[str, str]] = []
    monkeypatch.setattr(recorder_service, "disable_unit", lambda *names: disabled.append(names))
    config_path = tmp_path / "default--c1.json"
    config_path.write_text("{}")
    recorder_module._forget(Config("/nonexistent.socket", "default", "c1", ()), config_path)
    assert not config_path.exists() and disabled == [("default", "c1")]

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
    assert f"ExecStart=/venv/bin/python -m labkit.app.recorder --config {tmp_path}/%I.json" in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text


def test_a_configuration_round_trips(tmp_path: Path) -> None:
    params = {"container": "c1", "snapshot": "s1", "file": "/root/f"}
    config = Config("/var/lib/incus/unix.socket", "default", "c1", (Watch("snapshots", params, "/j.json"),))
    path = tmp_path / "c.json"
    path.write_text(config.to_json())
    assert Config.read(path) == config
    assert (config.container, config.files) == ("c1", ("/root/f",))


def test_a_configuration_of_one_lab_per_recorder_is_read_as_one_watch(tmp_path: Path) -> None:
    """Written by the labkit before recorders were shared by labs: still running after an upgrade."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"socket": "/s", "project": "default", "lab": "snapshots",
                                "params": {"container": "c1", "file": "/root/f"}, "journal": "/j.json"}))
    config = Config.read(path)
    assert config == Config("/s", "default", "c1",
                            (Watch("snapshots", {"container": "c1", "file": "/root/f"}, "/j.json"),))


def test_a_second_lab_on_the_same_instance_joins_the_recorder_instead_of_taking_it_over(
        tmp_path: Path, monkeypatch) -> None:
    """`labkit setup` of the first lab, then of the second on the same ubuntu-test: both journals are fed."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    endpoint = Endpoint(Path("/var/lib/incus/unix.socket"), "default")
    first = {"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "file": "/root/this_file.txt"}
    second = {"container": "ubuntu-test", "snapshot": "s", "remote": "incus-snapshot"}
    path, changed = recorder_service.write_config(endpoint, "snapshots", first, tmp_path / "a.json")
    assert changed
    assert recorder_service.write_config(endpoint, "snapshots", first, tmp_path / "a.json") == (path, False)
    _, changed = recorder_service.write_config(endpoint, "snapshot-server", second, tmp_path / "b.json")
    assert changed
    config = Config.read(path)
    assert [(w.lab, w.journal) for w in config.watches] == [("snapshot-server", str(tmp_path / "b.json")),
                                                            ("snapshots", str(tmp_path / "a.json"))]
    # The same lab again with other params (another snapshot name) replaces its own watch only.
    recorder_service.write_config(endpoint, "snapshots", {**first, "snapshot": "other"}, tmp_path / "a.json")
    assert [w.params["snapshot"] for w in Config.read(path).watches] == ["s", "other"]
    # Another daemon's socket: a recorder of its own, the old watches do not follow.
    recorder_service.write_config(Endpoint(Path("/elsewhere.socket"), "default"), "snapshots", first,
                                  tmp_path / "a.json")
    assert [w.lab for w in Config.read(path).watches] == ["snapshots"]


def test_an_event_goes_into_every_labs_journal_and_a_file_sighting_only_into_its_labs(tmp_path: Path) -> None:
    first = Watch("snapshots", {"container": "c1", "file": "/root/f"}, str(tmp_path / "a.json"))
    second = Watch("snapshot-server", {"container": "c1"}, str(tmp_path / "b.json"))
    recorder = Recorder(Config("/nonexistent.socket", "default", "c1", (first, second)), tmp_path / "state.json")
    recorder._request = lambda *args: (200, {"X-Incus-Modified": "Wed, 02 Dec 2026 10:00:00 GMT"})  # type: ignore[method-assign]
    recorder._handle({"type": "lifecycle", "timestamp": "2026-12-02T10:00:00Z", "project": "default",
                      "metadata": {"action": "instance-snapshot-created", "source": "/1.0/instances/c1/snapshots/x",
                                   "context": {}}})
    a, b = (json.loads(Path(w.journal).read_text())["events"] for w in (first, second))
    assert [e["action"] for e in a] == ["instance-snapshot-created", "labkit-file-seen"]
    assert [e["action"] for e in b] == ["instance-snapshot-created"]
    assert (recorder.state.events, recorder.state.sightings) == (1, 1)


def test_a_chapter_without_a_file_is_recorded_without_looking_for_one(tmp_path: Path) -> None:
    """The recorder takes any chapter's params: no `file`, no HEAD request (a chapter of two servers)."""
    config = Config("/nonexistent.socket", "default", "c1",
                    (Watch("other-lab", {"container": "c1"}, str(tmp_path / "j.json")),))
    assert config.files == ()
    recorder = Recorder(config, tmp_path / "state.json")
    recorder._request = lambda *args: pytest.fail("asked Incus for a file")  # type: ignore[method-assign]
    recorder._look()
    assert recorder.state.sightings == 0


def test_a_configuration_from_before_the_params_is_refused_not_half_read(tmp_path: Path) -> None:
    """A recorder started by an older labkit left the old layout: setup rewrites it (ValueError → changed)."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"socket": "/s", "project": "default", "container": "c1", "snapshot": "s1",
                                "lab": "snapshots", "file": "/root/f", "journal": "/j.json"}))
    with pytest.raises(ValueError):
        Config.read(path)
    path.write_text(json.dumps({"socket": "/s", "project": "default", "lab": "snapshots", "params": {},
                                "journal": "/j"}))
    with pytest.raises(ValueError):
        Config.read(path)


def _task(op_id: str, status: str, klass: str = "task") -> dict:
    return {"type": "operation", "project": "default",
            "metadata": {"id": op_id, "class": klass, "status": status,
                         "resources": {"instances": ["/1.0/instances/c1"]}}}


def test_no_file_is_looked_at_while_a_task_runs_on_the_instance_but_once_it_has_ended(tmp_path: Path) -> None:
    """A HEAD during a restore starts a file helper the restore then waits 10-15 s for (Incus 6.0.4)."""
    watch = Watch("snapshots", {"container": "c1", "file": "/root/f"}, str(tmp_path / "a.json"))
    recorder = Recorder(Config("/nonexistent.socket", "default", "c1", (watch,)), tmp_path / "state.json")
    asked: list[str] = []
    recorder._request = lambda method, path, params: asked.append(params["path"]) or (404, {})  # type: ignore[method-assign]
    recorder._handle(_task("r1", "Running"))
    recorder._handle({"type": "lifecycle", "timestamp": "2026-12-02T10:00:00Z", "project": "default",
                      "metadata": {"action": "instance-stopped", "source": "/1.0/instances/c1", "context": {}}})
    assert asked == []  # the restore stopped the instance: looking now would hold it up
    recorder._handle(_task("r1", "Pending"))
    recorder._handle(_task("r1", "Success"))
    assert asked == ["/root/f"]
    recorder._handle(_task("r1", "Pending"))  # late: the task is over, nothing is held back
    recorder._handle(_task("x1", "Success", klass="websocket"))
    assert asked == ["/root/f", "/root/f"]


def test_a_command_in_the_instance_or_a_task_that_never_ends_does_not_stop_the_looks(
        tmp_path: Path, monkeypatch) -> None:
    """A background exec (`sleep infinity`) is a task that never stops the file helper; any task
    holds the looks back for HOLD_SECONDS at most (a lost end event, an endless task)."""
    from labkit.app import recorder as recorder_module

    watch = Watch("snapshots", {"container": "c1", "file": "/root/f"}, str(tmp_path / "a.json"))
    recorder = Recorder(Config("/nonexistent.socket", "default", "c1", (watch,)), tmp_path / "state.json")
    asked: list[str] = []
    recorder._request = lambda method, path, params: asked.append(params["path"]) or (404, {})  # type: ignore[method-assign]
    exec_task = _task("e1", "Running")
    exec_task["metadata"]["description"] = "Executing command"
    recorder._handle(exec_task)
    recorder._look()
    assert asked == ["/root/f"]
    recorder._handle(_task("s1", "Running"))
    recorder._look()
    assert asked == ["/root/f"]
    clock = [time.monotonic() + recorder_module.HOLD_SECONDS + 1]
    monkeypatch.setattr(recorder_module.time, "monotonic", lambda: clock[0])
    recorder._look()
    assert asked == ["/root/f", "/root/f"]


def _exec_end(op_id: str, command: list, code: int, when: str = "2026-12-02T10:00:01.5Z",
              status: str = "Success") -> dict:
    return {"type": "operation", "project": "default", "timestamp": when,
            "metadata": {"id": op_id, "class": "websocket", "status": status, "description": "Executing command",
                         "resources": {"instances": ["/1.0/instances/c1"]},
                         "metadata": {"command": command, "return": code, "environment": {"HOME": "/root"}}}}


def test_a_command_naming_the_file_is_recorded_at_the_daemons_time_however_late_the_look(tmp_path: Path) -> None:
    """A stop and a restore typed right after the touch: the look may see the file gone, the record
    of the touch (command, exit code, the daemon's time) is kept all the same (issue 19)."""
    from labkit.grading.engine import EXEC_ENDED

    watch = Watch("snapshots", {"container": "c1", "file": "/root/this_file.txt"}, str(tmp_path / "a.json"))
    other = Watch("snapshot-server", {"container": "c1"}, str(tmp_path / "b.json"))
    recorder = Recorder(Config("/nonexistent.socket", "default", "c1", (other, watch)), tmp_path / "state.json")
    recorder._request = lambda method, path, params: (404, {})  # type: ignore[method-assign]  # already restored
    recorder._handle(_task("r0", "Running"))  # the learner's next command already runs: the look waits
    recorder._handle(_exec_end("e1", ["touch", "/root/this_file.txt"], 0))
    recorder._handle(_exec_end("e2", ["ls", "/root"], 0))                       # names no file: not kept
    recorder._handle(_exec_end("e3", ["sh", "-c", "this_file.txt" + "x" * 5000] + ["y"] * 40, 1))
    recorder._handle(_exec_end("e4", ["touch", "/root/this_file.txt"], 0, status="Failure"))
    events = json.loads((tmp_path / "a.json").read_text())["events"]
    made = [e for e in events if e["action"] == EXEC_ENDED]
    assert [e["context"]["command"][:2] for e in made] == [["touch", "/root/this_file.txt"], ["sh", "-c"]]
    assert made[0]["context"]["return"] == 0 and made[0]["time"].startswith("2026-12-02T10:00:01.5")
    assert made[1]["context"]["return"] == 1
    assert len(made[1]["context"]["command"]) <= 16 and all(len(w) <= 256 for w in made[1]["context"]["command"])
    assert not (tmp_path / "b.json").exists() or EXEC_ENDED not in (tmp_path / "b.json").read_text()


def test_the_first_labs_setup_also_records_for_the_other_labs_without_overriding_their_own(
        tmp_path: Path, monkeypatch) -> None:
    """A learner who ran `labkit setup` only, then does the second lab in a terminal: its copy's
    instance-migrated (seen only by a listener) lands in the second lab's journal too (issue 19)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    endpoint = Endpoint(Path("/var/lib/incus/unix.socket"), "default")
    first = {"container": "ubuntu-test", "snapshot": "ubuntu-test-1", "file": "/root/this_file.txt"}
    default_second = Watch("snapshot-server", {"container": "ubuntu-test", "snapshot": "ubuntu-test-1"},
                           str(tmp_path / "b.json"))
    path, _ = recorder_service.write_config(endpoint, "snapshots", first, tmp_path / "a.json", (default_second,))
    assert [w.lab for w in Config.read(path).watches] == ["snapshot-server", "snapshots"]
    # The second lab's own setup (its params, its journal) wins, and a later first-lab setup keeps it.
    own = {"container": "ubuntu-test", "snapshot": "mine", "remote": "incus-snapshot"}
    recorder_service.write_config(endpoint, "snapshot-server", own, tmp_path / "own.json")
    _, changed = recorder_service.write_config(endpoint, "snapshots", first, tmp_path / "a.json", (default_second,))
    watches = {w.lab: w for w in Config.read(path).watches}
    assert not changed and watches["snapshot-server"].params["snapshot"] == "mine"
    # A watch for another instance is never added.
    other = Watch("snapshot-server", {"container": "elsewhere"}, str(tmp_path / "c.json"))
    path2, _ = recorder_service.write_config(endpoint, "snapshots", {**first, "container": "c2"}, tmp_path / "d.json",
                                             (other,))
    assert [w.lab for w in Config.read(path2).watches] == ["snapshots"]
