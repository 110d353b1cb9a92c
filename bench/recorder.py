#!/usr/bin/env python3
"""How light is the event recorder?  Memory and CPU while nothing happens, and per event.

    .venv/bin/python bench/recorder.py [--idle 60] [--image ALIAS]

Creates its own project and instance (deleted afterwards): the recorder hears every event
of its project, and the default project of a shared machine is never quiet.  Starts the
recorder the way `labkit setup` does (in a temporary state folder), then prints:
  - its resident memory (VmRSS, and VmHWM, the peak) from /proc/PID/status;
  - the CPU time it used (utime+stime from /proc/PID/stat) over --idle seconds with no event;
  - the CPU time for a burst of the chapter's actions (snapshot, exec, stop, restore, start, delete);
  - which heavy modules it imported (none of httpx, click, rich is the goal).
Goal: under 30 MB resident and no measurable CPU while idle.  Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.app import recorder_service  # noqa: E402
from labkit.app.setup import start_recorder  # noqa: E402
from labkit.incus.client import IncusClient, find_endpoint  # noqa: E402
from labkit.incus.instances import wait_until_booted  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


PROJECT = f"lk-bench-rec-{uuid.uuid4().hex[:6]}"


def incus(*args: str) -> None:
    subprocess.run(["incus", "--project", PROJECT, *args], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kb(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    args = parser.parse_args()
    name = f"lk-bench-rec-{uuid.uuid4().hex[:6]}"
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="lk-bench-rec-")
    subprocess.run(["incus", "project", "create", PROJECT, "-c", "features.images=false", "-c",
                    "features.profiles=false"], check=True, capture_output=True)
    try:
        incus("launch", args.image, name)
        wait_until_booted(name, PROJECT)
        with IncusClient(find_endpoint(PROJECT)) as client:
            start_recorder(client, name)
        pid = recorder_service.status(PROJECT, name).pid
        assert pid is not None
        time.sleep(2)  # settle after start-up
        mem = memory_kb(pid)
        before = cpu_seconds(pid)
        time.sleep(args.idle)
        idle = cpu_seconds(pid) - before
        print(f"resident memory: {mem['VmRSS'] / 1024:.1f} MB (peak {mem['VmHWM'] / 1024:.1f} MB)")
        print(f"CPU while idle for {args.idle:.0f} s: {idle * 1000:.0f} ms "
              f"(clock tick {1000 / TICKS:.0f} ms: 0 means below one tick)")
        before = cpu_seconds(pid)
        incus("snapshot", "create", name, "ubuntu-test-1")
        incus("exec", name, "--", "touch", "/root/this_file.txt")
        incus("stop", name)
        incus("snapshot", "restore", name, "ubuntu-test-1")
        incus("start", name)
        incus("snapshot", "delete", name, "ubuntu-test-1")
        time.sleep(1)
        burst = cpu_seconds(pid) - before
        state = recorder_service.status(PROJECT, name)
        print(f"CPU for the chapter's actions ({state.events} events, {state.sightings} looks at the file): "
              f"{burst * 1000:.0f} ms; memory after: {memory_kb(pid)['VmRSS'] / 1024:.1f} MB")
        probe = subprocess.run([sys.executable, "-c", "import sys, labkit.app.recorder; print(' '.join(sorted("
                                "m for m in ('httpx', 'click', 'rich', "
                                "'labkit.incus.client', 'labkit.labs.snapshots.observe') "
                                "if m in sys.modules)) or 'none')"], capture_output=True, text=True, cwd=ROOT)
        print(f"heavy modules imported by the recorder: {probe.stdout.strip()}")
    finally:
        recorder_service.stop(PROJECT, name)
        subprocess.run(["incus", "delete", "--force", name, "--project", PROJECT], capture_output=True)
        subprocess.run(["incus", "project", "delete", PROJECT], capture_output=True)


if __name__ == "__main__":
    main()
