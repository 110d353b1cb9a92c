#!/usr/bin/env python3
"""How fast is the second lab (snapshot-server)?  The copy, the refresh, and a check.

    sudo .venv/bin/python bench/second_lab.py [--copies 3] [--refreshes 3] [--runs 20] [--image ALIAS]

Creates its own instance (a unique name, deleted afterwards), its own snapshot server (a second
incusd in a folder of its own under /var/lib and on a free loopback port, as `labkit setup
--snapshot-server` makes one; stopped and removed afterwards, the main daemon's address left
alone) and a learner's Incus client folder (INCUS_CONF, in a temporary folder), then follows the
chapter as a learner would, checking each step once, and times:
  (a) `incus copy NAME/ubuntu-test-1 incus-snapshot:NAME`: the copy of a snapshot to the snapshot
      server (pull mode when the main daemon listens on the network, else `--mode push`); the
      copy is deleted between runs and the last one kept;
  (b) `incus copy --refresh NAME incus-snapshot:NAME`, each time after a newer snapshot (named by
      the chapter's snapshots.pattern);
  (c) at the state after the refresh (every step done, boot.autostart off on the copy again):
      `labkit --lab snapshot-server check` (the console script, output to a pipe), and the same
      in-process, as the notebook's Lab does it (Session.check: observe both servers, grade all
      8 steps, record in the journal).  The command alternates with the same checks made with the
      incus CLI (shell_checks); their ratio is printed with its goal (<= 1.0).
Commands run as a learner's would: with bytecode caches (PYTHONDONTWRITEBYTECODE is removed
from their environment and a first run writes the caches).  The machine's load average is
printed: on a shared machine every number moves with it.  Prints numbers; it is not a timed test.
"""
from __future__ import annotations

import argparse
import os
import socket
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
from labkit.incus.events import Listener  # noqa: E402
from labkit.incus.instances import wait_until_booted  # noqa: E402
from labkit.labs import chapter_named  # noqa: E402
from labkit.provision import second_server  # noqa: E402

