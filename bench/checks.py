#!/usr/bin/env python3
"""How fast is a check?  The `labkit check` command beside a shell script, and in-process.

    .venv/bin/python bench/checks.py [--runs 30] [--image ALIAS] [--no-breakdown]

Creates its own instance (a unique name, deleted afterwards), takes it half-way
through the chapter (snapshot taken, file created), then times, in alternation (a change
of load hits them all alike), and prints each median with its goal:
  - `labkit check snapshot touch` (the console script, output to a pipe) and the same two
    checks as a shell script with the incus CLI:
        incus snapshot list NAME -f csv | grep -q '^ubuntu-test-1,'
        incus exec NAME -- test -e /root/this_file.txt
    and their ratio (goal: labkit <= 0.8 x the shell script);
  - the same command on a terminal (a pseudo-terminal: the rich output);
  - a breakdown: the interpreter alone and with the check's imports (alternated; goal: the
    imports <= 20 ms over the bare interpreter), and in-process, as the notebook's Lab does it
    (reads over the local socket without httpx): observe, one step, all eight steps (goals: one step <= 5 ms,
    all steps <= 8 ms), each also as a ratio to the shell script.
Commands run as a learner's would: with bytecode caches (PYTHONDONTWRITEBYTECODE is
removed from their environment and a first run writes the caches).  The machine's load
average is printed: on a shared machine every number moves with it.  Prints numbers;
it is not a timed test.
"""
from __future__ import annotations

import argparse
import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.app.session import Session  # noqa: E402
from labkit.incus.instances import wait_until_booted  # noqa: E402

SNAPSHOT, FILE = "ubuntu-test-1", "/root/this_file.txt"
# What `labkit check` imports before its first request (the chapter's modules with it).
CHECK_IMPORTS = ("import labkit.entry, labkit.cli.check, labkit.grading.render, labkit.app.session; "
                 "from labkit.labs import CHAPTERS; CHAPTERS['snapshots']")
GOALS = {"ratio": 0.8, "imports_ms": 20.0, "one_step_ms": 5.0, "all_steps_ms": 8.0}


def incus(*args: str) -> None:
    subprocess.run(["incus", *args], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm-up: connection pool, imports, catalogue, bytecode caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def side_by_side(actions: dict[str, Callable[[], object]],
                 runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Alternate the commands, so that a change of load hits them all alike.  Wall clock, and the
    CPU time (user + system) of the command's processes: the daemon's work is in neither."""
    for action in actions.values():
        action()
    wall: dict[str, list[float]] = {label: [] for label in actions}
    cpu: dict[str, list[float]] = {label: [] for label in actions}
    for _ in range(runs):
        for label, action in actions.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            action()
            wall[label].append((time.perf_counter() - start) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label].append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return wall, cpu


def run(cmd: list[str] | str, env: dict[str, str], *, shell: bool = False, expect: int | None = 0) -> None:
    done = subprocess.run(cmd, shell=shell, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if expect is not None and done.returncode != expect:
        raise SystemExit(f"{cmd!r} exited {done.returncode}: {done.stderr.decode()[-500:]}")


def run_on_terminal(cmd: list[str], env: dict[str, str]) -> None:
    """Run with stdout on a pseudo-terminal (what a learner's terminal gives), reading all it prints."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, env={**env, "COLUMNS": "100", "TERM": "xterm-256color"}, stdin=subprocess.DEVNULL,
                                stdout=follower, stderr=subprocess.DEVNULL)
        os.close(follower)
        follower = -1
        while True:
            try:
                if not os.read(leader, 65536):
                    break
            except OSError:  # EIO: the command closed the terminal
                break
        if proc.wait() != 0:
            raise SystemExit(f"{cmd!r} exited {proc.returncode} on a terminal")
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{label:<52} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    args = parser.parse_args()
    name = f"lk-bench-{uuid.uuid4().hex[:6]}"
    labkit_cmd = str(Path(sys.executable).parent / "labkit")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    incus("launch", args.image, name)
    try:
        wait_until_booted(name)
        incus("snapshot", "create", name, SNAPSHOT)
        time.sleep(1.1)  # the file's time (to the second) must be after the snapshot's
        incus("exec", name, "--", "touch", FILE)
        with tempfile.TemporaryDirectory() as tmp:
            journal = Path(tmp) / "journal.json"
            command = [labkit_cmd, "--container", name, "--journal", str(journal), "check", "snapshot", "touch"]
            script = (f"incus snapshot list {name} -f csv | grep -q '^{SNAPSHOT},' "
                      f"&& incus exec {name} -- test -e {FILE}")
            print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)", flush=True)
            pair, cpu = side_by_side({"labkit": lambda: run(command, env),
                                      "shell": lambda: run(script, env, shell=True)}, args.runs)
            labkit_ms, shell_ms = statistics.median(pair["labkit"]), statistics.median(pair["shell"])
            print(summary("`labkit check snapshot touch` (to a pipe)", pair["labkit"])
                  + f"   {labkit_ms / shell_ms:.2f} x shell (goal <= {GOALS['ratio']})")
            print(summary("shell script (incus CLI, 2 calls)", pair["shell"]))
            print(f"CPU time (user+system, median): labkit {statistics.median(cpu['labkit']):.1f} ms, "
                  f"shell {statistics.median(cpu['shell']):.1f} ms")
            terminal = timed(lambda: run_on_terminal(command, env), max(5, args.runs // 3))
            print(summary("`labkit check snapshot touch` on a terminal", terminal)
                  + f"   {statistics.median(terminal) / shell_ms:.2f} x shell")
            if args.breakdown:
                python = [sys.executable]
                few = max(5, args.runs // 3)
                start_up, _ = side_by_side({"bare": lambda: run(python + ["-c", "pass"], env),
                                            "imports": lambda: run(python + ["-c", CHECK_IMPORTS], env)}, few)
                bare_ms, imports_ms = statistics.median(start_up["bare"]), statistics.median(start_up["imports"])
                print(summary("  interpreter alone (python -c pass)", start_up["bare"]))
                print(summary("  interpreter + the check's imports", start_up["imports"])
                      + f"   imports {imports_ms - bare_ms:.1f} ms (goal <= {GOALS['imports_ms']:.0f} ms)")
                session = Session(container=name, journal=journal, lean_reads=True)  # as the notebook's Lab
                in_process = side_by_side({"observe": session.observe, "one": lambda: session.check(["touch"]),
                                           "all": session.check,
                                           "shell": lambda: run(script, env, shell=True)}, args.runs)[0]
                shell_again = statistics.median(in_process["shell"])
                for key, label, goal in (("observe", "observation alone (3 requests)", None),
                                         ("one", "one step (observe+grade+journal)", GOALS["one_step_ms"]),
                                         ("all", "all 8 steps", GOALS["all_steps_ms"])):
                    median = statistics.median(in_process[key])
                    print(summary(f"  in-process: {label}", in_process[key])
                          + f"   {median / shell_again:.2f} x shell" + (f" (goal <= {goal:.0f} ms)" if goal else ""))
                print(summary("  shell script again, alternated with the in-process runs", in_process["shell"]))
                session.close()
            print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        subprocess.run(["incus", "delete", "--force", name], capture_output=True)


if __name__ == "__main__":
    main()