LAB = "snapshot-server"
CHAPTER = chapter_named(LAB)
SNAPSHOT, REMOTE = CHAPTER.defaults["snapshot"], CHAPTER.defaults["remote"]
# What `labkit check` imports before its first request, the snapshot server's access included.
CHECK_IMPORTS = ("import labkit.entry, labkit.cli.check, labkit.grading.render, labkit.app.session, "
                 "labkit.provision.second_server; from labkit.labs import CHAPTERS; CHAPTERS['snapshot-server']")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def incus(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["incus", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"incus {' '.join(args)} exited {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


def run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n"
                         f"{done.stdout.decode()[-1500:]}{done.stderr.decode()[-500:]}")


def stopwatch(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm-up: connection pool, imports, catalogue, bytecode caches
    return [stopwatch(action) for _ in range(runs)]


def summary(label: str, samples: list[float], unit: str = "ms") -> str:
    if not samples:
        return f"{label:<58} no sample"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    scale = 1000 if unit == "s" else 1
    return (f"{label:<58} median {statistics.median(samples) / scale:7.2f} {unit}   p95 {p95 / scale:7.2f} {unit}   "
            f"min {ordered[0] / scale:7.2f}   max {ordered[-1] / scale:7.2f}   (n={len(samples)})")


def alternated(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Each action once to warm up, then all in turn, `runs` times: a change of load hits them alike."""
    for action in actions.values():
        action()
    samples: dict[str, list[float]] = {label: [] for label in actions}
    for _ in range(runs):
        for label, action in actions.items():
            samples[label].append(stopwatch(action))
    return samples


def shell_checks(name: str) -> str:
    """The chapter's eight checks as a learner would make them with the incus CLI (their INCUS_CONF):
    the remote, the snapshot on both sides (copy and refresh), autostart off on the copy, and the
    schedule, pattern and expiry keys."""
    return (f"incus remote list -f csv | grep -q '^{REMOTE},' && "
            f"incus snapshot list {name} -f csv | grep -q '^{SNAPSHOT},' && "
            f"incus snapshot list {REMOTE}:{name} -f csv | grep -q . && "
            f"incus config get {REMOTE}:{name} boot.autostart >/dev/null && "
            f"incus config get {name} snapshots.schedule >/dev/null && "
            f"incus config get {name} snapshots.pattern >/dev/null && "
            f"incus config get {name} snapshots.expiry >/dev/null")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def timed_copy(args: list[str], env: dict[str, str], modes: list[str]) -> float | None:
    """One timed `incus copy`: the guide's pull mode when the main daemon listens on the network,
    else `--mode push`.  Asked before each copy: on a shared machine another user may change it.

    A refresh can fail at its very end with “ETag doesn't match”: the client reads the copy, then
    writes the source's configuration over it, and the target changed it in between (seen once in
    push mode under load).  That attempt is reported and not timed; an untimed retry finishes it."""
    listens = incus("config", "get", "core.https_address").strip()
    command = ["incus", *args, *([] if listens else ["--mode", "push"])]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode == 0:
        modes.append("pull" if listens else "push")
        return elapsed
    if "ETag doesn't match" not in done.stderr:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    modes.append(("pull" if listens else "push") + " ETag race")
    print(f"    {' '.join(command)}: {done.stderr.strip()} after {elapsed / 1000:.1f} s; retried, not timed",
          flush=True)
    incus(*command[1:], env=env)
    return None


def mode_note(modes: list[str]) -> str:
    return "   " + ", ".join(f"{modes.count(m)}× {m} mode" for m in sorted(set(modes)))


def check_passes(session: Session, step: str) -> None:
    """The learner's check right after each step: the journal sees every step pass (the copy's
    evidence is consumed by the refresh, and counts then only if a check saw it)."""
    result = session.check([step]).results[0]
    if not result.passed:
        raise SystemExit(f"the check of “{step}” did not pass: {result.status.value}, {result.diagnosis}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--refreshes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--image", default="labkit/debian-bookworm")
    parser.add_argument("--prefix", default="lk-bench2", help="of the instance's and the server folder's names")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:6]
    name = f"{args.prefix}-{tag}"
    server = second_server.SnapshotServer(Path("/var/lib") / f"{args.prefix}-snapsrv-{tag}", free_port())
    labkit_cmd = str(Path(sys.executable).parent / "labkit")
    with tempfile.TemporaryDirectory(prefix="labkit-bench2-") as tmp:
        conf, journal = Path(tmp) / "incus-client", Path(tmp) / "journal.json"
        conf.mkdir()
        # The learner's environment, for their incus commands, `labkit check`, and Session here.
        os.environ.update(INCUS_CONF=str(conf), LABKIT_SNAPSHOT_SERVER_DIR=str(server.incus_dir))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        session = listener = None
        try:
            print(f"load average at start: {load()}", flush=True)
            incus("launch", args.image, name)
            wait_until_booted(name)
            started = second_server.ensure_running(server, main=None)  # main=None: the main daemon's address untouched
            print(f"instance {name}; snapshot server {server.address} in {server.incus_dir}", flush=True)
            session = Session(lab=LAB, container=name, journal=journal)
            # What the notebook's Lab (or `labkit watch`, or the recorder) does: the copy's evidence is
            # the main server's instance-migrated event.
            listener = Listener(session.endpoint, name, lambda entry: session.record_events([entry])).start()

            incus("remote", "add", REMOTE, server.address, "--token", started.token, "--accept-certificate", env=env)
            check_passes(session, "remote")
            incus("snapshot", "create", name, SNAPSHOT, env=env)
            check_passes(session, "snapshot")

            copies, modes = [], []
            for n in range(args.copies):
                if n:
                    incus("delete", f"{REMOTE}:{name}", env=env)
                copies.append(timed_copy(["copy", f"{name}/{SNAPSHOT}", f"{REMOTE}:{name}"], env, modes))
            copies = [ms for ms in copies if ms is not None]
            print(summary(f"(a) incus copy {name}/{SNAPSHOT} {REMOTE}:{name}", copies, "s") + mode_note(modes),
                  flush=True)
            time.sleep(0.5)  # the listener's last event
            check_passes(session, "copy")
            incus("config", "set", f"{REMOTE}:{name}", "boot.autostart=false", env=env)
            check_passes(session, "autostart")
            for key, value in (("snapshots.schedule", "50 20 * * *"),
                               ("snapshots.pattern", f"{name}-{{{{ creation_date|date:'2006-01-02_15-04-05' }}}}"),
                               ("snapshots.expiry", "1d")):
                incus("config", "set", name, f"{key}={value}", env=env)
            for step in ("schedule", "pattern", "expiry"):
                check_passes(session, step)

            refreshes, modes = [], []
            for n in range(args.refreshes):
                time.sleep(1.1)  # the pattern names snapshots to the second
                incus("snapshot", "create", name, env=env)
                refreshes.append(timed_copy(["copy", "--refresh", name, f"{REMOTE}:{name}"], env, modes))
            refreshes = [ms for ms in refreshes if ms is not None]
            print(summary(f"(b) incus copy --refresh {name} {REMOTE}:{name}", refreshes, "s") + mode_note(modes),
                  flush=True)
            incus("config", "set", f"{REMOTE}:{name}", "boot.autostart=false", env=env)
            check_passes(session, "refresh")

            command = [labkit_cmd, "--lab", LAB, "--container", name, "--journal", str(journal), "check"]
            print(f"load average before the checks: {load()}", flush=True)
            pair = alternated({"labkit": lambda: run(command, env),
                               "shell": lambda: run(["sh", "-c", shell_checks(name)], env)}, args.runs)
            ratio = statistics.median(pair["labkit"]) / statistics.median(pair["shell"])
            print(summary("(c) `labkit --lab snapshot-server check` (to a pipe, 8 steps)", pair["labkit"])
                  + f"   {ratio:.2f} x incus (goal <= 1.0)")
            print(summary("    the same checks as incus calls (sh, 7 calls)", pair["shell"]))
            few = max(5, args.runs // 2)
            python = [sys.executable]
            print(summary("    interpreter alone (python -c pass)",
                          timed(lambda: run(python + ["-c", "pass"], env), few)))
            print(summary("    interpreter + the check's imports",
                          timed(lambda: run(python + ["-c", CHECK_IMPORTS], env), few)))
            print(summary("(c) in-process Session.check() (8 steps, both servers)", timed(session.check, args.runs))
                  + f"   {statistics.median(timed(session.check, 5)) / statistics.median(pair['shell']):.2f} x incus")
            print(summary("    in-process observation alone (both servers)", timed(session.observe, args.runs)))
            report = session.check()
            print(f"score at that state: {report.score.earned}/{report.score.possible}")
            print(f"load average at the end: {load()}")
        finally:
            if listener is not None:
                listener.stop()
            if session is not None:
                session.close()
            subprocess.run(["incus", "delete", "--force", name], capture_output=True)
            second_server.stop(server)


if __name__ == "__main__":
    main()
